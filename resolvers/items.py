"""Resolvers of the billable-item mutations."""

from typing import Any

from domain import items
from resolvers.inputs import decode_id, to_data
from resolvers.mutations import perform
from resolvers.relations import CtxInfo


async def create_work_order(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: items.create_work_order(info.context.viewer, to_data(input)))  # type: ignore[arg-type]


async def update_work_order(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: items.update_work_order(
        info.context.viewer, decode_id(input.id, "WorkOrder", "id"), to_data(input, skip=("id",))))  # type: ignore[arg-type]


async def create_manual_charge(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: items.create_manual_charge(info.context.viewer, to_data(input)))  # type: ignore[arg-type]


async def update_manual_charge(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: items.update_manual_charge(
        info.context.viewer, decode_id(input.id, "ManualCharge", "id"), to_data(input, skip=("id",))))  # type: ignore[arg-type]


async def create_service_change(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: items.create_service_change(info.context.viewer, to_data(input)))  # type: ignore[arg-type]


async def update_service_change(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: items.update_service_change(
        info.context.viewer, decode_id(input.id, "ServiceChange", "id"), to_data(input, skip=("id",))))  # type: ignore[arg-type]


async def create_invoice_adjustment(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: items.create_adjustment(info.context.viewer, to_data(input)))  # type: ignore[arg-type]


async def approve_invoice_adjustment(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: items.approve_adjustment(
        info.context.viewer, decode_id(input.id, "InvoiceAdjustment", "id")))  # type: ignore[arg-type]

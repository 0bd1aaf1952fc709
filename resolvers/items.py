"""Resolvers of the billable-item mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain import items
from resolvers.context import authenticated_viewer
from resolvers.inputs import decode_id, to_data
from resolvers.mutations import perform
from resolvers.relations import CtxInfo

if TYPE_CHECKING:
    from schema.mutations.items import (
        ApproveInvoiceAdjustmentInput,
        CreateInvoiceAdjustmentInput,
        CreateManualChargeInput,
        CreateServiceChangeInput,
        CreateWorkOrderInput,
        UpdateManualChargeInput,
        UpdateServiceChangeInput,
        UpdateWorkOrderInput,
    )


async def create_work_order(info: CtxInfo, input: CreateWorkOrderInput) -> Any:
    return await perform(lambda: items.create_work_order(authenticated_viewer(info), to_data(input)))


async def update_work_order(info: CtxInfo, input: UpdateWorkOrderInput) -> Any:
    return await perform(lambda: items.update_work_order(
        authenticated_viewer(info), decode_id(input.id, "WorkOrder", "id"), to_data(input, skip=("id",))))


async def create_manual_charge(info: CtxInfo, input: CreateManualChargeInput) -> Any:
    return await perform(lambda: items.create_manual_charge(authenticated_viewer(info), to_data(input)))


async def update_manual_charge(info: CtxInfo, input: UpdateManualChargeInput) -> Any:
    return await perform(lambda: items.update_manual_charge(
        authenticated_viewer(info), decode_id(input.id, "ManualCharge", "id"), to_data(input, skip=("id",))))


async def create_service_change(info: CtxInfo, input: CreateServiceChangeInput) -> Any:
    return await perform(lambda: items.create_service_change(authenticated_viewer(info), to_data(input)))


async def update_service_change(info: CtxInfo, input: UpdateServiceChangeInput) -> Any:
    return await perform(lambda: items.update_service_change(
        authenticated_viewer(info), decode_id(input.id, "ServiceChange", "id"), to_data(input, skip=("id",))))


async def create_invoice_adjustment(info: CtxInfo, input: CreateInvoiceAdjustmentInput) -> Any:
    return await perform(lambda: items.create_adjustment(authenticated_viewer(info), to_data(input)))


async def approve_invoice_adjustment(info: CtxInfo, input: ApproveInvoiceAdjustmentInput) -> Any:
    return await perform(lambda: items.approve_adjustment(
        authenticated_viewer(info), decode_id(input.id, "InvoiceAdjustment", "id")))

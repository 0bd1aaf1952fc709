"""Resolvers of the billing-run mutations and root fields: batches, analysis, processing, reversal."""

from typing import Any

import models
from domain import analysis, batches, periods, processing, reversal
from domain.access import get_visible
from domain.errors import DomainError
from resolvers.inputs import decode_id, to_data
from resolvers.mutations import perform
from resolvers.relations import CtxInfo


async def create_billing_batch(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: batches.create_batch(info.context.viewer, to_data(input)))  # type: ignore[arg-type]


async def analyze_billing_batch(info: CtxInfo, input: Any) -> Any:
    async def run() -> Any:
        batch, findings = await analysis.run(info.context.viewer, decode_id(input.batch_id, "BillingBatch",  # type: ignore[arg-type]
                                                                            "batchId"))
        return batch, findings, await processing.preview(batch, info.context.viewer)  # type: ignore[arg-type]
    return await perform(run)


async def resolve_finding(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: analysis.resolve_finding(info.context.viewer,  # type: ignore[arg-type]
                                                          decode_id(input.id, "Finding", "id"), input.note))


async def process_billing_batch(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: processing.start_processing(
        info.context.viewer, decode_id(input.batch_id, "BillingBatch", "batchId")))  # type: ignore[arg-type]


async def reverse_billing_batch(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: reversal.start_reversal(
        info.context.viewer, decode_id(input.batch_id, "BillingBatch", "batchId")))  # type: ignore[arg-type]


async def close_accounting_period(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: periods.close_period(
        info.context.viewer, decode_id(input.id, "AccountingPeriod", "id")))  # type: ignore[arg-type]


async def reopen_accounting_period(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: periods.reopen_period(
        info.context.viewer, decode_id(input.id, "AccountingPeriod", "id"), input.reason))  # type: ignore[arg-type]


async def one(info: CtxInfo, model: type, gid: Any, type_name: str) -> Any:
    """A root lookup by global id through the viewer's scope; absent or hidden reads as null."""
    try:
        return await get_visible(info.context.viewer, model, decode_id(gid, type_name, "id"))  # type: ignore[arg-type]
    except DomainError:
        return None


async def billing_batch(info: CtxInfo, gid: Any) -> Any:
    return await one(info, models.BillingBatch, gid, "BillingBatch")


async def periodic_billing(info: CtxInfo, gid: Any) -> Any:
    return await one(info, models.PeriodicBilling, gid, "PeriodicBilling")


async def job(info: CtxInfo, gid: Any) -> Any:
    return await one(info, models.Job, gid, "Job")

"""Resolvers of the billing-run mutations and root fields: batches, analysis, processing, reversal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import models
from domain import analysis, batches, periods, processing, reversal
from domain.access import get_visible
from domain.errors import DomainError
from resolvers.context import authenticated_viewer
from resolvers.inputs import decode_id, to_data
from resolvers.mutations import perform
from resolvers.relations import CtxInfo

if TYPE_CHECKING:
    from schema.mutations.billing import (
        BillingBatchInput,
        CloseAccountingPeriodInput,
        CreateBillingBatchInput,
        ReopenAccountingPeriodInput,
        ResolveFindingInput,
    )


async def create_billing_batch(info: CtxInfo, input: CreateBillingBatchInput) -> Any:
    return await perform(lambda: batches.create_batch(authenticated_viewer(info), to_data(input)))


async def analyze_billing_batch(info: CtxInfo, input: BillingBatchInput) -> Any:
    async def run() -> Any:
        batch, findings = await analysis.run(authenticated_viewer(info), decode_id(input.batch_id, "BillingBatch",
                                                                            "batchId"))
        return batch, findings, await processing.preview(batch, authenticated_viewer(info))
    return await perform(run)


async def resolve_finding(info: CtxInfo, input: ResolveFindingInput) -> Any:
    return await perform(lambda: analysis.resolve_finding(authenticated_viewer(info),
                                                          decode_id(input.id, "Finding", "id"), input.note))


async def process_billing_batch(info: CtxInfo, input: BillingBatchInput) -> Any:
    return await perform(lambda: processing.start_processing(
        authenticated_viewer(info), decode_id(input.batch_id, "BillingBatch", "batchId")))


async def reverse_billing_batch(info: CtxInfo, input: BillingBatchInput) -> Any:
    return await perform(lambda: reversal.start_reversal(
        authenticated_viewer(info), decode_id(input.batch_id, "BillingBatch", "batchId")))


async def close_accounting_period(info: CtxInfo, input: CloseAccountingPeriodInput) -> Any:
    return await perform(lambda: periods.close_period(
        authenticated_viewer(info), decode_id(input.id, "AccountingPeriod", "id")))


async def reopen_accounting_period(info: CtxInfo, input: ReopenAccountingPeriodInput) -> Any:
    return await perform(lambda: periods.reopen_period(
        authenticated_viewer(info), decode_id(input.id, "AccountingPeriod", "id"), input.reason))


async def one(info: CtxInfo, model: type, gid: Any, type_name: str) -> Any:
    """A root lookup by global id through the viewer's scope; absent or hidden reads as null."""
    try:
        return await get_visible(authenticated_viewer(info), model, decode_id(gid, type_name, "id"))
    except DomainError:
        return None


async def billing_batch(info: CtxInfo, gid: Any) -> Any:
    return await one(info, models.BillingBatch, gid, "BillingBatch")


async def periodic_billing(info: CtxInfo, gid: Any) -> Any:
    return await one(info, models.PeriodicBilling, gid, "PeriodicBilling")


async def job(info: CtxInfo, gid: Any) -> Any:
    return await one(info, models.Job, gid, "Job")

"""Resolvers of posting and after: post, export, resolve notifications, complete; invoices, trial balance."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, cast

from strawberry import relay

import models
from domain import accounting_export, completion, ledger, notifications, payments, posting, sending
from models.enums import ExportFormat, PostMode
from resolvers import lists
from resolvers.billing import one
from resolvers.context import authenticated_viewer
from resolvers.inputs import decode_id
from resolvers.mutations import perform
from resolvers.pagination import Page
from resolvers.relations import CtxInfo

if TYPE_CHECKING:
    from schema.mutations.posting import (
        CompleteBillingBatchInput,
        ConfirmPostBillingBatchInput,
        ExportBillingBatchInput,
        PostBillingBatchInput,
        ResendInvoiceInput,
        ResolveNotificationInput,
        RetryPaymentInput,
    )


async def post_billing_batch(info: CtxInfo, input: PostBillingBatchInput) -> Any:
    """The job started (None when the posting now waits for a second user's confirmation) and the batch."""
    async def run() -> Any:
        batch_id = decode_id(input.batch_id, "BillingBatch", "batchId")
        job = await posting.start_posting(authenticated_viewer(info), batch_id, PostMode(input.mode.value))
        return job, await models.BillingBatch.get(id=batch_id)
    return await perform(run)


async def confirm_post_billing_batch(info: CtxInfo, input: ConfirmPostBillingBatchInput) -> Any:
    async def run() -> Any:
        batch_id = decode_id(input.batch_id, "BillingBatch", "batchId")
        job = await posting.confirm_posting(authenticated_viewer(info), batch_id)
        return job, await models.BillingBatch.get(id=batch_id)
    return await perform(run)


async def export_billing_batch(info: CtxInfo, input: ExportBillingBatchInput) -> Any:
    return await perform(lambda: accounting_export.export_batch(authenticated_viewer(info), decode_id(
        input.batch_id, "BillingBatch", "batchId"), ExportFormat(input.format.value)))


async def resolve_notification(info: CtxInfo, input: ResolveNotificationInput) -> Any:
    return await perform(lambda: notifications.resolve(
        authenticated_viewer(info), decode_id(input.id, "Notification", "id"), input.note))


async def resend_invoice(info: CtxInfo, input: ResendInvoiceInput) -> Any:
    recipient = input.recipient if isinstance(input.recipient, str) else None
    return await perform(lambda: sending.resend(
        authenticated_viewer(info), decode_id(input.invoice_id, "Invoice", "invoiceId"), recipient))


async def retry_payment(info: CtxInfo, input: RetryPaymentInput) -> Any:
    return await perform(lambda: payments.retry(
        authenticated_viewer(info), decode_id(input.invoice_id, "Invoice", "invoiceId")))


async def complete_billing_batch(info: CtxInfo, input: CompleteBillingBatchInput) -> Any:
    return await perform(lambda: completion.complete(
        authenticated_viewer(info), decode_id(input.batch_id, "BillingBatch", "batchId")))


async def completion_of(info: CtxInfo, batch: models.BillingBatch) -> Any:
    from schema.ledger import Completion, CompletionBlocker

    found = await completion.blockers(batch, authenticated_viewer(info))
    return Completion(ready=not found, blockers=[
        CompletionBlocker(kind=b.kind, message=b.message,
                          subject_id=relay.GlobalID(b.subject_type, str(b.subject_id)) if b.subject_type else None)
        for b in found])


async def invoices_page(info: CtxInfo, filter: Any, order_by: Any, window: dict[str, Any],
                        batch_id: int | None = None) -> Page:
    from schema.common import order_key
    from schema.ledger import InvoiceOrder

    order = order_by or InvoiceOrder()
    return await lists.invoices(info, filter, [order_key(order.field, order.direction)], window, batch_id=batch_id)


async def trial_balance(info: CtxInfo, as_of: date | None) -> Any:
    from schema.ledger import TrialBalance, TrialBalanceRow

    found, _ = await perform(lambda: ledger.trial_balance(authenticated_viewer(info), as_of))
    if found is None:  # no BILLING_ACCESS: null, like any record the viewer may not see
        return None
    # The rows are the domain's balances: strawberry reads a row's fields from whatever object it is given.
    return TrialBalance(as_of=found.as_of, rows=cast("list[TrialBalanceRow]", found.rows),
                        total_debit=found.total_debit, total_credit=found.total_credit)


async def invoice(info: CtxInfo, gid: Any) -> Any:
    return await one(info, models.Invoice, gid, "Invoice")

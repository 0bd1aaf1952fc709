"""Posting and after: post a processed batch, export it, resolve its notifications, complete it."""

import strawberry
from strawberry import relay

from resolvers import ledger
from resolvers.mutations import payload
from resolvers.relations import CtxInfo
from schema.billing import BillingBatch, Job, Notification, PostMode
from schema.common import UserError
from schema.idempotency import IdempotentInput
from schema.ledger import Delivery, Export, ExportFormat, Payment
from schema.mutations.billing import BillingBatchPayload
from schema.permissions import AUTHENTICATED


@strawberry.input(description="The batch to post, and how.")
class PostBillingBatchInput(IdempotentInput):
    batch_id: relay.GlobalID = strawberry.field(description="A PROCESSED batch (or a POSTING one whose job failed, "
                                                "to resume it).")
    mode: PostMode = strawberry.field(description="SEND: e-mail each invoice as a PDF; EXPORT: produce the "
                                      "accounting export files.")


@strawberry.input(description="The batch whose posting another user asked for.")
class ConfirmPostBillingBatchInput(IdempotentInput):
    batch_id: relay.GlobalID = strawberry.field(description="A PROCESSED batch with a posting request "
                                                "(`postRequest`) by another user.")


@strawberry.type(description="Posting started (follow `job`), or recorded as a request waiting for a second "
                 "user's confirmation (`job` null, `billingBatch.postRequest` set) when an approval rule wants one.")
class PostBillingBatchPayload:
    job: Job | None = strawberry.field(description="The posting job, QUEUED; null while the posting waits for "
                                       "confirmation, or when refused.")
    billing_batch: BillingBatch | None = strawberry.field(description="The batch.")
    errors: list[UserError] = strawberry.field(description="Why nothing started.")

    @strawberry.field(description="True when the posting waits for another user's `confirmPostBillingBatch`.")
    def confirmation_required(self) -> bool:
        return self.job is None and self.billing_batch is not None and not self.errors


def _post_payload(result: tuple) -> PostBillingBatchPayload:
    value, errors = result
    job, batch = value if value is not None else (None, None)
    return PostBillingBatchPayload(job=job, billing_batch=batch, errors=errors)


@strawberry.input(description="The batch to export, and the file format.")
class ExportBillingBatchInput(IdempotentInput):
    batch_id: relay.GlobalID = strawberry.field(description="A POSTED or COMPLETED batch.")
    format: ExportFormat = strawberry.field(description="INVOICES_CSV or JOURNAL_CSV.")


@strawberry.type(description="The export produced.")
class ExportPayload:
    export: Export | None = strawberry.field(description="The file, with its download URL.")
    errors: list[UserError] = strawberry.field(description="Why nothing was produced.")


@strawberry.input(description="Resolve a notification with a note.")
class ResolveNotificationInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The notification.")
    note: str = strawberry.field(description="What was done about it.")


@strawberry.type(description="The notification resolved.")
class NotificationPayload:
    notification: Notification | None = strawberry.field(description="The notification.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="An invoice to send again, and where.")
class ResendInvoiceInput(IdempotentInput):
    invoice_id: relay.GlobalID = strawberry.field(description="An invoice whose delivery failed.")
    recipient: str | None = strawberry.field(default=None, description="A corrected address; default: the "
                                             "invoice's bill-to e-mail.")


@strawberry.type(description="The invoice sent again.")
class ResendInvoicePayload:
    delivery: Delivery | None = strawberry.field(description="The new delivery: SENT, or FAILED with the reason.")
    errors: list[UserError] = strawberry.field(description="Why nothing was sent.")


@strawberry.input(description="An invoice to charge again.")
class RetryPaymentInput(IdempotentInput):
    invoice_id: relay.GlobalID = strawberry.field(description="An invoice whose auto-pay was declined or failed.")


@strawberry.type(description="The charge queued.")
class RetryPaymentPayload:
    payment: Payment | None = strawberry.field(description="The new payment, PENDING (follow the batch's AUTO_PAY "
                                               "job or `invoice.payments`).")
    errors: list[UserError] = strawberry.field(description="Why nothing was queued.")


@strawberry.input(description="The batch to complete.")
class CompleteBillingBatchInput(IdempotentInput):
    batch_id: relay.GlobalID = strawberry.field(description="A POSTED batch with nothing left open.")


@strawberry.type
class PostingMutations:
    @strawberry.mutation(description="Post a PROCESSED batch in the background: an invoice and a journal entry per "
                         "APPROVED billing, then sending or export and auto-pay. Refused (nothing written) with "
                         "BILLINGS_NOT_DISPOSITIONED, PERIOD_CLOSED, PERMISSION_DENIED, HIDDEN_INVOICES, "
                         "LEDGER_NOT_CONFIGURED or INVALID_STATUS. When the APPROVED total is above a "
                         "BATCH_TOTAL_ABOVE rule, nothing is posted: the request waits for another user's "
                         "`confirmPostBillingBatch`.", permission_classes=AUTHENTICATED)
    async def post_billing_batch(self, info: CtxInfo, input: PostBillingBatchInput) -> PostBillingBatchPayload:
        return _post_payload(await ledger.post_billing_batch(info, input))

    @strawberry.mutation(description="Confirm the posting another user asked for (four eyes on a batch total above "
                         "a rule): posts it as that user asked, with the guards checked again for the confirming "
                         "user. FOUR_EYES_REQUIRED for the user who asked, INVALID_STATUS when nothing waits.",
                         permission_classes=AUTHENTICATED)
    async def confirm_post_billing_batch(self, info: CtxInfo,
                                         input: ConfirmPostBillingBatchInput) -> PostBillingBatchPayload:
        return _post_payload(await ledger.confirm_post_billing_batch(info, input))

    @strawberry.mutation(description="Export a posted batch for an accounting system (repeatable; the same batch "
                         "and format give the same bytes).", permission_classes=AUTHENTICATED)
    async def export_billing_batch(self, info: CtxInfo, input: ExportBillingBatchInput) -> ExportPayload:
        return payload(ExportPayload, "export", await ledger.export_billing_batch(info, input))

    @strawberry.mutation(description="Resolve an open notification with a note.", permission_classes=AUTHENTICATED)
    async def resolve_notification(self, info: CtxInfo, input: ResolveNotificationInput) -> NotificationPayload:
        return payload(NotificationPayload, "notification", await ledger.resolve_notification(info, input))

    @strawberry.mutation(description="Send an invoice again after its delivery failed (INVALID_STATUS once it is "
                         "sent); resolve its notification separately.", permission_classes=AUTHENTICATED)
    async def resend_invoice(self, info: CtxInfo, input: ResendInvoiceInput) -> ResendInvoicePayload:
        return payload(ResendInvoicePayload, "delivery", await ledger.resend_invoice(info, input))

    @strawberry.mutation(description="Charge an invoice again after its auto-pay was declined or failed, with a new "
                         "idempotency key (INVALID_STATUS when paid, under way, or without auto-pay).",
                         permission_classes=AUTHENTICATED)
    async def retry_payment(self, info: CtxInfo, input: RetryPaymentInput) -> RetryPaymentPayload:
        return payload(RetryPaymentPayload, "payment", await ledger.retry_payment(info, input))

    @strawberry.mutation(description="Complete a POSTED batch (final). Refused with NOT_READY, one error per "
                         "blocker, while anything is open (see `completion`).", permission_classes=AUTHENTICATED)
    async def complete_billing_batch(self, info: CtxInfo, input: CompleteBillingBatchInput) -> BillingBatchPayload:
        return payload(BillingBatchPayload, "billing_batch", await ledger.complete_billing_batch(info, input))

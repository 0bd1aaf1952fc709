"""Credit notes: create a draft, issue it (numbered, journaled, sent, refunded), void a draft."""

from datetime import date
from decimal import Decimal

import strawberry
from strawberry import relay

from resolvers import credit_notes
from resolvers.mutations import payload
from resolvers.relations import CtxInfo
from schema.common import UserError
from schema.credit_notes import CreditNote, CreditNoteReason
from schema.idempotency import IdempotentInput
from schema.permissions import AUTHENTICATED


@strawberry.input(description="One invoice line to credit, and how much of it.")
class CreditNoteLineInput:
    invoice_line_id: relay.GlobalID = strawberry.field(description="A line of the invoice (a BillingDetail id).")
    amount: Decimal | None = strawberry.field(default=None, description="How much (same sign as the line, at most "
                                              "its open amount); default: all that is open.")


@strawberry.input(description="What to credit on a posted invoice, and why.")
class CreateCreditNoteInput(IdempotentInput):
    invoice_id: relay.GlobalID = strawberry.field(description="The invoice.")
    lines: list[CreditNoteLineInput] | None = strawberry.field(default=None, description="The lines to credit (or "
                                                               "`wholeInvoice: true`).")
    whole_invoice: bool | None = strawberry.field(default=None, description="Credit every line's open amount.")
    reason: CreditNoteReason = strawberry.field(description="Why.")
    description: str | None = strawberry.field(default=None, description="Free text printed on the credit note.")
    refund_amount: Decimal | None = strawberry.field(
        default=None, description="Of what was paid already, how much to refund through the payment gateway "
        "(default: the rest of `creditAmount`, or none).")
    credit_amount: Decimal | None = strawberry.field(
        default=None, description="Of what was paid already, how much becomes account credit (default: all that "
        "is not refunded).")
    credit_date: date | None = strawberry.field(default=None, description="The accounting date (default: today); "
                                                "in an open period, not before the invoice date.")


@strawberry.input(description="A credit note.")
class CreditNoteIdInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The credit note.")


@strawberry.type(description="The credit note after the change.")
class CreditNotePayload:
    credit_note: CreditNote | None = strawberry.field(description="The credit note, as saved.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type
class CreditNoteMutations:
    @strawberry.mutation(description="Create a DRAFT credit note of a posted invoice (BILLING_SEND_EXPORT). Refused "
                         "with CREDIT_EXCEEDS_OPEN_AMOUNT, REFUND_EXCEEDS_PAID, PERIOD_CLOSED, INVALID_STATUS (a "
                         "payment under way) or INVALID_INPUT.", permission_classes=AUTHENTICATED)
    async def create_credit_note(self, info: CtxInfo, input: CreateCreditNoteInput) -> CreditNotePayload:
        return payload(CreditNotePayload, "credit_note", await credit_notes.create_credit_note(info, input))

    @strawberry.mutation(description="Issue a DRAFT credit note: numbered (CN-…), journaled, the invoice's balance "
                         "reduced, account credit or a refund for what was paid, then e-mailed. Final.",
                         permission_classes=AUTHENTICATED)
    async def issue_credit_note(self, info: CtxInfo, input: CreditNoteIdInput) -> CreditNotePayload:
        return payload(CreditNotePayload, "credit_note", await credit_notes.issue_credit_note(info, input))

    @strawberry.mutation(description="Void a DRAFT credit note (INVALID_STATUS once issued).",
                         permission_classes=AUTHENTICATED)
    async def void_credit_note(self, info: CtxInfo, input: CreditNoteIdInput) -> CreditNotePayload:
        return payload(CreditNotePayload, "credit_note", await credit_notes.void_credit_note(info, input))

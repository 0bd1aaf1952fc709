"""GraphQL types of credit notes (docs/CREDIT_NOTES.md)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

import models
from billrun import downloads
from models import enums
from resolvers import credit_notes as resolvers
from resolvers import relations
from resolvers.relations import CtxInfo
from schema.access import User
from schema.accounts import Account
from schema.node import ModelNode

if TYPE_CHECKING:
    from schema.billing import Audit, BillingDetail
    from schema.ledger import Delivery, Invoice, JournalEntry

CreditNoteReason = enums.CreditNoteReason
strawberry.enum(CreditNoteReason, description="Why an invoice is credited.")
CreditNoteStatus = enums.CreditNoteStatus
strawberry.enum(CreditNoteStatus, description="DRAFT (no effect, voidable), ISSUED (numbered, journaled, final) "
                "or VOIDED (a draft dropped).")
CreditStatus = enums.CreditStatus
strawberry.enum(CreditStatus, description="The account-credit part: AVAILABLE until applied to the account's next "
                "invoices, then CONSUMED; VOIDED with its draft.")
RefundStatus = enums.RefundStatus
strawberry.enum(RefundStatus, description="The refund part, through the payment gateway: PENDING, SUCCEEDED, "
                "FAILED, or UNKNOWN while the sweeper asks the gateway.")

LazyInvoice = Annotated["Invoice", strawberry.lazy("schema.ledger")]
LazyEntry = Annotated["JournalEntry", strawberry.lazy("schema.ledger")]
LazyDelivery = Annotated["Delivery", strawberry.lazy("schema.ledger")]
LazyDetail = Annotated["BillingDetail", strawberry.lazy("schema.billing")]
LazyAudit = Annotated["Audit", strawberry.lazy("schema.billing")]


@strawberry.type(description="How much of one invoice line a credit note credits.")
class CreditNoteLine:
    description: str = strawberry.field(description="The invoice line's description, as printed.")
    kind: str = strawberry.field(description="The invoice line's kind (RECURRING, …, TAX).")
    amount: Decimal = strawberry.field(description="The amount credited.")
    invoice_line: LazyDetail | None = strawberry.field(resolver=relations.detail_of,
                                                       description="The invoice line (a billing detail).")


@strawberry.type(description="A correction of a posted invoice: numbered from its own gap-free sequence when "
                 "issued (CN-00000001), journaled as the mirror of the invoice's entry.")
class CreditNote(ModelNode):
    model = models.CreditNote
    id: relay.NodeID[int]
    number: str | None = strawberry.field(description="CN-…, taken when issued (null while a draft).")
    status: CreditNoteStatus = strawberry.field(description="DRAFT, ISSUED or VOIDED.")
    reason: CreditNoteReason = strawberry.field(description="Why the invoice is credited.")
    description: str = strawberry.field(description="Free text, printed on the credit note.")
    currency: str = strawberry.field(description="The invoice's currency.")
    amount: Decimal = strawberry.field(description="The total credited, tax included.")
    tax_amount: Decimal = strawberry.field(description="Of which tax.")
    credit_amount: Decimal = strawberry.field(description="The part that was paid already and becomes account "
                                              "credit.")
    credit_remaining: Decimal = strawberry.field(description="Of the account credit, what later invoices have not "
                                                 "used yet.")
    credit_status: CreditStatus | None = strawberry.field(description="Null when there is no account credit.")
    refund_amount: Decimal = strawberry.field(description="The part that was paid already and is refunded "
                                              "through the payment gateway.")
    refund_status: RefundStatus | None = strawberry.field(description="Null when there is no refund.")
    refund_error: str | None = strawberry.field(description="Why the refund failed.")
    credit_date: date | None = strawberry.field(description="The accounting date of its entry.")
    created_at: datetime = strawberry.field(description="When the draft was created (UTC).")
    issued_at: datetime | None = strawberry.field(description="When it was issued (UTC).")
    voided_at: datetime | None = strawberry.field(description="When the draft was voided (UTC).")
    account: Account = strawberry.field(resolver=relations.account_of, description="The account credited.")
    invoice: LazyInvoice | None = strawberry.field(resolver=relations.invoice_of, description="The invoice "
                                                   "credited.")
    created_by: User | None = strawberry.field(resolver=relations.created_by_of, description="Who created it.")
    lines: list[CreditNoteLine] = strawberry.field(resolver=relations.lines_of_credit_note,
                                                   description="The invoice lines credited.")
    journal_entry: LazyEntry | None = strawberry.field(
        resolver=relations.journal_entry_of_credit_note,
        description="Its entry once issued: Dr revenue per distribution, Dr tax payable, Cr receivables.")

    @strawberry.field(description="Its audit trail, newest first.")
    async def audits(self, info: CtxInfo) -> list[LazyAudit]:
        return await resolvers.audits_of(info, self.id)

    @strawberry.field(description="Its sendings.")
    async def deliveries(self, info: CtxInfo) -> list[LazyDelivery]:
        return await resolvers.deliveries_of(info, self.id)

    @strawberry.field(description="Where to GET the PDF, with `Authorization: Bearer <token>` (issued ones).")
    @staticmethod
    def download_url(row: strawberry.Parent[models.CreditNote]) -> str | None:
        return downloads.credit_note_pdf_url(row.id) if row.status == enums.CreditNoteStatus.ISSUED else None


@strawberry.input(description="Narrow a list of credit notes.")
class CreditNoteFilter:
    invoice_id: relay.GlobalID | None = strawberry.field(default=None, description="Credit notes of this invoice.")
    account_id: relay.GlobalID | None = strawberry.field(default=None, description="Credit notes of this account.")
    batch_id: relay.GlobalID | None = strawberry.field(default=None, description="Credit notes of invoices of this "
                                                       "batch.")
    status: list[CreditNoteStatus] | None = strawberry.field(default=None, description="Any of these statuses.")
    reason: list[CreditNoteReason] | None = strawberry.field(default=None, description="Any of these reasons.")

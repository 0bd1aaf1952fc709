"""GraphQL types of what posting produces: invoices, the journal, payments, deliveries, exports, completion."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

import models
from billrun import downloads
from models import enums
from resolvers import relations
from resolvers.relations import CtxInfo
from schema.accounts import Account
from schema.books import LedgerAccount
from schema.common import Direction
from schema.node import ModelNode

if TYPE_CHECKING:
    from schema.billing import BillingBatch, PeriodicBilling
    from schema.credit_notes import CreditNote

# The stored enumerations are the GraphQL enums: `strawberry.enum` registers the class itself (and returns
# it), so each name stays a type the checker knows.
InvoiceStatus = enums.InvoiceStatus
strawberry.enum(InvoiceStatus, description="How much of an invoice is paid.")
PaymentStatus = enums.PaymentStatus
strawberry.enum(PaymentStatus, description="Where an auto-pay charge is.")
DeliveryChannel = enums.DeliveryChannel
strawberry.enum(DeliveryChannel, description="How an invoice was sent.")
DeliveryStatus = enums.DeliveryStatus
strawberry.enum(DeliveryStatus, description="Whether it was sent.")
ExportFormat = enums.ExportFormat
strawberry.enum(ExportFormat, description="Accounting export file formats (docs/ACCOUNTING_EXPORT.md).")

LazyBatch = Annotated["BillingBatch", strawberry.lazy("schema.billing")]
LazyBilling = Annotated["PeriodicBilling", strawberry.lazy("schema.billing")]
LazyCreditNote = Annotated["CreditNote", strawberry.lazy("schema.credit_notes")]


@strawberry.type(description="One side of a journal entry: a debit or a credit to one ledger account.")
class JournalLine:
    debit: Decimal = strawberry.field(description="Debited amount (0 on a credit line).")
    credit: Decimal = strawberry.field(description="Credited amount (0 on a debit line).")
    memo: str = strawberry.field(description="What the line is for: Receivable, Revenue, Tax, Cash.")
    ledger_account: LedgerAccount | None = strawberry.field(resolver=relations.ledger_account_of,
                                                            description="The account debited or credited.")


@strawberry.type(description="A double-entry journal entry: its debits equal its credits, always; never changed.")
class JournalEntry(ModelNode):
    model = models.JournalEntry
    id: relay.NodeID[int]
    entry_date: date = strawberry.field(description="The accounting date (the invoice date, or the payment's).")
    memo: str = strawberry.field(description="What the entry records.")
    created_at: datetime = strawberry.field(description="When it was written (UTC).")
    lines: list[JournalLine] = strawberry.field(resolver=relations.lines_of_entry, description="Its lines.")

    @strawberry.field(description="The sum of the debits (equal to the credits).")
    async def total(self, info: CtxInfo) -> Decimal:
        lines = await relations.lines_of_entry(self, info)
        return sum((line.debit for line in lines), Decimal("0.00"))


@strawberry.type(description="An auto-pay charge of an invoice through the payment gateway.")
class Payment:
    amount: Decimal = strawberry.field(description="The amount charged.")
    status: PaymentStatus = strawberry.field(description="PENDING, SUCCEEDED, DECLINED, FAILED or UNKNOWN.")
    idempotency_key: str = strawberry.field(description="The key the gateway saw: one per invoice.")
    gateway_reference: str | None = strawberry.field(description="The gateway's id of the charge.")
    attempts: int = strawberry.field(description="Gateway calls made.")
    error: str | None = strawberry.field(description="Why it was declined or failed.")
    settled_at: datetime | None = strawberry.field(description="When its outcome became final.")
    created_at: datetime = strawberry.field(description="When it was queued.")


@strawberry.type(description="An invoice sent: by e-mail, or written to the outbox folder.")
class Delivery:
    channel: DeliveryChannel = strawberry.field(description="SMTP or OUTBOX_FILE.")
    recipient: str = strawberry.field(description="The billing address it went to.")
    status: DeliveryStatus = strawberry.field(description="SENDING (a worker is on it), SENT or FAILED.")
    message_id: str | None = strawberry.field(description="The e-mail's Message-ID.")
    error: str | None = strawberry.field(description="Why it failed.")
    created_at: datetime = strawberry.field(description="When (UTC).")

    @strawberry.field(description="Where to GET the e-mail as sent (an .eml, with `Authorization: Bearer "
                      "<token>`): outbox deliveries only, null for SMTP and failed ones.")
    @staticmethod
    def download_url(row: strawberry.Parent[models.Delivery]) -> str | None:
        return downloads.delivered_message_url(row)


@strawberry.type(description="A posted billing: numbered from a gap-free sequence, with its journal entry.")
class Invoice(ModelNode):
    model = models.Invoice
    id: relay.NodeID[int]
    number: str = strawberry.field(description="The invoice number, gap-free across all batches (INV-00000001).")
    invoice_date: date = strawberry.field(description="The batch's invoice date, or the billing's override.")
    due_date: date = strawberry.field(description="The invoice date plus the account's payment terms.")
    currency: str = strawberry.field(description="ISO 4217 code.")
    bill_to_name: str = strawberry.field(description="The account's name as it was at posting.")
    bill_to_address: str = strawberry.field(description="The account's postal address as it was at posting.")
    bill_to_email: str = strawberry.field(description="Where the invoice was sent: the billing e-mail at posting.")
    amount: Decimal = strawberry.field(description="The amount due (the billing's amount, tax included).")
    tax_amount: Decimal = strawberry.field(description="Of which tax.")
    amount_paid: Decimal = strawberry.field(description="Paid so far.")
    amount_credited: Decimal = strawberry.field(description="Credited by issued credit notes.")
    credit_applied: Decimal = strawberry.field(description="Settled by account credit of earlier credit notes.")
    status: InvoiceStatus = strawberry.field(description="OPEN, PARTIALLY_PAID or PAID.")
    created_at: datetime = strawberry.field(description="When it was posted (UTC).")
    account: Account = strawberry.field(resolver=relations.account_of, description="The account invoiced.")
    batch: LazyBatch = strawberry.field(resolver=relations.batch_of, description="The batch that posted it.")
    billing: LazyBilling | None = strawberry.field(resolver=relations.billing_of,
                                                       description="The billing it invoices.")
    journal_entry: JournalEntry | None = strawberry.field(resolver=relations.journal_entry_of_invoice,
                                                          description="Its posting entry (Dr receivables; Cr "
                                                          "revenue per distribution; Cr tax payable).")
    journal_entries: list[JournalEntry] = strawberry.field(
        resolver=relations.journal_entries_of_invoice, description="Every entry about it: posting and payments.")
    payments: list[Payment] = strawberry.field(resolver=relations.payments_of_invoice,
                                               description="Its auto-pay charges.")
    deliveries: list[Delivery] = strawberry.field(resolver=relations.deliveries_of_invoice,
                                                  description="Its sendings (and its credit notes').")
    credit_notes: list[LazyCreditNote] = strawberry.field(resolver=relations.credit_notes_of_invoice,
                                                          description="Its credit notes, drafts included.")

    @strawberry.field(description="Still to pay: amount minus amount paid (credit notes aside: see `balance`).")
    def amount_due(self) -> Decimal:
        return self.amount - self.amount_paid

    @strawberry.field(description="The open amount: amount less payments, credit notes and account credit "
                      "applied (never below zero; what was paid beyond it went back as credit or a refund).")
    @staticmethod
    def balance(row: strawberry.Parent[models.Invoice]) -> Decimal:
        return relations.invoice_balance(row)

    @strawberry.field(description="Where to GET the PDF, with `Authorization: Bearer <token>`.")
    def pdf_url(self) -> str:
        return downloads.invoice_pdf_url(self.id)


@strawberry.input(description="Narrow a list of invoices.")
class InvoiceFilter:
    batch_id: relay.GlobalID | None = strawberry.field(default=None, description="Invoices of this batch.")
    account_id: relay.GlobalID | None = strawberry.field(default=None, description="Invoices of this account.")
    status: list[InvoiceStatus] | None = strawberry.field(default=None, description="Any of these statuses.")
    search: str | None = strawberry.field(default=None, description="Part of the number, account number or name.")
    invoice_date_from: date | None = strawberry.field(default=None, description="Dated on or after.")
    invoice_date_to: date | None = strawberry.field(default=None, description="Dated on or before.")
    due_date_to: date | None = strawberry.field(default=None, description="Due on or before.")
    unpaid: bool | None = strawberry.field(default=None, description="Only invoices not fully paid (true) or only "
                                           "PAID ones (false).")


@strawberry.enum(description="Fields invoices can be ordered by.")
class InvoiceOrderField(Enum):
    NUMBER = "number"
    INVOICE_DATE = "invoice_date"
    DUE_DATE = "due_date"
    AMOUNT = "amount"


@strawberry.input(description="The order of an invoice list.")
class InvoiceOrder:
    field: InvoiceOrderField = strawberry.field(default=InvoiceOrderField.NUMBER, description="Key.")
    direction: Direction = strawberry.field(default=Direction.ASC, description="Direction.")


@strawberry.type(description="A file for an external accounting system, downloadable with the bearer token.")
class Export(ModelNode):
    model = models.Export
    id: relay.NodeID[int]
    format: ExportFormat = strawberry.field(description="INVOICES_CSV or JOURNAL_CSV.")
    filename: str = strawberry.field(description="The file's name.")
    content_type: str = strawberry.field(description="Its media type.")
    sha256: str = strawberry.field(description="SHA-256 of the content: equal for every export of the same batch "
                                   "and format.")
    created_at: datetime = strawberry.field(description="When it was produced (UTC).")

    @strawberry.field(description="Its size in bytes.")
    @staticmethod
    def size(row: strawberry.Parent[models.Export]) -> int:
        return len(row.content)

    @strawberry.field(description="Where to GET it, with `Authorization: Bearer <token>`.")
    def download_url(self) -> str:
        return downloads.accounting_export_url(self.id)


@strawberry.type(description="One reason a batch cannot be completed yet.")
class CompletionBlocker:
    kind: str = strawberry.field(description="NOT_POSTED, OPEN_NOTIFICATION, PENDING_PAYMENT or JOB_RUNNING.")
    message: str = strawberry.field(description="What is open, in words.")
    subject_id: relay.GlobalID | None = strawberry.field(description="The notification, payment's invoice or job.")


@strawberry.type(description="Whether a batch can be completed, and what stands in the way.")
class Completion:
    ready: bool = strawberry.field(description="True when `completeBillingBatch` will succeed.")
    blockers: list[CompletionBlocker] = strawberry.field(description="Every open notification, unsettled "
                                                         "payment and running job of the batch.")


@strawberry.type(description="Totals of one ledger account in the trial balance.")
class TrialBalanceRow:
    debit: Decimal = strawberry.field(description="Sum of its debits.")
    credit: Decimal = strawberry.field(description="Sum of its credits.")
    balance: Decimal = strawberry.field(description="Debits minus credits.")
    ledger_account: LedgerAccount | None = strawberry.field(resolver=relations.ledger_account_of,
                                                            description="The account.")


@strawberry.type(description="Every ledger account's debits and credits; the two totals are always equal.")
class TrialBalance:
    as_of: date | None = strawberry.field(description="Entries dated up to this day (null: all).")
    rows: list[TrialBalanceRow] = strawberry.field(description="One row per account with postings, by code.")
    total_debit: Decimal = strawberry.field(description="Sum of every debit.")
    total_credit: Decimal = strawberry.field(description="Sum of every credit.")

    @strawberry.field(description="True when total debits equal total credits (always, by construction).")
    def balanced(self) -> bool:
        return self.total_debit == self.total_credit

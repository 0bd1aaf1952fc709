"""Invoices, their gap-free numbering, the double-entry ledger, payments, deliveries and exports."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from models._fields import created_at, money, nullable_text, updated_at
from models.enums import (
    CreditNoteReason,
    CreditNoteStatus,
    CreditStatus,
    DeliveryChannel,
    DeliveryStatus,
    ExportFormat,
    InvoiceStatus,
    PaymentStatus,
    RefundStatus,
)

if TYPE_CHECKING:
    from models.access import User
    from models.billing import BillingBatch, BillingDetail, PeriodicBilling
    from models.master import Account, LedgerAccount


class NumberSequence(Model):
    """A gap-free counter (invoice numbers): incremented under a row lock in the posting transaction."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=32, unique=True)
    last_value = fields.BigIntField(default=0)

    class Meta:
        table = "number_sequence"


class Invoice(Model):
    """A posted billing: numbered from a gap-free sequence, one per billing, its amount the billing's."""

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=32, unique=True)
    billing: fields.OneToOneRelation["PeriodicBilling"] = fields.OneToOneField(
        "models.PeriodicBilling", related_name="invoice", on_delete=fields.RESTRICT)
    billing_id: int
    account: fields.ForeignKeyRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="invoices", on_delete=fields.RESTRICT, db_index=True)
    account_id: int
    # The bill-to as it was at posting: an invoice is a document, renaming the account later does not change it.
    bill_to_name = fields.CharField(max_length=200, default="")
    bill_to_email = fields.CharField(max_length=254, default="")
    bill_to_address = fields.CharField(max_length=500, default="", db_default="")
    batch: fields.ForeignKeyRelation["BillingBatch"] = fields.ForeignKeyField(
        "models.BillingBatch", related_name="invoices", on_delete=fields.RESTRICT, db_index=True)
    batch_id: int
    currency = fields.CharField(max_length=3)
    invoice_date = fields.DateField()
    due_date = fields.DateField()
    amount = money()
    tax_amount = money(default=0)
    amount_paid = money(default=0)
    # Issued credit notes' totals, and account credit (of earlier credit notes) that settled part of it.
    amount_credited = money(default=0, db_default=0)
    credit_applied = money(default=0, db_default=0)
    status = fields.CharEnumField(InvoiceStatus, max_length=16, default=InvoiceStatus.OPEN)
    created_at = created_at()

    class Meta:
        table = "invoice"


class JournalEntry(Model):
    """A double-entry journal entry, its lines' debits equal its credits, always."""

    id = fields.IntField(primary_key=True)
    entry_date = fields.DateField()
    memo = fields.CharField(max_length=200)
    invoice: fields.ForeignKeyNullableRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="journal_entries", null=True, db_index=True, on_delete=fields.RESTRICT)
    invoice_id: int | None
    payment: fields.ForeignKeyNullableRelation["Payment"] = fields.ForeignKeyField(
        "models.Payment", related_name="journal_entries", null=True, on_delete=fields.RESTRICT)
    payment_id: int | None
    batch: fields.ForeignKeyNullableRelation["BillingBatch"] = fields.ForeignKeyField(
        "models.BillingBatch", related_name="journal_entries", null=True, db_index=True, on_delete=fields.RESTRICT)
    batch_id: int | None
    # A credit note's own entry, or an application of its account credit to a later invoice.
    credit_note: fields.ForeignKeyNullableRelation["CreditNote"] = fields.ForeignKeyField(
        "models.CreditNote", related_name="journal_entries", null=True, db_index=True, on_delete=fields.RESTRICT)
    credit_note_id: int | None
    # The refund of a credit note: one entry at most per credit note (a unique key), so never refunded twice.
    refund_of: fields.OneToOneNullableRelation["CreditNote"] = fields.OneToOneField(
        "models.CreditNote", related_name="refund_entry", null=True, on_delete=fields.RESTRICT)
    refund_of_id: int | None
    created_at = created_at()

    class Meta:
        table = "journal_entry"
        # The accounting export walks a batch's entries in id order (domain/accounting_export.py).
        indexes = (("batch_id", "id"),)


class JournalLine(Model):
    """One side of a journal entry: a debit or a credit to one ledger account, never both, never changed."""

    id = fields.IntField(primary_key=True)
    entry: fields.ForeignKeyRelation[JournalEntry] = fields.ForeignKeyField(
        "models.JournalEntry", related_name="lines", on_delete=fields.RESTRICT, db_index=True)
    entry_id: int
    ledger_account: fields.ForeignKeyRelation["LedgerAccount"] = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="journal_lines", db_index=True, on_delete=fields.RESTRICT)
    ledger_account_id: int
    debit = money(default=0)
    credit = money(default=0)
    memo = fields.CharField(max_length=200, default="")

    class Meta:
        table = "journal_line"


class Payment(Model):
    """An auto-pay attempt, one idempotency key per invoice, one successful charge per invoice."""

    id = fields.IntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="payments", on_delete=fields.RESTRICT, db_index=True)
    invoice_id: int
    idempotency_key = fields.CharField(max_length=64, unique=True)
    amount = money()
    status = fields.CharEnumField(PaymentStatus, max_length=16, default=PaymentStatus.PENDING)
    gateway_reference = fields.CharField(max_length=64, null=True)
    attempts = fields.IntField(default=0)
    error = nullable_text()
    settled_at = fields.DatetimeField(null=True)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "payment"


class SandboxCharge(Model):
    """The built-in sandbox gateway's own books: what it charged, per idempotency key (as a payment provider
    keeps them on its side), so a repeated key never charges twice and a lost answer can be looked up."""

    id = fields.IntField(primary_key=True)
    idempotency_key = fields.CharField(max_length=64, unique=True)
    token = fields.CharField(max_length=128)
    amount = money()
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(PaymentStatus, max_length=16)
    reference = fields.CharField(max_length=64, unique=True)
    calls = fields.IntField(default=1)
    created_at = created_at()

    class Meta:
        table = "sandbox_charge"


class Delivery(Model):
    """An invoice (or a credit note of it) sent: by SMTP, or written to the outbox folder."""

    id = fields.IntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="deliveries", on_delete=fields.RESTRICT, db_index=True)
    invoice_id: int
    credit_note: fields.ForeignKeyNullableRelation["CreditNote"] = fields.ForeignKeyField(
        "models.CreditNote", related_name="deliveries", null=True, db_index=True, on_delete=fields.RESTRICT)
    credit_note_id: int | None
    channel = fields.CharEnumField(DeliveryChannel, max_length=16)
    recipient = fields.CharField(max_length=254)
    status = fields.CharEnumField(DeliveryStatus, max_length=8)
    message_id = fields.CharField(max_length=200, null=True)
    path = fields.CharField(max_length=500, null=True)
    error = nullable_text()
    created_at = created_at()

    class Meta:
        table = "delivery"


class Export(Model):
    """A file produced for an external accounting system, downloadable over HTTP."""

    id = fields.IntField(primary_key=True)
    batch: fields.ForeignKeyRelation["BillingBatch"] = fields.ForeignKeyField(
        "models.BillingBatch", related_name="exports", on_delete=fields.RESTRICT, db_index=True)
    batch_id: int
    format = fields.CharEnumField(ExportFormat, max_length=32)
    filename = fields.CharField(max_length=200)
    content_type = fields.CharField(max_length=100)
    content = fields.BinaryField()
    sha256 = fields.CharField(max_length=64)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="exports", null=True, on_delete=fields.SET_NULL)
    created_by_id: int | None
    created_at = created_at()

    class Meta:
        table = "export"


class CreditNote(Model):
    """A correction of a posted invoice: numbered from its own gap-free sequence at issue, journaled as the
    mirror of the invoice's entry, split into what reduces the invoice's balance, account credit and a refund."""

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=32, unique=True, null=True)  # taken at issue
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="credit_notes", on_delete=fields.RESTRICT, db_index=True)
    invoice_id: int
    account: fields.ForeignKeyRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="credit_notes", on_delete=fields.RESTRICT, db_index=True)
    account_id: int
    batch: fields.ForeignKeyRelation["BillingBatch"] = fields.ForeignKeyField(
        "models.BillingBatch", related_name="credit_notes", on_delete=fields.RESTRICT, db_index=True)
    batch_id: int
    reason = fields.CharEnumField(CreditNoteReason, max_length=32)
    description = fields.TextField(default="")
    status = fields.CharEnumField(CreditNoteStatus, max_length=8, default=CreditNoteStatus.DRAFT, db_index=True)
    currency = fields.CharField(max_length=3)
    amount = money()
    tax_amount = money(default=0)
    # What is left once the invoice's open balance is reduced goes back to the customer: account credit ...
    credit_amount = money(default=0)
    credit_remaining = money(default=0)
    credit_status = fields.CharEnumField(CreditStatus, max_length=16, null=True, db_index=True)
    # ... and a refund through the payment gateway, only up to what was paid.
    refund_amount = money(default=0)
    refund_status = fields.CharEnumField(RefundStatus, max_length=16, null=True, db_index=True)
    refund_key = fields.CharField(max_length=64, unique=True, null=True)
    refund_reference = fields.CharField(max_length=64, null=True)
    refund_attempts = fields.IntField(default=0)
    refund_error = nullable_text()
    refund_updated_at = fields.DatetimeField(null=True)
    job_id = fields.IntField(null=True)  # the CREDIT_NOTE job that sends it and refunds it
    credit_date = fields.DateField(null=True)  # the accounting date of its entry (the day of issue)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="credit_notes", null=True, on_delete=fields.SET_NULL)
    created_by_id: int | None
    created_at = created_at()
    issued_at = fields.DatetimeField(null=True)
    voided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "credit_note"


class CreditNoteLine(Model):
    """How much of one invoice line (a billing detail) a credit note credits."""

    id = fields.IntField(primary_key=True)
    credit_note: fields.ForeignKeyRelation[CreditNote] = fields.ForeignKeyField(
        "models.CreditNote", related_name="lines", on_delete=fields.CASCADE, db_index=True)
    credit_note_id: int
    detail: fields.ForeignKeyRelation["BillingDetail"] = fields.ForeignKeyField(
        "models.BillingDetail", related_name="credit_note_lines", on_delete=fields.RESTRICT, db_index=True)
    detail_id: int
    position = fields.IntField(default=0)
    description = fields.CharField(max_length=200)
    kind = fields.CharField(max_length=16)
    amount = money()

    class Meta:
        table = "credit_note_line"
        ordering = ("credit_note_id", "position", "id")

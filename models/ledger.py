"""Invoices, their gap-free numbering, the double-entry ledger, payments, deliveries and exports."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from models._fields import created_at, money, nullable_text, updated_at
from models.enums import DeliveryChannel, DeliveryStatus, ExportFormat, InvoiceStatus, PaymentStatus

if TYPE_CHECKING:
    from models.access import User
    from models.billing import BillingBatch, PeriodicBilling
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
    batch: fields.ForeignKeyRelation["BillingBatch"] = fields.ForeignKeyField(
        "models.BillingBatch", related_name="invoices", on_delete=fields.RESTRICT, db_index=True)
    batch_id: int
    currency = fields.CharField(max_length=3)
    invoice_date = fields.DateField()
    due_date = fields.DateField()
    amount = money()
    tax_amount = money(default=0)
    amount_paid = money(default=0)
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
    created_at = created_at()

    class Meta:
        table = "journal_entry"


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
    """An invoice sent: by SMTP, or written to the outbox folder."""

    id = fields.IntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="deliveries", on_delete=fields.RESTRICT, db_index=True)
    invoice_id: int
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

"""Master data: customers, contracts, prices, billable items, periods, chart of accounts, tax (docs/DATA_MODEL.md)."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from models._fields import created_at, money, nullable_text, updated_at
from models.enums import (
    AdjustmentKind,
    BillingFrequency,
    ContractStatus,
    LedgerAccountKind,
    PeriodStatus,
    WorkOrderStatus,
)

if TYPE_CHECKING:
    from models.access import User
    from models.billing import PeriodicBilling


class Account(Model):
    """A service customer."""

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=200)
    bill_group = fields.CharField(max_length=64, db_index=True)
    division = fields.CharField(max_length=64, db_index=True)
    currency = fields.CharField(max_length=3)
    tax_location = fields.CharField(max_length=64)
    billing_email = fields.CharField(max_length=254)
    # The postal bill-to address printed on invoices, its lines separated by newlines (or `|`); may be empty.
    billing_address = fields.CharField(max_length=500, default="", db_default="")
    payment_terms_days = fields.IntField(default=30)
    autopay_enabled = fields.BooleanField(default=False)
    payment_method_token = fields.CharField(max_length=128, null=True)
    restricted = fields.BooleanField(default=False)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "account"


class SalesContract(Model):
    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=32, unique=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="contracts", on_delete=fields.RESTRICT)
    account_id: int
    frequency = fields.CharEnumField(BillingFrequency, max_length=16)
    start_date = fields.DateField()
    end_date = fields.DateField(null=True)
    billing_anchor = fields.DateField()
    status = fields.CharEnumField(ContractStatus, max_length=16, default=ContractStatus.ACTIVE)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "sales_contract"


class LedgerAccount(Model):
    """The chart of accounts."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharEnumField(LedgerAccountKind, max_length=16)
    active = fields.BooleanField(default=True)
    created_at = created_at()

    class Meta:
        table = "ledger_account"


class RecurringCharge(Model):
    id = fields.IntField(primary_key=True)
    contract: fields.ForeignKeyRelation[SalesContract] = fields.ForeignKeyField(
        "models.SalesContract", related_name="charges", on_delete=fields.CASCADE)
    contract_id: int
    description = fields.CharField(max_length=200)
    periodic_price = money()
    revenue_account: fields.ForeignKeyNullableRelation[LedgerAccount] = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="recurring_charges", null=True, on_delete=fields.RESTRICT)
    revenue_account_id: int | None
    quantity = fields.DecimalField(max_digits=14, decimal_places=4, default=1)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "recurring_charge"


class DatedPrice(Model):
    """A date-effective price of a recurring charge, windows of one charge never overlap (domain rule)."""

    id = fields.IntField(primary_key=True)
    charge: fields.ForeignKeyRelation[RecurringCharge] = fields.ForeignKeyField(
        "models.RecurringCharge", related_name="dated_prices", on_delete=fields.CASCADE)
    charge_id: int
    first_effective_date = fields.DateField()
    last_effective_date = fields.DateField(null=True)
    periodic_price = money()
    created_at = created_at()

    class Meta:
        table = "dated_price"


class WorkOrder(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="work_orders", on_delete=fields.RESTRICT)
    account_id: int
    contract: fields.ForeignKeyNullableRelation[SalesContract] = fields.ForeignKeyField(
        "models.SalesContract", related_name="work_orders", null=True, on_delete=fields.SET_NULL)
    contract_id: int | None
    # The recurring charge whose price the work order's rate is expected to match (analysis compares them).
    charge: fields.ForeignKeyNullableRelation[RecurringCharge] = fields.ForeignKeyField(
        "models.RecurringCharge", related_name="work_orders", null=True, on_delete=fields.SET_NULL)
    charge_id: int | None
    description = fields.CharField(max_length=200)
    performed_on = fields.DateField()
    quantity = fields.DecimalField(max_digits=14, decimal_places=4, default=1)
    rate = money(null=True)
    status = fields.CharEnumField(WorkOrderStatus, max_length=16, default=WorkOrderStatus.OPEN)
    revenue_account: fields.ForeignKeyNullableRelation[LedgerAccount] = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="work_orders", null=True, on_delete=fields.RESTRICT)
    revenue_account_id: int | None
    billed_on: fields.ForeignKeyNullableRelation["PeriodicBilling"] = fields.ForeignKeyField(
        "models.PeriodicBilling", related_name="work_orders", null=True, on_delete=fields.SET_NULL)
    billed_on_id: int | None
    created_at = created_at()

    @property
    def billed(self) -> bool:
        return self.billed_on_id is not None

    class Meta:
        table = "work_order"


class ManualCharge(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="manual_charges", on_delete=fields.RESTRICT)
    account_id: int
    description = fields.CharField(max_length=200)
    charge_date = fields.DateField()
    amount = money()
    revenue_account: fields.ForeignKeyNullableRelation[LedgerAccount] = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="manual_charges", null=True, on_delete=fields.RESTRICT)
    revenue_account_id: int | None
    billed_on: fields.ForeignKeyNullableRelation["PeriodicBilling"] = fields.ForeignKeyField(
        "models.PeriodicBilling", related_name="manual_charges", null=True, on_delete=fields.SET_NULL)
    billed_on_id: int | None
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="manual_charges", null=True, on_delete=fields.SET_NULL)
    created_by_id: int | None
    created_at = created_at()

    @property
    def billed(self) -> bool:
        return self.billed_on_id is not None

    class Meta:
        table = "manual_charge"


class ServiceChange(Model):
    """A rate change on a recurring charge from a date, billed as a prorated difference."""

    id = fields.IntField(primary_key=True)
    charge: fields.ForeignKeyRelation[RecurringCharge] = fields.ForeignKeyField(
        "models.RecurringCharge", related_name="service_changes", on_delete=fields.CASCADE)
    charge_id: int
    effective_date = fields.DateField()
    new_price = money()
    note = fields.CharField(max_length=200, default="")
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="service_changes", null=True, on_delete=fields.SET_NULL)
    created_by_id: int | None
    billed_on: fields.ForeignKeyNullableRelation["PeriodicBilling"] = fields.ForeignKeyField(
        "models.PeriodicBilling", related_name="service_changes", null=True, on_delete=fields.SET_NULL)
    billed_on_id: int | None
    created_at = created_at()

    @property
    def billed(self) -> bool:
        return self.billed_on_id is not None

    class Meta:
        table = "service_change"


class InvoiceAdjustment(Model):
    """A credit or debit against an account, billed only once approved."""

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="adjustments", on_delete=fields.RESTRICT)
    account_id: int
    kind = fields.CharEnumField(AdjustmentKind, max_length=8)
    description = fields.CharField(max_length=200)
    amount = money()
    revenue_account: fields.ForeignKeyNullableRelation[LedgerAccount] = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="adjustments", null=True, on_delete=fields.RESTRICT)
    revenue_account_id: int | None
    approved = fields.BooleanField(default=False)
    approved_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="approved_adjustments", null=True, on_delete=fields.SET_NULL)
    approved_by_id: int | None
    approved_at = fields.DatetimeField(null=True)
    billed_on: fields.ForeignKeyNullableRelation["PeriodicBilling"] = fields.ForeignKeyField(
        "models.PeriodicBilling", related_name="adjustments", null=True, on_delete=fields.SET_NULL)
    billed_on_id: int | None
    created_at = created_at()

    @property
    def billed(self) -> bool:
        return self.billed_on_id is not None

    class Meta:
        table = "invoice_adjustment"


class AccountingPeriod(Model):
    """A calendar month of the books, open or closed."""

    id = fields.IntField(primary_key=True)
    month = fields.DateField(unique=True)  # always the first day of the month
    status = fields.CharEnumField(PeriodStatus, max_length=8, default=PeriodStatus.OPEN)
    reopen_reason = nullable_text()
    closed_at = fields.DatetimeField(null=True)
    closed_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="closed_periods", null=True, on_delete=fields.SET_NULL)
    closed_by_id: int | None
    created_at = created_at()

    class Meta:
        table = "accounting_period"


class TaxRate(Model):
    """The sales-tax rate of one tax location."""

    id = fields.IntField(primary_key=True)
    location = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=100)
    rate = fields.DecimalField(max_digits=7, decimal_places=5)
    ledger_account: fields.ForeignKeyNullableRelation[LedgerAccount] = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="tax_rates", null=True, on_delete=fields.RESTRICT)
    ledger_account_id: int | None
    created_at = created_at()

    class Meta:
        table = "tax_rate"


__all__ = [
    "Account",
    "AccountingPeriod",
    "DatedPrice",
    "InvoiceAdjustment",
    "LedgerAccount",
    "ManualCharge",
    "RecurringCharge",
    "SalesContract",
    "ServiceChange",
    "TaxRate",
    "WorkOrder",
]

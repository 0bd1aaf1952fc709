"""Billing records: batches, periodic billings, their detail lines and distributions, findings (docs/DATA_MODEL.md)."""

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models._fields import created_at, money, nullable_enum, nullable_text, updated_at
from models.enums import (
    ApprovalRuleKind,
    AutoAdvance,
    BatchStatus,
    BillingFrequency,
    BillingStatus,
    Cadence,
    DetailKind,
    PostMode,
    PriceSource,
    Severity,
)

if TYPE_CHECKING:
    from models.access import User
    from models.master import Account, DatedPrice, LedgerAccount, RecurringCharge, SalesContract


class BillingBatch(Model):
    """A billing run: bill group + division + invoice date, from NOT_STARTED to COMPLETED."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    name = fields.CharField(max_length=200, unique=True)
    bill_group = fields.CharField(max_length=64, null=True)  # null: every bill group
    division = fields.CharField(max_length=64, null=True)  # null: every division
    currency = fields.CharField(max_length=3)
    invoice_date = fields.DateField()
    as_of_date = fields.DateField()
    status = fields.CharEnumField(BatchStatus, max_length=16, default=BatchStatus.NOT_STARTED, db_index=True)
    post_mode = nullable_enum(PostMode, max_length=8)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="batches", null=True, on_delete=fields.SET_NULL)
    created_by_id: int | None
    created_at = created_at()
    updated_at = updated_at()
    processed_at = fields.DatetimeField(null=True)
    posted_at = fields.DatetimeField(null=True)
    exported_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    version = fields.IntField(default=1)
    # The schedule that created it, and for which due date: one batch per schedule and due date (a unique key).
    schedule: fields.ForeignKeyNullableRelation["BillingSchedule"] = fields.ForeignKeyField(
        "models.BillingSchedule", related_name="runs", null=True, on_delete=fields.SET_NULL)
    schedule_id: int | None
    scheduled_for = fields.DateField(null=True)
    # A posting waiting for a second user's confirmation (the batch total is above a rule's, docs/APPROVALS.md).
    post_requested_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="post_requests", null=True, on_delete=fields.SET_NULL)
    post_requested_by_id: int | None
    post_requested_mode = nullable_enum(PostMode, max_length=8)
    post_requested_at = fields.DatetimeField(null=True)

    class Meta:
        table = "billing_batch"
        unique_together = (("schedule", "scheduled_for"),)


class PeriodicBilling(Model):
    """One billing of one contract (or of an account's one-off items) for one period."""

    id = fields.IntField(primary_key=True)
    # Null while a HOLD billing waits between batches: it left its batch at posting (docs/POSTING.md) and the
    # next batch processed for its account adopts it.
    batch: fields.ForeignKeyNullableRelation[BillingBatch] = fields.ForeignKeyField(
        "models.BillingBatch", related_name="billings", null=True, on_delete=fields.RESTRICT)
    batch_id: int | None
    held_from_batch_id = fields.IntField(null=True)  # the batch a HOLD billing left at posting
    contract: fields.ForeignKeyNullableRelation["SalesContract"] = fields.ForeignKeyField(
        "models.SalesContract", related_name="billings", null=True, on_delete=fields.RESTRICT)
    contract_id: int | None
    account: fields.ForeignKeyRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="billings", on_delete=fields.RESTRICT)
    account_id: int
    frequency = nullable_enum(BillingFrequency, max_length=16)
    period_start = fields.DateField()  # the period's own bounds (the unique key is on the period start)
    period_end = fields.DateField()
    billing_start = fields.DateField()  # the first and last day billed: a contract starting on the 16th
    billing_end = fields.DateField()  # bills from the 16th, one ending on the 20th bills to the 20th
    as_of_date = fields.DateField()
    amount = money(default=0)
    status = fields.CharEnumField(BillingStatus, max_length=24, default=BillingStatus.NEW, db_index=True)
    tax_location = fields.CharField(max_length=64)
    internal_comment = fields.TextField(default="")
    external_comment = fields.TextField(default="")
    invoice_date_override = fields.DateField(null=True)
    version = fields.IntField(default=1)
    # The last user who edited its details, comments or status: four-eyes rules want another user to approve.
    last_edited_by_id = fields.IntField(null=True)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "periodic_billing"
        indexes = (("batch_id", "status"), ("contract_id", "period_start"))


class BillingDetail(Model):
    """A line of a billing, with the trace of how its amount was computed."""

    id = fields.IntField(primary_key=True)
    billing: fields.ForeignKeyRelation[PeriodicBilling] = fields.ForeignKeyField(
        "models.PeriodicBilling", related_name="details", on_delete=fields.CASCADE)
    billing_id: int
    position = fields.IntField(default=0)
    kind = fields.CharEnumField(DetailKind, max_length=16)
    description = fields.CharField(max_length=200)
    amount = money()
    days_billed = fields.IntField(null=True)
    days_in_period = fields.IntField(null=True)
    price_source = nullable_enum(PriceSource, max_length=16)
    charge: fields.ForeignKeyNullableRelation["RecurringCharge"] = fields.ForeignKeyField(
        "models.RecurringCharge", related_name="billing_details", null=True, on_delete=fields.SET_NULL)
    charge_id: int | None
    dated_price: fields.ForeignKeyNullableRelation["DatedPrice"] = fields.ForeignKeyField(
        "models.DatedPrice", related_name="billing_details", null=True, on_delete=fields.SET_NULL)
    dated_price_id: int | None
    source_type = fields.CharField(max_length=32, null=True)  # WorkOrder, ManualCharge, ServiceChange, ...
    source_id = fields.IntField(null=True)
    revenue_account: fields.ForeignKeyNullableRelation["LedgerAccount"] = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="billing_details", null=True, on_delete=fields.RESTRICT)
    revenue_account_id: int | None
    trace: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = created_at()

    class Meta:
        table = "billing_detail"
        ordering = ("billing_id", "position", "id")


class RevenueDistribution(Model):
    """A split of one detail line's revenue, the rows of a line always sum to the line."""

    id = fields.IntField(primary_key=True)
    detail: fields.ForeignKeyRelation[BillingDetail] = fields.ForeignKeyField(
        "models.BillingDetail", related_name="distributions", on_delete=fields.CASCADE)
    detail_id: int
    revenue_account: fields.ForeignKeyRelation["LedgerAccount"] = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="distributions", on_delete=fields.RESTRICT)
    revenue_account_id: int
    amount = money()

    class Meta:
        table = "revenue_distribution"
        unique_together = (("detail", "revenue_account"),)


class Finding(Model):
    """A pre-billing analysis result, ERROR findings block processing until resolved."""

    id = fields.IntField(primary_key=True)
    batch: fields.ForeignKeyRelation[BillingBatch] = fields.ForeignKeyField(
        "models.BillingBatch", related_name="findings", on_delete=fields.CASCADE)
    batch_id: int
    kind = fields.CharField(max_length=64)
    severity = fields.CharEnumField(Severity, max_length=8)
    account: fields.ForeignKeyNullableRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="findings", null=True, on_delete=fields.CASCADE)
    account_id: int | None
    billing: fields.ForeignKeyNullableRelation[PeriodicBilling] = fields.ForeignKeyField(
        "models.PeriodicBilling", related_name="findings", null=True, on_delete=fields.CASCADE)
    billing_id: int | None
    subject_type = fields.CharField(max_length=32, null=True)
    subject_id = fields.IntField(null=True)
    # kind + subject: re-running analysis keeps a resolved finding resolved instead of raising it again
    key = fields.CharField(max_length=128, db_default="")
    message = fields.TextField()
    resolved_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="resolved_findings", null=True, on_delete=fields.SET_NULL)
    resolved_by_id: int | None
    resolved_at = fields.DatetimeField(null=True)
    resolution_note = nullable_text()
    created_at = created_at()

    class Meta:
        table = "finding"
        indexes = (("batch_id", "key"),)


class ApprovalRule(Model):
    """A company-level four-eyes rule (docs/APPROVALS.md): amounts are in `currency` and apply to billings and
    batches of that currency only; a percentage rule has no currency."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(ApprovalRuleKind, max_length=40)
    threshold = fields.DecimalField(max_digits=14, decimal_places=2)
    currency = fields.CharField(max_length=3, null=True)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="approval_rules", null=True, on_delete=fields.SET_NULL)
    created_by_id: int | None
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "approval_rule"


class BillingSchedule(Model):
    """Batches created on a calendar (docs/SCHEDULES.md): one per due date, advanced as far as `auto_advance`."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=150, unique=True)
    bill_group = fields.CharField(max_length=64, null=True)  # null: every bill group
    division = fields.CharField(max_length=64, null=True)  # null: every division
    currency = fields.CharField(max_length=3)
    cadence = fields.CharEnumField(Cadence, max_length=16)
    day = fields.IntField()  # MONTHLY and QUARTERLY: day of the month 1-28; WEEKLY: ISO weekday 1-7
    auto_advance = fields.CharEnumField(AutoAdvance, max_length=16, default=AutoAdvance.CREATE)
    paused = fields.BooleanField(default=False)
    next_run_on = fields.DateField(db_index=True)  # the next due date, in the business time zone
    last_run_on = fields.DateField(null=True)
    last_error = nullable_text()
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="schedules", null=True, on_delete=fields.SET_NULL)
    created_by_id: int | None
    version = fields.IntField(default=1)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "billing_schedule"

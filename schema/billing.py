"""GraphQL types of billing runs: batches, periodic billings, their details, findings and jobs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Union

import strawberry
from strawberry import relay

import models
from billrun import downloads
from domain import batches
from domain import trace as traces
from domain.money import round_half_up
from models import enums
from resolvers import global_ids, lists, relations
from resolvers.relations import CtxInfo
from schema.access import User
from schema.accounts import Account, BillingFrequency, DatedPrice, RecurringCharge, SalesContract
from schema.books import LedgerAccount, TaxRate
from schema.common import Connection, Direction
from schema.items import InvoiceAdjustment, ManualCharge, ServiceChange, WorkOrder
from schema.node import ModelNode

if TYPE_CHECKING:
    from schema.events import Event, EventOrder, EventType
    from schema.ledger import Completion, Export, Invoice, InvoiceFilter, InvoiceOrder
    from schema.rules import BillingSchedule, PostRequest

# The stored enumerations are the GraphQL enums: `strawberry.enum` registers the class itself (and returns
# it), so each name stays a type the checker knows.
BatchStatus = enums.BatchStatus
strawberry.enum(BatchStatus, description="Where a batch is in its lifecycle (docs/BILLING.md).")
BillingStatus = enums.BillingStatus
strawberry.enum(BillingStatus, description="The disposition of a periodic billing.")
PostMode = enums.PostMode
strawberry.enum(PostMode, description="How a batch is posted: invoices sent, or exported.")
DetailKind = enums.DetailKind
strawberry.enum(DetailKind, description="What a billing line bills.")
PriceSource = enums.PriceSource
strawberry.enum(PriceSource, description="Which record priced a recurring line.")
Severity = enums.Severity
strawberry.enum(Severity, description="ERROR findings block processing; WARNING ones inform.")
JobKind = enums.JobKind
strawberry.enum(JobKind, description="What a background job does.")
JobStatus = enums.JobStatus
strawberry.enum(JobStatus, description="Where a background job is.")


@strawberry.type(description="A split of a line's revenue to one revenue account; a line's splits sum to it.")
class RevenueDistribution:
    amount: Decimal = strawberry.field(description="The part of the line's amount.")
    revenue_account: LedgerAccount | None = strawberry.field(resolver=relations.revenue_account_of,
                                                              description="The revenue account credited.")


@strawberry.type(description="A span of days, both ends included.")
class DateRange:
    start: date = strawberry.field(description="The first day.")
    end: date = strawberry.field(description="The last day (inclusive).")


@strawberry.type(description="A part of a line's revenue, as its trace shows it: how much, which share of the line, "
                 "and the revenue account credited.")
class TraceDistribution:
    amount: Decimal = strawberry.field(description="The part of the line's amount.")
    percent: Decimal | None = strawberry.field(description="Its share of the line's amount in percent, two places "
                                               "half-up (null when the line's amount is 0).")
    revenue_account_id: strawberry.Private[int]
    revenue_account: LedgerAccount | None = strawberry.field(resolver=relations.revenue_account_of,
                                                              description="The revenue account credited.")


PriceRecord = Annotated[
    Union[DatedPrice, RecurringCharge, ServiceChange, WorkOrder, ManualCharge, InvoiceAdjustment, TaxRate],  # noqa: UP007
    strawberry.union("PriceRecord", description="The record that priced a line: a dated price, the recurring "
                     "charge's own price, a service change, a work order, a manual charge, an invoice adjustment "
                     "or, for a tax line, the tax rate of its location.")]


@strawberry.type(description="Why a line's amount is what it is: the price record used and why, the period and the "
                 "days billed of it, the unit price and quantity, the formula, the tax rate and location (tax "
                 "lines) and the revenue distribution. The records it names resolve through the viewer's scope.")
class PriceTrace:
    price_source: PriceSource | None = strawberry.field(
        description="DATED_PRICE or CONTRACT_CHARGE (the charge's own price, or a service change of it) for "
        "recurring and service-change lines; null for one-off, miscellaneous and tax lines.")
    why: str = strawberry.field(description="Why this price record was used, in words.")
    period: DateRange = strawberry.field(description="The billing period itself (its anchored bounds).")
    billed: DateRange = strawberry.field(description="The days the billing bills: from its billing starting "
                                         "date to its billing ending date.")
    days_billed: int | None = strawberry.field(description="Days the amount is based on (recurring and "
                                               "service-change lines).")
    days_in_period: int | None = strawberry.field(description="Days in the period (recurring and service-change "
                                                  "lines): the amount is unit price \u00d7 quantity \u00d7 days "
                                                  "billed / days in period.")
    unit_price: Decimal | None = strawberry.field(description="The price per unit and period used (for a service "
                                                  "change, the new price minus the replaced one); per unit for work "
                                                  "orders.")
    quantity: Decimal | None = strawberry.field(description="The quantity billed (charges and work orders).")
    formula: str = strawberry.field(description="The arithmetic, with the currency's decimals, e.g. "
                                    "`30.00 \u00d7 1 \u00d7 28/28 = 30.00`.")
    tax_rate: Decimal | None = strawberry.field(description="The tax rate applied, as a fraction (tax lines).")
    tax_location: str | None = strawberry.field(description="The tax location whose rate applied (tax lines).")
    tax_base: Decimal | None = strawberry.field(description="The amount taxed: the other lines' sum (tax lines).")
    composed: strawberry.Private[traces.Trace]
    detail: strawberry.Private[models.BillingDetail]

    @classmethod
    def of(cls, trace: traces.Trace, detail: models.BillingDetail) -> PriceTrace:
        """The GraphQL face of a composed trace."""
        return cls(price_source=trace.price_source, why=trace.why,
                   period=DateRange(start=trace.period_start, end=trace.period_end),
                   billed=DateRange(start=trace.billing_start, end=trace.billing_end),
                   days_billed=trace.days_billed, days_in_period=trace.days_in_period,
                   unit_price=trace.unit_price, quantity=trace.quantity, formula=trace.formula,
                   tax_rate=trace.tax_rate, tax_location=trace.tax_location, tax_base=trace.tax_base,
                   composed=trace, detail=detail)

    @strawberry.field(description="The price record used, as its node (null when hidden from the viewer or "
                      "deleted since; miscellaneous lines have none).")
    async def price_record(self, info: CtxInfo) -> PriceRecord | None:
        return await relations.price_record_of(info, self.composed)

    @strawberry.field(description="How the line's revenue is split over revenue accounts; the parts sum to the "
                      "line.")
    async def distribution(self, info: CtxInfo) -> list[TraceDistribution]:
        rows = await relations.distributions_of_detail(self.detail, info)
        total = self.detail.amount
        return [TraceDistribution(amount=row.amount, revenue_account_id=row.revenue_account_id,
                                  percent=round_half_up(row.amount * 100 / total, 2) if total else None)
                for row in rows]


@relations.direct
def trace_of_line(root: models.BillingDetail, info: CtxInfo) -> PriceTrace:
    """A line's trace, at once when its billing came with the page (resolvers/prefetch.py)."""
    return relations.then(relations.trace_of(root, info), lambda composed: PriceTrace.of(composed, root))


trace_of_line.prefetch = relations.trace_of.prefetch  # type: ignore[attr-defined]  # read by resolvers/prefetch.py


@strawberry.type(description="A line of a billing, with the trace of how its amount was computed.")
class BillingDetail(ModelNode):
    model = models.BillingDetail
    id: relay.NodeID[int]
    kind: DetailKind = strawberry.field(description="RECURRING, WORK_ORDER, MANUAL, SERVICE_CHANGE, …, TAX.")
    description: str = strawberry.field(description="As printed on the invoice.")
    days_billed: int | None = strawberry.field(description="Days the amount is based on (recurring lines).")
    days_in_period: int | None = strawberry.field(description="Days in the billing period (recurring lines).")
    price_source: PriceSource | None = strawberry.field(description="Dated price or the charge's own price.")
    source_type: str | None = strawberry.field(description="The billable item billed (WorkOrder, ManualCharge…).")
    position: int = strawberry.field(description="Order of the line in its billing.")
    charge: RecurringCharge | None = strawberry.field(resolver=relations.optional_charge_of,
                                                      description="The recurring charge billed, if any.")
    dated_price: DatedPrice | None = strawberry.field(resolver=relations.dated_price_of,
                                                      description="The dated price used, when one was.")
    revenue_account: LedgerAccount | None = strawberry.field(resolver=relations.revenue_account_of,
                                                              description="The line's revenue account.")
    distributions: list[RevenueDistribution] = strawberry.field(
        resolver=relations.distributions_of_detail, description="How the line's revenue is split.")

    @strawberry.field(description="The amount billed on this line.")
    @staticmethod
    def billing_amount(row: strawberry.Parent[models.BillingDetail]) -> Decimal:
        return row.amount

    @strawberry.field(description="The billable item's global id (of type `sourceType`).")
    @staticmethod
    def source_id(row: strawberry.Parent[models.BillingDetail]) -> relay.GlobalID | None:
        return global_ids.global_id(row.source_type, row.source_id)

    trace: PriceTrace = strawberry.field(resolver=trace_of_line, description="Why this amount: the price record "
                                         "and why, the period and days billed of it, unit price, quantity, the "
                                         "formula, tax rate and location, the distribution.")


@strawberry.type(description="How a billing compares with the previous billing of its contract.")
class BillingChange:
    amount: Decimal = strawberry.field(description="This billing's amount minus the previous one's.")
    percent: Decimal | None = strawberry.field(description="The change in percent (null when the previous is 0).")


@strawberry.type(description="A pre-billing analysis result, or the reason a billing was rejected with errors.")
class Finding(ModelNode):
    model = models.Finding
    id: relay.NodeID[int]
    kind: str = strawberry.field(description="What was found, e.g. WORK_ORDER_NO_RATE, NO_TAX_RATE.")
    severity: Severity = strawberry.field(description="ERROR blocks processing until resolved.")
    message: str = strawberry.field(description="What was found, in words.")
    subject_type: str | None = strawberry.field(description="The record concerned (WorkOrder, …).")
    resolved_at: datetime | None = strawberry.field(description="When it was resolved.")
    resolution_note: str | None = strawberry.field(description="How it was resolved.")
    created_at: datetime = strawberry.field(description="When it was found.")
    account: Account | None = strawberry.field(resolver=relations.optional_account_of,
                                               description="The account concerned.")
    resolved_by: User | None = strawberry.field(resolver=relations.resolved_by_of,
                                                description="Who resolved it (a name only, to non-admins).")

    @strawberry.field(description="The record concerned's global id (of type `subjectType`).")
    @staticmethod
    def subject_id(row: strawberry.Parent[models.Finding]) -> relay.GlobalID | None:
        return global_ids.global_id(row.subject_type, row.subject_id)


@strawberry.type(description="Before and after of one key field of one record: written with the change, never "
                 "changed or deleted.")
class Audit(ModelNode):
    model = models.Audit
    id: relay.NodeID[int]
    entity: str = strawberry.field(description="The kind of record (BillingBatch, PeriodicBilling, …).")
    field: str = strawberry.field(description="The field changed.")
    operation: str = strawberry.field(description="What changed it: DISPOSITION, MASS_DISPOSITION, REVERSE, …")
    actor_label: str = strawberry.field(resolver=relations.actor_label_of,
                                        description="Who: the user's current display name, or `system`.")
    at: datetime = strawberry.field(description="When (UTC).")
    actor: User | None = strawberry.field(resolver=relations.actor_of,
                                          description="The user, if one did it (a name only, to non-admins).")
    batch: BillingBatch | None = strawberry.field(resolver=relations.batch_of, description="The batch concerned.")
    billing: PeriodicBilling | None = strawberry.field(
        resolver=relations.optional_billing_of, description="The billing concerned (null once it was deleted).")

    @strawberry.field(description="The audited record's global id. A line's distributions are audited on the "
                      "line: their rows name the BillingDetail.")
    @staticmethod
    def entity_id(row: strawberry.Parent[models.Audit]) -> relay.GlobalID:
        return global_ids.audited_record(row.entity, row.entity_id)

    @strawberry.field(description="The value before (null: none); a record is named by its global id.")
    @staticmethod
    def before(row: strawberry.Parent[models.Audit]) -> str | None:
        return global_ids.audited_value(row.field, row.before)

    @strawberry.field(description="The value after (null: deleted); a record is named by its global id.")
    @staticmethod
    def after(row: strawberry.Parent[models.Audit]) -> str | None:
        return global_ids.audited_value(row.field, row.after)


@strawberry.type(description="One billing of one contract (or of an account's one-off items) for one period.")
class PeriodicBilling(ModelNode):
    model = models.PeriodicBilling
    id: relay.NodeID[int]
    frequency: BillingFrequency | None = strawberry.field(description="The contract's billing frequency.")
    as_of_date: date = strawberry.field(description="The as-of date of the run that billed it.")
    tax_location: str = strawberry.field(description="Tax location of the ship-to address.")
    internal_comment: str = strawberry.field(description="Never printed for the customer.")
    external_comment: str = strawberry.field(description="Printed on the invoice.")
    invoice_date_override: date | None = strawberry.field(description="Invoice date instead of the batch's.")
    created_at: datetime = strawberry.field(description="When it was generated.")
    batch: BillingBatch | None = strawberry.field(
        resolver=relations.batch_of, description="The batch it belongs to (null: a HOLD billing that left its posted "
        "batch and waits for the next batch of its account).")
    invoice: Annotated[Invoice, strawberry.lazy("schema.ledger")] | None = strawberry.field(
        resolver=relations.invoice_of_billing, description="Its invoice, once posted.")
    service_customer: Account = strawberry.field(resolver=relations.account_of, description="The account billed.")
    sales_contract: SalesContract | None = strawberry.field(
        resolver=relations.optional_contract_of, description="The contract billed (null for one-off items).")
    details: list[BillingDetail] = strawberry.field(resolver=relations.details_of_billing,
                                                    description="Every line, tax last.")
    recurring_charges: list[RecurringCharge] = strawberry.field(
        resolver=relations.recurring_charges_of_billing, description="The recurring charges it billed.")
    findings: list[Finding] = strawberry.field(resolver=relations.findings_of_billing,
                                               description="Why it was rejected with errors, if it was.")
    previous_billing: PeriodicBilling | None = strawberry.field(
        resolver=relations.previous_billing_of, description="The latest earlier billing of the same contract.")
    version: int = strawberry.field(description="Grows with every change: pass it as `expectedVersion` to refuse "
                                    "a decision on a billing changed since it was read.")
    audits: list[Audit] = strawberry.field(resolver=relations.audits_of_billing, description="Its audit trail, "
                                           "newest first.")
    allowed_transitions: list[BillingStatus] = strawberry.field(
        resolver=relations.allowed_transitions_of,
        description="The statuses the viewer may move it to now (the server enforces exactly these).")

    @strawberry.field(description="First day billed: the period's start, or the contract's start when it starts "
                      "inside the period.")
    @staticmethod
    def billing_starting_date(row: strawberry.Parent[models.PeriodicBilling]) -> date:
        return row.billing_start

    @strawberry.field(description="Last day billed (inclusive): the period's end, or the contract's end when it "
                      "ends inside the period.")
    @staticmethod
    def billing_ending_date(row: strawberry.Parent[models.PeriodicBilling]) -> date:
        return row.billing_end

    @strawberry.field(description="First day of the billing period itself (its anchored bounds, whatever the "
                      "contract's dates).")
    @staticmethod
    def period_start_date(row: strawberry.Parent[models.PeriodicBilling]) -> date:
        return row.period_start

    @strawberry.field(description="Last day of the billing period itself (inclusive).")
    @staticmethod
    def period_end_date(row: strawberry.Parent[models.PeriodicBilling]) -> date:
        return row.period_end

    @strawberry.field(description="The total of the billing's lines.")
    @staticmethod
    def periodic_billing_amount(row: strawberry.Parent[models.PeriodicBilling]) -> Decimal:
        return row.amount

    @strawberry.field(description="The billing's disposition.")
    @staticmethod
    def billing_status(row: strawberry.Parent[models.PeriodicBilling]) -> BillingStatus:
        return row.status

    @strawberry.field(description="Where to GET its lines as CSV, with `Authorization: Bearer <token>`.")
    def billing_details_csv_url(self) -> str:
        return downloads.billing_details_csv_url(billing_id=self.id)

    @strawberry.field(description="The change from the previous billing of the contract (null for the first).")
    @staticmethod
    async def change(row: strawberry.Parent[models.PeriodicBilling], info: CtxInfo) -> BillingChange | None:
        previous = await relations.previous_billing_of(row, info)
        if previous is None:
            return None
        delta = row.amount - previous.amount
        percent = round_half_up(delta * 100 / previous.amount, 2) if previous.amount else None
        return BillingChange(amount=delta, percent=percent)


@strawberry.type(description="How many billings of a batch are in one status.")
class BillingStatusCount:
    status: BillingStatus = strawberry.field(description="The status.")
    count: int = strawberry.field(description="How many billings are in it.")


@strawberry.type(description="A batch's figures. Hidden billings and invoices are counted, never shown.")
class BatchSummary:
    billing_count: int = strawberry.field(description="Billings in the batch.")
    total_amount: Decimal = strawberry.field(description="Sum of the billings, cancelled and rejected excluded.")
    invoice_count: int = strawberry.field(description="Invoices posted from the batch.")
    total_amount_due: Decimal = strawberry.field(description="Sum of the batch's invoices.")
    amount_awaiting_payment: Decimal = strawberry.field(description="Invoiced and not yet paid.")
    amount_paid: Decimal = strawberry.field(description="Paid on the batch's invoices.")
    hidden_billing_count: int = strawberry.field(description="Billings of accounts hidden from the viewer.")
    hidden_invoice_count: int = strawberry.field(description="Invoices of accounts hidden from the viewer.")

    @strawberry.field(description="Billings per status.")
    @staticmethod
    def billing_counts(row: strawberry.Parent[batches.Summary]) -> list[BillingStatusCount]:
        counts = row.counts_by_status
        return [BillingStatusCount(status=s, count=counts[s]) for s in enums.BillingStatus if s in counts]


@strawberry.type(description="A background job: processing, reversal, posting… with its progress.")
class Job(ModelNode):
    model = models.Job
    id: relay.NodeID[int]
    kind: JobKind = strawberry.field(description="What the job does.")
    status: JobStatus = strawberry.field(description="QUEUED, RUNNING, SUCCEEDED or FAILED.")
    progress_done: int = strawberry.field(description="Units done (contracts and accounts, for processing).")
    progress_total: int = strawberry.field(description="Units in all.")
    error: str | None = strawberry.field(description="Why it failed.")
    created_at: datetime = strawberry.field(description="When it was queued.")
    started_at: datetime | None = strawberry.field(description="When it started.")
    finished_at: datetime | None = strawberry.field(description="When it ended.")
    batch: BillingBatch | None = strawberry.field(resolver=relations.batch_of, description="The batch it works on.")


NotificationStatus = enums.NotificationStatus
strawberry.enum(NotificationStatus, description="Open until a user resolves it.")


@strawberry.type(description="A system notification on a batch (a failed job, a declined payment…), open until a "
                 "user resolves it with a note.")
class Notification(ModelNode):
    model = models.Notification
    id: relay.NodeID[int]
    kind: str = strawberry.field(description="What happened, e.g. PROCESS_FAILED.")
    message: str = strawberry.field(description="What happened, in words.")
    status: NotificationStatus = strawberry.field(description="OPEN or RESOLVED.")
    created_at: datetime = strawberry.field(description="When it was raised (UTC).")
    resolved_at: datetime | None = strawberry.field(description="When it was resolved.")
    resolution_note: str | None = strawberry.field(description="How it was resolved.")
    resolved_by: User | None = strawberry.field(resolver=relations.resolved_by_of,
                                                description="Who resolved it (a name only, to non-admins).")
    account: Account | None = strawberry.field(resolver=relations.optional_account_of,
                                               description="The account it is about, if one.")
    batch: BillingBatch | None = strawberry.field(resolver=relations.batch_of, description="Its batch.")


@strawberry.type(description="What processing would create for one account.")
class AccountPreview:
    billing_count: int = strawberry.field(description="Billings processing would create.")
    amount: Decimal = strawberry.field(description="Their total.")
    account: Account | None = strawberry.field(resolver=relations.optional_account_of,
                                               description="The account.")


@strawberry.type(description="What processing would create now, computed by the processing code, writing "
                 "nothing. Counts and amounts cover the accounts the viewer may see.")
class BatchPreview:
    billing_count: int = strawberry.field(description="Billings processing would create.")
    amount: Decimal = strawberry.field(description="Their total.")
    rejected_count: int = strawberry.field(description="How many would be REJECTED_WITH_ERRORS.")
    accounts: list[AccountPreview] = strawberry.field(description="Per account the viewer may see.")
    hidden_billing_count: int = strawberry.field(description="Billings processing would create for accounts hidden "
                                                 "from the viewer: counted here only, in no other figure.")


@strawberry.input(description="Narrow an audit trail.")
class AuditFilter:
    entity: str | None = strawberry.field(default=None, description="The kind of record, e.g. PeriodicBilling.")
    entity_id: relay.GlobalID | None = strawberry.field(default=None, description="Rows about this record "
                                                        "(its global id).")
    field: str | None = strawberry.field(default=None, description="The field changed.")
    operation: str | None = strawberry.field(default=None, description="The operation.")
    batch_id: relay.GlobalID | None = strawberry.field(default=None, description="Rows of this batch.")
    billing_id: relay.GlobalID | None = strawberry.field(default=None, description="Rows of this billing.")


@strawberry.input(description="Narrow the billings of a batch.")
class PeriodicBillingFilter:
    status: list[BillingStatus] | None = strawberry.field(default=None, description="Any of these statuses.")
    account_id: relay.GlobalID | None = strawberry.field(default=None, description="Billings of this account.")
    contract_id: relay.GlobalID | None = strawberry.field(default=None, description="Billings of this contract.")
    search: str | None = strawberry.field(default=None, description="Part of the account or contract number.")


@strawberry.enum(description="Fields billings can be ordered by.")
class PeriodicBillingOrderField(Enum):
    ID = "id"
    AMOUNT = "amount"
    BILLING_STARTING_DATE = "billing_start"


@strawberry.input(description="The order of a billing list.")
class PeriodicBillingOrder:
    field: PeriodicBillingOrderField = strawberry.field(default=PeriodicBillingOrderField.ID, description="Key.")
    direction: Direction = strawberry.field(default=Direction.ASC, description="Direction.")


@strawberry.type(description="A billing run: bill group + division + invoice date, from NOT_STARTED to COMPLETED.")
class BillingBatch(ModelNode):
    model = models.BillingBatch
    id: relay.NodeID[int]
    code: str = strawberry.field(description="Human code, unique (e.g. BB-000042).")
    name: str = strawberry.field(description="Name, unique.")
    bill_group: str | None = strawberry.field(description="The bill group billed; null: all.")
    division: str | None = strawberry.field(description="The division billed; null: all.")
    currency: str = strawberry.field(description="Accounts of this currency are billed.")
    invoice_date: date = strawberry.field(description="Date of the batch's invoices (in an open period).")
    as_of_date: date = strawberry.field(description="Periods starting up to this date are billed.")
    status: BatchStatus = strawberry.field(description="Where the batch is in its lifecycle.")
    post_mode: PostMode | None = strawberry.field(description="SEND or EXPORT, once posted.")
    created_at: datetime = strawberry.field(description="Created (UTC).")
    processed_at: datetime | None = strawberry.field(description="Processed (UTC).")
    posted_at: datetime | None = strawberry.field(description="Posted (UTC).")
    exported_at: datetime | None = strawberry.field(description="Last exported (UTC).")
    completed_at: datetime | None = strawberry.field(description="Completed (UTC).")
    created_by: User | None = strawberry.field(resolver=relations.created_by_of,
                                               description="Who created it (a name only, to non-admins).")
    summary: BatchSummary = strawberry.field(resolver=relations.summary_of_batch, description="Its figures.")
    jobs: list[Job] = strawberry.field(resolver=relations.jobs_of_batch, description="Its jobs, newest first.")
    notifications: list[Notification] = strawberry.field(resolver=relations.notifications_of_batch,
                                                         description="Its notifications, newest first.")
    exports: list[Annotated[Export, strawberry.lazy("schema.ledger")]] = strawberry.field(
        resolver=relations.exports_of_batch, description="Its accounting exports, newest first.")
    schedule: Annotated[BillingSchedule, strawberry.lazy("schema.rules")] | None = strawberry.field(
        resolver=relations.schedule_of, description="The schedule that created it, if one did.")
    scheduled_for: date | None = strawberry.field(description="The due date of the schedule it was created for.")

    @strawberry.field(description="A posting waiting for a second user's confirmation (an approval rule on the "
                      "batch total), if one does.")
    @staticmethod
    def post_request(row: strawberry.Parent[models.BillingBatch]
                     ) -> Annotated[PostRequest, strawberry.lazy("schema.rules")] | None:
        from schema.rules import post_request_of
        return post_request_of(row)

    @strawberry.field(description="Where to GET the lines of its billings the viewer may see as CSV, with "
                      "`Authorization: Bearer <token>`.")
    def billing_details_csv_url(self) -> str:
        return downloads.billing_details_csv_url(batch_id=self.id)

    @strawberry.field(description="Whether it can be completed now, and every blocker if not.")
    @staticmethod
    async def completion(row: strawberry.Parent[models.BillingBatch],
                         info: CtxInfo) -> Annotated[Completion, strawberry.lazy("schema.ledger")]:
        from resolvers.ledger import completion_of
        return await completion_of(info, row)

    @strawberry.field(description="The invoices it posted that the viewer may see. Relay pagination.")
    async def invoices(self, info: CtxInfo,
                       filter: Annotated[InvoiceFilter, strawberry.lazy("schema.ledger")] | None = None,
                       order_by: Annotated[InvoiceOrder, strawberry.lazy("schema.ledger")] | None = None,
                       first: int | None = None, after: str | None = None, last: int | None = None,
                       before: str | None = None) -> Connection[Annotated[Invoice, strawberry.lazy("schema.ledger")]]:
        from resolvers.ledger import invoices_page
        return Connection.of(await invoices_page(info, filter, order_by, {"first": first, "after": after,
                                                                          "last": last, "before": before},
                                                 batch_id=self.id))

    @strawberry.field(description="Pre-billing findings (processing findings are on their billings).")
    async def findings(self, info: CtxInfo, unresolved_only: bool = False) -> list[Finding]:
        return await lists.findings_of_batch(info, self.id, unresolved_only)

    @strawberry.field(description="The batch's audit trail, newest first. Relay pagination.")
    async def audits(self, info: CtxInfo, first: int | None = None, after: str | None = None,
                     last: int | None = None, before: str | None = None) -> Connection[Audit]:
        page = await lists.audits(info, AuditFilter(batch_id=relay.GlobalID("BillingBatch", str(self.id))),
                                  {"first": first, "after": after, "last": last, "before": before})
        return Connection.of(page)

    @strawberry.field(description="The batch's events the viewer may see (the event log of this batch), oldest "
                      "first unless `order` says otherwise. Relay pagination; cursors are the events' cursors.")
    async def events(self, info: CtxInfo,
                     types: list[Annotated[EventType, strawberry.lazy("schema.events")]] | None = None,
                     order: Annotated[EventOrder, strawberry.lazy("schema.events")] | None = None,
                     first: int | None = None, after: str | None = None, last: int | None = None,
                     before: str | None = None) -> Connection[Annotated[Event, strawberry.lazy("schema.events")]]:
        from resolvers.events import events_page
        from schema.events import EventFilter, EventOrder

        page = await events_page(info, EventFilter(types=types), order == EventOrder.NEWEST_FIRST,
                                 {"first": first, "after": after, "last": last, "before": before},
                                 batch_id=self.id)
        return Connection.of(page)

    @strawberry.field(description="The batch's billings the viewer may see. Relay pagination.")
    async def periodic_billings(self, info: CtxInfo, filter: PeriodicBillingFilter | None = None,
                                order_by: PeriodicBillingOrder | None = None, first: int | None = None,
                                after: str | None = None, last: int | None = None,
                                before: str | None = None) -> Connection[PeriodicBilling]:
        order = order_by or PeriodicBillingOrder()
        key = ("-" if order.direction == Direction.DESC else "") + order.field.value
        page = await lists.billings_of_batch(info, self.id, filter, [key],
                                             {"first": first, "after": after, "last": last, "before": before})
        return Connection.of(page)

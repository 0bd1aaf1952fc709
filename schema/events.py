"""GraphQL types of the event stream: the `Event` node, its typed payload (one type per event type) and the
event log's filter and order (docs/EVENTS.md)."""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Union

import strawberry
from strawberry import relay

import models
from models import enums
from resolvers import events as resolvers
from resolvers.relations import CtxInfo
from schema.access import Team
from schema.billing import (
    BatchStatus,
    BillingBatch,
    BillingStatus,
    Finding,
    Job,
    JobKind,
    JobStatus,
    Notification,
    PeriodicBilling,
    PostMode,
)
from schema.books import AccountingPeriod, PeriodStatus
from schema.ledger import Delivery, Export, ExportFormat, Invoice, Payment, PaymentStatus
from schema.node import ModelNode
from schema.rules import ApprovalRuleKind, BillingSchedule, Change
from schema.webhooks import WebhookEndpoint

if TYPE_CHECKING:
    from schema.credit_notes import CreditNote

EventType = enums.EventType
strawberry.enum(EventType, description="What an event reports; each type has one payload type.")
BillingEdit = enums.BillingEdit
strawberry.enum(BillingEdit, description="Which edit of a billing an event reports.")


@strawberry.type(description="Payload of BATCH_CREATED: a batch was created (NOT_STARTED).")
class BatchCreated:
    code: str = strawberry.field(description="The batch's human code.")
    name: str = strawberry.field(description="The batch's name.")
    batch_status: BatchStatus = strawberry.field(description="Its status when created.")


@strawberry.type(description="Payload of BATCH_STATUS_CHANGED: the batch moved in its lifecycle.")
class BatchStatusChanged:
    previous_batch_status: BatchStatus = strawberry.field(description="The status it left.")
    batch_status: BatchStatus = strawberry.field(description="The status it is in now.")
    error: str | None = strawberry.field(description="Why, when a failure moved it (FAILED).")


@strawberry.type(description="Payload of BATCH_ANALYZED: the pre-billing analysis ran. Counts cover every "
                 "finding of the batch, those about accounts hidden from the viewer included.")
class BatchAnalyzed:
    finding_count: int = strawberry.field(description="Pre-billing findings of the batch now.")
    blocking_count: int = strawberry.field(description="Of them, unresolved ERROR findings (they block "
                                           "processing).")


@strawberry.type(description="Payload of JOB_QUEUED: a background job was queued.")
class JobQueued:
    job_kind: JobKind = strawberry.field(description="What the job does.")


@strawberry.type(description="Payload of JOB_PROGRESS: a chunked job moved on. Reported when it starts, when its "
                 "whole percentage changes, and always at the end.")
class JobProgress:
    job_kind: JobKind = strawberry.field(description="What the job does.")
    done: int = strawberry.field(description="Units done.")
    total: int = strawberry.field(description="Units in all.")

    @strawberry.field(description="Whole percent done (100 for a job with nothing to do).")
    def percent(self) -> int:
        return 100 if self.total <= 0 else self.done * 100 // self.total


@strawberry.type(description="Payload of JOB_FINISHED: the last event of a job.")
class JobFinished:
    job_kind: JobKind = strawberry.field(description="What the job did.")
    job_status: JobStatus = strawberry.field(description="SUCCEEDED or FAILED.")
    error: str | None = strawberry.field(description="Why it failed.")


@strawberry.type(description="Payload of BILLING_DISPOSITIONED: one billing was given a disposition.")
class BillingDispositioned:
    previous_billing_status: BillingStatus = strawberry.field(description="The status it left.")
    billing_status: BillingStatus = strawberry.field(description="Its status now.")
    actor: str = strawberry.field(description="Who did it (a display name).")


@strawberry.type(description="Payload of BILLINGS_MASS_DISPOSITIONED: one mass update of a batch's billings "
                 "(one event per call, whatever the number of billings).")
class BillingsMassDispositioned:
    billing_status: BillingStatus = strawberry.field(description="The disposition applied.")
    changed_count: int = strawberry.field(description="Billings changed.")
    refused_count: int = strawberry.field(description="Billings that matched but were refused by the rules.")
    actor: str = strawberry.field(description="Who did it (a display name).")


@strawberry.type(description="Payload of BILLING_EDITED: a billing's lines, comments or invoice date changed.")
class BillingEdited:
    edit: BillingEdit = strawberry.field(description="What was edited.")
    amount: Decimal = strawberry.field(description="The billing's amount after the edit.")
    actor: str = strawberry.field(description="Who did it (a display name).")


@strawberry.type(description="Payload of BILLING_DELETED: a billing was deleted from its batch (undone).")
class BillingDeleted:
    billing_id: relay.GlobalID = strawberry.field(description="The deleted billing's global id (no longer a node).")
    billing_status: BillingStatus = strawberry.field(description="Its status when deleted.")
    actor: str = strawberry.field(description="Who did it (a display name).")


@strawberry.type(description="Payload of BILLINGS_MOVED: billings left a batch for another (or, on HOLD, for the "
                 "next batch of their account). One event on each batch concerned.")
class BillingsMoved:
    count: int = strawberry.field(description="How many billings moved between these two.")
    from_batch_id: strawberry.Private[int | None]
    to_batch_id: strawberry.Private[int | None]
    actor: str = strawberry.field(description="Who did it (a display name, or `system`).")

    @strawberry.field(description="The batch they left (null: they were waiting outside any batch).")
    async def from_batch(self, info: CtxInfo) -> BillingBatch | None:
        return await resolvers.batch_by_id(info, self.from_batch_id)

    @strawberry.field(description="The batch they joined (null: they wait for their account's next batch).")
    async def to_batch(self, info: CtxInfo) -> BillingBatch | None:
        return await resolvers.batch_by_id(info, self.to_batch_id)


@strawberry.type(description="Payload of FINDING_RESOLVED: a finding was resolved with a note.")
class FindingResolved:
    finding_kind: str = strawberry.field(description="What had been found.")
    actor: str = strawberry.field(description="Who resolved it (a display name).")
    finding_id: strawberry.Private[int]

    @strawberry.field(description="The finding.")
    async def finding(self, info: CtxInfo) -> Finding | None:
        return await resolvers.record_by_id(info, models.Finding, self.finding_id)


@strawberry.type(description="Payload of NOTIFICATION_OPENED: the system raised a notification.")
class NotificationOpened:
    notification_kind: str = strawberry.field(description="What happened, e.g. PROCESS_FAILED.")
    message: str = strawberry.field(description="What happened, in words.")
    notification_id: strawberry.Private[int]

    @strawberry.field(description="The notification.")
    async def notification(self, info: CtxInfo) -> Notification | None:
        return await resolvers.record_by_id(info, models.Notification, self.notification_id)


@strawberry.type(description="Payload of NOTIFICATION_RESOLVED: a user resolved a notification with a note.")
class NotificationResolved:
    notification_kind: str = strawberry.field(description="What had happened.")
    note: str = strawberry.field(description="How it was resolved.")
    actor: str = strawberry.field(description="Who resolved it (a display name).")
    notification_id: strawberry.Private[int]

    @strawberry.field(description="The notification.")
    async def notification(self, info: CtxInfo) -> Notification | None:
        return await resolvers.record_by_id(info, models.Notification, self.notification_id)


@strawberry.type(description="Payload of INVOICES_POSTED: one chunk of a posting turned billings into invoices "
                 "(one event per chunk, not per invoice).")
class InvoicesPosted:
    count: int = strawberry.field(description="Invoices this chunk posted.")
    first_number: str = strawberry.field(description="The first invoice number it took.")
    last_number: str = strawberry.field(description="The last invoice number it took (numbers are consecutive).")


@strawberry.type(description="Payload of PAYMENT_SETTLED: an auto-pay charge got its outcome.")
class PaymentSettled:
    payment_status: PaymentStatus = strawberry.field(description="SUCCEEDED, DECLINED or FAILED.")
    amount: Decimal = strawberry.field(description="The amount charged (or attempted).")
    currency: str = strawberry.field(description="Its currency.")
    invoice_number: str = strawberry.field(description="The invoice charged.")
    error: str | None = strawberry.field(description="Why it did not succeed.")
    payment_id: strawberry.Private[int]

    @strawberry.field(description="The payment.")
    async def payment(self, info: CtxInfo) -> Payment | None:
        return await resolvers.record_by_id(info, models.Payment, self.payment_id)


@strawberry.type(description="Payload of INVOICE_DELIVERED: an invoice was sent.")
class InvoiceDelivered:
    channel: str = strawberry.field(description="SMTP, or OUTBOX_FILE (written to the outbox folder).")
    invoice_number: str = strawberry.field(description="The invoice sent.")
    delivery_id: strawberry.Private[int]

    @strawberry.field(description="The delivery.")
    async def delivery(self, info: CtxInfo) -> Delivery | None:
        return await resolvers.record_by_id(info, models.Delivery, self.delivery_id)


@strawberry.type(description="Payload of INVOICE_DELIVERY_FAILED: an invoice could not be sent (or whether it "
                 "was is unknown); a notification says so too.")
class InvoiceDeliveryFailed:
    error: str | None = strawberry.field(description="Why (always given).")
    invoice_number: str = strawberry.field(description="The invoice.")
    delivery_id: strawberry.Private[int]

    @strawberry.field(description="The delivery.")
    async def delivery(self, info: CtxInfo) -> Delivery | None:
        return await resolvers.record_by_id(info, models.Delivery, self.delivery_id)


@strawberry.type(description="Payload of EXPORT_CREATED: an accounting export file was produced.")
class ExportCreated:
    format: ExportFormat = strawberry.field(description="Its format.")
    filename: str = strawberry.field(description="Its file name.")
    export_id: strawberry.Private[int]

    @strawberry.field(description="The export (null when the viewer may not see every invoice of its batch).")
    async def export(self, info: CtxInfo) -> Export | None:
        return await resolvers.record_by_id(info, models.Export, self.export_id)


@strawberry.type(description="Payload of ACCOUNTING_PERIOD_CHANGED: a period was opened, closed or reopened.")
class AccountingPeriodChanged:
    month: date = strawberry.field(description="The period's month (its first day).")
    period_status: PeriodStatus = strawberry.field(description="OPEN or CLOSED, now.")
    reason: str | None = strawberry.field(description="Why a closed period was reopened.")
    actor: str = strawberry.field(description="Who did it (a display name).")
    period_id: strawberry.Private[int]

    @strawberry.field(description="The period.")
    async def period(self, info: CtxInfo) -> AccountingPeriod | None:
        return await resolvers.record_by_id(info, models.AccountingPeriod, self.period_id)


@strawberry.type(description="Payload of WEBHOOK_ENDPOINT_DISABLED: a webhook endpoint was disabled after "
                 "persistent failure (docs/WEBHOOKS.md).")
class WebhookEndpointDisabled:
    reason: str = strawberry.field(description="Why: the attempts made and the last error.")
    endpoint_id: strawberry.Private[int]

    @strawberry.field(description="The endpoint (null unless the viewer is ADMIN).")
    async def endpoint(self, info: CtxInfo) -> WebhookEndpoint | None:
        return await resolvers.record_by_id(info, models.WebhookEndpoint, self.endpoint_id)


@strawberry.type(description="Payload of TEAM_CHANGED: a team was created, renamed or deleted, or a member joined "
                 "or left it.")
class TeamChanged:
    name: str = strawberry.field(description="The team's name (after a rename, the new one).")
    change: Change = strawberry.field(description="What happened.")
    member: str | None = strawberry.field(description="The member who joined or left (a display name).")
    actor: str = strawberry.field(description="Who did it (a display name).")
    team_id: strawberry.Private[int]

    @strawberry.field(description="The team (null once deleted, or for a viewer who may not see it).")
    async def team(self, info: CtxInfo) -> Team | None:
        return await resolvers.record_by_id(info, models.Team, self.team_id)


@strawberry.type(description="Payload of APPROVAL_RULE_CHANGED: a four-eyes rule was created, changed or deleted.")
class ApprovalRuleChanged:
    rule_kind: ApprovalRuleKind = strawberry.field(description="The rule's kind.")
    threshold: Decimal = strawberry.field(description="Its threshold (after the change).")
    currency: str | None = strawberry.field(description="Its currency (amount rules).")
    change: Change = strawberry.field(description="What happened.")
    actor: str = strawberry.field(description="Who did it (a display name).")


@strawberry.type(description="Payload of SCHEDULE_CHANGED: a billing schedule was created, changed, paused, resumed "
                 "or deleted.")
class ScheduleChanged:
    name: str = strawberry.field(description="The schedule's name.")
    change: Change = strawberry.field(description="What happened.")
    next_run_on: date = strawberry.field(description="Its next due date after the change.")
    actor: str = strawberry.field(description="Who did it (a display name).")
    schedule_id: strawberry.Private[int]

    @strawberry.field(description="The schedule (null once deleted).")
    async def schedule(self, info: CtxInfo) -> BillingSchedule | None:
        return await resolvers.record_by_id(info, models.BillingSchedule, self.schedule_id)


@strawberry.type(description="Payload of SCHEDULE_RAN: the scheduler ran a schedule for a due date: the batch it "
                 "created (the event's `batch`), or why none.")
class ScheduleRan:
    name: str = strawberry.field(description="The schedule's name.")
    due_date: date = strawberry.field(description="The due date run (the latest missed one, after a pause of the "
                                      "scheduler).")
    error: str | None = strawberry.field(description="Why no batch was created, if none was.")
    schedule_id: strawberry.Private[int]

    @strawberry.field(description="The schedule (null once deleted).")
    async def schedule(self, info: CtxInfo) -> BillingSchedule | None:
        return await resolvers.record_by_id(info, models.BillingSchedule, self.schedule_id)


@strawberry.type(description="Payload of BATCH_POST_REQUESTED: posting was asked for a batch whose total needs a "
                 "second user's confirmation (`confirmPostBillingBatch`).")
class BatchPostRequested:
    mode: PostMode = strawberry.field(description="How it is to be posted.")
    total_amount: Decimal = strawberry.field(description="Its APPROVED total when asked (all of its billings).")
    actor: str = strawberry.field(description="Who asked (a display name).")


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _gid(type_name: str, pk: int | None) -> relay.GlobalID:
    return relay.GlobalID(type_name, str(pk))


LazyCreditNote = Annotated["CreditNote", strawberry.lazy("schema.credit_notes")]


@strawberry.type(description="Payload of CREDIT_NOTE_CREATED, CREDIT_NOTE_ISSUED and CREDIT_NOTE_VOIDED.")
class CreditNoteChanged:
    number: str | None = strawberry.field(description="CN-… (null while a draft).")
    invoice_number: str = strawberry.field(description="The invoice credited.")
    credit_note_status: enums.CreditNoteStatus = strawberry.field(description="DRAFT, ISSUED or VOIDED.")
    amount: Decimal = strawberry.field(description="The total credited.")
    credit_amount: Decimal = strawberry.field(description="Of which account credit.")
    refund_amount: Decimal = strawberry.field(description="Of which refunded.")
    currency: str = strawberry.field(description="Its currency.")
    reason: enums.CreditNoteReason = strawberry.field(description="Why.")
    actor: str = strawberry.field(description="Who (display name).")
    credit_note_id: strawberry.Private[int]

    @strawberry.field(description="The credit note.")
    async def credit_note(self, info: CtxInfo) -> LazyCreditNote | None:
        return await resolvers.record_by_id(info, models.CreditNote, self.credit_note_id)


@strawberry.type(description="Payload of CREDIT_APPLIED: account credit settled part of a newly posted invoice.")
class CreditApplied:
    credit_note_number: str = strawberry.field(description="The credit note whose credit was used.")
    invoice_number: str = strawberry.field(description="The invoice it settled.")
    amount: Decimal = strawberry.field(description="How much.")
    remaining: Decimal = strawberry.field(description="The credit left on the credit note.")


@strawberry.type(description="Payload of REFUND_SETTLED: a credit note's refund got its outcome.")
class RefundSettled:
    credit_note_number: str = strawberry.field(description="The credit note refunded.")
    refund_status: enums.RefundStatus = strawberry.field(description="SUCCEEDED or FAILED.")
    amount: Decimal = strawberry.field(description="The amount refunded (or attempted).")
    currency: str = strawberry.field(description="Its currency.")
    error: str | None = strawberry.field(description="Why it failed.")


def _credit_note_changed(e: models.Event, p: dict) -> CreditNoteChanged:
    return CreditNoteChanged(
        number=p.get("number"), invoice_number=p["invoice_number"],
        credit_note_status=enums.CreditNoteStatus(p["status"]), amount=_money(p["amount"]),
        credit_amount=_money(p["credit_amount"]), refund_amount=_money(p["refund_amount"]), currency=p["currency"],
        reason=enums.CreditNoteReason(p["reason"]), actor=p["actor"], credit_note_id=p["credit_note_id"])


T = enums.EventType
PAYLOADS: dict[enums.EventType, Callable[[models.Event, dict], Any]] = {
    T.BATCH_CREATED: lambda e, p: BatchCreated(code=p["code"], name=p["name"],
                                               batch_status=enums.BatchStatus(p["status"])),
    T.BATCH_STATUS_CHANGED: lambda e, p: BatchStatusChanged(
        previous_batch_status=enums.BatchStatus(p["previous_status"]), batch_status=enums.BatchStatus(p["status"]),
                                                            error=p.get("error")),
    T.BATCH_ANALYZED: lambda e, p: BatchAnalyzed(finding_count=p["finding_count"],
                                                 blocking_count=p["blocking_count"]),
    T.JOB_QUEUED: lambda e, p: JobQueued(job_kind=enums.JobKind(p["kind"])),
    T.JOB_PROGRESS: lambda e, p: JobProgress(job_kind=enums.JobKind(p["kind"]), done=p["done"], total=p["total"]),
    T.JOB_FINISHED: lambda e, p: JobFinished(job_kind=enums.JobKind(p["kind"]), job_status=enums.JobStatus(p["status"]),
                                             error=p.get("error")),
    T.BILLING_DISPOSITIONED: lambda e, p: BillingDispositioned(
        previous_billing_status=enums.BillingStatus(p["previous_status"]),
        billing_status=enums.BillingStatus(p["status"]),
        actor=p["actor"]),
    T.BILLINGS_MASS_DISPOSITIONED: lambda e, p: BillingsMassDispositioned(
        billing_status=enums.BillingStatus(p["status"]), changed_count=p["changed_count"],
        refused_count=p["refused_count"], actor=p["actor"]),
    T.BILLING_EDITED: lambda e, p: BillingEdited(edit=enums.BillingEdit(p["edit"]), amount=_money(p["amount"]),
                                                 actor=p["actor"]),
    T.BILLING_DELETED: lambda e, p: BillingDeleted(billing_id=_gid("PeriodicBilling", e.billing_id),
                                                   billing_status=enums.BillingStatus(p["status"]),
                                                   actor=p["actor"]),
    T.BILLINGS_MOVED: lambda e, p: BillingsMoved(count=p["count"], from_batch_id=p.get("from_batch_id"),
                                                 to_batch_id=p.get("to_batch_id"), actor=p["actor"]),
    T.FINDING_RESOLVED: lambda e, p: FindingResolved(finding_kind=p["kind"], actor=p["actor"],
                                                     finding_id=p["finding_id"]),
    T.NOTIFICATION_OPENED: lambda e, p: NotificationOpened(notification_kind=p["kind"], message=p["message"],
                                                           notification_id=p["notification_id"]),
    T.NOTIFICATION_RESOLVED: lambda e, p: NotificationResolved(notification_kind=p["kind"], note=p["note"],
                                                               actor=p["actor"], notification_id=p["notification_id"]),
    T.INVOICES_POSTED: lambda e, p: InvoicesPosted(count=p["count"], first_number=p["first_number"],
                                                   last_number=p["last_number"]),
    T.PAYMENT_SETTLED: lambda e, p: PaymentSettled(
        payment_status=enums.PaymentStatus(p["status"]), amount=_money(p["amount"]), currency=p["currency"],
        invoice_number=p["invoice_number"], error=p.get("error"), payment_id=p["payment_id"]),
    T.INVOICE_DELIVERED: lambda e, p: InvoiceDelivered(channel=p["channel"], invoice_number=p["invoice_number"],
                                                       delivery_id=p["delivery_id"]),
    T.INVOICE_DELIVERY_FAILED: lambda e, p: InvoiceDeliveryFailed(error=p["error"],
                                                                  invoice_number=p["invoice_number"],
                                                                  delivery_id=p["delivery_id"]),
    T.EXPORT_CREATED: lambda e, p: ExportCreated(format=enums.ExportFormat(p["format"]), filename=p["filename"],
                                                 export_id=p["export_id"]),
    T.ACCOUNTING_PERIOD_CHANGED: lambda e, p: AccountingPeriodChanged(
        month=date.fromisoformat(p["month"]), period_status=enums.PeriodStatus(p["status"]), reason=p.get("reason"),
        actor=p["actor"], period_id=p["period_id"]),
    T.WEBHOOK_ENDPOINT_DISABLED: lambda e, p: WebhookEndpointDisabled(reason=p["reason"],
                                                                     endpoint_id=p["endpoint_id"]),
    T.CREDIT_NOTE_CREATED: _credit_note_changed,
    T.CREDIT_NOTE_ISSUED: _credit_note_changed,
    T.CREDIT_NOTE_VOIDED: _credit_note_changed,
    T.CREDIT_APPLIED: lambda e, p: CreditApplied(credit_note_number=p["number"], invoice_number=p["invoice_number"],
                                                 amount=_money(p["amount"]), remaining=_money(p["remaining"])),
    T.REFUND_SETTLED: lambda e, p: RefundSettled(credit_note_number=p["number"],
                                                 refund_status=enums.RefundStatus(p["status"]),
                                                 amount=_money(p["amount"]), currency=p["currency"],
                                                 error=p.get("error")),
    T.TEAM_CHANGED: lambda e, p: TeamChanged(name=p["name"], change=enums.Change(p["change"]), member=p.get("member"),
                                             actor=p["actor"], team_id=p["team_id"]),
    T.APPROVAL_RULE_CHANGED: lambda e, p: ApprovalRuleChanged(
        rule_kind=enums.ApprovalRuleKind(p["kind"]), threshold=_money(p["threshold"]), currency=p.get("currency"),
        change=enums.Change(p["change"]), actor=p["actor"]),
    T.SCHEDULE_CHANGED: lambda e, p: ScheduleChanged(name=p["name"], change=enums.Change(p["change"]),
                                                     next_run_on=date.fromisoformat(p["next_run_on"]),
                                                     actor=p["actor"], schedule_id=p["schedule_id"]),
    T.SCHEDULE_RAN: lambda e, p: ScheduleRan(name=p["name"], due_date=date.fromisoformat(p["due_date"]),
                                             error=p.get("error"), schedule_id=p["schedule_id"]),
    T.BATCH_POST_REQUESTED: lambda e, p: BatchPostRequested(mode=enums.PostMode(p["mode"]),
                                                            total_amount=_money(p["total_amount"]), actor=p["actor"]),
}

EventPayload = Annotated[Union[  # noqa: UP007 - a union type of the schema, named below
    BatchCreated, BatchStatusChanged, BatchAnalyzed, JobQueued, JobProgress, JobFinished, BillingDispositioned,
    BillingsMassDispositioned, BillingEdited, BillingDeleted, BillingsMoved, FindingResolved, NotificationOpened,
    NotificationResolved, InvoicesPosted, PaymentSettled, InvoiceDelivered, InvoiceDeliveryFailed, ExportCreated,
    AccountingPeriodChanged, WebhookEndpointDisabled, CreditNoteChanged, CreditApplied, RefundSettled,
    TeamChanged, ApprovalRuleChanged, ScheduleChanged, ScheduleRan, BatchPostRequested], strawberry.union(
        "EventPayload", description="What an event reports, typed by its event type (`... on BatchStatusChanged "
        "{ status }`).")]


@strawberry.type(description="One fact of the event stream: written with the change it reports, in the same "
                 "transaction. Events about an account the viewer may not see are absent for it.")
class Event(ModelNode):
    model = models.Event
    id: relay.NodeID[int]
    created_at: datetime = strawberry.field(description="When it happened (UTC).")

    @strawberry.field(description="Its place in the stream: cursors grow in the order changes were committed. "
                      "Pass it as `after` to read (or subscribe to) what came after it.")
    @staticmethod
    def cursor(row: strawberry.Parent[models.Event]) -> str:
        return resolvers.cursor_of(row)

    @strawberry.field(description="What it reports.")
    @staticmethod
    def type(row: strawberry.Parent[models.Event]) -> EventType:
        return enums.EventType(row.type)

    @strawberry.field(description="What it reports, typed by `type`.")
    @staticmethod
    def payload(row: strawberry.Parent[models.Event]) -> EventPayload:
        return PAYLOADS[enums.EventType(row.type)](row, row.payload)

    @strawberry.field(description="The batch it is about, if one.")
    @staticmethod
    async def batch(row: strawberry.Parent[models.Event], info: CtxInfo) -> BillingBatch | None:
        return await resolvers.batch_by_id(info, row.batch_id)

    @strawberry.field(description="The job it is about, if one.")
    @staticmethod
    async def job(row: strawberry.Parent[models.Event], info: CtxInfo) -> Job | None:
        return await resolvers.record_by_id(info, models.Job, row.job_id)

    @strawberry.field(description="The billing it is about, if one (null once deleted).")
    @staticmethod
    async def billing(row: strawberry.Parent[models.Event], info: CtxInfo) -> PeriodicBilling | None:
        return await resolvers.record_by_id(info, models.PeriodicBilling, row.billing_id)

    @strawberry.field(description="The invoice it is about, if one.")
    @staticmethod
    async def invoice(row: strawberry.Parent[models.Event], info: CtxInfo) -> Invoice | None:
        return await resolvers.record_by_id(info, models.Invoice, row.invoice_id)


@strawberry.input(description="Narrow the event log; every given condition must hold.")
class EventFilter:
    batch_id: relay.GlobalID | None = strawberry.field(default=None, description="Events of this batch.")
    job_id: relay.GlobalID | None = strawberry.field(default=None, description="Events of this job.")
    billing_id: relay.GlobalID | None = strawberry.field(default=None, description="Events of this billing.")
    invoice_id: relay.GlobalID | None = strawberry.field(default=None, description="Events of this invoice.")
    types: list[EventType] | None = strawberry.field(default=None, description="Only events of these types.")
    created_from: datetime | None = strawberry.field(default=None, description="Only events at or after this time.")
    created_to: datetime | None = strawberry.field(default=None, description="Only events at or before this time.")


@strawberry.enum(description="The order of the event log.")
class EventOrder(Enum):
    OLDEST_FIRST = "OLDEST_FIRST"
    NEWEST_FIRST = "NEWEST_FIRST"

"""The event stream: every state change of a billing run records its events in the transaction that makes the
change (the outbox), and the same stream feeds the event log, subscriptions and, later, webhooks (docs/EVENTS.md).

One function per event type says what its payload holds; call it inside the change's transaction
(`domain.transactions.in_transaction`). The events wait in the transaction's outbox and are written as its last
statement (`write`), with ids that grow in commit order: an event's id is its cursor. An event recorded outside
any transaction is written in one of its own.

An event names the account it is about when it reports one account's records (a billing, an invoice, a payment, a
delivery, a notification or finding about an account): it is hidden, like that account, from whoever may not see
it. Events about a batch as a whole name no account and carry counts only, never records of accounts.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

import models
from domain import clock
from domain.access import SYSTEM_LABEL, Viewer
from domain.transactions import current_outbox, in_transaction
from models import sql
from models.enums import (
    BatchStatus,
    BillingEdit,
    BillingStatus,
    Change,
    EventType,
    JobStatus,
    PaymentStatus,
    PostMode,
)

Row = tuple[str, int | None, int | None, int | None, int | None, int | None, str, datetime]


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not an event payload value")


async def record(event_type: EventType, /, *, batch_id: int | None = None, job_id: int | None = None,
                 billing_id: int | None = None, invoice_id: int | None = None, account_id: int | None = None,
                 **payload: Any) -> None:
    """Record one event in the current transaction (or, outside any, in a transaction of its own)."""
    outbox = current_outbox()
    if outbox is None:
        async with in_transaction():
            await record(event_type, batch_id=batch_id, job_id=job_id, billing_id=billing_id, invoice_id=invoice_id,
                         account_id=account_id, **payload)
        return
    body = orjson.dumps(payload, default=_json).decode()
    outbox.pending.append((event_type.value, batch_id, job_id, billing_id, invoice_id, account_id, body, clock.now()))


async def write(tx: BaseDBAsyncClient, rows: list[Row]) -> tuple[int, list[str]]:
    """Write a transaction's outbox as its last statement; returns the last cursor written and the types."""
    return await sql.append_events(tx, rows), [row[0] for row in rows]


def _actor(viewer: Viewer | None) -> str:
    return viewer.label if viewer is not None else SYSTEM_LABEL


# ---------------------------------------------------------------- batches


async def batch_created(batch: models.BillingBatch) -> None:
    await record(EventType.BATCH_CREATED, batch_id=batch.id, code=batch.code, name=batch.name,
                 status=batch.status)


async def batch_status_changed(batch_id: int, previous: BatchStatus, status: BatchStatus, *,
                               job_id: int | None = None, error: str | None = None) -> None:
    await record(EventType.BATCH_STATUS_CHANGED, batch_id=batch_id, job_id=job_id, previous_status=previous,
                 status=status, error=error[:500] if error else None)


async def batch_analyzed(batch_id: int, findings: int, blocking: int) -> None:
    """Counts over every finding of the batch, those about hidden accounts included (as the summary counts)."""
    await record(EventType.BATCH_ANALYZED, batch_id=batch_id, finding_count=findings, blocking_count=blocking)


# ---------------------------------------------------------------- jobs


async def job_queued(job: models.Job) -> None:
    await record(EventType.JOB_QUEUED, batch_id=job.batch_id, job_id=job.id, kind=job.kind)


def _percent(done: int, total: int) -> int:
    return 100 if total <= 0 else done * 100 // total


async def job_progress(job: models.Job, done: int, total: int, added: int | None = None) -> None:
    """Progress of a chunked job, throttled: recorded when planned (`added` None), then only when the whole
    percentage changes, and always for the final figure."""
    if added is not None and done < total and _percent(done - added, total) == _percent(done, total):
        return
    await record(EventType.JOB_PROGRESS, batch_id=job.batch_id, job_id=job.id, kind=job.kind, done=done,
                 total=total)


async def job_finished(job: models.Job, status: JobStatus, error: str | None = None) -> None:
    """The last event of a job."""
    await record(EventType.JOB_FINISHED, batch_id=job.batch_id, job_id=job.id, kind=job.kind, status=status,
                 error=error[:500] if error else None)


# ---------------------------------------------------------------- billings


async def billing_dispositioned(billing: models.PeriodicBilling, previous: BillingStatus, status: BillingStatus,
                                viewer: Viewer) -> None:
    await record(EventType.BILLING_DISPOSITIONED, batch_id=billing.batch_id, billing_id=billing.id,
                 account_id=billing.account_id, previous_status=previous, status=status, actor=_actor(viewer))


async def billings_mass_dispositioned(batch_id: int, status: BillingStatus, changed: int, refused: int,
                                      viewer: Viewer) -> None:
    """One event per mass update, with its counts."""
    await record(EventType.BILLINGS_MASS_DISPOSITIONED, batch_id=batch_id, status=status, changed_count=changed,
                 refused_count=refused, actor=_actor(viewer))


async def billing_edited(billing: models.PeriodicBilling, edit: BillingEdit, amount: Decimal,
                         viewer: Viewer) -> None:
    await record(EventType.BILLING_EDITED, batch_id=billing.batch_id, billing_id=billing.id,
                 account_id=billing.account_id, edit=edit, amount=amount, actor=_actor(viewer))


async def billing_deleted(billing: models.PeriodicBilling, viewer: Viewer) -> None:
    await record(EventType.BILLING_DELETED, batch_id=billing.batch_id, billing_id=billing.id,
                 account_id=billing.account_id, status=billing.status, actor=_actor(viewer))


async def billings_moved(count: int, from_batch_id: int | None, to_batch_id: int | None,
                         viewer: Viewer | None) -> None:
    """Billings that left one batch (or waited outside any) for another (or for the next batch of their
    account): one event on each batch concerned, so a follower of either sees it."""
    for batch_id in dict.fromkeys(b for b in (from_batch_id, to_batch_id) if b is not None):
        await record(EventType.BILLINGS_MOVED, batch_id=batch_id, count=count, from_batch_id=from_batch_id,
                     to_batch_id=to_batch_id, actor=_actor(viewer))


async def finding_resolved(finding: models.Finding, viewer: Viewer) -> None:
    await record(EventType.FINDING_RESOLVED, batch_id=finding.batch_id, billing_id=finding.billing_id,
                 account_id=finding.account_id, finding_id=finding.id, kind=finding.kind, actor=_actor(viewer))


# ---------------------------------------------------------------- notifications


async def notification_opened(notification: models.Notification) -> None:
    await record(EventType.NOTIFICATION_OPENED, batch_id=notification.batch_id, account_id=notification.account_id,
                 notification_id=notification.id, kind=notification.kind, message=notification.message[:500])


async def notification_resolved(notification: models.Notification, note: str, viewer: Viewer) -> None:
    await record(EventType.NOTIFICATION_RESOLVED, batch_id=notification.batch_id,
                 account_id=notification.account_id, notification_id=notification.id, kind=notification.kind,
                 note=note[:500], actor=_actor(viewer))


# ---------------------------------------------------------------- posting and after


async def invoices_posted(batch_id: int, job_id: int, count: int, first_number: str, last_number: str) -> None:
    """One event per posting chunk (not one per invoice): its count and the first and last numbers it took."""
    await record(EventType.INVOICES_POSTED, batch_id=batch_id, job_id=job_id, count=count,
                 first_number=first_number, last_number=last_number)


async def payment_settled(payment: models.Payment, invoice: models.Invoice, status: PaymentStatus,
                          error: str | None = None) -> None:
    await record(EventType.PAYMENT_SETTLED, batch_id=invoice.batch_id, invoice_id=invoice.id,
                 account_id=invoice.account_id, payment_id=payment.id, status=status, amount=payment.amount,
                 currency=invoice.currency, invoice_number=invoice.number, error=error[:500] if error else None)


async def invoice_delivered(batch_id: int | None, invoice_id: int, account_id: int, invoice_number: str,
                            delivery_id: int, channel: str) -> None:
    await record(EventType.INVOICE_DELIVERED, batch_id=batch_id, invoice_id=invoice_id, account_id=account_id,
                 delivery_id=delivery_id, channel=channel, invoice_number=invoice_number)


async def invoice_delivery_failed(batch_id: int | None, invoice_id: int, account_id: int, invoice_number: str,
                                  delivery_id: int, error: str) -> None:
    await record(EventType.INVOICE_DELIVERY_FAILED, batch_id=batch_id, invoice_id=invoice_id,
                 account_id=account_id, delivery_id=delivery_id, invoice_number=invoice_number, error=error[:500])


async def export_created(export: models.Export, job_id: int | None = None) -> None:
    await record(EventType.EXPORT_CREATED, batch_id=export.batch_id, job_id=job_id, export_id=export.id,
                 format=export.format, filename=export.filename)


async def accounting_period_changed(period: models.AccountingPeriod, viewer: Viewer,
                                    reason: str | None = None) -> None:
    """An accounting period was opened, closed or reopened (`reason` says why a closed one reopened)."""
    await record(EventType.ACCOUNTING_PERIOD_CHANGED, period_id=period.id, month=period.month,
                 status=period.status, reason=reason, actor=_actor(viewer))


async def webhook_endpoint_disabled(endpoint_id: int, reason: str) -> None:
    """A webhook endpoint was disabled after persistent failure (docs/WEBHOOKS.md)."""
    await record(EventType.WEBHOOK_ENDPOINT_DISABLED, endpoint_id=endpoint_id, reason=reason[:500])


# ---------------------------------------------------------------- credit notes


async def credit_note_changed(event_type: EventType, note: models.CreditNote, invoice: models.Invoice,
                              viewer: Viewer | None) -> None:
    """A credit note was created (DRAFT), issued (numbered and journaled) or voided."""
    await record(event_type, batch_id=note.batch_id, invoice_id=invoice.id, account_id=note.account_id,
                 credit_note_id=note.id, number=note.number, invoice_number=invoice.number, status=note.status,
                 amount=note.amount, credit_amount=note.credit_amount, refund_amount=note.refund_amount,
                 currency=note.currency, reason=note.reason, actor=_actor(viewer))


async def credit_applied(note: models.CreditNote, invoice: dict[str, Any], amount: Decimal) -> None:
    """Account credit of a credit note settled part of a newly posted invoice."""
    await record(EventType.CREDIT_APPLIED, batch_id=invoice["batch_id"], invoice_id=invoice["id"],
                 account_id=note.account_id, credit_note_id=note.id, number=note.number,
                 invoice_number=invoice["number"], amount=amount, remaining=note.credit_remaining)


async def refund_settled(note: models.CreditNote, invoice: models.Invoice, status: Any,
                         error: str | None = None) -> None:
    await record(EventType.REFUND_SETTLED, batch_id=note.batch_id, invoice_id=invoice.id,
                 account_id=note.account_id, credit_note_id=note.id, number=note.number, status=status,
                 amount=note.refund_amount, currency=note.currency, error=error[:500] if error else None)


# ---------------------------------------------------------------- teams, approval rules, schedules


async def team_changed(team: models.Team, change: Change, viewer: Viewer, member: models.User | None = None) -> None:
    """A team was created, renamed or deleted, or a member joined or left it (by display name)."""
    await record(EventType.TEAM_CHANGED, team_id=team.id, name=team.name, change=change,
                 member=member.name if member is not None else None, actor=_actor(viewer))


async def approval_rule_changed(rule: models.ApprovalRule, change: Change, viewer: Viewer) -> None:
    await record(EventType.APPROVAL_RULE_CHANGED, rule_id=rule.id, kind=rule.kind, threshold=rule.threshold,
                 currency=rule.currency, change=change, actor=_actor(viewer))


async def schedule_changed(schedule: models.BillingSchedule, change: Change, viewer: Viewer) -> None:
    await record(EventType.SCHEDULE_CHANGED, schedule_id=schedule.id, name=schedule.name, change=change,
                 next_run_on=schedule.next_run_on, actor=_actor(viewer))


async def schedule_ran(schedule: models.BillingSchedule, due: date, batch_id: int | None,
                       error: str | None = None) -> None:
    """A schedule's run for a due date: the batch it created, or why it created none."""
    await record(EventType.SCHEDULE_RAN, batch_id=batch_id, schedule_id=schedule.id, name=schedule.name,
                 due_date=due, error=error[:500] if error else None)


async def batch_post_requested(batch_id: int, mode: PostMode, total: Decimal, viewer: Viewer) -> None:
    """Posting was asked for a batch whose total needs a second user's confirmation."""
    await record(EventType.BATCH_POST_REQUESTED, batch_id=batch_id, mode=mode, total_amount=total,
                 actor=_actor(viewer))


# ---------------------------------------------------------------- reading and forgetting


async def last_cursor() -> int:
    """The highest cursor committed: every event up to it can be read."""
    return await sql.last_event_id(connections.get("default"))


async def after(cursor: int, limit: int) -> list[models.Event]:
    """The next `limit` events after `cursor`, in cursor order (everyone's: callers filter by viewer)."""
    return list(await models.Event.filter(id__gt=cursor).order_by("id").limit(limit))


async def purge(older_than: timedelta | None = None) -> int:
    """Forget events older than BILLRUN_EVENT_RETENTION_DAYS (housekeeping); returns how many went."""
    from billrun.settings import get_settings

    keep = older_than if older_than is not None else timedelta(days=get_settings().event_retention_days)
    return await models.Event.filter(created_at__lt=clock.now() - keep).delete()

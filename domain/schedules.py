"""Billing schedules (docs/SCHEDULES.md): batches created on a calendar, one per due date.

A schedule names a bill group, division and currency, a cadence (MONTHLY on day d, WEEKLY on an ISO weekday,
QUARTERLY on day d of January, April, July and October) and how far its batches go by themselves (CREATE,
ANALYZE, PROCESS). `run_due` — the scheduler, run at every sweeper tick by whichever worker claims it, and by
the embedded default's own loop — creates the batch of each due schedule:

- **Exactly one batch per due date.** A run first claims the schedule's due date (a conditional UPDATE that moves
  `next_run_on` on: of two schedulers, one gets the row), and the batch carries `(schedule_id, scheduled_for)`,
  a unique key of `billing_batch`: even a scheduler that got past the claim could not create a second batch.
- **A missed date is caught up once.** A scheduler that was down across several due dates creates one batch, for
  the latest of them (its invoice and as-of date), and moves on to the next date after today: billing catches
  missed periods up by itself (processing bills every period due up to the as-of date), so one run covers them.
- **Paused** schedules are skipped; resuming sets the next due date from today (dates passed while paused are
  not caught up: pausing meant not running).

Time comes from `domain.clock`, so tests move it without sleeping.
"""

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

import models
from billrun.settings import get_settings
from domain import analysis, approvals, audit, batches, clock, events, periods, posting, processing, validation
from domain.access import Viewer, get_visible, require
from domain.currencies import currency_problem
from domain.errors import DomainError, ErrorCode, Problem, raise_if
from domain.transactions import in_transaction
from models.enums import AutoAdvance, BatchStatus, Cadence, Change, Permission, PostMode, TokenKind

log = logging.getLogger("billrun.schedules")

QUARTER_MONTHS = (1, 4, 7, 10)
EDITABLE = ("name", "bill_group", "division", "currency", "cadence", "day", "auto_advance")


# ---------------------------------------------------------------- the calendar


def _months(cadence: Cadence) -> tuple[int, ...]:
    return QUARTER_MONTHS if cadence == Cadence.QUARTERLY else tuple(range(1, 13))


def first_due_on_or_after(cadence: Cadence, day: int, start: date) -> date:
    """The first due date of this cadence on or after `start`."""
    if cadence == Cadence.WEEKLY:
        return start + timedelta(days=(day - start.isoweekday()) % 7)
    year, month = start.year, start.month
    while True:
        if month in _months(cadence) and date(year, month, day) >= start:
            return date(year, month, day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def last_due_on_or_before(cadence: Cadence, day: int, end: date) -> date:
    """The latest due date of this cadence on or before `end`."""
    if cadence == Cadence.WEEKLY:
        return end - timedelta(days=(end.isoweekday() - day) % 7)
    year, month = end.year, end.month
    while True:
        if month in _months(cadence) and date(year, month, day) <= end:
            return date(year, month, day)
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)


def run_at(due: date) -> datetime:
    """When a due date's run is due: the start of that day in the business time zone (BILLRUN_TIMEZONE), UTC."""
    zone = ZoneInfo(get_settings().timezone)
    return datetime.combine(due, time(0), tzinfo=zone).astimezone(UTC)


# ---------------------------------------------------------------- managing schedules


def _problems(values: dict) -> list[Problem]:
    problems = []
    if not (values.get("name") or "").strip():
        problems.append(Problem(ErrorCode.INVALID_INPUT, "Name the schedule.", "name"))
    if (problem := currency_problem(values["currency"])) is not None:
        problems.append(problem)
    if values["cadence"] == Cadence.WEEKLY:
        problems += validation.int_problems(values["day"], "day", 1, 7)
    else:  # the 29th to 31st do not exist every month
        problems += validation.int_problems(values["day"], "day", 1, 28)
    return problems + validation.text_problems(models.BillingSchedule, values)


async def _unique_name(name: str, schedule_id: int | None = None) -> None:
    if await models.BillingSchedule.filter(name=name).exclude(id=schedule_id or 0).exists():
        raise DomainError(ErrorCode.DUPLICATE, f"A schedule named {name!r} exists.", "name")


async def create_schedule(viewer: Viewer, data: dict) -> models.BillingSchedule:
    """A new schedule (BILLING_SEND_EXPORT: it creates batches that may go on to posting). Its first due date is
    the first on or after `starts_on` (default today): a start in the past is caught up once at the next tick."""
    require(viewer, Permission.BILLING_SEND_EXPORT)
    values = {"name": (data.get("name") or "").strip(),
              "bill_group": batches.every_or_one(data.get("bill_group")),
              "division": batches.every_or_one(data.get("division")),
              "currency": data.get("currency") or get_settings().base_currency, "cadence": data["cadence"],
              "day": data["day"], "auto_advance": data.get("auto_advance") or AutoAdvance.CREATE}
    raise_if(_problems(values))
    await _unique_name(values["name"])
    starts_on: date = data.get("starts_on") or clock.today()
    async with in_transaction():
        schedule = await models.BillingSchedule.create(
            **values, next_run_on=first_due_on_or_after(values["cadence"], values["day"], starts_on),
            created_by_id=viewer.user_id)
        await audit.record(viewer, "BillingSchedule", schedule.id, {k: (None, v) for k, v in values.items()},
                           "CREATE")
        await events.schedule_changed(schedule, Change.CREATED, viewer)
    return schedule


async def _managed(viewer: Viewer, schedule_id: int) -> models.BillingSchedule:
    """A schedule the viewer may change: BILLING_ACCESS first (nothing learnt of ids without it), then the
    schedule through the scope, then BILLING_SEND_EXPORT."""
    require(viewer, Permission.BILLING_ACCESS)
    schedule = await get_visible(viewer, models.BillingSchedule, schedule_id, "Billing schedule")
    require(viewer, Permission.BILLING_SEND_EXPORT)
    return schedule


async def _save(viewer: Viewer, schedule: models.BillingSchedule, changes: dict, audited: dict, operation: str,
                change: Change) -> models.BillingSchedule:
    """Write `changes` if the schedule is still the version read (else CONCURRENT_UPDATE), with its audit rows
    and event, in one transaction."""
    async with in_transaction():
        updated = await models.BillingSchedule.filter(id=schedule.id, version=schedule.version).update(
            **changes, version=F("version") + 1, updated_at=clock.now())
        if not updated:
            raise DomainError(ErrorCode.CONCURRENT_UPDATE, "The schedule changed meanwhile; reload it.", "id")
        await audit.record(viewer, "BillingSchedule", schedule.id, audited, operation)
        schedule = await models.BillingSchedule.get(id=schedule.id)
        await events.schedule_changed(schedule, change, viewer)
    return schedule


async def update_schedule(viewer: Viewer, schedule_id: int, data: dict) -> models.BillingSchedule:
    """Change a schedule; a new cadence or day sets the next due date from today."""
    schedule = await _managed(viewer, schedule_id)
    changes = {k: v for k, v in data.items() if k in EDITABLE}
    for key in ("bill_group", "division"):
        if key in changes:
            changes[key] = batches.every_or_one(changes[key])
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
    values = {k: getattr(schedule, k) for k in EDITABLE} | changes
    raise_if(_problems(values))
    await _unique_name(values["name"], schedule.id)
    audited = {k: (getattr(schedule, k), v) for k, v in changes.items()}
    if "cadence" in changes or "day" in changes:
        changes["next_run_on"] = first_due_on_or_after(values["cadence"], values["day"], clock.today())
    return await _save(viewer, schedule, changes, audited, "UPDATE", Change.UPDATED)


async def set_paused(viewer: Viewer, schedule_id: int, paused: bool) -> models.BillingSchedule:
    """Pause (no runs) or resume (the next due date from today on) a schedule; doing it twice changes nothing."""
    schedule = await _managed(viewer, schedule_id)
    if schedule.paused == paused:
        return schedule
    changes: dict = {"paused": paused}
    if not paused:
        changes["next_run_on"] = first_due_on_or_after(schedule.cadence, schedule.day, clock.today())
    return await _save(viewer, schedule, changes, {"paused": (schedule.paused, paused)},
                       "PAUSE" if paused else "RESUME", Change.PAUSED if paused else Change.RESUMED)


async def delete_schedule(viewer: Viewer, schedule_id: int) -> int:
    """Delete a schedule; the batches it created stay (no longer linked to it)."""
    schedule = await _managed(viewer, schedule_id)
    async with in_transaction():
        await audit.record(viewer, "BillingSchedule", schedule.id, {"name": (schedule.name, None)}, "DELETE")
        await events.schedule_changed(schedule, Change.DELETED, viewer)
        await models.BillingBatch.filter(schedule_id=schedule.id).update(schedule_id=None)
        await schedule.delete()
    return schedule.id


# ---------------------------------------------------------------- the scheduler


async def _owner(schedule: models.BillingSchedule) -> Viewer | None:
    """The schedule's creator as the viewer its runs act as (their permissions now), or None when gone or
    inactive."""
    user = await models.User.get_or_none(id=schedule.created_by_id or 0, is_active=True)
    if user is None:
        return None
    return Viewer(user_id=user.id, email=user.email, name=user.name,
                  permissions=frozenset(Permission(p) for p in user.permissions), token_id=0,
                  token_kind=TokenKind.API)


async def run_due() -> dict[str, int]:
    """Create the batch of every due schedule (idempotent, safe from several schedulers at once), advance it as
    far as its schedule says, and post scheduled batches ready for it when BILLRUN_SCHEDULE_AUTO_POST allows."""
    today = clock.today()
    created = 0
    for schedule in await models.BillingSchedule.filter(paused=False, next_run_on__lte=today).order_by("id"):
        if await _run(schedule, today):
            created += 1
    posted = await _auto_post() if get_settings().schedule_auto_post else 0
    return {"scheduled_batches": created, "scheduled_posts": posted}


async def _run(schedule: models.BillingSchedule, today: date) -> bool:
    due = last_due_on_or_before(schedule.cadence, schedule.day, today)
    following = first_due_on_or_after(schedule.cadence, schedule.day, today + timedelta(days=1))
    name = f"{schedule.name} {due.isoformat()}"[:200]
    error = None
    if not await periods.is_open(due):
        error = f"The due date {due} is not in an open accounting period: no batch was created."
    elif await models.BillingBatch.filter(name=name).exists():
        error = f"A batch named {name!r} exists: no batch was created."
    batch = None
    try:
        async with in_transaction():
            claimed = await models.BillingSchedule.filter(
                id=schedule.id, paused=False, next_run_on=schedule.next_run_on).update(
                next_run_on=following, last_run_on=due, last_error=error, version=F("version") + 1,
                updated_at=clock.now())
            if not claimed:
                return False  # another scheduler ran it, or it was paused or changed meanwhile
            if error is None:
                batch = await batches.insert_batch(
                    name=name, bill_group=schedule.bill_group, division=schedule.division,
                    currency=schedule.currency, invoice_date=due, as_of_date=due,
                    created_by_id=schedule.created_by_id, schedule_id=schedule.id, scheduled_for=due)
            await events.schedule_ran(schedule, due, batch.id if batch else None, error)
    except IntegrityError:
        return False  # the unique key (schedule, due date): this date's batch exists
    if batch is not None:
        await _advance(schedule, batch)
    return batch is not None


async def _advance(schedule: models.BillingSchedule, batch: models.BillingBatch) -> None:
    """Analyze or process the new batch as the schedule says; a refusal is kept on the schedule (`lastError`),
    the batch stays as it is for people to take on."""
    try:
        if schedule.auto_advance == AutoAdvance.ANALYZE:
            await analysis.analyze(batch)
        elif schedule.auto_advance == AutoAdvance.PROCESS:
            owner = await _owner(schedule)
            if owner is None:
                raise DomainError(ErrorCode.PERMISSION_DENIED, "The schedule's creator is no longer an active user.")
            await processing.start_processing(owner, batch.id)
    except DomainError as refusal:
        message = f"{batch.code}: {refusal}"[:1000]
        await models.BillingSchedule.filter(id=schedule.id).update(last_error=message)
        log.warning("schedule %s: %s", schedule.id, message)


async def _auto_post() -> int:
    """Post the processed batches of PROCESS schedules that are ready: every billing dispositioned (the guards)
    and no BATCH_TOTAL_ABOVE rule wanting a second user. Refusals are silent: the batch waits for people."""
    posted = 0
    rules = await approvals.load()
    ready = await models.BillingBatch.filter(status=BatchStatus.PROCESSED, post_requested_by_id=None,
                                             schedule__auto_advance=AutoAdvance.PROCESS).select_related("schedule")
    for batch in ready:
        if rules.batch_limit(batch.currency) is not None and await posting.total_needing_confirmation(batch):
            continue
        owner = await _owner(batch.schedule) if batch.schedule is not None else None
        if owner is None:
            continue
        try:
            await posting.start_posting(owner, batch.id, PostMode.SEND)
            posted += 1
        except DomainError:
            continue
    return posted

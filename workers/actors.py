"""Thin actors: take ids as keyword arguments, call the domain, nothing else. Every one is idempotent.

Actor names and the queue come from `domain.jobs`, which sends messages by name after commit.
"""

import logging
from collections.abc import Callable
from typing import Any

import dramatiq

from billrun.settings import get_settings
from domain import (
    accounting_export,
    analysis,
    credit_notes,
    housekeeping,
    jobs,
    payments,
    posting,
    processing,
    reversal,
    schedules,
    sending,
    webhooks,
)
from models import outages
from workers.broker import broker  # noqa: F401 - the broker must exist before actors are declared

log = logging.getLogger("billrun.workers")

_settings = get_settings()


def retry_when(max_retries: int) -> Callable[[int, BaseException], bool]:
    """A job's message is retried up to `max_retries` times, and besides for as long as the database is away: an
    outage is no failure of the job, so it never exhausts the message (which would fail the job once the
    database returns). Its attempts count like any other towards the backoff (at most `max_backoff`)."""

    def retry(retries: int, exception: BaseException) -> bool:
        return retries < max_retries or outages.database_unavailable(exception)

    return retry


RETRY: dict[str, Any] = {"max_retries": _settings.job_max_retries, "min_backoff": _settings.job_min_backoff_ms,
         "max_backoff": 30_000, "retry_when": retry_when(_settings.job_max_retries)}


@dramatiq.actor(actor_name=jobs.PLAN_PROCESSING, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def plan_processing(*, job_id: int) -> None:
    """Split a processing job into chunk messages."""
    await jobs.plan(processing.JOB, job_id)


@dramatiq.actor(actor_name=jobs.PROCESS_CHUNK, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def process_chunk(*, job_id: int, chunk_no: int) -> None:
    """Price and write one chunk of a batch."""
    await jobs.run_chunk(processing.JOB, job_id, chunk_no)


@dramatiq.actor(actor_name=jobs.ANALYZE_BATCH, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def analyze_batch(*, job_id: int) -> None:
    """Bring a processed batch's findings up to date."""
    await analysis.run_job(job_id)


@dramatiq.actor(actor_name=jobs.REVERSE_BATCH, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def reverse_batch(*, job_id: int) -> None:
    """Remove what processing generated and set the batch back to NOT_STARTED."""
    await reversal.reverse(job_id)


@dramatiq.actor(actor_name=jobs.PLAN_POSTING, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def plan_posting(*, job_id: int) -> None:
    """Split a posting job into chunk messages."""
    await jobs.plan(posting.JOB, job_id)


@dramatiq.actor(actor_name=jobs.POST_CHUNK, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def post_chunk(*, job_id: int, chunk_no: int) -> None:
    """Invoice one range of billings, with their journal entries."""
    await jobs.run_chunk(posting.JOB, job_id, chunk_no)


@dramatiq.actor(actor_name=jobs.PLAN_SENDING, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def plan_sending(*, job_id: int) -> None:
    """Split the sending of a posted batch's invoices into chunk messages."""
    await jobs.plan(sending.JOB, job_id)


@dramatiq.actor(actor_name=jobs.SEND_CHUNK, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def send_chunk(*, job_id: int, chunk_no: int) -> None:
    """Render and e-mail (or write to the outbox) one chunk of invoices."""
    await jobs.run_chunk(sending.JOB, job_id, chunk_no)


@dramatiq.actor(actor_name=jobs.PLAN_EXPORT, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def plan_export(*, job_id: int) -> None:
    """Split the accounting export of an EXPORT-mode posting into a message per file."""
    await jobs.plan(accounting_export.JOB, job_id)


@dramatiq.actor(actor_name=jobs.EXPORT_FILE, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def export_file(*, job_id: int, chunk_no: int) -> None:
    """Produce one accounting export file."""
    await jobs.run_chunk(accounting_export.JOB, job_id, chunk_no)


@dramatiq.actor(actor_name=jobs.PLAN_AUTOPAY, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def plan_autopay(*, job_id: int) -> None:
    """Send a charge message per payment of an auto-pay job."""
    await jobs.plan(payments.JOB, job_id)


@dramatiq.actor(actor_name=jobs.CHARGE_PAYMENT, queue_name=jobs.QUEUE, time_limit=120_000,
                max_retries=_settings.payment_max_attempts + 2, min_backoff=_settings.job_min_backoff_ms,
                max_backoff=60_000, retry_when=retry_when(_settings.payment_max_attempts + 2))
async def charge_payment(*, job_id: int, chunk_no: int) -> None:
    """One gateway attempt at one payment (a chunk of an auto-pay job); a transient error is retried by the
    broker with backoff."""
    await jobs.run_chunk(payments.JOB, job_id, chunk_no)


@dramatiq.actor(actor_name=jobs.PLAN_CREDIT_NOTE, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def plan_credit_note(*, job_id: int) -> None:
    """Split an issued credit note's follow-up into its tasks: e-mail it, refund it."""
    await jobs.plan(credit_notes.JOB, job_id)


@dramatiq.actor(actor_name=jobs.CREDIT_NOTE_TASK, queue_name=jobs.QUEUE, time_limit=120_000,
                max_retries=_settings.payment_max_attempts + 2, min_backoff=_settings.job_min_backoff_ms,
                max_backoff=60_000, retry_when=retry_when(_settings.payment_max_attempts + 2))
async def credit_note_task(*, job_id: int, chunk_no: int) -> None:
    """Send a credit note, or one gateway attempt at its refund (a transient error is retried with backoff)."""
    await jobs.run_chunk(credit_notes.JOB, job_id, chunk_no)


@dramatiq.actor(actor_name=jobs.FAIL_JOB, queue_name=jobs.QUEUE, max_retries=10)
async def fail_job(message_data: dict[str, Any], retry_data: dict[str, Any]) -> None:
    """Called by dramatiq when a job's message has exhausted its retries."""
    job_id = message_data.get("kwargs", {}).get("job_id")
    if job_id is not None:
        await jobs.fail(job_id, f"{_error_of(message_data)} (after {retry_data.get('retries')} retries)")


def _error_of(message_data: dict[str, Any]) -> str:
    """The exception of a failed message: the unindented lines after the last frame of its traceback."""
    trace = (message_data.get("options", {}).get("traceback") or "").rstrip().splitlines()
    tail: list[str] = []
    for line in reversed(trace):
        if line.startswith(" ") or line.startswith("Traceback"):
            break
        tail.insert(0, line)
    return " ".join(tail) or "the message failed"


@dramatiq.actor(actor_name=jobs.GIVE_UP_PAYMENT, queue_name=jobs.QUEUE, max_retries=10)
async def give_up_payment(message_data: dict[str, Any], retry_data: dict[str, Any]) -> None:
    """Called by dramatiq when a charge message has exhausted its retries."""
    kwargs = message_data.get("kwargs", {})
    if kwargs.get("job_id") is not None and kwargs.get("chunk_no") is not None:
        await payments.give_up(kwargs["job_id"], kwargs["chunk_no"],
                               f"{_error_of(message_data)} (after {retry_data.get('retries')} retries)")


@dramatiq.actor(queue_name="housekeeping", max_retries=3, min_backoff=1_000, max_backoff=30_000,
                time_limit=60_000)
async def purge_expired() -> None:
    """Delete expired sessions, old login attempts and idempotency keys."""
    counts = await housekeeping.purge_expired()
    log.info("purged %s", counts)


@dramatiq.actor(queue_name="housekeeping", max_retries=3, time_limit=60_000)
async def sweep() -> None:
    """Find what is stuck and move it on: jobs nothing moved for a while (sent again), payments whose answer was
    lost (settled by asking the gateway), e-mails whose worker died mid-send (reported), webhook redeliveries
    whose worker died mid-POST (sent again)."""
    counts = await housekeeping.sweep()
    if any(counts.values()):
        log.warning("sweeper: %s", counts)


# Webhooks (docs/WEBHOOKS.md): their own queue, so a slow receiver never holds up a billing run's messages. A
# failed POST is not an actor failure (the domain schedules the next attempt); only a failure of billrun itself
# (the database away) is retried by dramatiq, and the next dispatch tick would send the endpoint again anyway.
WEBHOOK_RETRY: dict[str, Any] = {"max_retries": 3, "min_backoff": 1_000, "max_backoff": 10_000,
                                 "time_limit": 30 * 60_000}


@dramatiq.actor(actor_name=webhooks.DISPATCH, queue_name=webhooks.QUEUE, **WEBHOOK_RETRY)
async def dispatch_webhooks() -> None:
    """Send a delivery message to every endpoint with events due (once per BILLRUN_WEBHOOK_POLL_SECONDS)."""
    await webhooks.dispatch()


@dramatiq.actor(actor_name=webhooks.DELIVER, queue_name=webhooks.QUEUE, **WEBHOOK_RETRY)
async def deliver_webhooks(*, endpoint_id: int, token: str) -> None:
    """POST an endpoint its next events, in order, while they are delivered."""
    await webhooks.deliver(endpoint_id, token)


@dramatiq.actor(actor_name=webhooks.REDELIVER, queue_name=webhooks.QUEUE, **WEBHOOK_RETRY)
async def redeliver_webhook(*, delivery_id: int) -> None:
    """Send one event again to one endpoint (an admin asked)."""
    await webhooks.redeliver_one(delivery_id)


@dramatiq.actor(queue_name="housekeeping", max_retries=3, min_backoff=1_000, max_backoff=30_000,
                time_limit=120_000)
async def run_schedules() -> None:
    """The scheduler: create the batch of every billing schedule that is due (one per due date, however many
    schedulers run: docs/SCHEDULES.md)."""
    counts = await schedules.run_due()
    if any(counts.values()):
        log.info("scheduler: %s", counts)

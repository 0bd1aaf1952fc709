"""Thin actors: take ids as keyword arguments, call the domain, nothing else. Every one is idempotent.

Actor names and the queue come from `domain.jobs`, which sends messages by name after commit.
"""

import logging
from typing import Any

import dramatiq

from billrun.settings import get_settings
from domain import housekeeping, jobs, processing, reversal
from domain.errors import DomainError
from workers.broker import broker  # noqa: F401 - the broker must exist before actors are declared

log = logging.getLogger("billrun.workers")

_settings = get_settings()
RETRY = {"max_retries": _settings.job_max_retries, "min_backoff": _settings.job_min_backoff_ms,
         "max_backoff": 30_000, "throws": (DomainError,)}


@dramatiq.actor(actor_name=jobs.PLAN_PROCESSING, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def plan_processing(*, job_id: int) -> None:
    """Split a processing job into chunk messages."""
    await processing.plan(job_id)


@dramatiq.actor(actor_name=jobs.PROCESS_CHUNK, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def process_chunk(*, job_id: int, chunk_no: int) -> None:
    """Price and write one chunk of a batch."""
    await processing.process_chunk(job_id, chunk_no)


@dramatiq.actor(actor_name=jobs.REVERSE_BATCH, queue_name=jobs.QUEUE, time_limit=600_000, **RETRY)
async def reverse_batch(*, job_id: int) -> None:
    """Remove what processing generated and set the batch back to NOT_STARTED."""
    await reversal.reverse(job_id)


@dramatiq.actor(actor_name=jobs.FAIL_JOB, queue_name=jobs.QUEUE, max_retries=10)
async def fail_job(message_data: dict[str, Any], exception_data: dict[str, Any]) -> None:
    """Called by dramatiq when a job's message has failed for good."""
    job_id = message_data.get("kwargs", {}).get("job_id")
    if job_id is not None:
        await processing.fail(job_id, f"{exception_data.get('type')}: {exception_data.get('message')}")


@dramatiq.actor(queue_name="housekeeping", max_retries=3, min_backoff=1_000, max_backoff=30_000,
                time_limit=60_000)
async def purge_expired() -> None:
    """Delete expired sessions, old login attempts and idempotency keys."""
    counts = await housekeeping.purge_expired()
    log.info("purged %s", counts)


@dramatiq.actor(queue_name="housekeeping", max_retries=3, time_limit=60_000)
async def sweep() -> None:
    """Send again jobs whose first message was lost (left QUEUED after commit)."""
    resent = await jobs.resend_stale()
    if resent:
        log.warning("re-sent %d stale job(s)", resent)

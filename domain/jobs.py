"""Background jobs: created with the state change that needs them, sent to the broker only after commit.

Actors are addressed by name, so the domain never imports the workers; `workers/actors.py` declares them
with these names and queues. A job left QUEUED (the process died between commit and send) is sent again by
the sweeper.
"""

from datetime import timedelta
from typing import Any

import dramatiq
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

import models
from domain import audit, clock, events, notifications
from models.bulk import is_postgres
from models.enums import BatchStatus, JobKind, JobStatus

QUEUE = "billing"
PLAN_PROCESSING = "plan_processing"
PROCESS_CHUNK = "process_chunk"
REVERSE_BATCH = "reverse_batch"
FAIL_JOB = "fail_job"
PLAN_POSTING = "plan_posting"
POST_CHUNK = "post_chunk"
PLAN_SENDING = "plan_sending"
SEND_CHUNK = "send_chunk"
RUN_EXPORT = "run_export"
PLAN_AUTOPAY = "plan_autopay"
CHARGE_PAYMENT = "charge_payment"
GIVE_UP_PAYMENT = "give_up_payment"

# Which actor starts each kind of job.
STARTS = {JobKind.PROCESS: PLAN_PROCESSING, JobKind.REVERSE: REVERSE_BATCH, JobKind.POST: PLAN_POSTING,
          JobKind.SEND: PLAN_SENDING, JobKind.EXPORT: RUN_EXPORT, JobKind.AUTO_PAY: PLAN_AUTOPAY}


def send(actor_name: str, *, on_exhausted: str = FAIL_JOB, **kwargs: Any) -> None:
    """Enqueue a message for an actor by name; when its retries are exhausted, `on_exhausted` (by default
    `fail_job`, which fails the job named in the message) gets the message. (Not `on_failure`: dramatiq calls
    that on every failed attempt, retried or not.)"""
    broker = dramatiq.get_broker()
    if QUEUE not in broker.get_declared_queues():
        # Without `workers.actors` imported, dramatiq builds a default broker and the message goes astray.
        raise RuntimeError("The billing actors are not declared in this process: import workers.actors first.")
    message = dramatiq.Message(queue_name=QUEUE, actor_name=actor_name, args=(), kwargs=kwargs,
                               options={"on_retry_exhausted": on_exhausted})
    broker.enqueue(message)


async def create(kind: JobKind, *, batch_id: int | None, created_by: int | None, **params: Any) -> models.Job:
    return await models.Job.create(kind=kind, batch_id=batch_id, created_by_id=created_by, params=params)


def start(job: models.Job) -> None:
    """Send the job's first message. Call after the transaction that created the job has committed."""
    send(STARTS[job.kind], job_id=job.id)


async def mark_running(job: models.Job, total: int) -> None:
    job.status = JobStatus.RUNNING
    job.progress_total = total
    job.started_at = job.started_at or clock.now()
    await job.save(update_fields=["status", "progress_total", "started_at"])


async def claim_chunk(tx: BaseDBAsyncClient, job_id: int, chunk_no: int,
                      batch_status: str) -> tuple[models.Job, models.JobChunk] | None:
    """Inside the chunk's transaction: lock the chunk row (PostgreSQL; SQLite has one writer) and return the
    running job and the chunk, or None when the chunk is done already (a redelivered message) or its job no
    longer runs or its batch is no longer in `batch_status`."""
    lock = " FOR UPDATE" if is_postgres(tx) else ""
    _, rows = await tx.execute_query(
        f"SELECT id, done_at FROM job_chunk WHERE job_id = {int(job_id)} AND chunk_no = {int(chunk_no)}{lock}")
    if not rows or rows[0]["done_at"] is not None:
        return None
    job = await models.Job.get(id=job_id).select_related("batch")
    if job.status != JobStatus.RUNNING or job.batch is None or job.batch.status != batch_status:
        return None
    return job, await models.JobChunk.get(id=rows[0]["id"])


async def finish_chunk(tx: BaseDBAsyncClient, job: models.Job, chunk: models.JobChunk) -> bool:
    """Mark the chunk done and count it; True when it was the job's last."""
    await models.JobChunk.filter(id=chunk.id).update(done_at=clock.now())
    done, total = await count_progress(tx, job.id, chunk.size)
    await events.record("JOB_PROGRESS", batch_id=job.batch_id, job_id=job.id, done=done, total=total)
    return done >= total


async def count_progress(tx: BaseDBAsyncClient, job_id: int, size: int) -> tuple[int, int]:
    """Add `size` units done to a job in the caller's transaction; returns (done, total)."""
    mark = "$1" if is_postgres(tx) else "?"
    rows = await tx.execute_query_dict(
        f"UPDATE job SET progress_done = progress_done + {mark} WHERE id = {int(job_id)} "
        "RETURNING progress_done, progress_total", [size])
    return rows[0]["progress_done"], rows[0]["progress_total"]


async def add_progress(job_id: int, size: int, *, batch_id: int | None, chunk_id: int | None = None) -> None:
    """Count `size` more units done (marking chunk `chunk_id` done in the same transaction, once); the job
    SUCCEEDS when all are."""
    async with in_transaction() as tx:
        if chunk_id is not None and not await models.JobChunk.filter(id=chunk_id, done_at=None).update(
                done_at=clock.now()):
            return  # counted already
        done, total = await count_progress(tx, job_id, size)
        if done >= total:
            await models.Job.filter(id=job_id).update(status=JobStatus.SUCCEEDED, finished_at=clock.now())
        await events.record("JOB_PROGRESS", batch_id=batch_id, job_id=job_id, done=done, total=total)


async def resend_unfinished() -> int:
    """At start-up of the embedded default (its in-process queue forgot everything): send every unfinished
    job again; planning and chunks are idempotent, so work already done is skipped."""
    unfinished = await models.Job.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING], kind__in=list(STARTS))
    for job in unfinished:
        start(job)
    return len(unfinished)


async def resend_stale(older_than: timedelta = timedelta(minutes=2)) -> int:
    """Send again every job still QUEUED well after its creation (its first message was lost)."""
    stale = await models.Job.filter(status=JobStatus.QUEUED, kind__in=list(STARTS),
                                    created_at__lt=clock.now() - older_than)
    for job in stale:
        start(job)
    return len(stale)


async def fail(job_id: int, error: str) -> None:
    """A message of the job failed for good: the job is FAILED, with a notification on its batch. A processing
    batch is FAILED too; a posting batch stays POSTING, to be resumed by posting it again."""
    job = await models.Job.get_or_none(id=job_id)
    if job is None or job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return
    async with in_transaction():
        await models.Job.filter(id=job_id).update(status=JobStatus.FAILED, error=error[:2000],
                                                  finished_at=clock.now())
        if job.batch_id is not None:
            failed = await models.BillingBatch.filter(id=job.batch_id, status=BatchStatus.PROCESSING).update(
                status=BatchStatus.FAILED)
            if failed:
                await audit.record(None, "BillingBatch", job.batch_id,
                                   {"status": (BatchStatus.PROCESSING, BatchStatus.FAILED)}, "FAIL",
                                   batch_id=job.batch_id)
                await events.record("BATCH_STATUS", batch_id=job.batch_id, job_id=job_id,
                                    status=BatchStatus.FAILED.value, error=error[:500])
            await notifications.raise_once(job.batch_id, f"{job.kind.value}_FAILED",
                                           f"{job.kind.value.title()} job #{job_id} failed: {error[:500]}",
                                           f"job-failed:{job_id}")

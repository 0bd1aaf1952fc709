"""Background jobs: created with the state change that needs them, sent to the broker only after commit.

Actors are addressed by name, so the domain never imports the workers; `workers/actors.py` declares them with
these names and queues.

**One protocol runs every chunked job** (processing, posting, sending, the accounting export, auto-pay, credit
notes). A kind
module describes only what is its own, in a `Chunked`: what its chunks are, the work of one, what finishing
does. The rest is here, once:

- *plan* (`plan`): in one transaction, create the job's chunks, mark the job RUNNING with its total and record
  the progress event. A job planned again (a redelivered message, the sweeper) re-sends only the chunks not
  done; a job without chunks finishes at once. Messages are sent after commit.
- *run a chunk* (`run_chunk`): claim it — a chunk done already, a job no longer RUNNING or a batch no longer in
  the kind's status make the message a no-op —, do the work, mark the chunk done and count its progress. Work on
  the database runs inside the chunk's transaction. Work with the outside world (an e-mail, a gateway call)
  runs first, outside any transaction, idempotent per item by its own claim; it may leave the chunk open, to be
  closed later by `complete_chunk`.
- *finish*, exactly once, in the transaction that completes the last chunk: counting locks the job row, so of
  two chunks ending together the second sees the first. The job SUCCEEDS and the kind's finisher runs; the work
  finishing starts is recorded there as QUEUED jobs and sent after commit.

Recovery needs nothing else: the broker redelivers the messages of a worker that died, and the sweeper
(`resend_stale`) sends again any job QUEUED or RUNNING whose heartbeat (`updated_at`, touched by every chunk
done) is older than `BILLRUN_JOB_STALE_AFTER_SECONDS`. Each step is a fault point for crash tests
(`domain.faults`): `<kind>.plan.committed`, `<kind>.chunk.before_commit`, `<kind>.chunk.committed` and
`<kind>.finish.committed`, `<kind>` being the job kind in lower case (`process`, `post`, `send`, …). Every job,
chunked or not, also has the two points around the commit of the change that queued it (`QUEUED_STEPS`):
`<kind>.queued.before_commit` (inside that transaction: nothing of it stays) and `<kind>.queued.committed`
(after commit, before its first message is sent: the sweeper's to find).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import dramatiq
from tortoise.backends.base.client import BaseDBAsyncClient

import models
from billrun.settings import get_settings
from domain import audit, clock, events, faults, notifications
from domain.transactions import in_transaction
from models import locks, sql
from models.bulk import insert_rows
from models.enums import BatchStatus, JobKind, JobStatus

QUEUE = "billing"
PLAN_PROCESSING = "plan_processing"
PROCESS_CHUNK = "process_chunk"
ANALYZE_BATCH = "analyze_batch"
REVERSE_BATCH = "reverse_batch"
FAIL_JOB = "fail_job"
PLAN_POSTING = "plan_posting"
POST_CHUNK = "post_chunk"
PLAN_SENDING = "plan_sending"
SEND_CHUNK = "send_chunk"
PLAN_EXPORT = "plan_export"
EXPORT_FILE = "export_file"
PLAN_AUTOPAY = "plan_autopay"
CHARGE_PAYMENT = "charge_payment"
GIVE_UP_PAYMENT = "give_up_payment"
PLAN_CREDIT_NOTE = "plan_credit_note"
CREDIT_NOTE_TASK = "credit_note_task"

# Which actor starts each kind of job (for a chunked kind: its planning).
STARTS = {JobKind.PROCESS: PLAN_PROCESSING, JobKind.ANALYZE: ANALYZE_BATCH, JobKind.REVERSE: REVERSE_BATCH,
          JobKind.POST: PLAN_POSTING, JobKind.SEND: PLAN_SENDING, JobKind.EXPORT: PLAN_EXPORT,
          JobKind.AUTO_PAY: PLAN_AUTOPAY, JobKind.CREDIT_NOTE: PLAN_CREDIT_NOTE}
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)
# The protocol's steps, in order, each a fault point `<kind>.<step>` (`domain.faults`).
STEPS = ("plan.committed", "chunk.before_commit", "chunk.committed", "finish.committed")
# Around the commit that queues a job: `<kind>.queued.before_commit`, `<kind>.queued.committed` (any kind).
QUEUED_STEPS = ("queued.before_commit", "queued.committed")
CHUNKED_KINDS = (JobKind.PROCESS, JobKind.POST, JobKind.SEND, JobKind.EXPORT, JobKind.AUTO_PAY,
                 JobKind.CREDIT_NOTE)


def checkpoints() -> list[str]:
    """Every fault point of the protocol, for crash tests and reliability runs to choose from."""
    return [f"{kind.value.lower()}.{step}" for kind in CHUNKED_KINDS for step in STEPS]


# ---------------------------------------------------------------- messages


def send(actor_name: str, *, on_exhausted: str = FAIL_JOB, queue: str = QUEUE, **kwargs: Any) -> None:
    """Enqueue a message for an actor by name (on `queue`); when its retries are exhausted, `on_exhausted` (by
    default `fail_job`, which fails the job named in the message, if any) gets the message. (Not `on_failure`:
    dramatiq calls that on every failed attempt, retried or not.)"""
    broker = dramatiq.get_broker()
    if queue not in broker.get_declared_queues():
        # Without `workers.actors` imported, dramatiq builds a default broker and the message goes astray.
        raise RuntimeError(f"The actors of queue {queue} are not declared in this process: import workers.actors "
                           "first.")
    message: dramatiq.Message[Any] = dramatiq.Message(queue_name=queue, actor_name=actor_name, args=(),
                                                      kwargs=kwargs, options={"on_retry_exhausted": on_exhausted})
    broker.enqueue(message)


def retry_later(reason: str) -> Exception:
    """What a message raises to be run again after its backoff: an expected, transient condition, so dramatiq
    logs no error or traceback for it (it logs every other exception as an ERROR)."""
    return dramatiq.Retry(reason)


async def create(kind: JobKind, *, batch_id: int | None, created_by: int | None, **params: Any) -> models.Job:
    """A QUEUED job, announced with a JOB_QUEUED event. Create it inside the transaction of the change that
    needs it and start it after commit."""
    # The heartbeat starts now (Tortoise leaves a field with a database default to the database on create).
    job = await models.Job.create(kind=kind, batch_id=batch_id, created_by_id=created_by, params=params,
                                  updated_at=clock.now())
    await events.job_queued(job)
    faults.checkpoint(f"{kind.value.lower()}.queued.before_commit")
    return job


async def follow_up(kind: JobKind, *, batch_id: int | None, created_by: int | None, **params: Any) -> models.Job:
    """A job the current transaction queues: it exists if and only if the transaction commits. Start it after
    commit."""
    return await create(kind, batch_id=batch_id, created_by=created_by, **params)


def batch_of(job: models.Job) -> models.BillingBatch:
    """The batch of a job loaded with it (`select_related("batch")`): every chunked kind works on one batch."""
    if job.batch is None:
        raise RuntimeError(f"Job #{job.id} ({job.kind.value}) has no batch")
    return job.batch


def start(job: models.Job) -> None:
    """Send the job's first message. Call after the transaction that created the job has committed."""
    faults.checkpoint(f"{job.kind.value.lower()}.queued.committed")
    send(STARTS[job.kind], job_id=job.id)


def start_all(queued: list[models.Job]) -> None:
    for job in queued:
        start(job)


# ---------------------------------------------------------------- the chunked-job protocol


@dataclass(frozen=True)
class Chunk:
    """One slice of a job, as planned: the units of progress it counts and what its work needs."""

    size: int
    params: dict[str, Any] = field(default_factory=dict)
    number: int | None = None  # its key within the job (a redelivered message names it); by default, its position


async def _no_follow_ups(tx: BaseDBAsyncClient, job: models.Job) -> list[models.Job]:
    return []


@dataclass(frozen=True)
class Chunked:
    """One kind of chunked job: what is its own. `plan`, `run_chunk` and `complete_chunk` do the rest."""

    kind: JobKind
    chunk_actor: str
    # The chunks of a job, asked once, inside the planning transaction (so it may also write what goes with them).
    chunks: Callable[[models.Job], Awaitable[list[Chunk]]]
    # The work of a chunk inside its transaction (database work), ...
    work: Callable[[BaseDBAsyncClient, models.Job, models.JobChunk], Awaitable[None]] | None = None
    # ... or before it, outside any transaction (the outside world), idempotent per item; False leaves it open.
    outside_work: Callable[[models.Job, models.JobChunk], Awaitable[bool]] | None = None
    # Inside the transaction of the last chunk: the kind's finishing; returns the follow-up jobs it queued.
    finish: Callable[[BaseDBAsyncClient, models.Job], Awaitable[list[models.Job]]] = _no_follow_ups
    # The chunks run only while the job's batch is in this status (None: whatever it is).
    batch_status: BatchStatus | None = None
    # The actor told when a chunk's message failed on every retry (by default: the job fails).
    on_exhausted: str = FAIL_JOB

    def checkpoint(self, step: str) -> None:
        assert step in STEPS, step
        faults.checkpoint(f"{self.kind.value.lower()}.{step}")


async def plan(kind: Chunked, job_id: int) -> None:
    """Create the job's chunks and mark it RUNNING (once), then send a message per chunk not done."""
    finished: list[models.Job] | None = None
    async with in_transaction() as tx:
        job = await locks.job(tx, job_id)
        if job is None or job.kind != kind.kind or job.status not in UNFINISHED or not _batch_ready(kind, job):
            return
        if job.status == JobStatus.QUEUED:
            await _create_chunks(tx, kind, job)
        else:
            await models.Job.filter(id=job.id).update(updated_at=clock.now())  # planned again: a sign of life
        pending = cast(list[int], await models.JobChunk.filter(job_id=job.id, done_at=None).order_by(
            "chunk_no").values_list("chunk_no", flat=True))
        if not pending:
            finished = await _finish(tx, kind, job)
    kind.checkpoint("plan.committed")
    for chunk_no in pending:
        send_chunk(kind, job_id, chunk_no)
    if finished is not None:
        kind.checkpoint("finish.committed")
        start_all(finished)


async def _create_chunks(tx: BaseDBAsyncClient, kind: Chunked, job: models.Job) -> None:
    chunks = await kind.chunks(job)
    await insert_rows(tx, "job_chunk", ("job_id", "chunk_no", "size", "params"), [
        (job.id, n if chunk.number is None else chunk.number, chunk.size, chunk.params)
        for n, chunk in enumerate(chunks)])
    total = sum(chunk.size for chunk in chunks)
    now = clock.now()
    await models.Job.filter(id=job.id).update(status=JobStatus.RUNNING, progress_total=total, updated_at=now,
                                              started_at=job.started_at or now)
    job.status, job.progress_total = JobStatus.RUNNING, total
    await events.job_progress(job, 0, total)


def send_chunk(kind: Chunked, job_id: int, chunk_no: int) -> None:
    """Send (again) the message of one chunk."""
    send(kind.chunk_actor, on_exhausted=kind.on_exhausted, job_id=job_id, chunk_no=chunk_no)


async def run_chunk(kind: Chunked, job_id: int, chunk_no: int) -> None:
    """The message of one chunk: its outside work (if the kind has any), then `complete_chunk`."""
    if kind.outside_work is not None:
        claimed = await _claim(kind, job_id, chunk_no)
        if claimed is None or not await kind.outside_work(*claimed):
            return
    await complete_chunk(kind, job_id, chunk_no)


async def complete_chunk(kind: Chunked, job_id: int, chunk_no: int) -> None:
    """In one transaction: claim the chunk (its row locked), do its database work, mark it done and count it;
    the last chunk finishes the job. The follow-up jobs of finishing are sent after commit."""
    finished: list[models.Job] | None = None
    async with in_transaction() as tx:
        claimed = await _claim(kind, job_id, chunk_no, tx)
        if claimed is None:
            return
        job, chunk = claimed
        if kind.work is not None:
            await kind.work(tx, job, chunk)
        if await _count_done(tx, job, chunk):
            finished = await _finish(tx, kind, job)
        kind.checkpoint("chunk.before_commit")
    if finished is None:
        kind.checkpoint("chunk.committed")
        return
    kind.checkpoint("finish.committed")
    start_all(finished)


def _batch_ready(kind: Chunked, job: models.Job) -> bool:
    return kind.batch_status is None or (job.batch is not None and job.batch.status == kind.batch_status)


async def _claim(kind: Chunked, job_id: int, chunk_no: int,
                 tx: BaseDBAsyncClient | None = None) -> tuple[models.Job, models.JobChunk] | None:
    """The running job and its open chunk (locked when `tx` is given), or None when the message has nothing left
    to do: the chunk is done (a redelivered message), the job no longer runs, or its batch moved on."""
    if tx is not None:
        chunk = await locks.job_chunk(tx, job_id, chunk_no)
    else:
        chunk = await models.JobChunk.get_or_none(job_id=job_id, chunk_no=chunk_no)
    if chunk is None or chunk.done_at is not None:
        return None
    job = await models.Job.get_or_none(id=job_id).select_related("batch")
    if job is None or job.kind != kind.kind or job.status != JobStatus.RUNNING or not _batch_ready(kind, job):
        return None
    return job, chunk


async def _count_done(tx: BaseDBAsyncClient, job: models.Job, chunk: models.JobChunk) -> bool:
    """Mark the chunk done and add its size to the job's progress (touching its heartbeat); True when it was
    the last."""
    now = clock.now()
    await models.JobChunk.filter(id=chunk.id).update(done_at=now)
    done, total = await sql.add_job_progress(tx, job.id, chunk.size, now)
    await events.job_progress(job, done, total, added=chunk.size)
    return done >= total


async def _finish(tx: BaseDBAsyncClient, kind: Chunked, job: models.Job) -> list[models.Job]:
    now = clock.now()
    if not await models.Job.filter(id=job.id, status=JobStatus.RUNNING).update(
            status=JobStatus.SUCCEEDED, finished_at=now, updated_at=now):
        return []  # failed meanwhile (`fail`): a failed job does not finish
    await events.job_finished(job, JobStatus.SUCCEEDED)
    return await kind.finish(tx, job)


# ---------------------------------------------------------------- jobs of one step, failure and the sweeper


async def succeed(job_id: int) -> None:
    """A job of one step (not chunked) is done."""
    now = clock.now()
    async with in_transaction():
        job = await models.Job.get_or_none(id=job_id)
        if job is not None and await models.Job.filter(id=job_id, status__in=UNFINISHED).update(
                status=JobStatus.SUCCEEDED, started_at=now, finished_at=now, updated_at=now):
            await events.job_finished(job, JobStatus.SUCCEEDED)


async def resend_unfinished() -> int:
    """At start-up of the embedded default (its in-process queue forgot everything): send every unfinished
    job again; planning and chunks are idempotent, so work already done is skipped."""
    unfinished = await models.Job.filter(status__in=UNFINISHED, kind__in=list(STARTS))
    for job in unfinished:
        start(job)
    return len(unfinished)


async def resend_stale(older_than: timedelta | None = None) -> int:
    """Send again every unfinished job that nothing moved for `older_than` (default
    BILLRUN_JOB_STALE_AFTER_SECONDS): a QUEUED one lost its first message, a RUNNING one lost chunk messages or
    the follow-up of a step; either is planned again, which re-sends only its pending chunks. Each job is
    touched as it is sent, atomically, so several sweepers at once send it once, and not again before
    `older_than`."""
    grace = older_than if older_than is not None else timedelta(seconds=get_settings().job_stale_after_seconds)
    now = clock.now()
    cutoff = now - grace
    resent = 0
    for job in await models.Job.filter(status__in=UNFINISHED, kind__in=list(STARTS), updated_at__lt=cutoff):
        if await models.Job.filter(id=job.id, status=job.status, updated_at__lt=cutoff).update(updated_at=now):
            start(job)
            resent += 1
    return resent


async def fail(job_id: int, error: str) -> None:
    """A message of the job failed for good: the job is FAILED, with a notification on its batch. A processing
    batch is FAILED too; a posting batch stays POSTING, to be resumed by posting it again."""
    job = await models.Job.get_or_none(id=job_id)
    if job is None or job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return
    async with in_transaction():
        now = clock.now()
        if not await models.Job.filter(id=job_id, status__in=UNFINISHED).update(
                status=JobStatus.FAILED, error=error[:2000], finished_at=now, updated_at=now):
            return  # finished meanwhile
        await events.job_finished(job, JobStatus.FAILED, error)
        if job.batch_id is not None:
            failed = await models.BillingBatch.filter(id=job.batch_id, status=BatchStatus.PROCESSING).update(
                status=BatchStatus.FAILED)
            if failed:
                await audit.record(None, "BillingBatch", job.batch_id,
                                   {"status": (BatchStatus.PROCESSING, BatchStatus.FAILED)}, "FAIL",
                                   batch_id=job.batch_id)
                await events.batch_status_changed(job.batch_id, BatchStatus.PROCESSING, BatchStatus.FAILED,
                                                  job_id=job_id, error=error)
            await notifications.raise_once(job.batch_id, f"{job.kind.value}_FAILED",
                                           f"{job.kind.value.title()} job #{job_id} failed: {error[:500]}",
                                           f"job-failed:{job_id}")

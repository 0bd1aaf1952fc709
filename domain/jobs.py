"""Background jobs: created with the state change that needs them, sent to the broker only after commit.

Actors are addressed by name, so the domain never imports the workers; `workers/actors.py` declares them
with these names and queues. A job left QUEUED (the process died between commit and send) is sent again by
the sweeper.
"""

from datetime import timedelta
from typing import Any

import dramatiq

import models
from domain import clock
from models.enums import JobKind, JobStatus

QUEUE = "billing"
PLAN_PROCESSING = "plan_processing"
PROCESS_CHUNK = "process_chunk"
REVERSE_BATCH = "reverse_batch"
FAIL_JOB = "fail_job"

# Which actor starts each kind of job.
STARTS = {JobKind.PROCESS: PLAN_PROCESSING, JobKind.REVERSE: REVERSE_BATCH}


def send(actor_name: str, **kwargs: Any) -> None:
    """Enqueue a message for an actor by name; a permanent failure calls `fail_job` with the message."""
    broker = dramatiq.get_broker()
    if QUEUE not in broker.get_declared_queues():
        # Without `workers.actors` imported, dramatiq builds a default broker and the message goes astray.
        raise RuntimeError("The billing actors are not declared in this process: import workers.actors first.")
    message = dramatiq.Message(queue_name=QUEUE, actor_name=actor_name, args=(), kwargs=kwargs,
                               options={"on_failure": FAIL_JOB})
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

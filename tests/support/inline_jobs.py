"""Background jobs run in the test's own process, through the very domain calls the actors make
(`workers/actors.py`): planning (`domain.jobs.plan`), each chunk (`domain.jobs.run_chunk`), the one-step jobs
(analysis, reversal). For property tests that drive hundreds of small batches, where a worker process's
message hops would dominate. Use with the `alone` fixture: the messages the domain sends after commit stay on
the broker (no worker consumes them) and are dropped when the test ends.
"""

import dramatiq

import models
from domain import accounting_export, analysis, credit_notes, jobs, payments, posting, processing, reversal, sending
from models.enums import JobKind, JobStatus

CHUNKED = {job.kind: job for job in (processing.JOB, posting.JOB, sending.JOB, accounting_export.JOB, payments.JOB,
                                     credit_notes.JOB)}
RETRIES = 8  # a transient gateway error is retried at once, as the broker would after its backoff


async def _run(kind: jobs.Chunked, job_id: int, chunk_no: int) -> None:
    for _ in range(RETRIES):
        try:
            await jobs.run_chunk(kind, job_id, chunk_no)
            return
        except dramatiq.Retry:
            continue


async def run_pending(batch_ids: list[int]) -> int:
    """Run every unfinished job of these batches, and the jobs they queue, until none is left that can move (a
    chunk waiting for the sweeper — an UNKNOWN payment — stays open). Returns the jobs run."""
    ran: set[int] = set()
    while True:
        pending = await models.Job.filter(batch_id__in=batch_ids, status__in=list(jobs.UNFINISHED)).exclude(
            id__in=list(ran) or [0]).order_by("id")
        if not pending:
            return len(ran)
        for job in pending:
            ran.add(job.id)
            if job.kind == JobKind.ANALYZE:
                await analysis.run_job(job.id)
            elif job.kind == JobKind.REVERSE:
                await reversal.reverse(job.id)
            else:
                kind = CHUNKED[job.kind]
                await jobs.plan(kind, job.id)
                for chunk_no in await models.JobChunk.filter(job_id=job.id, done_at=None).order_by(
                        "chunk_no").values_list("chunk_no", flat=True):
                    await _run(kind, job.id, chunk_no)
            assert (await models.Job.get(id=job.id)).status != JobStatus.QUEUED, f"job {job.id} never started"

"""Reversing a processed batch (docs/BILLING.md): what processing generated goes, audited, and the batch is
NOT_STARTED again. Deleting a billing returns its source items to unbilled (their foreign key is SET NULL).

Reversal deletes every billing of the batch, so like posting it needs sight of all of them (HIDDEN_BILLINGS):
checked when it is asked for, and again by the job for the user who asked (billings may have been moved into
the batch, or a grant withdrawn, in between)."""

import models
from domain import audit, clock, events, jobs
from domain.access import (
    SYSTEM_LABEL,
    Viewer,
    get_visible,
    granted_visibility,
    hidden,
    require,
    sees_all_accounts,
)
from domain.errors import DomainError, ErrorCode
from domain.transactions import in_transaction
from models import locks, sql
from models.enums import BatchStatus, JobKind, JobStatus, Permission

REVERSIBLE = (BatchStatus.PROCESSED, BatchStatus.FAILED)


async def start_reversal(viewer: Viewer, batch_id: int) -> models.Job:
    require(viewer, Permission.BILLING_ACCESS)
    batch = await get_visible(viewer, models.BillingBatch, batch_id, "Billing batch")
    if batch.status not in REVERSIBLE:
        raise DomainError(ErrorCode.INVALID_STATUS,
                          f"Only a PROCESSED or FAILED batch can be reversed; this one is {batch.status.value}.",
                          "batchId")
    if await models.Job.exists(batch_id=batch.id, kind=JobKind.REVERSE,
                               status__in=[JobStatus.QUEUED, JobStatus.RUNNING]):
        raise DomainError(ErrorCode.INVALID_STATUS, "A reversal of this batch is already running.", "batchId")
    if unseen := await hidden(viewer, models.PeriodicBilling).filter(batch_id=batch.id).count():
        raise DomainError(ErrorCode.HIDDEN_BILLINGS, f"{unseen} billing(s) of this batch belong to accounts hidden "
                          "from you; only a user who can see every billing may reverse it.", "batchId")
    async with in_transaction():
        job = await jobs.create(JobKind.REVERSE, batch_id=batch.id, created_by=viewer.user_id, **job_params(viewer))
    jobs.start(job)
    return job


def job_params(viewer: Viewer) -> dict:
    """Who asked for a reversal, as its job re-checks it: the user, and whether they see every account."""
    return {"actor": viewer.user_id, "actor_label": viewer.label, "actor_sees_all": sees_all_accounts(viewer)}


async def reverse(job_id: int) -> None:
    """Delete the batch's billings (details, distributions and their findings cascade), one audit row per
    billing, set-based; the batch back to NOT_STARTED. Idempotent: the job row is locked and a finished job is a
    no-op, so a message delivered twice reverses once."""
    now = clock.now()
    async with in_transaction() as tx:
        job = await locks.job(tx, job_id)
        if job is None or job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return
        batch = jobs.batch_of(job)
        actor_id = job.params.get("actor")
        label = job.params.get("actor_label", SYSTEM_LABEL)
        if batch.status not in REVERSIBLE:
            error = f"Batch is {batch.status.value}, not reversible"
            await models.Job.filter(id=job.id).update(status=JobStatus.FAILED, finished_at=now, updated_at=now,
                                                      error=error)
            await events.job_finished(job, JobStatus.FAILED, error)
            return
        if unseen := await _hidden_from_actor(job):
            error = (f"{unseen} billing(s) of accounts hidden from the user who asked are in the batch now; "
                     "nothing was reversed")
            await models.Job.filter(id=job.id).update(status=JobStatus.FAILED, finished_at=now, error=error)
            await events.job_finished(job, JobStatus.FAILED, error)
            return
        await sql.audit_reversed_billings(tx, batch.id, actor_id, label, now)
        # HOLD billings adopted from an earlier batch were not generated here: they go back to waiting.
        await models.PeriodicBilling.filter(batch_id=batch.id).exclude(held_from_batch_id=None).update(batch_id=None)
        await models.Finding.filter(batch_id=batch.id).exclude(billing_id=None).delete()
        await models.PeriodicBilling.filter(batch_id=batch.id).delete()
        await models.BillingBatch.filter(id=batch.id).update(status=BatchStatus.NOT_STARTED, processed_at=None,
                                                             version=batch.version + 1)
        await audit.record(None, "BillingBatch", batch.id, {"status": (batch.status, BatchStatus.NOT_STARTED)},
                           "REVERSE", batch_id=batch.id)
        await models.Job.filter(id=job.id).update(status=JobStatus.SUCCEEDED, started_at=now, finished_at=now,
                                                  updated_at=now)
        await events.job_finished(job, JobStatus.SUCCEEDED)
        await events.batch_status_changed(batch.id, batch.status, BatchStatus.NOT_STARTED, job_id=job.id)


async def _hidden_from_actor(job: models.Job) -> int:
    """How many billings of the job's batch the user who asked for the reversal may not see now."""
    actor_id = job.params.get("actor")
    if actor_id is None or job.params.get("actor_sees_all", True):
        return 0
    return await models.PeriodicBilling.filter(batch_id=job.batch_id).exclude(
        granted_visibility(actor_id, "account")).count()


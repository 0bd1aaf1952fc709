"""Completing a batch (docs/POSTING.md): final, and only once nothing about it is left open.

`blockers` lists everything that stands in the way, one entry each, so the SPA can show the list and
`completeBillingBatch` refuses with the same list: the batch is not POSTED, a notification is open, a
payment is not settled (PENDING or UNKNOWN), or a job of the batch (sending, export, auto-pay) still runs.
"""

from dataclasses import dataclass

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

import models
from domain import audit, clock, events
from domain.access import Viewer, get_visible, require, visible
from domain.errors import DomainError, ErrorCode, Problem
from domain.transactions import in_transaction
from models.enums import BatchStatus, JobStatus, NotificationStatus, PaymentStatus, Permission


@dataclass(frozen=True)
class Blocker:
    """One reason a batch cannot be completed yet."""

    kind: str  # NOT_POSTED, OPEN_NOTIFICATION, PENDING_PAYMENT, JOB_RUNNING
    message: str
    subject_type: str | None = None
    subject_id: int | None = None


async def blockers(batch: models.BillingBatch, viewer: Viewer) -> list[Blocker]:
    """Everything that keeps the batch from completing. What concerns accounts hidden from the viewer is
    listed without naming them."""
    found = []
    if batch.status != BatchStatus.POSTED:
        found.append(Blocker("NOT_POSTED", f"The batch is {batch.status.value}; only a POSTED batch completes.",
                             "BillingBatch", batch.id))
    open_notes = models.Notification.filter(batch_id=batch.id, status=NotificationStatus.OPEN)
    notes, hidden = await _seen_and_hidden(viewer, open_notes, "id", "kind", "message")
    found += [Blocker("OPEN_NOTIFICATION", f"{kind}: {message}", "Notification", nid) for nid, kind, message in notes]
    if hidden:
        found.append(Blocker("OPEN_NOTIFICATION", f"{hidden} open notification(s) about accounts hidden from you."))
    unsettled = models.Payment.filter(invoice__batch_id=batch.id, status__in=[PaymentStatus.PENDING,
                                                                              PaymentStatus.UNKNOWN])
    pending, hidden = await _seen_and_hidden(viewer, unsettled, "invoice_id", "status", "invoice__number")
    found += [Blocker("PENDING_PAYMENT", f"Auto-pay of invoice {number} is {status}.", "Invoice", invoice_id)
              for invoice_id, status, number in pending]
    if hidden:
        found.append(Blocker("PENDING_PAYMENT", f"{hidden} auto-pay charge(s) of accounts hidden from you are "
                             "not settled."))
    for jid, kind in await models.Job.filter(batch_id=batch.id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
                                             ).order_by("id").values_list("id", "kind"):
        found.append(Blocker("JOB_RUNNING", f"The {kind} job #{jid} has not finished.", "Job", jid))
    return found


async def _seen_and_hidden(viewer: Viewer, query: QuerySet, *fields: str) -> tuple[list[tuple], int]:
    """The rows of `query` the viewer may see (these fields, by id), and how many others there are."""
    seen = await visible(viewer, query.model).filter(id__in=Subquery(query.values("id"))).order_by(
        "id").values_list(*fields)
    return seen, await query.count() - len(seen)


async def complete(viewer: Viewer, batch_id: int) -> models.BillingBatch:
    require(viewer, Permission.BILLING_ACCESS)
    batch = await get_visible(viewer, models.BillingBatch, batch_id, "Billing batch", "batchId")
    require(viewer, Permission.BILLING_SEND_EXPORT)
    if found := await blockers(batch, viewer):
        raise DomainError.of([Problem(ErrorCode.NOT_READY, b.message, "batchId") for b in found])
    async with in_transaction():
        updated = await models.BillingBatch.filter(id=batch.id, status=BatchStatus.POSTED).update(
            status=BatchStatus.COMPLETED, completed_at=clock.now(), version=batch.version + 1)
        if not updated:
            raise DomainError(ErrorCode.CONCURRENT_UPDATE, "The batch changed meanwhile; reload it.", "batchId")
        await audit.record(viewer, "BillingBatch", batch.id, {"status": (batch.status, BatchStatus.COMPLETED)},
                           "COMPLETE", batch_id=batch.id)
        await events.batch_status_changed(batch.id, batch.status, BatchStatus.COMPLETED)
    return await models.BillingBatch.get(id=batch.id)

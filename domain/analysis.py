"""Pre-billing analysis (docs/BILLING.md): findings on the billable items a batch would pick up.

ERROR findings block processing until a user resolves them with a note. Findings are keyed by kind and
subject, so running analysis again keeps their ids and resolutions. Findings of processing itself (the reasons
of REJECTED_WITH_ERRORS billings) carry their billing and are not touched here.
"""

from dataclasses import dataclass
from decimal import Decimal

from tortoise.expressions import Subquery

import models
from domain import batches, clock, events, jobs, validation
from domain.access import Viewer, get_visible, require, visible
from domain.errors import DomainError, ErrorCode
from domain.transactions import in_transaction
from models.enums import BatchStatus, Permission, Severity, WorkOrderStatus

UNUSUAL_FACTOR = Decimal(5)  # a manual charge this many times the account's usual amount is flagged
IMPLAUSIBLE_CHANGE = Decimal(1)  # a rate change of more than 100 % is flagged
LOCKED = (BatchStatus.POSTING, BatchStatus.POSTED, BatchStatus.COMPLETED)  # analysis runs only before posting


@dataclass(frozen=True)
class Candidate:
    kind: str
    severity: Severity
    account_id: int | None
    subject_type: str
    subject_id: int
    message: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject_type}:{self.subject_id}"


async def _work_orders(batch: models.BillingBatch, account_ids: Subquery) -> list[Candidate]:
    found = []
    rows = await (models.WorkOrder.filter(account_id__in=account_ids, billed_on_id=None,
                                          performed_on__lte=batch.as_of_date)
                  .select_related("charge"))
    for wo in rows:
        label = f"Work order #{wo.id} ({wo.description}, {wo.performed_on})"
        if wo.status == WorkOrderStatus.OPEN:
            found.append(Candidate("WORK_ORDER_OPEN", Severity.WARNING, wo.account_id, "WorkOrder", wo.id,
                                   f"{label} is still open inside the period: it will not be billed."))
        elif wo.rate is None:
            found.append(Candidate("WORK_ORDER_NO_RATE", Severity.ERROR, wo.account_id, "WorkOrder", wo.id,
                                   f"{label} is completed without a rate: revenue would be lost."))
        elif wo.charge is not None and wo.rate != wo.charge.periodic_price:
            found.append(Candidate("WORK_ORDER_RATE_DIFFERS", Severity.WARNING, wo.account_id, "WorkOrder", wo.id,
                                   f"{label} has rate {wo.rate}, the charge's price is {wo.charge.periodic_price}."))
    return found


async def _service_changes(batch: models.BillingBatch, contract_ids: Subquery) -> list[Candidate]:
    found = []
    rows = await (models.ServiceChange.filter(charge__contract_id__in=contract_ids, billed_on_id=None,
                                              effective_date__lte=batch.as_of_date)
                  .select_related("charge__contract"))
    for change in rows:
        old = change.charge.periodic_price
        label = f"Service change #{change.id} on '{change.charge.description}' from {change.effective_date}"
        account_id = change.charge.contract.account_id
        if change.new_price <= 0:
            found.append(Candidate("SERVICE_CHANGE_MISSING_AMOUNT", Severity.ERROR, account_id, "ServiceChange",
                                   change.id, f"{label} has no rate change amount ({change.new_price})."))
        elif change.new_price == old:
            found.append(Candidate("SERVICE_CHANGE_NO_CHANGE", Severity.WARNING, account_id, "ServiceChange",
                                   change.id, f"{label} does not change the rate ({old})."))
        elif old > 0 and abs(change.new_price - old) / old > IMPLAUSIBLE_CHANGE:
            found.append(Candidate("SERVICE_CHANGE_IMPLAUSIBLE", Severity.WARNING, account_id, "ServiceChange",
                                   change.id, f"{label} changes the rate from {old} to {change.new_price}."))
    return found


async def _manual_charges(batch: models.BillingBatch, account_ids: Subquery) -> list[Candidate]:
    found = []
    pending = await models.ManualCharge.filter(account_id__in=account_ids, billed_on_id=None,
                                               charge_date__lte=batch.as_of_date).order_by("id")
    history: dict[int, list[Decimal]] = {}
    for account_id, amount in await models.ManualCharge.filter(
            account_id__in=account_ids, billed_on_id__isnull=False).values_list("account_id", "amount"):
        history.setdefault(account_id, []).append(amount)
    seen: dict[tuple, int] = {}
    for charge in pending:
        label = f"Manual charge #{charge.id} ({charge.description}, {charge.amount})"
        same = (charge.account_id, charge.amount, charge.charge_date, charge.description.strip().lower())
        past = history.get(charge.account_id, [])
        usual = sum(past, Decimal(0)) / len(past) if past else None
        if charge.amount == 0:
            found.append(Candidate("MANUAL_CHARGE_ZERO", Severity.ERROR, charge.account_id, "ManualCharge",
                                   charge.id, f"{label} is zero."))
        elif charge.amount < 0:
            found.append(Candidate("MANUAL_CHARGE_NEGATIVE", Severity.ERROR, charge.account_id, "ManualCharge",
                                   charge.id, f"{label} is negative: enter credits as invoice adjustments."))
        elif usual is not None and usual > 0 and charge.amount > usual * UNUSUAL_FACTOR:
            found.append(Candidate("MANUAL_CHARGE_UNUSUAL", Severity.WARNING, charge.account_id, "ManualCharge",
                                   charge.id, f"{label} is far above the account's usual {usual:.2f}."))
        if same in seen:
            found.append(Candidate("MANUAL_CHARGE_DUPLICATE", Severity.WARNING, charge.account_id, "ManualCharge",
                                   charge.id, f"{label} duplicates manual charge #{seen[same]}."))
        seen.setdefault(same, charge.id)
    return found


async def _adjustments(account_ids: Subquery) -> list[Candidate]:
    rows = await models.InvoiceAdjustment.filter(account_id__in=account_ids, billed_on_id=None, approved=False)
    return [Candidate("UNAPPROVED_ADJUSTMENT", Severity.WARNING, adj.account_id, "InvoiceAdjustment", adj.id,
                      f"Invoice adjustment #{adj.id} ({adj.kind.value} {adj.amount}, {adj.description}) is not "
                      "approved: it will not be billed and the original amount stands.")
            for adj in rows]


async def candidates(batch: models.BillingBatch) -> list[Candidate]:
    # Subqueries, not id lists: a batch may hold hundreds of thousands of accounts.
    account_ids = Subquery(batches.accounts_in_scope(batch).values("id"))
    contract_ids = Subquery(batches.contracts_in_scope(batch).values("id"))
    return (await _work_orders(batch, account_ids) + await _service_changes(batch, contract_ids)
            + await _manual_charges(batch, account_ids) + await _adjustments(account_ids))


async def analyze(batch: models.BillingBatch) -> list[models.Finding]:
    """Bring the batch's pre-billing findings up to date: findings still true keep their id (and, if resolved,
    their resolution), findings no longer true and unresolved go, new ones are added."""
    found = {c.key: c for c in await candidates(batch)}
    async with in_transaction():
        existing = await models.Finding.filter(batch_id=batch.id, billing_id=None)
        stale = [f.id for f in existing if f.key not in found and f.resolved_at is None]
        await models.Finding.filter(id__in=stale).delete()
        for finding in existing:
            if finding.key in found and finding.message != found[finding.key].message:
                finding.message = found[finding.key].message
                await finding.save(update_fields=["message"])
        known = {f.key for f in existing}
        await models.Finding.bulk_create([
            models.Finding(batch_id=batch.id, kind=c.kind, severity=c.severity, account_id=c.account_id,
                           subject_type=c.subject_type, subject_id=c.subject_id, key=c.key, message=c.message)
            for key, c in found.items() if key not in known])
        current = models.Finding.filter(batch_id=batch.id, billing_id=None)
        await events.batch_analyzed(batch.id, await current.count(), await current.filter(
            severity=Severity.ERROR, resolved_at=None).count())
    return await models.Finding.filter(batch_id=batch.id, billing_id=None).order_by("id")


async def refuse_if_blocked(viewer: Viewer, batch_id: int) -> None:
    """UNRESOLVED_FINDINGS while pre-billing ERROR findings are open. Those about accounts hidden from the
    viewer block too, and are counted as such, never described."""
    open_errors = models.Finding.filter(batch_id=batch_id, billing_id=None, severity=Severity.ERROR,
                                        resolved_at=None)
    total = await open_errors.count()
    if not total:
        return
    hidden = total - await visible(viewer, models.Finding).filter(
        id__in=Subquery(open_errors.values("id"))).count()
    about_hidden = f" ({hidden} of them about accounts hidden from you)" if hidden else ""
    raise DomainError(ErrorCode.UNRESOLVED_FINDINGS,
                      f"{total} ERROR finding(s) must be resolved before processing{about_hidden}.", "batchId")


async def run_job(job_id: int) -> None:
    """The ANALYZE job processing queues when it finishes: bring the findings up to date for the processed batch
    (idempotent, so a redelivered message is harmless). A batch already posting or posted keeps its findings."""
    job = await models.Job.get_or_none(id=job_id).select_related("batch")
    if job is None or job.status not in jobs.UNFINISHED:
        return
    if job.batch is not None and job.batch.status not in LOCKED:
        await analyze(job.batch)
    await jobs.succeed(job.id)


async def blocking(batch_id: int) -> int:
    """How many unresolved pre-billing ERROR findings stop the batch from processing."""
    return await models.Finding.filter(batch_id=batch_id, billing_id=None, severity=Severity.ERROR,
                                       resolved_at=None).count()


async def resolve_finding(viewer: Viewer, finding_id: int, note: str) -> models.Finding:
    require(viewer, Permission.BILLING_ACCESS)
    finding = await get_visible(viewer, models.Finding, finding_id, "Finding")
    if not note.strip():
        raise DomainError(ErrorCode.INVALID_INPUT, "Say how the finding was resolved.", "note")
    validation.check_text(models.Finding, {"resolution_note": note}, {"resolution_note": "note"})
    if finding.resolved_at is not None:
        raise DomainError(ErrorCode.INVALID_STATUS, "The finding is already resolved.", "id")
    async with in_transaction():
        if not await models.Finding.filter(id=finding.id, resolved_at=None).update(
                resolved_at=clock.now(), resolved_by_id=viewer.user_id, resolution_note=note.strip()):
            raise DomainError(ErrorCode.INVALID_STATUS, "The finding is already resolved.", "id")
        await events.finding_resolved(finding, viewer)
    return await models.Finding.get(id=finding.id)


async def run(viewer: Viewer, batch_id: int) -> tuple[models.BillingBatch, list[models.Finding]]:
    """`analyzeBillingBatch`: allowed any time before posting. Analysis covers the whole batch; the viewer gets
    the findings it may see (those about hidden accounts read as absent)."""
    require(viewer, Permission.BILLING_ACCESS)
    batch = await get_visible(viewer, models.BillingBatch, batch_id, "Billing batch", "batchId")
    if batch.status in LOCKED:
        raise DomainError(ErrorCode.BATCH_LOCKED, "Analysis runs only before posting.", "batchId")
    await analyze(batch)
    return batch, await visible(viewer, models.Finding).filter(batch_id=batch.id, billing_id=None).order_by("id")

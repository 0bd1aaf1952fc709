"""Reviewing billings (docs/REVIEW.md): dispositions one by one and in mass, delete (undo), move to another batch.

Every change writes its audit rows and a batch event in the same transaction. The rules are in
`domain.dispositions`; this module applies them.
"""

from collections import Counter
from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

import models
from domain import audit, batches, clock, events, validation
from domain.access import Viewer, get_visible, require, visible
from domain.dispositions import Subject, deletion_refusal, refusal, subjects
from domain.errors import DomainError, ErrorCode, Problem, raise_if
from domain.transactions import in_transaction
from models import locks, sql
from models.enums import BatchStatus, BillingStatus, Permission


async def _subject(billing_id: int) -> Subject:
    return (await subjects(models.PeriodicBilling.filter(id=billing_id)))[billing_id]


async def update_status(viewer: Viewer, billing_id: int, target: BillingStatus,
                        expected_version: int | None = None) -> models.PeriodicBilling:
    """Disposition one billing. With `expected_version`, a billing changed meanwhile is CONCURRENT_UPDATE."""
    require(viewer, Permission.BILLING_ACCESS)
    raise_if(validation.int_problems(expected_version, "expectedVersion", 1, validation.INTEGER_MAX - 1))
    billing = await get_visible(viewer, models.PeriodicBilling, billing_id, "Billing", "billingId")
    if (problem := refusal(viewer, await _subject(billing.id), target)) is not None:
        raise DomainError(problem.code, problem.message, problem.field)
    version = expected_version if expected_version is not None else billing.version
    async with in_transaction():
        if billing.status != BillingStatus.INVOICED:  # a posted one is re-billed from its locked batch
            await batches.hold_open(billing.batch_id, "status")
        changed = await models.PeriodicBilling.filter(id=billing.id, version=version, status=billing.status).update(
            status=target, version=version + 1, updated_at=clock.now(), last_edited_by_id=viewer.user_id)
        if not changed:
            raise DomainError(ErrorCode.CONCURRENT_UPDATE,
                              "The billing changed since you read it: reload it and decide again.", "expectedVersion")
        await audit.record(viewer, "PeriodicBilling", billing.id, {"status": (billing.status, target)},
                           "DISPOSITION", batch_id=billing.batch_id, billing_id=billing.id,
                           account_id=billing.account_id)
        await events.billing_dispositioned(billing, billing.status, target, viewer)
    return await models.PeriodicBilling.get(id=billing.id)


CHANGED_MEANWHILE = Problem(ErrorCode.CONCURRENT_UPDATE, "The billing changed while the mass update ran: reload it "
                            "and decide again.", "status")


@dataclass
class MassResult:
    changed: int
    refusals: list[tuple[int, Problem]]


MASS_UPDATE_ROUNDS = 3  # reads of a billing changed meanwhile before it is reported CONCURRENT_UPDATE


def _checked(viewer: Viewer, found: dict[int, Subject], target: BillingStatus,
             refusals: list[tuple[int, Problem]]) -> list[tuple[int, str, int]]:
    """The billings the rules let change, as (id, status, version) for the UPDATE; the others go to `refusals`."""
    allowed = []
    for billing_id, subject in sorted(found.items()):
        problem = refusal(viewer, subject, target)
        if problem is None:
            allowed.append((billing_id, subject.status.value, subject.version))
        else:
            refusals.append((billing_id, problem))
    return allowed


async def mass_update(viewer: Viewer, batch_id: int, target: BillingStatus, billings: QuerySet) -> MassResult:
    """Apply one disposition to every billing of `billings` (already scoped and filtered) under the same rules:
    all allowed ones change in one transaction (one audit row each), the others are reported with their reason.
    A target the viewer may not set at all is refused once for the call, not once per billing."""
    require(viewer, Permission.BILLING_ACCESS)
    if target == BillingStatus.APPROVED:
        require(viewer, Permission.BILLING_APPROVE)
    batch = await get_visible(viewer, models.BillingBatch, batch_id, "Billing batch", "batchId")
    async with in_transaction() as tx:
        await batches.hold_open(batch.id, "batchId")
        await locks.hold_transaction_locks(tx, f"mass-update:batch:{batch.id}")  # one mass update of a batch at a time
        found = await subjects(billings.filter(batch_id=batch.id).exclude(status=target))
        refusals: list[tuple[int, Problem]] = []
        changed: list[int] = []
        pending = _checked(viewer, found, target, refusals)
        # Rows are locked by the UPDATE itself, each changed only if its status and version are still those the
        # rules were checked on. A billing an edit or disposition changed meanwhile is read again and its rules
        # checked on what it is now (the concurrent change has committed by then), a bounded number of rounds;
        # one still changing after that is reported CONCURRENT_UPDATE.
        for _ in range(MASS_UPDATE_ROUNDS):
            done = await sql.mass_disposition(tx, viewer.user_id, viewer.label, pending, target.value,
                                              clock.now()) if pending else []
            changed += done
            missed = {billing_id for billing_id, _, _ in pending} - set(done)
            if not missed:
                pending = []
                break
            again = await subjects(billings.filter(batch_id=batch.id, id__in=sorted(missed)).exclude(status=target))
            pending = _checked(viewer, again, target, refusals)
        refusals = sorted(refusals + [(billing_id, CHANGED_MEANWHILE) for billing_id, _, _ in pending])
        if changed:
            await events.billings_mass_dispositioned(batch.id, target, len(changed), len(refusals), viewer)
    return MassResult(changed=len(changed), refusals=refusals)


async def delete_billing(viewer: Viewer, billing_id: int) -> int:
    """Delete (undo) a billing; its source items return to unbilled. Audited."""
    require(viewer, Permission.BILLING_ACCESS)
    billing = await get_visible(viewer, models.PeriodicBilling, billing_id, "Billing", "id")
    if (problem := deletion_refusal(await _subject(billing.id))) is not None:
        raise DomainError(problem.code, problem.message, problem.field)
    async with in_transaction():
        await batches.hold_open(billing.batch_id)
        await audit.record(viewer, "PeriodicBilling", billing.id, {"status": (billing.status, None)}, "DELETE",
                           batch_id=billing.batch_id, billing_id=billing.id, account_id=billing.account_id)
        await models.PeriodicBilling.filter(id=billing.id).delete()
        await events.billing_deleted(billing, viewer)
    return billing.id


async def move_billings(viewer: Viewer, billing_ids: list[int], to_batch_id: int) -> int:
    """Move the viewer's visible billings to another batch that is not posted (and bills the same currency)."""
    require(viewer, Permission.BILLING_ACCESS)
    target = await get_visible(viewer, models.BillingBatch, to_batch_id, "Billing batch", "toBatchId")
    if target.status not in (BatchStatus.NOT_STARTED, BatchStatus.PROCESSED):
        raise DomainError(ErrorCode.BATCH_LOCKED, f"Billings can move only to a batch not yet posted "
                          f"(NOT_STARTED or PROCESSED); this one is {target.status.value}.", "toBatchId")
    rows = await visible(viewer, models.PeriodicBilling).filter(id__in=billing_ids).select_related("batch",
                                                                                                   "account")
    if len(rows) != len(set(billing_ids)):
        raise DomainError(ErrorCode.NOT_FOUND, "Some billings do not exist or are hidden from you.", "billingIds")
    for billing in rows:
        # A HOLD billing waiting outside any batch (it left a posted one) may be moved into a batch at once.
        if billing.batch is not None and billing.batch.status not in (BatchStatus.PROCESSED, BatchStatus.FAILED):
            raise DomainError(ErrorCode.BATCH_LOCKED, f"Billing #{billing.id} is in a {billing.batch.status.value} "
                              "batch.", "billingIds")
        if billing.account.currency != target.currency:
            raise DomainError(ErrorCode.INVALID_INPUT, "Billings move only between batches of one currency.",
                              "toBatchId")
        if billing.status == BillingStatus.INVOICED:
            raise DomainError(ErrorCode.INVALID_STATUS, f"Billing #{billing.id} is invoiced.", "billingIds")
    async with in_transaction():
        for batch_id in sorted({b.batch_id for b in rows if b.batch_id is not None}):
            await batches.hold_open(batch_id, "billingIds")
        for billing in rows:
            if billing.batch_id == target.id:
                continue
            await audit.record(viewer, "PeriodicBilling", billing.id, {"batch_id": (billing.batch_id, target.id)},
                               "MOVE", batch_id=billing.batch_id, billing_id=billing.id, account_id=billing.account_id)
        await models.PeriodicBilling.filter(id__in=[b.id for b in rows]).update(batch_id=target.id)
        await models.Finding.filter(billing_id__in=[b.id for b in rows]).update(batch_id=target.id)
        moved = Counter(b.batch_id for b in rows if b.batch_id != target.id)
        for from_batch_id in sorted(moved, key=lambda b: b or 0):
            await events.billings_moved(moved[from_batch_id], from_batch_id, target.id, viewer)
    return len(rows)


def billing_filter(query: QuerySet, statuses: list[BillingStatus] | None, account_id: int | None,
                   contract_id: int | None, search: str | None) -> QuerySet:
    """The filter of a billing list and of a mass update: the same words select the same billings."""
    if statuses:
        query = query.filter(status__in=statuses)
    if account_id is not None:
        query = query.filter(account_id=account_id)
    if contract_id is not None:
        query = query.filter(contract_id=contract_id)
    if search:
        query = query.filter(Q(account__number__icontains=search) | Q(contract__number__icontains=search))
    return query



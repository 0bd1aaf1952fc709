"""Billing dispositions (docs/REVIEW.md): the one place that says which status a billing may move to, and why not.

`refusal()` is the rule; `allowed_transitions()` asks it for every target, so what the API offers and what it
enforces can never disagree. Single updates and mass updates both go through `refusal()`.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise.queryset import QuerySet

import models
from domain import approvals
from domain.access import Viewer
from domain.errors import ErrorCode, Problem
from models import reads
from models.enums import BatchStatus, BillingStatus, Permission

S = BillingStatus

# Where a user may move a billing from each status (the ordering rules of REJECTED come on top).
MOVES: dict[BillingStatus, frozenset[BillingStatus]] = {
    S.NEW: frozenset({S.CANCELLED, S.HOLD, S.REJECTED, S.APPROVAL_IN_PROCESS, S.APPROVED}),
    S.HOLD: frozenset({S.NEW, S.CANCELLED, S.REJECTED, S.APPROVAL_IN_PROCESS, S.APPROVED}),
    S.APPROVAL_IN_PROCESS: frozenset({S.NEW, S.HOLD, S.CANCELLED, S.REJECTED, S.APPROVED}),
    S.APPROVED: frozenset({S.NEW, S.HOLD, S.CANCELLED, S.REJECTED, S.APPROVAL_IN_PROCESS}),
    S.CANCELLED: frozenset({S.NEW}),
    S.REJECTED_WITH_ERRORS: frozenset({S.REJECTED, S.CANCELLED}),
    S.REJECTED: frozenset(),  # final
    S.INVOICED: frozenset(),  # set by posting only
}
USER_TARGETS = (S.NEW, S.CANCELLED, S.HOLD, S.REJECTED, S.APPROVAL_IN_PROCESS, S.APPROVED)
OPEN_BATCH = (BatchStatus.PROCESSED, BatchStatus.FAILED)
DELETABLE = (S.NEW, S.CANCELLED, S.REJECTED)


@dataclass(frozen=True)
class Sibling:
    """Another billing of the same contract: when it starts and where it stands."""

    period_start: date
    status: BillingStatus


@dataclass(frozen=True)
class Subject:
    """What the rules need to know about one billing."""

    id: int
    status: BillingStatus
    batch_status: BatchStatus | None  # None: a HOLD billing waiting for its account's next batch
    period_start: date
    earlier: tuple[Sibling, ...]
    later: tuple[Sibling, ...]
    fully_credited: bool = False  # an INVOICED billing whose invoice is credited in full (re-billing)
    # An approval rule applies (docs/APPROVALS.md): APPROVED only by a user other than `last_edited_by`.
    four_eyes: bool = False
    last_edited_by: int | None = None
    version: int = 1  # the row version these facts were read at (a mass update changes only that version)


def refusal(viewer: Viewer, subject: Subject, target: BillingStatus) -> Problem | None:
    """Why `viewer` may not move this billing to `target`, or None when it may."""
    if subject.status == S.INVOICED:
        return _rebill_refusal(viewer, subject, target)
    if subject.batch_status not in OPEN_BATCH:
        return Problem(ErrorCode.BATCH_LOCKED, f"{_where(subject)}: its billings cannot change now.", "status")
    if not viewer.can(Permission.BILLING_ACCESS):
        return Problem(ErrorCode.PERMISSION_DENIED, "Dispositions need the BILLING_ACCESS permission.", "status")
    if target == S.INVOICED:
        return Problem(ErrorCode.INVALID_TRANSITION, "INVOICED is set by posting, never by a user.", "status")
    if target not in MOVES[subject.status]:
        reason = {S.REJECTED: "REJECTED is final", S.INVOICED: "the billing is invoiced",
                  S.REJECTED_WITH_ERRORS: "a billing rejected with errors can only be rejected or cancelled"}
        why = reason.get(subject.status, f"{subject.status.value} cannot become {target.value}")
        return Problem(ErrorCode.INVALID_TRANSITION, f"Not allowed: {why}.", "status")
    if target == S.APPROVED and not viewer.can(Permission.BILLING_APPROVE):
        return Problem(ErrorCode.PERMISSION_DENIED, "Approving needs the BILLING_APPROVE permission.", "status")
    if target == S.APPROVED and subject.four_eyes and subject.last_edited_by == viewer.user_id:
        return approvals.four_eyes_problem()
    if target == S.REJECTED:
        if any(s.status == S.NEW for s in subject.earlier):
            return Problem(ErrorCode.EARLIER_BILLING_NOT_DISPOSITIONED,
                           "An earlier billing of this contract is still NEW: disposition it first.", "status")
        if any(s.status != S.REJECTED for s in subject.later):
            return Problem(ErrorCode.LATER_BILLING_EXISTS,
                           "A later billing of this contract exists and is not rejected.", "status")
    return None


def _rebill_refusal(viewer: Viewer, subject: Subject, target: BillingStatus) -> Problem | None:
    """A posted billing may only become REJECTED, and only once its invoice is credited in full (credit,
    reject, re-run: the next processing bills the period again, docs/CREDIT_NOTES.md)."""
    if not viewer.can(Permission.BILLING_ACCESS):
        return Problem(ErrorCode.PERMISSION_DENIED, "Dispositions need the BILLING_ACCESS permission.", "status")
    if target != S.REJECTED and subject.batch_status not in OPEN_BATCH:
        return Problem(ErrorCode.BATCH_LOCKED, f"{_where(subject)}: its billings cannot change now (an invoiced "
                       "billing may only be REJECTED, once its invoice is fully credited).", "status")
    if target != S.REJECTED:
        return Problem(ErrorCode.INVALID_TRANSITION, "Not allowed: the billing is invoiced (only REJECTED, once "
                       "its invoice is fully credited).", "status")
    if not subject.fully_credited:
        return Problem(ErrorCode.INVOICE_NOT_CREDITED, "The billing is invoiced: credit its invoice in full (a "
                       "credit note) before rejecting it.", "status")
    if any(s.status != S.REJECTED for s in subject.later):
        return Problem(ErrorCode.LATER_BILLING_EXISTS,
                       "A later billing of this contract exists and is not rejected.", "status")
    return None


def _where(subject: Subject) -> str:
    if subject.batch_status is None:
        return "The billing waits outside any batch until the next batch of its account adopts it"
    return f"The batch is {subject.batch_status.value}"


def allowed_transitions(viewer: Viewer, subject: Subject) -> list[BillingStatus]:
    """Every status the viewer may move this billing to now (asked of `refusal`, target by target)."""
    return [target for target in USER_TARGETS if target != subject.status and refusal(viewer, subject, target) is None]


def deletion_refusal(subject: Subject) -> Problem | None:
    """Delete (undo) a billing: only NEW, CANCELLED or REJECTED ones, and not under a later unrejected billing."""
    if subject.batch_status not in OPEN_BATCH:
        return Problem(ErrorCode.BATCH_LOCKED, f"{_where(subject)}.", "id")
    if subject.status not in DELETABLE:
        return Problem(ErrorCode.INVALID_STATUS,
                       f"A {subject.status.value} billing cannot be deleted (NEW, CANCELLED or REJECTED only).", "id")
    if any(s.status != S.REJECTED for s in subject.later):
        return Problem(ErrorCode.LATER_BILLING_EXISTS,
                       "A later billing of this contract exists and is not rejected.", "id")
    return None


_STATUS = {s.value: s for s in BillingStatus}
_BATCH_STATUS = {s.value: s for s in BatchStatus}


async def subjects(billings: QuerySet) -> dict[int, Subject]:
    """What the rules need for these billings (a query, so a whole batch works), in four queries whatever their
    number: the billings, every billing of their contracts (`models.reads.subject_rows`), the invoices of the
    invoiced ones, the approval rules. Statuses are converted once per row by dict look-up."""
    read = await reads.subject_rows(billings)
    by_contract: dict[int, list[tuple[int, date, BillingStatus, Decimal]]] = defaultdict(list)
    for bid, contract_id, start, status, amount in read.siblings:
        by_contract[contract_id].append((bid, start, _STATUS[status], amount))
    rules = await approvals.load()
    invoiced = [r[0] for r in read.billings if r[1] == S.INVOICED.value]
    credited = {billing_id for billing_id, amount, amount_credited in await models.Invoice.filter(
        billing_id__in=invoiced).values_list("billing_id", "amount", "amount_credited")
                if amount > 0 and amount_credited >= amount} if invoiced else set()
    needs_four_eyes = rules.billing_needs_four_eyes if rules.billing_above or rules.change_above_percent is not None \
        else None
    found = {}
    for bid, status, contract_id, start, batch_status, amount, currency, editor, version in read.billings:
        siblings = [s for s in by_contract.get(contract_id, ()) if s[0] != bid]
        if siblings:
            earlier = tuple(Sibling(s, st) for _, s, st, _ in siblings if s < start)
            later = tuple(Sibling(s, st) for _, s, st, _ in siblings if s > start)
        else:  # the usual case: the contract's only billing
            earlier = later = ()
        four_eyes = False
        if needs_four_eyes is not None:
            previous = max((s for s in siblings if s[1] < start and s[2] != S.REJECTED),
                           key=lambda s: (s[1], s[0]), default=None)
            four_eyes = needs_four_eyes(amount, currency, previous[3] if previous else None)
        found[bid] = Subject(
            id=bid, status=_STATUS[status], period_start=start,
            batch_status=_BATCH_STATUS[batch_status] if batch_status else None,
            earlier=earlier, later=later, four_eyes=four_eyes,
            last_edited_by=editor, fully_credited=bid in credited, version=version)
    return found

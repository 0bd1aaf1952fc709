"""Four-eyes approval rules (docs/APPROVALS.md): company-level rules an admin sets, which the dispositions and
posting apply.

- `BILLING_AMOUNT_ABOVE` (an amount in a currency): a billing of that currency whose amount is above it
- `CHANGE_FROM_PREVIOUS_ABOVE_PERCENT` (a percentage, no currency): a billing whose amount differs from the
  previous billing of its contract (the latest earlier period not rejected) by more than that share of it

need `APPROVED` from a user other than the billing's last editor (`FOUR_EYES_REQUIRED`).

- `BATCH_TOTAL_ABOVE` (an amount in a currency): posting a batch of that currency whose APPROVED total is above
  it needs a second user with BILLING_SEND_EXPORT to confirm (`postBillingBatch` records the request,
  `confirmPostBillingBatch` by another user posts).

Rules are read once per check (`load`) and applied to whole sets of billings in memory: a page of a grid or a
whole batch costs one more query.
"""

from dataclasses import dataclass, field
from decimal import Decimal

import models
from domain import audit, events
from domain.access import Viewer, get_visible, require
from domain.currencies import currency_problem
from domain.errors import ErrorCode, Problem, raise_if
from domain.money import money_problems
from domain.transactions import in_transaction
from models.enums import ApprovalRuleKind, Change, Permission

K = ApprovalRuleKind
AMOUNT_KINDS = (K.BILLING_AMOUNT_ABOVE, K.BATCH_TOTAL_ABOVE)
HUNDRED = Decimal(100)
MAX_PERCENT = Decimal(100_000)


@dataclass(frozen=True)
class Rules:
    """The rules in force, reduced to the strictest threshold of each kind (and currency)."""

    billing_above: dict[str, Decimal] = field(default_factory=dict)
    change_above_percent: Decimal | None = None
    batch_above: dict[str, Decimal] = field(default_factory=dict)

    def billing_needs_four_eyes(self, amount: Decimal, currency: str, previous: Decimal | None) -> bool:
        """Whether a billing of `amount` (its previous one on the contract: `previous`) needs a second user."""
        limit = self.billing_above.get(currency)
        if limit is not None and amount > limit:
            return True
        if self.change_above_percent is None or previous is None:
            return False
        if previous == 0:
            return amount != 0
        return abs(amount - previous) * HUNDRED > self.change_above_percent * abs(previous)

    def batch_limit(self, currency: str) -> Decimal | None:
        return self.batch_above.get(currency)


async def load() -> Rules:
    """The rules in force (one query)."""
    billing_above: dict[str, Decimal] = {}
    batch_above: dict[str, Decimal] = {}
    percent: Decimal | None = None
    for kind, threshold, currency in await models.ApprovalRule.all().values_list("kind", "threshold", "currency"):
        if kind == K.CHANGE_FROM_PREVIOUS_ABOVE_PERCENT:
            percent = threshold if percent is None else min(percent, threshold)
            continue
        target = billing_above if kind == K.BILLING_AMOUNT_ABOVE else batch_above
        target[currency] = min(target.get(currency, threshold), threshold)
    return Rules(billing_above, percent, batch_above)


def four_eyes_problem() -> Problem:
    return Problem(ErrorCode.FOUR_EYES_REQUIRED, "An approval rule applies to this billing: it must be approved "
                   "by a user other than its last editor.", "status")


# ---------------------------------------------------------------- managing the rules (ADMIN)


def _problems(kind: ApprovalRuleKind, threshold: Decimal, currency: str | None) -> list[Problem]:
    if kind in AMOUNT_KINDS:
        if currency is None:
            return [Problem(ErrorCode.INVALID_INPUT, "An amount rule names its currency.", "currency")]
        if (problem := currency_problem(currency)) is not None:
            return [problem]
        return money_problems(threshold, currency, "threshold", allow_negative=False)
    if currency is not None:
        return [Problem(ErrorCode.INVALID_INPUT, "A percentage rule has no currency.", "currency")]
    if not threshold.is_finite() or not 0 <= threshold <= MAX_PERCENT or threshold != round(threshold, 2):
        return [Problem(ErrorCode.INVALID_INPUT, f"threshold must be a percentage from 0 to {MAX_PERCENT}, with "
                        "at most 2 decimals.", "threshold")]
    return []


async def create_rule(viewer: Viewer, kind: ApprovalRuleKind, threshold: Decimal,
                      currency: str | None) -> models.ApprovalRule:
    require(viewer, Permission.ADMIN)
    raise_if(_problems(kind, threshold, currency))
    async with in_transaction():
        rule = await models.ApprovalRule.create(kind=kind, threshold=threshold, currency=currency,
                                                created_by_id=viewer.user_id)
        await audit.record(viewer, "ApprovalRule", rule.id, {"kind": (None, kind), "threshold": (None, threshold),
                                                             "currency": (None, currency)}, "CREATE")
        await events.approval_rule_changed(rule, Change.CREATED, viewer)
    return rule


async def update_rule(viewer: Viewer, rule_id: int, threshold: Decimal) -> models.ApprovalRule:
    """A new threshold (the kind and currency stay: delete the rule and create another to change them)."""
    require(viewer, Permission.ADMIN)
    rule = await get_visible(viewer, models.ApprovalRule, rule_id, "Approval rule")
    raise_if(_problems(rule.kind, threshold, rule.currency))
    async with in_transaction():
        await audit.record(viewer, "ApprovalRule", rule.id, {"threshold": (rule.threshold, threshold)}, "UPDATE")
        rule.threshold = threshold
        await rule.save(update_fields=["threshold", "updated_at"])
        await events.approval_rule_changed(rule, Change.UPDATED, viewer)
    return rule


async def delete_rule(viewer: Viewer, rule_id: int) -> int:
    require(viewer, Permission.ADMIN)
    rule = await get_visible(viewer, models.ApprovalRule, rule_id, "Approval rule")
    async with in_transaction():
        await audit.record(viewer, "ApprovalRule", rule.id, {"threshold": (rule.threshold, None)}, "DELETE")
        await events.approval_rule_changed(rule, Change.DELETED, viewer)
        await rule.delete()
    return rule.id


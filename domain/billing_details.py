"""Detail maintenance, the "grid" (docs/REVIEW.md): billing lines, their revenue distributions, misc charges,
comments and the invoice-date override — while the billing is not approved or final.

Amounts are amounts of the billing's account currency (a JPY line has no decimals). Every edit recalculates
the billing's tax line (rounded half-up to that currency's minor unit) and amount (a total is the sum of its
rounded lines), bumps the billing's version (`version = version + 1`, in SQL), and writes audit rows and a
batch event in the same transaction. That transaction first locks the billing row and checks again that the
billing is editable, its batch open and its version the one the edit was checked against, so edits and
dispositions of one billing serialize.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

import models
from domain import audit, batches, clock, events, periods, trace, validation
from domain.access import Viewer, get_visible, require
from domain.accounts import currency_of
from domain.contracts import revenue_account
from domain.currencies import currency_problem
from domain.dispositions import OPEN_BATCH
from domain.errors import DomainError, ErrorCode, Problem, raise_if
from domain.money import money_problems, to_money
from domain.transactions import in_transaction
from models import locks
from models.enums import BillingEdit, BillingStatus, DetailKind, Permission

EDITABLE = (BillingStatus.NEW, BillingStatus.HOLD, BillingStatus.APPROVAL_IN_PROCESS)
MAX_DAYS_BILLED = 366  # a line without a period of its own (a misc charge) still bills at most a year


@dataclass(frozen=True)
class Split:
    """One requested revenue distribution of a line."""

    revenue_account_id: int
    amount: Decimal


async def _editable_billing(viewer: Viewer, billing_id: int, field: str = "billingId") -> models.PeriodicBilling:
    require(viewer, Permission.BILLING_ACCESS)
    billing = await get_visible(viewer, models.PeriodicBilling, billing_id, "Billing", field)
    batch = await models.BillingBatch.get_or_none(id=billing.batch_id) if billing.batch_id else None
    if batch is None or batch.status not in OPEN_BATCH:
        where = f"The batch is {batch.status.value}" if batch else "The billing waits for its account's next batch"
        raise DomainError(ErrorCode.BATCH_LOCKED, f"{where}.", field)
    if billing.status not in EDITABLE:
        raise DomainError(ErrorCode.INVALID_STATUS,
                          f"A {billing.status.value} billing can no longer be edited.", field)
    if (problem := currency_problem(await currency_of(billing.account_id), field)) is not None:
        raise DomainError.of([problem])  # a currency withdrawn since: its amounts cannot be checked or rounded
    return billing


async def _lock_editable(tx: BaseDBAsyncClient, seen: models.PeriodicBilling, field: str) -> models.PeriodicBilling:
    """First thing inside an edit's transaction: the batch share-locked and still open, the billing row locked,
    still editable and unchanged since `seen` was read. So an edit and a disposition of the same billing
    serialize: an edit never lands on a billing approved meanwhile, and an approval never misses an edit."""
    await batches.hold_open(seen.batch_id, field)
    billing = await locks.billing(tx, seen.id)
    if billing is None:
        raise DomainError(ErrorCode.NOT_FOUND, "Billing not found.", field)
    if billing.status not in EDITABLE:
        raise DomainError(ErrorCode.INVALID_STATUS, f"A {billing.status.value} billing can no longer be edited.",
                          field)
    if billing.version != seen.version or billing.batch_id != seen.batch_id:
        raise DomainError(ErrorCode.CONCURRENT_UPDATE, "The billing changed meanwhile: reload it and edit again.",
                          field)
    return billing


async def _detail(viewer: Viewer, detail_id: int) -> tuple[models.BillingDetail, models.PeriodicBilling]:
    require(viewer, Permission.BILLING_ACCESS)  # before the lookup: no permission is not "not found"
    detail = await get_visible(viewer, models.BillingDetail, detail_id, "Billing detail", "detailId")
    return detail, await _editable_billing(viewer, detail.billing_id, "detailId")


async def _check_splits(splits: list[Split], line_amount: Decimal, currency: str) -> None:
    for split in splits:
        raise_if(money_problems(split.amount, currency, "distributions"))
    if sum((s.amount for s in splits), Decimal(0)) != line_amount:
        raise DomainError(ErrorCode.INVALID_INPUT, f"Distributions must sum to the line ({line_amount}).",
                          "distributions")
    if len({s.revenue_account_id for s in splits}) != len(splits):
        raise DomainError(ErrorCode.INVALID_INPUT, "Name each revenue account once.", "distributions")
    for split in splits:
        await revenue_account(split.revenue_account_id, "distributions")


async def _replace_distributions(viewer: Viewer, billing: models.PeriodicBilling, detail: models.BillingDetail,
                                 splits: list[Split]) -> None:
    before = await models.RevenueDistribution.filter(detail_id=detail.id).values_list("revenue_account_id", "amount")
    await models.RevenueDistribution.filter(detail_id=detail.id).delete()
    await models.RevenueDistribution.bulk_create([
        models.RevenueDistribution(detail_id=detail.id, revenue_account_id=s.revenue_account_id, amount=s.amount)
        for s in splits])
    after = [(s.revenue_account_id, s.amount) for s in splits]
    await audit.record(viewer, "RevenueDistribution", detail.id,
                       {"distributions": (_splits_text(before), _splits_text(after))}, "EDIT",
                       batch_id=billing.batch_id, billing_id=billing.id)


def _splits_text(splits: list[tuple[int, Decimal]]) -> str:
    return ", ".join(f"{account}:{amount}" for account, amount in sorted(splits))


async def update_detail(viewer: Viewer, detail_id: int, changes: dict) -> models.BillingDetail:
    """Edit a line: amount, days billed, revenue account, distributions (which must sum to the line)."""
    detail, billing = await _detail(viewer, detail_id)
    if detail.kind == DetailKind.TAX:
        raise DomainError(ErrorCode.INVALID_INPUT, "The tax line follows the other lines; edit those.", "detailId")
    amount = changes.get("billing_amount", detail.amount)
    currency = await currency_of(billing.account_id)
    problems = money_problems(amount, currency, "billingAmount")
    days = changes.get("days_billed", detail.days_billed)
    problems += validation.int_problems(days, "daysBilled", 0, detail.days_in_period or MAX_DAYS_BILLED)
    raise_if(problems)
    splits = [Split(**s) for s in changes["distributions"]] if changes.get("distributions") is not None else None
    account = detail.revenue_account_id
    if "revenue_account_id" in changes:
        if changes["revenue_account_id"] is None:
            raise DomainError(ErrorCode.INVALID_INPUT, "A line keeps a revenue account: give one, or leave the "
                              "field out.", "revenueAccountId")
        account = (await revenue_account(changes["revenue_account_id"])).id
    current = await models.RevenueDistribution.filter(detail_id=detail.id).values_list("revenue_account_id", "amount")
    if splits is None and (amount != detail.amount or account != detail.revenue_account_id):
        if len(current) > 1:
            raise DomainError(ErrorCode.INVALID_INPUT, "This line is split: give its distributions too.",
                              "distributions")
        splits = [Split(account, amount)] if account is not None else []
    if splits is not None:
        await _check_splits(splits, amount, currency)
    async with in_transaction() as tx:
        billing = await _lock_editable(tx, billing, "detailId")
        before = {"amount": detail.amount, "days_billed": detail.days_billed,
                  "revenue_account_id": detail.revenue_account_id}
        if (amount, days) != (detail.amount, detail.days_billed):  # the arithmetic it was priced with stays
            detail.trace = trace.pinned(detail, billing)
        detail.amount, detail.days_billed, detail.revenue_account_id = amount, days, account
        await detail.save(update_fields=["amount", "days_billed", "revenue_account_id", "trace"])
        await audit.record(viewer, "BillingDetail", detail.id,
                           {k: (v, getattr(detail, k)) for k, v in before.items()}, "EDIT",
                           batch_id=billing.batch_id, billing_id=billing.id)
        if splits is not None:
            await _replace_distributions(viewer, billing, detail, splits)
        await recalculate(viewer, billing, BillingEdit.LINE_CHANGED)
    return await models.BillingDetail.get(id=detail.id)


async def add_misc_charge(viewer: Viewer, billing_id: int, description: str, amount: Decimal,
                          revenue_account_id: int) -> models.BillingDetail:
    """Add a miscellaneous charge line (before the tax line)."""
    billing = await _editable_billing(viewer, billing_id)
    problems = money_problems(amount, await currency_of(billing.account_id), "amount")
    if not description.strip():
        problems.append(Problem(ErrorCode.INVALID_INPUT, "Describe the charge.", "description"))
    raise_if(problems + validation.text_problems(models.BillingDetail, {"description": description}))
    account = await revenue_account(revenue_account_id)
    async with in_transaction() as tx:
        billing = await _lock_editable(tx, billing, "billingId")
        position = await models.BillingDetail.filter(billing_id=billing.id).exclude(kind=DetailKind.TAX).count()
        await models.BillingDetail.filter(billing_id=billing.id, kind=DetailKind.TAX).update(position=position + 1)
        detail = await models.BillingDetail.create(
            billing_id=billing.id, position=position, kind=DetailKind.MISC, description=description.strip(),
            amount=amount, revenue_account=account,
            trace={"why": f"Miscellaneous charge added by {viewer.label}", "formula": f"{amount}"})
        await models.RevenueDistribution.create(detail_id=detail.id, revenue_account=account, amount=amount)
        await audit.record(viewer, "BillingDetail", detail.id, {"amount": (None, amount),
                                                                "description": (None, description.strip())},
                           "ADD_MISC", batch_id=billing.batch_id, billing_id=billing.id)
        await recalculate(viewer, billing, BillingEdit.MISC_CHARGE_ADDED)
    return detail


async def remove_misc_charge(viewer: Viewer, detail_id: int) -> int:
    detail, billing = await _detail(viewer, detail_id)
    if detail.kind != DetailKind.MISC:
        raise DomainError(ErrorCode.INVALID_INPUT, "Only miscellaneous charges can be removed.", "detailId")
    async with in_transaction() as tx:
        billing = await _lock_editable(tx, billing, "detailId")
        await audit.record(viewer, "BillingDetail", detail.id, {"amount": (detail.amount, None),
                                                                "description": (detail.description, None)},
                           "REMOVE_MISC", batch_id=billing.batch_id, billing_id=billing.id)
        await detail.delete()
        await recalculate(viewer, billing, BillingEdit.MISC_CHARGE_REMOVED)
    return detail.id


async def update_billing(viewer: Viewer, billing_id: int, changes: dict) -> models.PeriodicBilling:
    """Comments (internal, external) and the invoice-date override (in an open period, or null)."""
    billing = await _editable_billing(viewer, billing_id, "id")
    validation.check_text(models.PeriodicBilling, changes)
    override: date | None = changes.get("invoice_date_override", billing.invoice_date_override)
    if "invoice_date_override" in changes and override is not None and not await periods.is_open(override):
        raise DomainError(ErrorCode.PERIOD_CLOSED, f"{override} is not in an open accounting period.",
                          "invoiceDateOverride")
    async with in_transaction() as tx:
        billing = await _lock_editable(tx, billing, "id")
        before = {k: getattr(billing, k) for k in changes}
        values = {key: value if value is not None or key == "invoice_date_override" else ""
                  for key, value in changes.items()}
        await models.PeriodicBilling.filter(id=billing.id).update(**values, version=F("version") + 1,
                                                                  updated_at=clock.now(),
                                                                  last_edited_by_id=viewer.user_id)
        await audit.record(viewer, "PeriodicBilling", billing.id, {k: (v, values[k]) for k, v in before.items()},
                           "EDIT", batch_id=billing.batch_id, billing_id=billing.id)
        await events.billing_edited(billing, BillingEdit.BILLING_CHANGED, billing.amount, viewer)
    return await models.PeriodicBilling.get(id=billing.id)


async def recalculate(viewer: Viewer, billing: models.PeriodicBilling, edit: BillingEdit) -> None:
    """Tax line = rate times the other lines (half-up to the currency's minor unit), amount = sum of the lines;
    version + 1; audited and announced as `edit`. Call it inside the edit's transaction, with the billing locked
    (`_lock_editable`)."""
    details = await models.BillingDetail.filter(billing_id=billing.id)
    base = sum((d.amount for d in details if d.kind != DetailKind.TAX), Decimal(0))
    rate = await models.TaxRate.get_or_none(location=billing.tax_location)
    currency = await currency_of(billing.account_id)
    for tax in (d for d in details if d.kind == DetailKind.TAX):
        new_tax = to_money(base * rate.rate, currency) if rate is not None else tax.amount
        if new_tax != tax.amount:  # the formula and reason compose from the base (written out on old rows)
            tax.trace = {**tax.trace, "base": str(base)}
            if "formula" in tax.trace:
                tax.trace["formula"] = f"{base} \u00d7 {rate.rate if rate else '?'} = {new_tax}"
            await models.BillingDetail.filter(id=tax.id).update(amount=new_tax, trace=tax.trace)
            await models.RevenueDistribution.filter(detail_id=tax.id).update(amount=new_tax)
            tax.amount = new_tax
    total = sum((d.amount for d in details), Decimal(0))
    before = billing.amount
    await models.PeriodicBilling.filter(id=billing.id).update(amount=total, version=F("version") + 1,
                                                              updated_at=clock.now(), last_edited_by_id=viewer.user_id)
    billing.amount, billing.version = total, billing.version + 1
    await audit.record(viewer, "PeriodicBilling", billing.id, {"amount": (before, total)}, "RECALCULATE",
                       batch_id=billing.batch_id, billing_id=billing.id)
    await events.billing_edited(billing, edit, total, viewer)

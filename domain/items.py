"""Billable items that are not recurring: work orders, manual charges, service changes, invoice adjustments.

An item is billed once: processing sets its `billed_on`; a billed item can no longer be edited (reversing the
batch, or deleting the billing, returns it to unbilled).
"""

from decimal import Decimal
from typing import TypeVar

import models
from domain import clock, validation
from domain.access import Viewer, get_visible, require
from domain.accounts import currency_of
from domain.contracts import contract_currency, revenue_account
from domain.errors import DomainError, ErrorCode, Problem, raise_if
from domain.money import money_problems
from models.enums import Permission

BillableItem = models.WorkOrder | models.ManualCharge | models.ServiceChange | models.InvoiceAdjustment
M = TypeVar("M", bound=BillableItem)


def _amount_problems(value: Decimal | None, currency: str, field: str, *, allow_zero: bool = True,
                     allow_negative: bool = True) -> list[Problem]:
    """Amounts must be money of the account's currency (no decimals for JPY); zero or negative ones are allowed
    here and flagged by pre-billing analysis."""
    return money_problems(value, currency, field, allow_zero=allow_zero, allow_negative=allow_negative)


async def _item_currency(item: BillableItem) -> str:
    """The currency an item is billed in: its account's (a service change's through its charge's contract)."""
    if isinstance(item, models.ServiceChange):
        charge = await models.RecurringCharge.get(id=item.charge_id)
        return await contract_currency(charge.contract_id)
    return await currency_of(item.account_id)


def _unbilled(item: BillableItem, what: str) -> None:
    if item.billed_on_id is not None:
        raise DomainError(ErrorCode.INVALID_STATUS, f"The {what} is billed already and can no longer change.", "id")


async def create_work_order(viewer: Viewer, data: dict) -> models.WorkOrder:
    require(viewer, Permission.BILLING_ACCESS)
    account = await get_visible(viewer, models.Account, data.pop("account_id"), "Account", "accountId")
    raise_if(_amount_problems(data.get("rate"), account.currency, "rate", allow_negative=False)
             + validation.decimal_problems(models.WorkOrder, "quantity", data.get("quantity"))
             + validation.text_problems(models.WorkOrder, data))
    if (charge_id := data.pop("charge_id", None)) is not None:
        charge = await get_visible(viewer, models.RecurringCharge, charge_id, "Recurring charge", "chargeId")
        if (await charge.contract).account_id != account.id:
            raise DomainError(ErrorCode.INVALID_INPUT, "The charge belongs to another account.", "chargeId")
        data["charge_id"], data["contract_id"] = charge.id, charge.contract_id
    data["revenue_account"] = await revenue_account(data.pop("revenue_account_id", None))
    if data.get("quantity") is None:
        data.pop("quantity", None)
    return await models.WorkOrder.create(account=account, **data)


async def _update_unbilled(viewer: Viewer, model: type[M], item_id: int, what: str, changes: dict,
                           amount_field: tuple[str, str] | None, allow_negative: bool = True) -> M:
    """The one way an unbilled item changes: found through the viewer's scope, refused once billed, amounts
    and revenue account checked, then saved."""
    require(viewer, Permission.BILLING_ACCESS)
    item = await get_visible(viewer, model, item_id, what.capitalize())
    _unbilled(item, what)
    raise_if(validation.text_problems(model, changes)
             + validation.decimal_problems(model, "quantity", changes.get("quantity")))
    if amount_field is not None:
        name, field = amount_field
        if changes.get(name) is not None:
            raise_if(_amount_problems(changes[name], await _item_currency(item), field,
                                      allow_negative=allow_negative))
    if "revenue_account_id" in changes:
        item.revenue_account = await revenue_account(changes.pop("revenue_account_id"))
    for key, value in changes.items():
        setattr(item, key, value)
    await item.save()
    return item


async def update_work_order(viewer: Viewer, work_order_id: int, changes: dict) -> models.WorkOrder:
    """Complete a work order, set its rate, quantity or description (until it is billed)."""
    return await _update_unbilled(viewer, models.WorkOrder, work_order_id, "work order", changes,
                                  ("rate", "rate"), allow_negative=False)


async def create_manual_charge(viewer: Viewer, data: dict) -> models.ManualCharge:
    require(viewer, Permission.BILLING_ACCESS)
    account = await get_visible(viewer, models.Account, data.pop("account_id"), "Account", "accountId")
    raise_if(_amount_problems(data["amount"], account.currency, "amount")
             + validation.text_problems(models.ManualCharge, data))
    data["revenue_account"] = await revenue_account(data.pop("revenue_account_id", None))
    return await models.ManualCharge.create(account=account, created_by_id=viewer.user_id, **data)


async def update_manual_charge(viewer: Viewer, charge_id: int, changes: dict) -> models.ManualCharge:
    return await _update_unbilled(viewer, models.ManualCharge, charge_id, "manual charge", changes,
                                  ("amount", "amount"))


async def create_service_change(viewer: Viewer, data: dict) -> models.ServiceChange:
    """A rate change on a recurring charge from a date (zero or implausible amounts are analysis findings)."""
    require(viewer, Permission.BILLING_ACCESS)
    charge = await get_visible(viewer, models.RecurringCharge, data.pop("charge_id"), "Recurring charge",
                               "chargeId")
    raise_if(_amount_problems(data["new_price"], await contract_currency(charge.contract_id), "newPrice",
                              allow_negative=False) + validation.text_problems(models.ServiceChange, data))
    return await models.ServiceChange.create(charge=charge, created_by_id=viewer.user_id, **data)


async def update_service_change(viewer: Viewer, change_id: int, changes: dict) -> models.ServiceChange:
    return await _update_unbilled(viewer, models.ServiceChange, change_id, "service change", changes,
                                  ("new_price", "newPrice"), allow_negative=False)


async def create_adjustment(viewer: Viewer, data: dict) -> models.InvoiceAdjustment:
    """A credit or debit against an account, billed once approved."""
    require(viewer, Permission.BILLING_ACCESS)
    account = await get_visible(viewer, models.Account, data.pop("account_id"), "Account", "accountId")
    raise_if(_amount_problems(data["amount"], account.currency, "amount", allow_zero=False, allow_negative=False)
             + validation.text_problems(models.InvoiceAdjustment, data))
    data["revenue_account"] = await revenue_account(data.pop("revenue_account_id", None))
    return await models.InvoiceAdjustment.create(account=account, **data)


async def approve_adjustment(viewer: Viewer, adjustment_id: int) -> models.InvoiceAdjustment:
    """Approve an adjustment (BILLING_APPROVE): only approved adjustments are billed."""
    require(viewer, Permission.BILLING_APPROVE)
    adjustment = await get_visible(viewer, models.InvoiceAdjustment, adjustment_id, "Invoice adjustment")
    _unbilled(adjustment, "adjustment")
    if adjustment.approved:
        raise DomainError(ErrorCode.INVALID_STATUS, "The adjustment is approved already.", "id")
    adjustment.approved, adjustment.approved_by_id, adjustment.approved_at = True, viewer.user_id, clock.now()
    await adjustment.save(update_fields=["approved", "approved_by_id", "approved_at"])
    return adjustment

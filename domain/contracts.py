"""Sales contracts, their recurring charges and date-effective prices."""

from datetime import date
from decimal import Decimal
from typing import cast, overload

import models
from domain import validation
from domain.access import Viewer, get_visible, require
from domain.errors import DomainError, ErrorCode, Problem, raise_if
from domain.money import money_problems
from models.enums import LedgerAccountKind, Permission


def _price_problems(price: Decimal | None, currency: str, field: str = "periodicPrice") -> list[Problem]:
    """A price is a non-negative amount of the account's currency (a JPY price has no decimals)."""
    return money_problems(price, currency, field, allow_negative=False)


async def contract_currency(contract_id: int) -> str:
    """The currency a contract bills in: its account's."""
    return cast(str, await models.SalesContract.get(id=contract_id).values_list("account__currency", flat=True))


@overload
async def revenue_account(account_id: int, field: str = ...) -> models.LedgerAccount: ...


@overload
async def revenue_account(account_id: int | None, field: str = ...) -> models.LedgerAccount | None: ...


async def revenue_account(account_id: int | None, field: str = "revenueAccountId") -> models.LedgerAccount | None:
    """The active REVENUE ledger account with this id, or UNKNOWN_REVENUE_ACCOUNT."""
    if account_id is None:
        return None
    row = await models.LedgerAccount.get_or_none(id=account_id, kind=LedgerAccountKind.REVENUE, active=True)
    if row is None:
        raise DomainError(ErrorCode.UNKNOWN_REVENUE_ACCOUNT, "No active revenue account with this id.", field)
    return row


def _check_dates(start: date, end: date | None, start_field: str, end_field: str) -> list[Problem]:
    if end is not None and end < start:
        return [Problem(ErrorCode.INVALID_INPUT, f"{end_field} is before {start_field}.", end_field)]
    return []


async def create_contract(viewer: Viewer, data: dict) -> models.SalesContract:
    require(viewer, Permission.BILLING_ACCESS)
    account = await get_visible(viewer, models.Account, data.pop("account_id"), "Account", "accountId")
    data.setdefault("billing_anchor", data["start_date"])
    problems = _check_dates(data["start_date"], data.get("end_date"), "startDate", "endDate")
    if not data["number"].strip():
        problems.append(Problem(ErrorCode.INVALID_INPUT, "number must not be empty.", "number"))
    raise_if(problems + validation.text_problems(models.SalesContract, data))
    if await models.SalesContract.exists(number=data["number"]):
        raise DomainError(ErrorCode.DUPLICATE, f"Contract number {data['number']} is taken.", "number")
    return await models.SalesContract.create(account=account, **data)


async def update_contract(viewer: Viewer, contract_id: int, changes: dict) -> models.SalesContract:
    require(viewer, Permission.BILLING_ACCESS)
    contract = await get_visible(viewer, models.SalesContract, contract_id, "Sales contract")
    for key, value in changes.items():
        setattr(contract, key, value)
    raise_if(_check_dates(contract.start_date, contract.end_date, "startDate", "endDate"))
    await contract.save()
    return contract


async def create_charge(viewer: Viewer, data: dict) -> models.RecurringCharge:
    require(viewer, Permission.BILLING_ACCESS)
    contract = await get_visible(viewer, models.SalesContract, data.pop("contract_id"), "Sales contract",
                                 "contractId")
    problems = _price_problems(data["periodic_price"], await contract_currency(contract.id))
    problems += validation.decimal_problems(models.RecurringCharge, "quantity", data.get("quantity"))
    if not data["description"].strip():
        problems.append(Problem(ErrorCode.INVALID_INPUT, "description must not be empty.", "description"))
    raise_if(problems + validation.text_problems(models.RecurringCharge, data))
    data["revenue_account"] = await revenue_account(data.pop("revenue_account_id", None))
    if data.get("quantity") is None:
        data.pop("quantity", None)
    return await models.RecurringCharge.create(contract=contract, **data)


async def update_charge(viewer: Viewer, charge_id: int, changes: dict) -> models.RecurringCharge:
    require(viewer, Permission.BILLING_ACCESS)
    charge = await get_visible(viewer, models.RecurringCharge, charge_id, "Recurring charge")
    raise_if(_price_problems(changes.get("periodic_price"), await contract_currency(charge.contract_id))
             + validation.decimal_problems(models.RecurringCharge, "quantity", changes.get("quantity"))
             + validation.text_problems(models.RecurringCharge, changes))
    if "revenue_account_id" in changes:
        charge.revenue_account = await revenue_account(changes.pop("revenue_account_id"))
    for key, value in changes.items():
        setattr(charge, key, value)
    await charge.save()
    return charge


def windows_overlap(a_first: date, a_last: date | None, b_first: date, b_last: date | None) -> bool:
    """Two inclusive date windows (None = open-ended) share at least one day."""
    return (a_last is None or b_first <= a_last) and (b_last is None or a_first <= b_last)


async def _check_no_overlap(charge_id: int, first: date, last: date | None, exclude_id: int | None) -> None:
    others = models.DatedPrice.filter(charge_id=charge_id)
    if exclude_id is not None:
        others = others.exclude(id=exclude_id)
    for other in await others:
        if windows_overlap(first, last, other.first_effective_date, other.last_effective_date):
            until = other.last_effective_date.isoformat() if other.last_effective_date else "open end"
            raise DomainError(ErrorCode.OVERLAPPING_DATED_PRICE,
                              f"Overlaps the dated price {other.first_effective_date.isoformat()} to {until}.",
                              "firstEffectiveDate")


async def create_dated_price(viewer: Viewer, data: dict) -> models.DatedPrice:
    require(viewer, Permission.BILLING_ACCESS)
    charge = await get_visible(viewer, models.RecurringCharge, data.pop("charge_id"), "Recurring charge",
                               "chargeId")
    raise_if(_price_problems(data["periodic_price"], await contract_currency(charge.contract_id)) + _check_dates(
        data["first_effective_date"], data.get("last_effective_date"), "firstEffectiveDate", "lastEffectiveDate"))
    await _check_no_overlap(charge.id, data["first_effective_date"], data.get("last_effective_date"), None)
    return await models.DatedPrice.create(charge=charge, **data)


async def update_dated_price(viewer: Viewer, price_id: int, changes: dict) -> models.DatedPrice:
    require(viewer, Permission.BILLING_ACCESS)
    price = await get_visible(viewer, models.DatedPrice, price_id, "Dated price")
    if "periodic_price" in changes:
        charge = await models.RecurringCharge.get(id=price.charge_id)
        raise_if(_price_problems(changes["periodic_price"], await contract_currency(charge.contract_id)))
    for key, value in changes.items():
        setattr(price, key, value)
    raise_if(_check_dates(price.first_effective_date, price.last_effective_date, "firstEffectiveDate",
                          "lastEffectiveDate"))
    await _check_no_overlap(price.charge_id, price.first_effective_date, price.last_effective_date, price.id)
    await price.save()
    return price


async def delete_dated_price(viewer: Viewer, price_id: int) -> None:
    require(viewer, Permission.BILLING_ACCESS)
    price = await get_visible(viewer, models.DatedPrice, price_id, "Dated price")
    await price.delete()

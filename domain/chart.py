"""The chart of accounts and tax rates: reference data only administrators change."""

from decimal import Decimal

import models
from domain import validation
from domain.access import Viewer, require
from domain.errors import DomainError, ErrorCode, Problem, not_found, raise_if
from models.enums import LedgerAccountKind, Permission


async def create_ledger_account(viewer: Viewer, data: dict) -> models.LedgerAccount:
    require(viewer, Permission.ADMIN)
    problems = [Problem(ErrorCode.INVALID_INPUT, f"{k} must not be empty.", k)
                for k in ("code", "name") if not data[k].strip()]
    raise_if(problems + validation.text_problems(models.LedgerAccount, data))
    if await models.LedgerAccount.exists(code=data["code"]):
        raise DomainError(ErrorCode.DUPLICATE, f"Ledger account {data['code']} exists.", "code")
    return await models.LedgerAccount.create(**data)


async def update_ledger_account(viewer: Viewer, account_id: int, changes: dict) -> models.LedgerAccount:
    require(viewer, Permission.ADMIN)
    row = await models.LedgerAccount.get_or_none(id=account_id)
    if row is None:
        raise not_found("Ledger account")
    if "name" in changes and not changes["name"].strip():
        raise DomainError(ErrorCode.INVALID_INPUT, "name must not be empty.", "name")
    validation.check_text(models.LedgerAccount, changes)
    for key, value in changes.items():
        setattr(row, key, value)
    await row.save()
    return row


def _rate_problems(rate: Decimal | None) -> list[Problem]:
    if rate is not None and (not rate.is_finite() or rate < 0 or rate >= 1 or rate != round(rate, 5)):
        return [Problem(ErrorCode.INVALID_INPUT, "A tax rate is a fraction from 0 to below 1 (e.g. 0.0825), "
                        "with at most five decimals.", "rate")]
    return []


async def _tax_account(account_id: int | None) -> models.LedgerAccount | None:
    if account_id is None:
        return None
    row = await models.LedgerAccount.get_or_none(id=account_id, kind=LedgerAccountKind.TAX_PAYABLE)
    if row is None:
        raise DomainError(ErrorCode.UNKNOWN_LEDGER_ACCOUNT, "No tax-payable ledger account with this id.",
                          "ledgerAccountId")
    return row


async def create_tax_rate(viewer: Viewer, data: dict) -> models.TaxRate:
    require(viewer, Permission.ADMIN)
    problems = _rate_problems(data["rate"])
    if not data["location"].strip():
        problems.append(Problem(ErrorCode.INVALID_INPUT, "location must not be empty.", "location"))
    raise_if(problems + validation.text_problems(models.TaxRate, data))
    if await models.TaxRate.exists(location=data["location"]):
        raise DomainError(ErrorCode.DUPLICATE, f"Tax location {data['location']} has a rate.", "location")
    data["ledger_account"] = await _tax_account(data.pop("ledger_account_id", None))
    return await models.TaxRate.create(**data)


async def update_tax_rate(viewer: Viewer, rate_id: int, changes: dict) -> models.TaxRate:
    require(viewer, Permission.ADMIN)
    row = await models.TaxRate.get_or_none(id=rate_id)
    if row is None:
        raise not_found("Tax rate")
    raise_if(_rate_problems(changes.get("rate")) + validation.text_problems(models.TaxRate, changes))
    if "ledger_account_id" in changes:
        row.ledger_account = await _tax_account(changes.pop("ledger_account_id"))
    for key, value in changes.items():
        setattr(row, key, value)
    await row.save()
    return row

"""Service customers (accounts) and their access restriction."""

from decimal import Decimal
from typing import cast

import models
from billrun.settings import get_settings
from domain import validation
from domain.access import Viewer, get_visible, require
from domain.currencies import currency_problem, decimals_text, minor_unit
from domain.errors import DomainError, ErrorCode, Problem, not_found, raise_if
from domain.transactions import in_transaction
from models.enums import Permission

EDITABLE = ("name", "bill_group", "division", "currency", "tax_location", "billing_email", "billing_address",
            "payment_terms_days", "autopay_enabled", "payment_method_token")


def _problems(data: dict) -> list[Problem]:
    problems = []
    for key in ("number", "name", "bill_group", "division", "tax_location"):
        if key in data and not str(data[key]).strip():
            problems.append(Problem(ErrorCode.INVALID_INPUT, f"{key} must not be empty.", key))
    if "currency" in data and (problem := currency_problem(data["currency"])) is not None:
        problems.append(problem)
    problems += validation.email_problems(data.get("billing_email"), "billingEmail")
    problems += validation.int_problems(data.get("payment_terms_days"), "paymentTermsDays", 0, 365)
    return problems + validation.text_problems(models.Account, data)


def _check_autopay(account: models.Account) -> None:
    if account.autopay_enabled and not account.payment_method_token:
        raise DomainError(ErrorCode.INVALID_INPUT, "Auto-pay needs a payment-method token.",
                          "paymentMethodToken")


async def create_account(viewer: Viewer, data: dict) -> models.Account:
    require(viewer, Permission.BILLING_ACCESS)
    data = {"currency": get_settings().base_currency, **data}
    raise_if(_problems(data))
    data["billing_email"] = validation.email_address(data["billing_email"], "billingEmail")
    account = models.Account(**data)
    _check_autopay(account)
    if await models.Account.exists(number=account.number):
        raise DomainError(ErrorCode.DUPLICATE, f"Account number {account.number} is taken.", "number")
    await account.save()
    return account


async def currency_of(account_id: int) -> str:
    """The currency an account is billed in: its amounts are validated and rounded by its minor unit."""
    return cast(str, await models.Account.get(id=account_id).values_list("currency", flat=True))


async def _prices_fit(account: models.Account, currency: str) -> None:
    """A new currency must hold the account's prices and unbilled amounts exactly (no JPY price of 100.50)."""
    places = Decimal(1).scaleb(-minor_unit(currency))
    sources = (
        (models.RecurringCharge.filter(contract__account_id=account.id), "periodic_price", "recurring charge"),
        (models.DatedPrice.filter(charge__contract__account_id=account.id), "periodic_price", "dated price"),
        (models.ServiceChange.filter(charge__contract__account_id=account.id, billed_on_id=None), "new_price",
         "service change"),
        (models.WorkOrder.filter(account_id=account.id, billed_on_id=None, rate__isnull=False), "rate", "work order"),
        (models.ManualCharge.filter(account_id=account.id, billed_on_id=None), "amount", "manual charge"),
        (models.InvoiceAdjustment.filter(account_id=account.id, billed_on_id=None), "amount", "adjustment"),
    )
    for query, column, what in sources:
        for value in cast(list[Decimal], await query.values_list(column, flat=True)):
            if value != value.quantize(places):
                raise DomainError(ErrorCode.INVALID_CURRENCY,
                                  f"A {what} of this account is {value}, but {decimals_text(currency)}: change "
                                  f"it before moving the account to {currency}.", "currency")


async def update_account(viewer: Viewer, account_id: int, changes: dict) -> models.Account:
    require(viewer, Permission.BILLING_ACCESS)
    account = await get_visible(viewer, models.Account, account_id, "Account")
    raise_if(_problems(changes))
    if "billing_email" in changes:
        changes["billing_email"] = validation.email_address(changes["billing_email"], "billingEmail")
    if changes.get("currency", account.currency) != account.currency:
        await _prices_fit(account, changes["currency"])
    for key, value in changes.items():
        if key not in EDITABLE:
            raise DomainError(ErrorCode.INVALID_INPUT, f"{key} cannot be changed.", key)
        setattr(account, key, value)
    _check_autopay(account)
    await account.save()
    return account


async def restrict_account(viewer: Viewer, account_id: int, restricted: bool, user_ids: list[int],
                           team_ids: list[int] | None = None) -> models.Account:
    """Set who may see an account (ADMIN): these users and the members of these teams (the grants are replaced
    whole). `restricted=False` opens it to every billing user."""
    require(viewer, Permission.ADMIN)
    account = await get_visible(viewer, models.Account, account_id, "Account")
    teams = sorted(set(team_ids or []))
    found = await models.User.filter(id__in=user_ids).values_list("id", flat=True)
    missing = set(user_ids) - set(found)
    if missing:
        raise not_found("User", "userIds")
    if len(await models.Team.filter(id__in=teams).values_list("id", flat=True)) != len(teams):
        raise not_found("Team", "teamIds")
    async with in_transaction():
        account.restricted = restricted
        await account.save(update_fields=["restricted", "updated_at"])
        await models.AccountGrant.filter(account_id=account.id).delete()
        await models.AccountGrant.bulk_create(
            [models.AccountGrant(account_id=account.id, user_id=uid) for uid in sorted(set(user_ids))])
        await models.AccountTeamGrant.filter(account_id=account.id).delete()
        await models.AccountTeamGrant.bulk_create(
            [models.AccountTeamGrant(account_id=account.id, team_id=tid) for tid in teams])
    return account

"""Mutation resolvers for master data: accounts, contracts, charges, dated prices, chart, tax, periods."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain import accounts, chart, contracts, periods
from resolvers.context import authenticated_viewer
from resolvers.inputs import decode_id, to_data
from resolvers.mutations import perform
from resolvers.relations import CtxInfo

if TYPE_CHECKING:
    from schema.mutations.books import (
        CreateAccountingPeriodInput,
        CreateLedgerAccountInput,
        CreateTaxRateInput,
        UpdateLedgerAccountInput,
        UpdateTaxRateInput,
    )
    from schema.mutations.master_data import (
        CreateAccountInput,
        CreateDatedPriceInput,
        CreateRecurringChargeInput,
        CreateSalesContractInput,
        DeleteDatedPriceInput,
        RestrictAccountInput,
        UpdateAccountInput,
        UpdateDatedPriceInput,
        UpdateRecurringChargeInput,
        UpdateSalesContractInput,
    )


async def create_account(info: CtxInfo, input: CreateAccountInput) -> Any:
    return await perform(lambda: accounts.create_account(authenticated_viewer(info), to_data(input)))


async def update_account(info: CtxInfo, input: UpdateAccountInput) -> Any:
    return await perform(lambda: accounts.update_account(
        authenticated_viewer(info), decode_id(input.id, "Account", "id"), to_data(input, skip=("id",))))


async def restrict_account(info: CtxInfo, input: RestrictAccountInput) -> Any:
    async def run() -> Any:
        data = to_data(input)
        return await accounts.restrict_account(
            authenticated_viewer(info), decode_id(input.account_id, "Account", "accountId"), data["restricted"],
            data.get("user_ids", []), data.get("team_ids", []))
    return await perform(run)


async def create_sales_contract(info: CtxInfo, input: CreateSalesContractInput) -> Any:
    return await perform(lambda: contracts.create_contract(authenticated_viewer(info), to_data(input)))


async def update_sales_contract(info: CtxInfo, input: UpdateSalesContractInput) -> Any:
    return await perform(lambda: contracts.update_contract(
        authenticated_viewer(info), decode_id(input.id, "SalesContract", "id"), to_data(input, skip=("id",))))


async def create_recurring_charge(info: CtxInfo, input: CreateRecurringChargeInput) -> Any:
    return await perform(lambda: contracts.create_charge(authenticated_viewer(info), to_data(input)))


async def update_recurring_charge(info: CtxInfo, input: UpdateRecurringChargeInput) -> Any:
    return await perform(lambda: contracts.update_charge(
        authenticated_viewer(info), decode_id(input.id, "RecurringCharge", "id"), to_data(input, skip=("id",))))


async def create_dated_price(info: CtxInfo, input: CreateDatedPriceInput) -> Any:
    return await perform(lambda: contracts.create_dated_price(authenticated_viewer(info), to_data(input)))


async def update_dated_price(info: CtxInfo, input: UpdateDatedPriceInput) -> Any:
    return await perform(lambda: contracts.update_dated_price(
        authenticated_viewer(info), decode_id(input.id, "DatedPrice", "id"), to_data(input, skip=("id",))))


async def delete_dated_price(info: CtxInfo, input: DeleteDatedPriceInput) -> Any:
    async def run() -> Any:
        price_id = decode_id(input.id, "DatedPrice", "id")
        await contracts.delete_dated_price(authenticated_viewer(info), price_id)
        return input.id
    return await perform(run)


async def create_ledger_account(info: CtxInfo, input: CreateLedgerAccountInput) -> Any:
    return await perform(lambda: chart.create_ledger_account(authenticated_viewer(info), to_data(input)))


async def update_ledger_account(info: CtxInfo, input: UpdateLedgerAccountInput) -> Any:
    return await perform(lambda: chart.update_ledger_account(
        authenticated_viewer(info), decode_id(input.id, "LedgerAccount", "id"), to_data(input, skip=("id",))))


async def create_tax_rate(info: CtxInfo, input: CreateTaxRateInput) -> Any:
    return await perform(lambda: chart.create_tax_rate(authenticated_viewer(info), to_data(input)))


async def update_tax_rate(info: CtxInfo, input: UpdateTaxRateInput) -> Any:
    return await perform(lambda: chart.update_tax_rate(
        authenticated_viewer(info), decode_id(input.id, "TaxRate", "id"), to_data(input, skip=("id",))))


async def create_accounting_period(info: CtxInfo, input: CreateAccountingPeriodInput) -> Any:
    return await perform(lambda: periods.create_period(authenticated_viewer(info), input.month))

"""Mutation resolvers for master data: accounts, contracts, charges, dated prices, chart, tax, periods."""

from typing import Any

from domain import accounts, chart, contracts, periods
from resolvers.inputs import decode_id, to_data
from resolvers.mutations import perform
from resolvers.relations import CtxInfo


def _viewer(info: CtxInfo) -> Any:
    return info.context.viewer


async def create_account(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: accounts.create_account(_viewer(info), to_data(input)))


async def update_account(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: accounts.update_account(
        _viewer(info), decode_id(input.id, "Account", "id"), to_data(input, skip=("id",))))


async def restrict_account(info: CtxInfo, input: Any) -> Any:
    async def run() -> Any:
        data = to_data(input)
        return await accounts.restrict_account(_viewer(info), decode_id(input.account_id, "Account", "accountId"),
                                               data["restricted"], data.get("user_ids", []))
    return await perform(run)


async def create_sales_contract(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: contracts.create_contract(_viewer(info), to_data(input)))


async def update_sales_contract(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: contracts.update_contract(
        _viewer(info), decode_id(input.id, "SalesContract", "id"), to_data(input, skip=("id",))))


async def create_recurring_charge(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: contracts.create_charge(_viewer(info), to_data(input)))


async def update_recurring_charge(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: contracts.update_charge(
        _viewer(info), decode_id(input.id, "RecurringCharge", "id"), to_data(input, skip=("id",))))


async def create_dated_price(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: contracts.create_dated_price(_viewer(info), to_data(input)))


async def update_dated_price(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: contracts.update_dated_price(
        _viewer(info), decode_id(input.id, "DatedPrice", "id"), to_data(input, skip=("id",))))


async def delete_dated_price(info: CtxInfo, input: Any) -> Any:
    async def run() -> Any:
        price_id = decode_id(input.id, "DatedPrice", "id")
        await contracts.delete_dated_price(_viewer(info), price_id)
        return input.id
    return await perform(run)


async def create_ledger_account(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: chart.create_ledger_account(_viewer(info), to_data(input)))


async def update_ledger_account(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: chart.update_ledger_account(
        _viewer(info), decode_id(input.id, "LedgerAccount", "id"), to_data(input, skip=("id",))))


async def create_tax_rate(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: chart.create_tax_rate(_viewer(info), to_data(input)))


async def update_tax_rate(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: chart.update_tax_rate(
        _viewer(info), decode_id(input.id, "TaxRate", "id"), to_data(input, skip=("id",))))


async def create_accounting_period(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: periods.create_period(_viewer(info), input.month))

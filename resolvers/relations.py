"""Resolvers of relation fields: each reads one DataLoader, so a page of parents costs one query per level."""

from typing import Any

from strawberry import Info

from resolvers.context import Context

CtxInfo = Info[Context, Any]


async def account_of(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.account_by_id.load(root.account_id)


async def contract_of(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.contract_by_id.load(root.contract_id)


async def charge_of(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.charge_by_id.load(root.charge_id)


async def revenue_account_of(root: Any, info: CtxInfo) -> Any:
    if root.revenue_account_id is None:
        return None
    return await info.context.loaders.ledger_account_by_id.load(root.revenue_account_id)


async def ledger_account_of(root: Any, info: CtxInfo) -> Any:
    if root.ledger_account_id is None:
        return None
    return await info.context.loaders.ledger_account_by_id.load(root.ledger_account_id)


async def contracts_of_account(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.contracts_by_account_id.load(root.id)


async def charges_of_contract(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.charges_by_contract_id.load(root.id)


async def dated_prices_of_charge(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.dated_prices_by_charge_id.load(root.id)


async def granted_users_of_account(root: Any, info: CtxInfo) -> list[Any]:
    grants = await info.context.loaders.grantees_by_account_id.load(root.id)
    users = await info.context.loaders.user_by_id.load_many([g.user_id for g in grants])
    return [u for u in users if u is not None]

"""Resolvers of billing review: dispositions, mass updates, delete (undo) and move."""

from typing import Any

import models
from domain import billing_review
from domain.access import visible
from resolvers.inputs import decode_id
from resolvers.lists import _set
from resolvers.mutations import perform
from resolvers.relations import CtxInfo


async def update_billing_status(info: CtxInfo, input: Any) -> Any:
    return await perform(lambda: billing_review.update_status(
        info.context.viewer, decode_id(input.billing_id, "PeriodicBilling", "billingId"),  # type: ignore[arg-type]
        input.status, input.expected_version))


async def mass_update_billing_status(info: CtxInfo, input: Any) -> Any:
    async def run() -> Any:
        viewer = info.context.viewer
        scope = billing_filter(visible(viewer, models.PeriodicBilling), input.filter)  # type: ignore[arg-type]
        return await billing_review.mass_update(viewer, decode_id(input.batch_id, "BillingBatch", "batchId"),  # type: ignore[arg-type]
                                                input.status, scope)
    return await perform(run)


def billing_filter(query: Any, filter: Any) -> Any:
    account, contract = _set(filter, "account_id"), _set(filter, "contract_id")
    return billing_review.billing_filter(
        query, list(_set(filter, "status") or []),
        decode_id(account, "Account", "accountId") if account else None,
        decode_id(contract, "SalesContract", "contractId") if contract else None, _set(filter, "search"))


async def delete_periodic_billing(info: CtxInfo, input: Any) -> Any:
    async def run() -> Any:
        await billing_review.delete_billing(info.context.viewer, decode_id(input.id, "PeriodicBilling", "id"))  # type: ignore[arg-type]
        return input.id
    return await perform(run)


async def move_billings(info: CtxInfo, input: Any) -> Any:
    async def run() -> Any:
        ids = [decode_id(gid, "PeriodicBilling", "billingIds") for gid in input.billing_ids]
        target = decode_id(input.to_batch_id, "BillingBatch", "toBatchId")
        moved = await billing_review.move_billings(info.context.viewer, ids, target)  # type: ignore[arg-type]
        return moved, await models.BillingBatch.get(id=target)
    return await perform(run)

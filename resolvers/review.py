"""Resolvers of billing review: dispositions, mass updates, delete (undo) and move."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strawberry import UNSET

import models
from domain import billing_details, billing_review
from domain.access import visible
from resolvers.context import authenticated_viewer
from resolvers.inputs import decode_id, to_data
from resolvers.lists import _set, text
from resolvers.mutations import perform
from resolvers.relations import CtxInfo

if TYPE_CHECKING:
    from schema.mutations.review import (
        AddMiscChargeInput,
        DeletePeriodicBillingInput,
        MassUpdateBillingStatusInput,
        MoveBillingsInput,
        RemoveMiscChargeInput,
        UpdateBillingDetailInput,
        UpdateBillingStatusInput,
        UpdatePeriodicBillingInput,
    )


async def update_billing_status(info: CtxInfo, input: UpdateBillingStatusInput) -> Any:
    return await perform(lambda: billing_review.update_status(
        authenticated_viewer(info), decode_id(input.billing_id, "PeriodicBilling", "billingId"),
        input.status, input.expected_version))


async def mass_update_billing_status(info: CtxInfo, input: MassUpdateBillingStatusInput) -> Any:
    async def run() -> Any:
        viewer = authenticated_viewer(info)
        scope = billing_filter(visible(viewer, models.PeriodicBilling), input.filter)
        return await billing_review.mass_update(viewer, decode_id(input.batch_id, "BillingBatch", "batchId"),
                                                input.status, scope)
    return await perform(run)


def billing_filter(query: Any, filter: Any) -> Any:
    account, contract = _set(filter, "account_id"), _set(filter, "contract_id")
    return billing_review.billing_filter(
        query, list(_set(filter, "status") or []),
        decode_id(account, "Account", "accountId") if account else None,
        decode_id(contract, "SalesContract", "contractId") if contract else None, text(filter, "search"))


async def delete_periodic_billing(info: CtxInfo, input: DeletePeriodicBillingInput) -> Any:
    async def run() -> Any:
        await billing_review.delete_billing(authenticated_viewer(info), decode_id(input.id, "PeriodicBilling", "id"))
        return input.id
    return await perform(run)


async def move_billings(info: CtxInfo, input: MoveBillingsInput) -> Any:
    async def run() -> Any:
        ids = [decode_id(gid, "PeriodicBilling", "billingIds") for gid in input.billing_ids]
        target = decode_id(input.to_batch_id, "BillingBatch", "toBatchId")
        moved = await billing_review.move_billings(authenticated_viewer(info), ids, target)
        return moved, await models.BillingBatch.get(id=target)
    return await perform(run)


async def update_billing_detail(info: CtxInfo, input: UpdateBillingDetailInput) -> Any:
    async def run() -> Any:
        changes = to_data(input, skip=("id", "distributions"))
        if input.distributions is not None and input.distributions is not UNSET:
            changes["distributions"] = [
                {"revenue_account_id": decode_id(d.revenue_account_id, "LedgerAccount", "distributions"),
                 "amount": d.amount} for d in input.distributions]
        detail = await billing_details.update_detail(authenticated_viewer(info),
                                                     decode_id(input.id, "BillingDetail", "id"), changes)
        return detail, await models.PeriodicBilling.get(id=detail.billing_id)
    return await perform(run)


async def add_misc_charge(info: CtxInfo, input: AddMiscChargeInput) -> Any:
    async def run() -> Any:
        detail = await billing_details.add_misc_charge(
            authenticated_viewer(info), decode_id(input.billing_id, "PeriodicBilling", "billingId"),
            input.description, input.amount, decode_id(input.revenue_account_id, "LedgerAccount", "revenueAccountId"))
        return detail, await models.PeriodicBilling.get(id=detail.billing_id)
    return await perform(run)


async def remove_misc_charge(info: CtxInfo, input: RemoveMiscChargeInput) -> Any:
    async def run() -> Any:
        detail_id = decode_id(input.id, "BillingDetail", "id")
        billing_id = await models.BillingDetail.filter(id=detail_id).first().values_list("billing_id", flat=True)
        await billing_details.remove_misc_charge(authenticated_viewer(info), detail_id)
        return input.id, await models.PeriodicBilling.get(id=billing_id)
    return await perform(run)


async def update_periodic_billing(info: CtxInfo, input: UpdatePeriodicBillingInput) -> Any:
    return await perform(lambda: billing_details.update_billing(
        authenticated_viewer(info), decode_id(input.id, "PeriodicBilling", "id"), to_data(input, skip=("id",))))

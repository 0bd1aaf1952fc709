"""Reviewing billings: dispositions one by one or in mass, delete (undo), move to another batch."""

from datetime import date
from decimal import Decimal

import strawberry
from strawberry import UNSET, relay

from resolvers import review
from resolvers.mutations import payload
from resolvers.relations import CtxInfo
from schema.billing import BillingBatch, BillingDetail, BillingStatus, PeriodicBilling, PeriodicBillingFilter
from schema.common import ErrorCode, UserError
from schema.idempotency import IdempotentInput
from schema.permissions import AUTHENTICATED


@strawberry.input(description="A disposition for one billing.")
class UpdateBillingStatusInput(IdempotentInput):
    billing_id: relay.GlobalID = strawberry.field(description="The billing.")
    status: BillingStatus = strawberry.field(description="The new status (see `allowedTransitions`).")
    expected_version: int | None = strawberry.field(
        default=None, description="The `version` read; refused with CONCURRENT_UPDATE if it changed since.")


@strawberry.type(description="The billing after its disposition.")
class PeriodicBillingPayload:
    periodic_billing: PeriodicBilling | None = strawberry.field(description="The billing, as saved.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="One disposition for every billing of a batch matching the filter.")
class MassUpdateBillingStatusInput(IdempotentInput):
    batch_id: relay.GlobalID = strawberry.field(description="The batch.")
    status: BillingStatus = strawberry.field(description="The new status.")
    filter: PeriodicBillingFilter | None = strawberry.field(default=None, description="Which billings (all: none).")


@strawberry.type(description="A billing the mass update left as it was, and why.")
class BillingRefusal:
    billing_id: relay.GlobalID = strawberry.field(description="The billing.")
    code: ErrorCode = strawberry.field(description="Why, as a code.")
    message: str = strawberry.field(description="Why, in words.")


@strawberry.type(description="What a mass update changed (one transaction) and what it refused.")
class MassUpdateBillingStatusPayload:
    changed_count: int = strawberry.field(description="Billings changed (one audit row each).")
    refused_count: int = strawberry.field(description="Billings refused.")
    refusals: list[BillingRefusal] = strawberry.field(description="Each refused billing with its reason.")
    errors: list[UserError] = strawberry.field(description="Why nothing was done at all.")


@strawberry.input(description="The billing to delete (undo).")
class DeletePeriodicBillingInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The billing (NEW, CANCELLED or REJECTED).")


@strawberry.type(description="The id of the deleted billing.")
class DeletePeriodicBillingPayload:
    deleted_id: relay.GlobalID | None = strawberry.field(description="The id that no longer exists.")
    errors: list[UserError] = strawberry.field(description="Why nothing was deleted.")


@strawberry.input(description="Billings to move to another batch that is not posted.")
class MoveBillingsInput(IdempotentInput):
    billing_ids: list[relay.GlobalID] = strawberry.field(description="The billings (visible to the viewer).")
    to_batch_id: relay.GlobalID = strawberry.field(description="The batch they go to.")


@strawberry.type(description="How many billings moved.")
class MoveBillingsPayload:
    moved_count: int = strawberry.field(description="Billings moved.")
    billing_batch: BillingBatch | None = strawberry.field(description="The batch they are in now.")
    errors: list[UserError] = strawberry.field(description="Why nothing moved.")


@strawberry.input(description="One revenue distribution of a line.")
class DistributionInput:
    revenue_account_id: relay.GlobalID = strawberry.field(description="A revenue account.")
    amount: Decimal = strawberry.field(description="Its part of the line.")


@strawberry.input(description="Changes to a billing line; fields left out stay as they are.")
class UpdateBillingDetailInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The billing detail.")
    billing_amount: Decimal | None = strawberry.field(default=UNSET, description="The line's amount.")
    days_billed: int | None = strawberry.field(default=UNSET, description="Days the amount is based on.")
    revenue_account_id: relay.GlobalID | None = strawberry.field(default=UNSET, description="Revenue account.")
    distributions: list[DistributionInput] | None = strawberry.field(
        default=UNSET, description="The split of the line; must sum to it (required when the line is split).")


@strawberry.type(description="The line edited and its billing, recalculated.")
class BillingDetailPayload:
    billing_detail: BillingDetail | None = strawberry.field(description="The line.")
    periodic_billing: PeriodicBilling | None = strawberry.field(description="Its billing, recalculated.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="A miscellaneous charge to add to a billing.")
class AddMiscChargeInput(IdempotentInput):
    billing_id: relay.GlobalID = strawberry.field(description="The billing.")
    description: str = strawberry.field(description="What is charged.")
    amount: Decimal = strawberry.field(description="The amount.")
    revenue_account_id: relay.GlobalID = strawberry.field(description="The revenue account.")


@strawberry.input(description="The miscellaneous charge to remove.")
class RemoveMiscChargeInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The billing detail (kind MISC).")


@strawberry.type(description="The line removed and its billing, recalculated.")
class RemoveMiscChargePayload:
    deleted_id: relay.GlobalID | None = strawberry.field(description="The line that no longer exists.")
    periodic_billing: PeriodicBilling | None = strawberry.field(description="Its billing, recalculated.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="Comments and invoice-date override of a billing.")
class UpdatePeriodicBillingInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The billing.")
    internal_comment: str | None = strawberry.field(default=UNSET, description="Never printed for the customer.")
    external_comment: str | None = strawberry.field(default=UNSET, description="Printed on the invoice.")
    invoice_date_override: date | None = strawberry.field(
        default=UNSET, description="Invoice date instead of the batch's (open period); null clears it.")


def _detail_payload(result: tuple, errors: list) -> BillingDetailPayload:
    detail, billing = result if result else (None, None)
    return BillingDetailPayload(billing_detail=detail, periodic_billing=billing, errors=errors)


@strawberry.type
class ReviewMutations:
    @strawberry.mutation(description="Edit a billing line (the grid); the billing is recalculated and audited.",
                         permission_classes=AUTHENTICATED)
    async def update_billing_detail(self, info: CtxInfo, input: UpdateBillingDetailInput) -> BillingDetailPayload:
        return _detail_payload(*await review.update_billing_detail(info, input))

    @strawberry.mutation(description="Add a miscellaneous charge to a billing.", permission_classes=AUTHENTICATED)
    async def add_misc_charge(self, info: CtxInfo, input: AddMiscChargeInput) -> BillingDetailPayload:
        return _detail_payload(*await review.add_misc_charge(info, input))

    @strawberry.mutation(description="Remove a miscellaneous charge.", permission_classes=AUTHENTICATED)
    async def remove_misc_charge(self, info: CtxInfo, input: RemoveMiscChargeInput) -> RemoveMiscChargePayload:
        result, errors = await review.remove_misc_charge(info, input)
        deleted, billing = result if result else (None, None)
        return RemoveMiscChargePayload(deleted_id=deleted, periodic_billing=billing, errors=errors)

    @strawberry.mutation(description="Edit a billing's comments or invoice-date override.",
                         permission_classes=AUTHENTICATED)
    async def update_periodic_billing(self, info: CtxInfo,
                                      input: UpdatePeriodicBillingInput) -> PeriodicBillingPayload:
        return payload(PeriodicBillingPayload, "periodic_billing", await review.update_periodic_billing(info, input))

    @strawberry.mutation(description="Disposition one billing (APPROVED needs BILLING_APPROVE).",
                         permission_classes=AUTHENTICATED)
    async def update_billing_status(self, info: CtxInfo, input: UpdateBillingStatusInput) -> PeriodicBillingPayload:
        return payload(PeriodicBillingPayload, "periodic_billing", await review.update_billing_status(info, input))

    @strawberry.mutation(description="Disposition every matching billing of a batch under the same rules, in one "
                         "transaction; refused ones are listed with their reason.", permission_classes=AUTHENTICATED)
    async def mass_update_billing_status(self, info: CtxInfo,
                                         input: MassUpdateBillingStatusInput) -> MassUpdateBillingStatusPayload:
        result, errors = await review.mass_update_billing_status(info, input)
        if result is None:
            return MassUpdateBillingStatusPayload(changed_count=0, refused_count=0, refusals=[], errors=errors)
        refusals = [BillingRefusal(billing_id=relay.GlobalID("PeriodicBilling", str(bid)), code=p.code,
                                   message=p.message) for bid, p in result.refusals]
        return MassUpdateBillingStatusPayload(changed_count=result.changed, refused_count=len(refusals),
                                              refusals=refusals, errors=[])

    @strawberry.mutation(description="Delete (undo) a billing; its items return to unbilled.",
                         permission_classes=AUTHENTICATED)
    async def delete_periodic_billing(self, info: CtxInfo,
                                      input: DeletePeriodicBillingInput) -> DeletePeriodicBillingPayload:
        return payload(DeletePeriodicBillingPayload, "deleted_id", await review.delete_periodic_billing(info, input))

    @strawberry.mutation(description="Move billings to another batch that is not posted (e.g. to post a batch "
                         "without billings hidden from you).", permission_classes=AUTHENTICATED)
    async def move_billings(self, info: CtxInfo, input: MoveBillingsInput) -> MoveBillingsPayload:
        result, errors = await review.move_billings(info, input)
        moved, batch = result if result else (0, None)
        return MoveBillingsPayload(moved_count=moved, billing_batch=batch, errors=errors)

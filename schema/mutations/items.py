"""Billable items that are not recurring: work orders, manual charges, service changes, adjustments."""

from datetime import date
from decimal import Decimal

import strawberry
from strawberry import UNSET, relay

from resolvers import items
from resolvers.mutations import payload
from resolvers.relations import CtxInfo
from schema.common import UserError
from schema.idempotency import IdempotentInput
from schema.items import AdjustmentKind, InvoiceAdjustment, ManualCharge, ServiceChange, WorkOrder, WorkOrderStatus
from schema.permissions import AUTHENTICATED


@strawberry.input(description="A work order for an account.")
class CreateWorkOrderInput(IdempotentInput):
    account_id: relay.GlobalID = strawberry.field(description="The account.")
    description: str = strawberry.field(description="What was done.")
    performed_on: date = strawberry.field(description="When.")
    quantity: Decimal | None = strawberry.field(default=None, description="Units (default 1).")
    rate: Decimal | None = strawberry.field(default=None, description="Price per unit.")
    status: WorkOrderStatus | None = strawberry.field(default=UNSET, description="Default OPEN.")
    charge_id: relay.GlobalID | None = strawberry.field(default=None, description="The matching recurring charge.")
    revenue_account_id: relay.GlobalID | None = strawberry.field(default=None, description="Revenue account.")


@strawberry.input(description="Changes to an unbilled work order.")
class UpdateWorkOrderInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The work order.")
    description: str | None = strawberry.field(default=UNSET, description="What was done.")
    quantity: Decimal | None = strawberry.field(default=UNSET, description="Units.")
    rate: Decimal | None = strawberry.field(default=UNSET, description="Price per unit.")
    status: WorkOrderStatus | None = strawberry.field(default=UNSET, description="COMPLETED makes it billable.")
    revenue_account_id: relay.GlobalID | None = strawberry.field(default=UNSET, description="Revenue account.")


@strawberry.type(description="The work order created or changed.")
class WorkOrderPayload:
    work_order: WorkOrder | None = strawberry.field(description="The work order.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="A one-off charge.")
class CreateManualChargeInput(IdempotentInput):
    account_id: relay.GlobalID = strawberry.field(description="The account.")
    description: str = strawberry.field(description="What is charged.")
    charge_date: date = strawberry.field(description="Its date.")
    amount: Decimal = strawberry.field(description="The amount.")
    revenue_account_id: relay.GlobalID | None = strawberry.field(default=None, description="Revenue account.")


@strawberry.input(description="Changes to an unbilled manual charge.")
class UpdateManualChargeInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The manual charge.")
    description: str | None = strawberry.field(default=UNSET, description="What is charged.")
    charge_date: date | None = strawberry.field(default=UNSET, description="Its date.")
    amount: Decimal | None = strawberry.field(default=UNSET, description="The amount.")
    revenue_account_id: relay.GlobalID | None = strawberry.field(default=UNSET, description="Revenue account.")


@strawberry.type(description="The manual charge created or changed.")
class ManualChargePayload:
    manual_charge: ManualCharge | None = strawberry.field(description="The charge.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="A rate change on a recurring charge from a date.")
class CreateServiceChangeInput(IdempotentInput):
    charge_id: relay.GlobalID = strawberry.field(description="The recurring charge.")
    effective_date: date = strawberry.field(description="First day of the new rate.")
    new_price: Decimal = strawberry.field(description="The new periodic price.")
    note: str = strawberry.field(default="", description="Why.")


@strawberry.input(description="Changes to an unbilled service change.")
class UpdateServiceChangeInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The service change.")
    effective_date: date | None = strawberry.field(default=UNSET, description="First day of the new rate.")
    new_price: Decimal | None = strawberry.field(default=UNSET, description="The new periodic price.")
    note: str | None = strawberry.field(default=UNSET, description="Why.")


@strawberry.type(description="The service change created or changed.")
class ServiceChangePayload:
    service_change: ServiceChange | None = strawberry.field(description="The service change.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="A credit or debit against an account.")
class CreateInvoiceAdjustmentInput(IdempotentInput):
    account_id: relay.GlobalID = strawberry.field(description="The account.")
    kind: AdjustmentKind = strawberry.field(description="CREDIT or DEBIT.")
    description: str = strawberry.field(description="Why.")
    amount: Decimal = strawberry.field(description="Positive amount.")
    revenue_account_id: relay.GlobalID | None = strawberry.field(default=None, description="Revenue account.")


@strawberry.input(description="The adjustment to approve.")
class ApproveInvoiceAdjustmentInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The invoice adjustment.")


@strawberry.type(description="The adjustment created or approved.")
class InvoiceAdjustmentPayload:
    invoice_adjustment: InvoiceAdjustment | None = strawberry.field(description="The adjustment.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.type
class ItemMutations:
    @strawberry.mutation(description="Enter a work order.", permission_classes=AUTHENTICATED)
    async def create_work_order(self, info: CtxInfo, input: CreateWorkOrderInput) -> WorkOrderPayload:
        return payload(WorkOrderPayload, "work_order", await items.create_work_order(info, input))

    @strawberry.mutation(description="Change or complete a work order.", permission_classes=AUTHENTICATED)
    async def update_work_order(self, info: CtxInfo, input: UpdateWorkOrderInput) -> WorkOrderPayload:
        return payload(WorkOrderPayload, "work_order", await items.update_work_order(info, input))

    @strawberry.mutation(description="Enter a manual charge.", permission_classes=AUTHENTICATED)
    async def create_manual_charge(self, info: CtxInfo, input: CreateManualChargeInput) -> ManualChargePayload:
        return payload(ManualChargePayload, "manual_charge", await items.create_manual_charge(info, input))

    @strawberry.mutation(description="Change a manual charge.", permission_classes=AUTHENTICATED)
    async def update_manual_charge(self, info: CtxInfo, input: UpdateManualChargeInput) -> ManualChargePayload:
        return payload(ManualChargePayload, "manual_charge", await items.update_manual_charge(info, input))

    @strawberry.mutation(description="Enter a rate change from a date.", permission_classes=AUTHENTICATED)
    async def create_service_change(self, info: CtxInfo, input: CreateServiceChangeInput) -> ServiceChangePayload:
        return payload(ServiceChangePayload, "service_change", await items.create_service_change(info, input))

    @strawberry.mutation(description="Correct a rate change.", permission_classes=AUTHENTICATED)
    async def update_service_change(self, info: CtxInfo, input: UpdateServiceChangeInput) -> ServiceChangePayload:
        return payload(ServiceChangePayload, "service_change", await items.update_service_change(info, input))

    @strawberry.mutation(description="Enter a credit or debit adjustment.", permission_classes=AUTHENTICATED)
    async def create_invoice_adjustment(self, info: CtxInfo,
                                        input: CreateInvoiceAdjustmentInput) -> InvoiceAdjustmentPayload:
        return payload(InvoiceAdjustmentPayload, "invoice_adjustment",
                       await items.create_invoice_adjustment(info, input))

    @strawberry.mutation(description="Approve an adjustment (BILLING_APPROVE).", permission_classes=AUTHENTICATED)
    async def approve_invoice_adjustment(self, info: CtxInfo,
                                         input: ApproveInvoiceAdjustmentInput) -> InvoiceAdjustmentPayload:
        return payload(InvoiceAdjustmentPayload, "invoice_adjustment",
                       await items.approve_invoice_adjustment(info, input))

"""GraphQL types of billable items that are not recurring."""

from datetime import date, datetime
from decimal import Decimal

import strawberry
from strawberry import relay

import models
from models import enums
from resolvers import relations
from schema.accounts import Account, RecurringCharge
from schema.books import LedgerAccount
from schema.node import ModelNode

# The stored enumerations are the GraphQL enums: `strawberry.enum` registers the class itself (and returns
# it), so each name stays a type the checker knows.
WorkOrderStatus = enums.WorkOrderStatus
strawberry.enum(WorkOrderStatus, description="Open, or completed (billable).")
AdjustmentKind = enums.AdjustmentKind
strawberry.enum(AdjustmentKind, description="A credit lowers the bill, a debit raises it.")


@strawberry.type(description="A service performed for an account, billed once completed with a rate.")
class WorkOrder(ModelNode):
    model = models.WorkOrder
    id: relay.NodeID[int]
    description: str = strawberry.field(description="What was done.")
    performed_on: date = strawberry.field(description="When.")
    quantity: Decimal = strawberry.field(description="Units.")
    rate: Decimal | None = strawberry.field(description="Price per unit; completed without one is an ERROR finding.")
    status: WorkOrderStatus = strawberry.field(description="OPEN or COMPLETED.")
    billed: bool = strawberry.field(description="Whether a billing includes it.")
    created_at: datetime = strawberry.field(description="Entered (UTC).")
    account: Account = strawberry.field(resolver=relations.account_of, description="The account.")
    charge: RecurringCharge | None = strawberry.field(resolver=relations.optional_charge_of,
                                                      description="The charge whose price the rate should match.")
    revenue_account: LedgerAccount | None = strawberry.field(resolver=relations.revenue_account_of,
                                                              description="Revenue account (else the charge's).")


@strawberry.type(description="A one-off amount entered by a clerk.")
class ManualCharge(ModelNode):
    model = models.ManualCharge
    id: relay.NodeID[int]
    description: str = strawberry.field(description="What is charged.")
    charge_date: date = strawberry.field(description="Billed by batches whose as-of date is on or after it.")
    amount: Decimal = strawberry.field(description="The amount.")
    billed: bool = strawberry.field(description="Whether a billing includes it.")
    created_at: datetime = strawberry.field(description="Entered (UTC).")
    account: Account = strawberry.field(resolver=relations.account_of, description="The account.")
    revenue_account: LedgerAccount | None = strawberry.field(resolver=relations.revenue_account_of,
                                                              description="Revenue account credited.")


@strawberry.type(description="A rate change on a recurring charge from a date, billed as a prorated difference.")
class ServiceChange(ModelNode):
    model = models.ServiceChange
    id: relay.NodeID[int]
    effective_date: date = strawberry.field(description="First day of the new rate.")
    new_price: Decimal = strawberry.field(description="The new periodic price.")
    note: str = strawberry.field(description="Why.")
    billed: bool = strawberry.field(description="Whether a billing includes its difference.")
    created_at: datetime = strawberry.field(description="Entered (UTC).")
    charge: RecurringCharge = strawberry.field(resolver=relations.charge_of, description="The charge changed.")


@strawberry.type(description="A credit or debit against an account; billed only once approved.")
class InvoiceAdjustment(ModelNode):
    model = models.InvoiceAdjustment
    id: relay.NodeID[int]
    kind: AdjustmentKind = strawberry.field(description="CREDIT or DEBIT.")
    description: str = strawberry.field(description="Why.")
    amount: Decimal = strawberry.field(description="Positive amount; the kind gives the sign.")
    approved: bool = strawberry.field(description="Unapproved adjustments are not billed.")
    approved_at: datetime | None = strawberry.field(description="When it was approved.")
    billed: bool = strawberry.field(description="Whether a billing includes it.")
    created_at: datetime = strawberry.field(description="Entered (UTC).")
    account: Account = strawberry.field(resolver=relations.account_of, description="The account.")

"""GraphQL types of customers and what they buy: accounts, sales contracts, recurring charges, dated prices."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

import models
from models import enums
from resolvers import relations
from schema.access import Team, User
from schema.books import LedgerAccount
from schema.node import ModelNode

if TYPE_CHECKING:
    from schema.billing import PeriodicBilling
    from schema.items import InvoiceAdjustment, ManualCharge, ServiceChange, WorkOrder

# The stored enumerations are the GraphQL enums: `strawberry.enum` registers the class itself (and returns
# it), so each name stays a type the checker knows.
BillingFrequency = enums.BillingFrequency
strawberry.enum(BillingFrequency, description="How often a contract is billed.")
ContractStatus = enums.ContractStatus
strawberry.enum(ContractStatus, description="Whether a contract is billed.")


@strawberry.type(description="A date-effective price of a recurring charge: used when the billing period "
                 "starts inside its window.")
class DatedPrice(ModelNode):
    model = models.DatedPrice
    id: relay.NodeID[int]
    first_effective_date: date = strawberry.field(description="First day the price applies.")
    last_effective_date: date | None = strawberry.field(description="Last day (inclusive); null: open-ended.")
    periodic_price: Decimal = strawberry.field(description="The price per billing period.")
    charge: RecurringCharge = strawberry.field(resolver=relations.charge_of, description="The charge it prices.")


@strawberry.type(description="A charge billed every period of its contract.")
class RecurringCharge(ModelNode):
    model = models.RecurringCharge
    id: relay.NodeID[int]
    description: str = strawberry.field(description="What is billed, as printed on the invoice.")
    periodic_price: Decimal = strawberry.field(description="The price per period when no dated price applies.")
    quantity: Decimal = strawberry.field(description="Units billed per period (the price is per period).")
    revenue_account: LedgerAccount | None = strawberry.field(
        resolver=relations.revenue_account_of, description="The revenue account credited; null cannot be billed.")
    contract: SalesContract = strawberry.field(resolver=relations.contract_of, description="The contract.")
    dated_prices: list[DatedPrice] = strawberry.field(
        resolver=relations.dated_prices_of_charge, description="Date-effective prices, by first effective date.")
    service_changes: list[Annotated[ServiceChange, strawberry.lazy("schema.items")]] = strawberry.field(
        resolver=relations.service_changes_of_charge, description="Rate changes, newest first.")


@strawberry.type(description="A sales contract: what an account is billed for, how often, from when.")
class SalesContract(ModelNode):
    model = models.SalesContract
    id: relay.NodeID[int]
    number: str = strawberry.field(description="The contract number, unique.")
    frequency: BillingFrequency = strawberry.field(description="How often it is billed.")
    start_date: date = strawberry.field(description="First day of service.")
    end_date: date | None = strawberry.field(description="Last day of service (inclusive); null: open-ended.")
    billing_anchor: date = strawberry.field(description="A day on which a billing period starts; periods "
                                            "follow from it by the frequency.")
    status: ContractStatus = strawberry.field(description="ACTIVE contracts are billed.")
    created_at: datetime = strawberry.field(description="When the contract was created (UTC).")
    account: Account = strawberry.field(resolver=relations.account_of, description="The service customer.")
    charges: list[RecurringCharge] = strawberry.field(
        resolver=relations.charges_of_contract, description="The recurring charges billed each period.")
    billings: list[Annotated[PeriodicBilling, strawberry.lazy("schema.billing")]] = strawberry.field(
        resolver=relations.billings_of_contract, description="Every billing of the contract, by period (history).")


@strawberry.type(description="A service customer (the account billed).")
class Account(ModelNode):
    model = models.Account
    id: relay.NodeID[int]
    number: str = strawberry.field(description="The account number, unique.")
    name: str = strawberry.field(description="The customer's name.")
    bill_group: str = strawberry.field(description="The bill group: batches bill one group or all.")
    division: str = strawberry.field(description="The division: batches bill one division or all.")
    currency: str = strawberry.field(description="ISO 4217 currency the account is billed in.")
    tax_location: str = strawberry.field(description="Tax location of the ship-to address.")
    billing_email: str = strawberry.field(description="Where invoices are e-mailed.")
    billing_address: str = strawberry.field(
        description="The postal bill-to address printed on invoices, one line per line (may be empty).")
    payment_terms_days: int = strawberry.field(description="Days from invoice date to due date.")
    autopay_enabled: bool = strawberry.field(description="Whether posted invoices are charged automatically.")
    restricted: bool = strawberry.field(description="Whether only granted users (and admins) may see it.")
    created_at: datetime = strawberry.field(description="When the account was created (UTC).")
    contracts: list[SalesContract] = strawberry.field(
        resolver=relations.contracts_of_account, description="The account's sales contracts, by number.")
    work_orders: list[Annotated[WorkOrder, strawberry.lazy("schema.items")]] = strawberry.field(
        resolver=relations.work_orders_of_account, description="Work orders, newest first.")
    manual_charges: list[Annotated[ManualCharge, strawberry.lazy("schema.items")]] = strawberry.field(
        resolver=relations.manual_charges_of_account, description="Manual charges, newest first.")
    invoice_adjustments: list[Annotated[InvoiceAdjustment, strawberry.lazy("schema.items")]] = strawberry.field(
        resolver=relations.adjustments_of_account, description="Credit and debit adjustments, newest first.")

    @strawberry.field(description="Account credit from credit notes not yet applied to its invoices.")
    async def credit_balance(self, info: relations.CtxInfo) -> Decimal:
        return await relations.credit_balance_of_account(self, info)

    @strawberry.field(description="Whether a payment-method token is on file (the token itself is never shown).")
    @staticmethod
    def has_payment_method(row: strawberry.Parent[models.Account]) -> bool:
        return bool(row.payment_method_token)

    @strawberry.field(description="The users granted access when the account is restricted.")
    async def granted_users(self, info: relations.CtxInfo) -> list[User]:
        return await relations.granted_users_of_account(self, info)

    @strawberry.field(description="The teams granted access when the account is restricted (those the viewer may "
                      "see), by name: their members see the account.")
    async def granted_teams(self, info: relations.CtxInfo) -> list[Team]:
        return await relations.granted_teams_of_account(self, info)

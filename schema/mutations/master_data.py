"""Set up a customer end to end: accounts, contracts, recurring charges, dated prices, and their access."""

from datetime import date
from decimal import Decimal

import strawberry
from strawberry import UNSET, relay

from resolvers import master_data
from resolvers.mutations import payload
from resolvers.relations import CtxInfo
from schema.accounts import (
    Account,
    BillingFrequency,
    ContractStatus,
    DatedPrice,
    RecurringCharge,
    SalesContract,
)
from schema.common import UserError
from schema.idempotency import IdempotentInput
from schema.permissions import AUTHENTICATED


@strawberry.input(description="A new service customer.")
class CreateAccountInput(IdempotentInput):
    number: str = strawberry.field(description="Account number, unique.")
    name: str = strawberry.field(description="Customer name.")
    bill_group: str = strawberry.field(description="Bill group.")
    division: str = strawberry.field(description="Division.")
    tax_location: str = strawberry.field(description="Tax location of the ship-to address.")
    billing_email: str = strawberry.field(description="Where invoices are e-mailed.")
    billing_address: str | None = strawberry.field(
        default=UNSET, description="Postal bill-to address printed on invoices, lines separated by newlines.")
    currency: str | None = strawberry.field(default=UNSET, description="ISO 4217 code; default: base currency.")
    payment_terms_days: int | None = strawberry.field(default=UNSET, description="Days until due (default 30).")
    autopay_enabled: bool | None = strawberry.field(default=UNSET, description="Charge posted invoices "
                                                    "automatically (needs a payment-method token).")
    payment_method_token: str | None = strawberry.field(default=UNSET, description="The gateway's token.")


@strawberry.input(description="Changes to an account; fields left out stay as they are.")
class UpdateAccountInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The account.")
    name: str | None = strawberry.field(default=UNSET, description="Customer name.")
    bill_group: str | None = strawberry.field(default=UNSET, description="Bill group.")
    division: str | None = strawberry.field(default=UNSET, description="Division.")
    currency: str | None = strawberry.field(default=UNSET, description="ISO 4217 code.")
    tax_location: str | None = strawberry.field(default=UNSET, description="Tax location.")
    billing_email: str | None = strawberry.field(default=UNSET, description="Billing e-mail.")
    billing_address: str | None = strawberry.field(default=UNSET, description="Postal bill-to address.")
    payment_terms_days: int | None = strawberry.field(default=UNSET, description="Days until due.")
    autopay_enabled: bool | None = strawberry.field(default=UNSET, description="Auto-pay on or off.")
    payment_method_token: str | None = strawberry.field(default=UNSET, description="The gateway's token.")


@strawberry.type(description="The account created or changed.")
class AccountPayload:
    account: Account | None = strawberry.field(description="The account, as saved.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="Who may see an account (ADMIN).")
class RestrictAccountInput(IdempotentInput):
    account_id: relay.GlobalID = strawberry.field(description="The account.")
    restricted: bool = strawberry.field(description="True: only the listed users (and admins) see it.")
    user_ids: list[relay.GlobalID] = strawberry.field(default_factory=list, description="Users granted access.")
    team_ids: list[relay.GlobalID] = strawberry.field(default_factory=list, description="Teams granted access: "
                                                      "their members see it while they are members.")


@strawberry.input(description="A new sales contract.")
class CreateSalesContractInput(IdempotentInput):
    account_id: relay.GlobalID = strawberry.field(description="The service customer.")
    number: str = strawberry.field(description="Contract number, unique.")
    frequency: BillingFrequency = strawberry.field(description="How often it is billed.")
    start_date: date = strawberry.field(description="First day of service.")
    end_date: date | None = strawberry.field(default=None, description="Last day of service; null: open.")
    billing_anchor: date | None = strawberry.field(default=UNSET, description="A period start; default: start.")


@strawberry.input(description="Changes to a sales contract.")
class UpdateSalesContractInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The contract.")
    end_date: date | None = strawberry.field(default=UNSET, description="Last day of service; null: open.")
    status: ContractStatus | None = strawberry.field(default=UNSET, description="Contract status.")
    billing_anchor: date | None = strawberry.field(default=UNSET, description="A period start.")


@strawberry.type(description="The contract created or changed.")
class SalesContractPayload:
    sales_contract: SalesContract | None = strawberry.field(description="The contract, as saved.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="A new recurring charge on a contract.")
class CreateRecurringChargeInput(IdempotentInput):
    contract_id: relay.GlobalID = strawberry.field(description="The contract.")
    description: str = strawberry.field(description="What is billed.")
    periodic_price: Decimal = strawberry.field(description="Price per period, in the account's currency (at most "
                                               "its decimals: 2 for USD, none for JPY).")
    revenue_account_id: relay.GlobalID | None = strawberry.field(default=None, description="Revenue account.")
    quantity: Decimal | None = strawberry.field(default=None, description="Units per period (default 1).")


@strawberry.input(description="Changes to a recurring charge.")
class UpdateRecurringChargeInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The charge.")
    description: str | None = strawberry.field(default=UNSET, description="What is billed.")
    periodic_price: Decimal | None = strawberry.field(default=UNSET, description="Price per period.")
    revenue_account_id: relay.GlobalID | None = strawberry.field(default=UNSET, description="Revenue account.")
    quantity: Decimal | None = strawberry.field(default=UNSET, description="Units per period.")


@strawberry.type(description="The charge created or changed.")
class RecurringChargePayload:
    recurring_charge: RecurringCharge | None = strawberry.field(description="The charge, as saved.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="A date-effective price; its window must not overlap another of the charge.")
class CreateDatedPriceInput(IdempotentInput):
    charge_id: relay.GlobalID = strawberry.field(description="The recurring charge.")
    first_effective_date: date = strawberry.field(description="First day it applies.")
    last_effective_date: date | None = strawberry.field(default=None, description="Last day; null: open.")
    periodic_price: Decimal = strawberry.field(description="Price per period.")


@strawberry.input(description="Changes to a dated price.")
class UpdateDatedPriceInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The dated price.")
    first_effective_date: date | None = strawberry.field(default=UNSET, description="First day it applies.")
    last_effective_date: date | None = strawberry.field(default=UNSET, description="Last day; null: open.")
    periodic_price: Decimal | None = strawberry.field(default=UNSET, description="Price per period.")


@strawberry.type(description="The dated price created or changed.")
class DatedPricePayload:
    dated_price: DatedPrice | None = strawberry.field(description="The dated price, as saved.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="The dated price to delete.")
class DeleteDatedPriceInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The dated price.")


@strawberry.type(description="The id of the deleted dated price.")
class DeleteDatedPricePayload:
    deleted_id: relay.GlobalID | None = strawberry.field(description="The id that no longer exists.")
    errors: list[UserError] = strawberry.field(description="Why nothing was deleted.")


@strawberry.type
class MasterDataMutations:
    @strawberry.mutation(description="Create a service customer.", permission_classes=AUTHENTICATED)
    async def create_account(self, info: CtxInfo, input: CreateAccountInput) -> AccountPayload:
        return payload(AccountPayload, "account", await master_data.create_account(info, input))

    @strawberry.mutation(description="Change an account.", permission_classes=AUTHENTICATED)
    async def update_account(self, info: CtxInfo, input: UpdateAccountInput) -> AccountPayload:
        return payload(AccountPayload, "account", await master_data.update_account(info, input))

    @strawberry.mutation(description="Restrict an account to some users and teams, or open it again (ADMIN).",
                         permission_classes=AUTHENTICATED)
    async def restrict_account(self, info: CtxInfo, input: RestrictAccountInput) -> AccountPayload:
        return payload(AccountPayload, "account", await master_data.restrict_account(info, input))

    @strawberry.mutation(description="Create a sales contract.", permission_classes=AUTHENTICATED)
    async def create_sales_contract(self, info: CtxInfo, input: CreateSalesContractInput) -> SalesContractPayload:
        return payload(SalesContractPayload, "sales_contract", await master_data.create_sales_contract(info, input))

    @strawberry.mutation(description="Change a sales contract.", permission_classes=AUTHENTICATED)
    async def update_sales_contract(self, info: CtxInfo, input: UpdateSalesContractInput) -> SalesContractPayload:
        return payload(SalesContractPayload, "sales_contract", await master_data.update_sales_contract(info, input))

    @strawberry.mutation(description="Add a recurring charge to a contract.", permission_classes=AUTHENTICATED)
    async def create_recurring_charge(self, info: CtxInfo,
                                      input: CreateRecurringChargeInput) -> RecurringChargePayload:
        return payload(RecurringChargePayload, "recurring_charge",
                       await master_data.create_recurring_charge(info, input))

    @strawberry.mutation(description="Change a recurring charge.", permission_classes=AUTHENTICATED)
    async def update_recurring_charge(self, info: CtxInfo,
                                      input: UpdateRecurringChargeInput) -> RecurringChargePayload:
        return payload(RecurringChargePayload, "recurring_charge",
                       await master_data.update_recurring_charge(info, input))

    @strawberry.mutation(description="Add a date-effective price (refused with OVERLAPPING_DATED_PRICE).",
                         permission_classes=AUTHENTICATED)
    async def create_dated_price(self, info: CtxInfo, input: CreateDatedPriceInput) -> DatedPricePayload:
        return payload(DatedPricePayload, "dated_price", await master_data.create_dated_price(info, input))

    @strawberry.mutation(description="Change a date-effective price.", permission_classes=AUTHENTICATED)
    async def update_dated_price(self, info: CtxInfo, input: UpdateDatedPriceInput) -> DatedPricePayload:
        return payload(DatedPricePayload, "dated_price", await master_data.update_dated_price(info, input))

    @strawberry.mutation(description="Delete a date-effective price.", permission_classes=AUTHENTICATED)
    async def delete_dated_price(self, info: CtxInfo, input: DeleteDatedPriceInput) -> DeleteDatedPricePayload:
        return payload(DeleteDatedPricePayload, "deleted_id", await master_data.delete_dated_price(info, input))

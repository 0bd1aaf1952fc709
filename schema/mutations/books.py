"""The books' reference data (ADMIN): chart of accounts, tax rates, accounting periods."""

from datetime import date
from decimal import Decimal

import strawberry
from strawberry import UNSET, relay

from resolvers import master_data
from resolvers.mutations import payload
from resolvers.relations import CtxInfo
from schema.books import AccountingPeriod, LedgerAccount, LedgerAccountKind, TaxRate
from schema.common import UserError
from schema.idempotency import IdempotentInput
from schema.permissions import AUTHENTICATED


@strawberry.input(description="A new ledger account.")
class CreateLedgerAccountInput(IdempotentInput):
    code: str = strawberry.field(description="Account code, unique.")
    name: str = strawberry.field(description="Account name.")
    kind: LedgerAccountKind = strawberry.field(description="What it holds.")


@strawberry.input(description="Changes to a ledger account.")
class UpdateLedgerAccountInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The ledger account.")
    name: str | None = strawberry.field(default=UNSET, description="Account name.")
    active: bool | None = strawberry.field(default=UNSET, description="Inactive accounts take no new charges.")


@strawberry.type(description="The ledger account created or changed.")
class LedgerAccountPayload:
    ledger_account: LedgerAccount | None = strawberry.field(description="The account, as saved.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="A tax rate for a location.")
class CreateTaxRateInput(IdempotentInput):
    location: str = strawberry.field(description="Tax location, unique.")
    name: str = strawberry.field(description="Label on invoices.")
    rate: Decimal = strawberry.field(description="Fraction from 0 to below 1, e.g. 0.0825.")
    ledger_account_id: relay.GlobalID | None = strawberry.field(default=None,
                                                                description="Tax-payable account credited.")


@strawberry.input(description="Changes to a tax rate.")
class UpdateTaxRateInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The tax rate.")
    name: str | None = strawberry.field(default=UNSET, description="Label on invoices.")
    rate: Decimal | None = strawberry.field(default=UNSET, description="Fraction from 0 to below 1.")
    ledger_account_id: relay.GlobalID | None = strawberry.field(default=UNSET, description="Tax-payable account.")


@strawberry.type(description="The tax rate created or changed.")
class TaxRatePayload:
    tax_rate: TaxRate | None = strawberry.field(description="The rate, as saved.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="Open the books for a month.")
class CreateAccountingPeriodInput(IdempotentInput):
    month: date = strawberry.field(description="Any day of the month.")


@strawberry.type(description="The accounting period created.")
class AccountingPeriodPayload:
    accounting_period: AccountingPeriod | None = strawberry.field(description="The period.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.type
class BooksMutations:
    @strawberry.mutation(description="Add a ledger account (ADMIN).", permission_classes=AUTHENTICATED)
    async def create_ledger_account(self, info: CtxInfo, input: CreateLedgerAccountInput) -> LedgerAccountPayload:
        return payload(LedgerAccountPayload, "ledger_account", await master_data.create_ledger_account(info, input))

    @strawberry.mutation(description="Change a ledger account (ADMIN).", permission_classes=AUTHENTICATED)
    async def update_ledger_account(self, info: CtxInfo, input: UpdateLedgerAccountInput) -> LedgerAccountPayload:
        return payload(LedgerAccountPayload, "ledger_account", await master_data.update_ledger_account(info, input))

    @strawberry.mutation(description="Add a tax rate (ADMIN).", permission_classes=AUTHENTICATED)
    async def create_tax_rate(self, info: CtxInfo, input: CreateTaxRateInput) -> TaxRatePayload:
        return payload(TaxRatePayload, "tax_rate", await master_data.create_tax_rate(info, input))

    @strawberry.mutation(description="Change a tax rate (ADMIN).", permission_classes=AUTHENTICATED)
    async def update_tax_rate(self, info: CtxInfo, input: UpdateTaxRateInput) -> TaxRatePayload:
        return payload(TaxRatePayload, "tax_rate", await master_data.update_tax_rate(info, input))

    @strawberry.mutation(description="Open the books for a month (ADMIN).", permission_classes=AUTHENTICATED)
    async def create_accounting_period(self, info: CtxInfo,
                                       input: CreateAccountingPeriodInput) -> AccountingPeriodPayload:
        return payload(AccountingPeriodPayload, "accounting_period",
                       await master_data.create_accounting_period(info, input))

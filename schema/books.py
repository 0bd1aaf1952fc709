"""GraphQL types of the books' reference data: chart of accounts, tax rates, accounting periods."""

from datetime import date, datetime
from decimal import Decimal

import strawberry
from strawberry import relay

import models
from models import enums
from resolvers import relations
from resolvers.relations import CtxInfo
from schema.node import ModelNode

# The stored enumerations are the GraphQL enums: `strawberry.enum` registers the class itself (and returns
# it), so each name stays a type the checker knows.
LedgerAccountKind = enums.LedgerAccountKind
strawberry.enum(LedgerAccountKind, description="What a ledger account holds.")
PeriodStatus = enums.PeriodStatus
strawberry.enum(PeriodStatus, description="Whether a month of the books takes postings.")


@strawberry.type(description="An account of the chart of accounts (receivables, revenue, tax payable, cash).")
class LedgerAccount(ModelNode):
    model = models.LedgerAccount
    id: relay.NodeID[int]
    code: str = strawberry.field(description="The account code, unique (e.g. 4000).")
    name: str = strawberry.field(description="The account's name.")
    kind: LedgerAccountKind = strawberry.field(description="What the account holds.")
    active: bool = strawberry.field(description="Inactive accounts take no new charges.")
    created_at: datetime = strawberry.field(description="When the account was created (UTC).")

    @strawberry.field(description="Debits minus credits posted to it (all time).")
    async def balance(self, info: CtxInfo) -> Decimal:
        return (await relations.balance_of_ledger_account(self, info)).balance

    @strawberry.field(description="Sum of the debits posted to it.")
    async def debit_total(self, info: CtxInfo) -> Decimal:
        return (await relations.balance_of_ledger_account(self, info)).debit

    @strawberry.field(description="Sum of the credits posted to it.")
    async def credit_total(self, info: CtxInfo) -> Decimal:
        return (await relations.balance_of_ledger_account(self, info)).credit


@strawberry.type(description="The sales-tax rate applied to billings of one tax location.")
class TaxRate(ModelNode):
    model = models.TaxRate
    id: relay.NodeID[int]
    location: str = strawberry.field(description="The tax location (from the ship-to address), unique.")
    name: str = strawberry.field(description="A label for invoices, e.g. 'Austin sales tax'.")
    rate: Decimal = strawberry.field(description="The rate as a fraction, e.g. 0.0825 for 8.25 %.")
    ledger_account: LedgerAccount | None = strawberry.field(
        resolver=relations.ledger_account_of, description="The tax-payable account credited with the tax.")


@strawberry.type(description="A calendar month of the books. Invoices may only be dated in an open period.")
class AccountingPeriod(ModelNode):
    model = models.AccountingPeriod
    id: relay.NodeID[int]
    month: date = strawberry.field(description="The first day of the month.")
    status: PeriodStatus = strawberry.field(description="OPEN or CLOSED.")
    closed_at: datetime | None = strawberry.field(description="When it was last closed (UTC).")

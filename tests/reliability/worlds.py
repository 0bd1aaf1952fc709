"""Random small worlds for the reliability property tests: hypothesis strategies for accounts, contracts, price
schedules (dated prices, service changes, quantities) and one-off items, and their building through the API.

A world is plain data (`World`), drawn by hypothesis and then written by `build`, each world under a bill group
of its own so the batches of one example bill only its accounts. Dates
lie in 2026, whose accounting periods `chart` opens.
"""

import itertools
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import Phase
from hypothesis import strategies as st
from strawberry.relay import from_base64, to_base64

import models
from domain import clock
from domain.transactions import in_transaction
from tests.support import builders
from tests.support.api import Api

START, END = date(2026, 1, 1), date(2026, 12, 31)
FREQUENCIES = ("MONTHLY", "MONTHLY", "MONTHLY", "MONTHLY", "QUARTERLY", "WEEKLY", "SEMI_ANNUAL", "ANNUAL")
# ZERO and TX have rates (0 and 8.25 %); NOWHERE has none, so its billings are REJECTED_WITH_ERRORS.
TAX_LOCATIONS = ("ZERO", "TX", "TX", "NOWHERE")
# The sandbox gateway decides by token (docs/POSTING.md): success, decline, transient errors, a lost answer.
TOKENS = (None, None, "tok_ok", "tok_ok", "tok_decline", "tok_error", "tok_timeout")

CREATE_PERIOD = """mutation($m: Date!) { createAccountingPeriod(input: {month: $m}) {
  accountingPeriod { id } errors { code } } }"""

# Bounded in time: a failure is reported as found, unshrunk (shrinking replays hundreds of examples), unless
# BILLRUN_RELIABILITY_SHRINK=1 asks for the smallest failing example while debugging.
PHASES = [Phase.explicit, Phase.generate] + ([Phase.shrink] if os.environ.get("BILLRUN_RELIABILITY_SHRINK") == "1"
                                             else [])

_worlds = itertools.count(1)


@dataclass(frozen=True)
class Charge:
    price: Decimal
    revenue: int  # which of the chart's revenue accounts
    quantity: Decimal | None
    dated: tuple[tuple[date, date | None, Decimal], ...]  # non-overlapping windows
    change: tuple[date, Decimal] | None  # a service change: effective date, new price


@dataclass(frozen=True)
class Customer:
    tax_location: str
    token: str | None  # auto-pay payment method, None: no auto-pay
    frequency: str
    start: date
    end: date | None
    anchor: date | None  # None: the start date
    charges: tuple[Charge, ...]
    manual: Decimal | None  # a manual charge, dated on the start
    adjustment: tuple[str, Decimal] | None  # an approved invoice adjustment: kind, amount


@dataclass(frozen=True)
class World:
    currency: str
    customers: tuple[Customer, ...]


@dataclass
class Built:
    """A world as built: its bill group and the global ids of what the tests act on."""

    bill_group: str
    currency: str
    accounts: list[str] = field(default_factory=list)
    account_ids: list[int] = field(default_factory=list)


def money(places: int, low: str = "0.01", high: str = "2500") -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(low) if places else max(Decimal(1), Decimal(low)), max_value=Decimal(high),
                       places=places, allow_nan=False, allow_infinity=False)


def days(low: date = START, high: date = date(2026, 9, 30)) -> st.SearchStrategy[date]:
    return st.dates(min_value=low, max_value=high)


@st.composite
def windows(draw: st.DrawFn, places: int) -> tuple[tuple[date, date | None, Decimal], ...]:
    """Zero to two dated-price windows that never overlap, the last maybe open-ended."""
    count = draw(st.integers(0, 2))
    cuts = sorted(draw(st.lists(days(), min_size=2 * count, max_size=2 * count, unique=True)))
    found = []
    for n in range(count):
        first, last = cuts[2 * n], cuts[2 * n + 1]
        open_ended = n == count - 1 and draw(st.booleans())
        found.append((first, None if open_ended else last, draw(money(places))))
    return tuple(found)


@st.composite
def charges(draw: st.DrawFn, places: int) -> Charge:
    change = draw(st.none() | st.tuples(days(date(2026, 2, 1)), money(places)))
    quantity = draw(st.none() | st.sampled_from([Decimal("2"), Decimal("1.5"), Decimal("0.25")]))
    return Charge(draw(money(places)), draw(st.integers(0, 1)), quantity, draw(windows(places)), change)


@st.composite
def customers(draw: st.DrawFn, places: int, starts: tuple[date, date]) -> Customer:
    frequency = draw(st.sampled_from(FREQUENCIES))
    low, high = starts
    if frequency == "WEEKLY":  # a few weeks, not a season of weekly billings
        low = max(low, high - timedelta(days=24))
    start = draw(days(low, high))
    end = draw(st.none() | st.none() | days(start, END))
    anchor = draw(st.none() | st.just(start.replace(day=1)))
    adjustment = draw(st.none() | st.none() | st.tuples(st.sampled_from(["CREDIT", "DEBIT"]),
                                                        money(places, high="300")))
    return Customer(draw(st.sampled_from(TAX_LOCATIONS)), draw(st.sampled_from(TOKENS)), frequency, start, end, anchor,
                    tuple(draw(st.lists(charges(places), min_size=1, max_size=2))),
                    draw(st.none() | st.none() | money(places, high="500")), adjustment)


@st.composite
def worlds(draw: st.DrawFn, max_customers: int = 4,
           starts: tuple[date, date] = (date(2026, 3, 1), date(2026, 5, 31))) -> World:
    currency = draw(st.sampled_from(["USD", "USD", "USD", "JPY"]))
    places = 0 if currency == "JPY" else 2
    return World(currency, tuple(draw(st.lists(customers(places, starts), min_size=1, max_size=max_customers))))


# ---------------------------------------------------------------- building


async def chart(admin: Api) -> dict[str, str]:
    """Receivables, cash, two revenue accounts, tax payable; tax rates ZERO and TX; every month of 2026 open."""
    accounts = {}
    for code, name, kind in (("1000", "Bank", "CASH"), ("1200", "Accounts receivable", "RECEIVABLE"),
                             ("4000", "Services", "REVENUE"), ("4100", "Products", "REVENUE"),
                             ("2200", "Sales tax payable", "TAX_PAYABLE")):
        payload = await admin.mutate("createLedgerAccount", builders.CREATE_LEDGER, {"input": {
            "code": code, "name": name, "kind": kind}})
        accounts[code] = payload["ledgerAccount"]["id"]
    for location, rate in (("ZERO", "0"), ("TX", "0.0825")):
        await admin.mutate("createTaxRate", builders.CREATE_TAX, {"input": {
            "location": location, "name": location, "rate": rate, "ledgerAccountId": accounts["2200"]}})
    for month in range(1, 13):
        await admin.mutate("createAccountingPeriod", CREATE_PERIOD, {"m": date(2026, month, 1).isoformat()})
    return accounts


async def build(world: World, books: dict[str, str]) -> Built:
    """The world's accounts, contracts, charges, price schedules and one-off items, written straight to the
    tables in one transaction (the master-data mutations have tests of their own; here they would cost more
    than the billing under test). Only valid data is drawn: dated-price windows never overlap."""
    n = next(_worlds)
    built = Built(f"W{n}", world.currency)
    revenue = [db_id(books["4000"]), db_id(books["4100"])]
    async with in_transaction():
        for i, c in enumerate(world.customers):
            account = await models.Account.create(
                number=f"W{n}-{i}", name=f"Customer W{n}-{i}", bill_group=built.bill_group, division="D",
                currency=world.currency, tax_location=c.tax_location, billing_email=f"w{n}-{i}@example.com",
                autopay_enabled=c.token is not None, payment_method_token=c.token)
            built.account_ids.append(account.id)
            built.accounts.append(gid("Account", account.id))
            contract = await models.SalesContract.create(
                account_id=account.id, number=f"SC-W{n}-{i}", frequency=c.frequency, start_date=c.start,
                end_date=c.end, billing_anchor=c.anchor or c.start)
            for j, charge in enumerate(c.charges):
                row = await models.RecurringCharge.create(
                    contract_id=contract.id, description=f"C{j}", periodic_price=charge.price,
                    quantity=charge.quantity or Decimal(1), revenue_account_id=revenue[charge.revenue])
                for first, last, price in charge.dated:
                    await models.DatedPrice.create(charge_id=row.id, first_effective_date=first,
                                                   last_effective_date=last, periodic_price=price)
                if charge.change is not None:
                    await models.ServiceChange.create(charge_id=row.id, effective_date=charge.change[0],
                                                      new_price=charge.change[1], note="rate change")
            if c.manual is not None:
                await models.ManualCharge.create(account_id=account.id, description="Set-up", charge_date=c.start,
                                                 amount=c.manual, revenue_account_id=revenue[0])
            if c.adjustment is not None:
                await models.InvoiceAdjustment.create(
                    account_id=account.id, kind=c.adjustment[0], description="Goodwill", amount=c.adjustment[1],
                    revenue_account_id=revenue[1], approved=True, approved_at=clock.now())
    return built


def db_id(global_id: str) -> int:
    return int(from_base64(global_id)[1])


def gid(type_name: str, db_id: int) -> str:
    return to_base64(type_name, db_id)


def month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)

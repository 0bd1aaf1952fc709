"""The pricing engine: contracts and one-off items in, billing drafts with traced lines out (docs/BILLING.md).

Pure: no database, no I/O, no clock. The same input always gives the same drafts. Money is Decimal, rounded
half-up at the line to the minor unit of the account's currency (USD cents, whole yen: `domain.money`); a draft's
amount is the sum of its rounded lines. The currency is an input of both entry points, beside the tax rate.

Every line carries a JSON-serializable `trace`: the facts of its pricing that its columns do not hold (the unit
price and quantity used, a dated price's window, a service change's prices…). `domain.trace.compose` turns
them and the columns into the whole answer to "why this amount?" (price record and why, period, days billed of
days in the period, the formula, tax rate and location).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from domain.calendar import days_inclusive, periods_due
from domain.currencies import STORED_DECIMALS, currency_problem, minor_unit
from domain.money import round_half_up
from domain.trace import number_text, price_text
from models.enums import BillingFrequency, BillingStatus, DetailKind, PriceSource

ZERO = Decimal(0)

# ---------------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class DatedPriceIn:
    """A date-effective price of a charge: valid from `first` to `last` (inclusive; None = open-ended)."""

    id: int
    first: date
    last: date | None
    price: Decimal

    def contains(self, day: date) -> bool:
        """True when `day` falls inside this price's window."""
        return self.first <= day and (self.last is None or day <= self.last)


@dataclass(frozen=True)
class ServiceChangeIn:
    """A rate change of a recurring charge from `effective` on."""

    id: int
    effective: date
    new_price: Decimal


@dataclass(frozen=True)
class ChargeIn:
    """A recurring charge of a contract, with its dated prices and service changes."""

    id: int
    description: str
    price: Decimal
    quantity: Decimal
    revenue_account_id: int | None
    dated_prices: tuple[DatedPriceIn, ...] = ()
    service_changes: tuple[ServiceChangeIn, ...] = ()


@dataclass(frozen=True)
class ContractIn:
    """A sales contract as the engine needs it."""

    id: int
    account_id: int
    frequency: BillingFrequency
    start: date
    end: date | None
    anchor: date
    charges: tuple[ChargeIn, ...]


@dataclass(frozen=True)
class TaxIn:
    """The tax rate of a tax location and the ledger account its tax is credited to."""

    location: str
    rate: Decimal
    ledger_account_id: int | None


@dataclass(frozen=True)
class OneOffIn:
    """A work order, manual charge or approved adjustment of an account, billed once."""

    kind: DetailKind  # WORK_ORDER, MANUAL or ADJUSTMENT
    source_type: str
    source_id: int
    description: str
    day: date
    amount: Decimal  # signed final amount before rounding (credit adjustments negative)
    revenue_account_id: int | None
    quantity: Decimal | None = None  # for the trace (work orders)
    unit_price: Decimal | None = None


# --------------------------------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Problem:
    """Why a draft cannot be billed as is (e.g. NO_REVENUE_ACCOUNT); it becomes a finding."""

    kind: str
    message: str


@dataclass
class LineDraft:
    """One detail line of a billing draft. `distributions` defaults to one row: the whole amount."""

    kind: DetailKind
    description: str
    amount: Decimal
    days_billed: int | None
    days_in_period: int | None
    price_source: PriceSource | None
    charge_id: int | None
    dated_price_id: int | None
    source_type: str | None
    source_id: int | None
    revenue_account_id: int | None
    trace: dict = field(default_factory=dict)
    distributions: list[tuple[int | None, Decimal]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.distributions:
            self.distributions = [(self.revenue_account_id, self.amount)]


@dataclass
class BillingDraft:
    """One billing of one contract period (or of an account's one-off items), not yet stored.

    `period_start`/`period_end` are the period's own bounds; `billing_start`/`billing_end` the first and last day
    it bills (a contract starting on the 16th bills from the 16th). For one-off items they are the same.
    """

    contract_id: int | None
    account_id: int
    currency: str
    frequency: BillingFrequency | None
    period_start: date
    period_end: date
    billing_start: date
    billing_end: date
    as_of: date
    tax_location: str
    lines: list[LineDraft]
    problems: list[Problem]

    @property
    def amount(self) -> Decimal:
        """The periodic billing amount: the sum of the rounded lines."""
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def status(self) -> BillingStatus:
        """REJECTED_WITH_ERRORS when any problem was found, NEW otherwise."""
        return BillingStatus.REJECTED_WITH_ERRORS if self.problems else BillingStatus.NEW


# ---------------------------------------------------------------------------------------------- formatting


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _places(currency: str, problems: list[Problem]) -> int:
    """The decimals lines of this currency round to. A currency that cannot be billed (withdrawn since the
    account was opened, or with more decimals than storage holds) rejects the billing and rounds to storage."""
    problem = currency_problem(currency)
    if problem is None:
        return minor_unit(currency)
    problems.append(Problem("UNSUPPORTED_CURRENCY", f"The account's currency cannot be billed: {problem.message}"))
    return STORED_DECIMALS


def _facts(places: int, unit_price: Decimal | None, quantity: Decimal | None, **extra: object) -> dict:
    """The stored trace: only what the line's and billing's columns do not hold (`domain.trace` composes the
    rest on read): the unit price and quantity used, the currency's decimals when not two, and `extra`."""
    facts: dict = {} if places == STORED_DECIMALS else {"places": places}
    if unit_price is not None:
        facts["unit_price"] = price_text(unit_price, places)
    if quantity is not None:
        facts["quantity"] = number_text(quantity)
    facts.update({key: value for key, value in extra.items() if value is not None})
    return facts


# ------------------------------------------------------------------------------------------- price choice


@dataclass(frozen=True)
class _PeriodSpan:
    """The anchored period and the service days of it that are billed."""

    start: date
    end: date
    billing_start: date
    billing_end: date

    @property
    def days_in_period(self) -> int:
        return days_inclusive(self.start, self.end)

    @property
    def days_billed(self) -> int:
        return days_inclusive(self.billing_start, self.billing_end)


@dataclass(frozen=True)
class PriceChoice:
    """The price of a charge for a period and where it came from: `record` holds the trace facts of the choice
    (a dated price's window and overlapping windows, a service change's id and effective date)."""

    price: Decimal
    source: PriceSource
    dated_price_id: int | None
    record: dict
    problem: Problem | None = None


def _containing_windows(charge: ChargeIn, day: date) -> list[DatedPriceIn]:
    return sorted((p for p in charge.dated_prices if p.contains(day)), key=lambda p: (p.first, p.id))


def _latest_service_change(charge: ChargeIn, day: date) -> ServiceChangeIn | None:
    earlier = [change for change in charge.service_changes if change.effective <= day]
    return max(earlier, key=lambda change: (change.effective, change.id), default=None)


def _dated_choice(charge: ChargeIn, windows: list[DatedPriceIn], day: date) -> PriceChoice:
    chosen = windows[0]
    record: dict = {"window": [chosen.first.isoformat(), _iso(chosen.last)]}
    problem = None
    if len(windows) > 1:
        record["overlap"] = [p.id for p in windows[1:]]
        others = ", ".join(f"#{p.id}" for p in windows[1:])
        problem = Problem("OVERLAPPING_DATED_PRICES",
                          f"Charge #{charge.id} '{charge.description}' has overlapping dated prices "
                          f"#{chosen.id}, {others} on {day.isoformat()}.")
    return PriceChoice(chosen.price, PriceSource.DATED_PRICE, chosen.id, record, problem)


def _undated_choice(charge: ChargeIn, day: date) -> PriceChoice:
    change = _latest_service_change(charge, day)
    if change is None:
        return PriceChoice(charge.price, PriceSource.CONTRACT_CHARGE, None, {})
    record = {"record": ["ServiceChange", change.id], "effective": change.effective.isoformat()}
    return PriceChoice(change.new_price, PriceSource.CONTRACT_CHARGE, None, record)


def choose_price(charge: ChargeIn, billing_starting_date: date) -> PriceChoice:
    """The price of `charge` for a period billed from `billing_starting_date` (docs/BILLING.md)."""
    windows = _containing_windows(charge, billing_starting_date)
    if windows:
        return _dated_choice(charge, windows, billing_starting_date)
    return _undated_choice(charge, billing_starting_date)


# ------------------------------------------------------------------------------------------ contract lines


def _prorate(price: Decimal, quantity: Decimal, days_billed: int, days_in_period: int, places: int) -> Decimal:
    return round_half_up(price * quantity * days_billed / days_in_period, places)


def _recurring_line(charge: ChargeIn, span: _PeriodSpan, choice: PriceChoice, places: int) -> LineDraft:
    days_billed, days_in_period = span.days_billed, span.days_in_period
    amount = _prorate(choice.price, charge.quantity, days_billed, days_in_period, places)
    return LineDraft(
        kind=DetailKind.RECURRING, description=charge.description, amount=amount, days_billed=days_billed,
        days_in_period=days_in_period, price_source=choice.source, charge_id=charge.id,
        dated_price_id=choice.dated_price_id, source_type=None, source_id=None,
        revenue_account_id=charge.revenue_account_id,
        trace=_facts(places, choice.price, charge.quantity, **choice.record))


def _changes_inside(charge: ChargeIn, span: _PeriodSpan) -> list[ServiceChangeIn]:
    """Service changes taking effect after the billing starting date, inside the billed days, not overridden
    by a dated price on their effective date."""
    inside = [change for change in charge.service_changes
              if span.billing_start < change.effective <= span.billing_end
              and not any(price.contains(change.effective) for price in charge.dated_prices)]
    return sorted(inside, key=lambda change: (change.effective, change.id))


def _service_change_line(charge: ChargeIn, span: _PeriodSpan, change: ServiceChangeIn,
                         replaced_price: Decimal, places: int) -> LineDraft:
    days, days_in_period = days_inclusive(change.effective, span.billing_end), span.days_in_period
    difference = change.new_price - replaced_price
    amount = _prorate(difference, charge.quantity, days, days_in_period, places)
    trace = _facts(places, difference, charge.quantity, new_price=price_text(change.new_price, places),
                   replaced_price=price_text(replaced_price, places), effective=change.effective.isoformat())
    return LineDraft(
        kind=DetailKind.SERVICE_CHANGE, description=f"{charge.description} (service change)", amount=amount,
        days_billed=days, days_in_period=days_in_period, price_source=PriceSource.CONTRACT_CHARGE,
        charge_id=charge.id, dated_price_id=None, source_type="ServiceChange", source_id=change.id,
        revenue_account_id=charge.revenue_account_id, trace=trace)


def _charge_lines(charge: ChargeIn, span: _PeriodSpan, places: int) -> tuple[list[LineDraft], list[Problem]]:
    """The recurring line of a charge, then one line per service change inside the period."""
    choice = choose_price(charge, span.billing_start)
    problems = [] if choice.problem is None else [choice.problem]
    if charge.revenue_account_id is None:
        problems.append(Problem("NO_REVENUE_ACCOUNT",
                                f"Charge #{charge.id} '{charge.description}' has no revenue account."))
    lines = [_recurring_line(charge, span, choice, places)]
    price_in_effect = choice.price
    for change in _changes_inside(charge, span):
        lines.append(_service_change_line(charge, span, change, price_in_effect, places))
        price_in_effect = change.new_price
    return lines, problems


# ----------------------------------------------------------------------------------------- one-off lines


def _one_off_line(item: OneOffIn, places: int) -> LineDraft:
    amount = round_half_up(item.amount, places)
    priced = item.quantity is not None and item.unit_price is not None
    trace = _facts(places, item.unit_price, item.quantity, day=item.day.isoformat(),
                   raw=None if priced else format(item.amount, "f"))
    return LineDraft(
        kind=item.kind, description=item.description, amount=amount, days_billed=None, days_in_period=None,
        price_source=None, charge_id=None, dated_price_id=None, source_type=item.source_type,
        source_id=item.source_id, revenue_account_id=item.revenue_account_id, trace=trace)


def _one_off_problems(items: Sequence[OneOffIn]) -> list[Problem]:
    return [Problem("NO_REVENUE_ACCOUNT", f"{item.source_type} #{item.source_id} '{item.description}' has no "
                                          f"revenue account.")
            for item in items if item.revenue_account_id is None]


# ---------------------------------------------------------------------------------------------- tax, totals


def _tax_line(tax: TaxIn, base: Decimal, places: int) -> LineDraft:
    amount = round_half_up(base * tax.rate, places)
    return LineDraft(
        kind=DetailKind.TAX, description=f"Tax ({tax.location})", amount=amount, days_billed=None,
        days_in_period=None, price_source=None, charge_id=None, dated_price_id=None, source_type=None,
        source_id=None, revenue_account_id=tax.ledger_account_id,
        trace=_facts(places, None, None, rate=number_text(tax.rate), base=str(base)))


def _add_tax(draft: BillingDraft, tax: TaxIn | None, places: int) -> None:
    """Rule 6: a TAX line last (none at rate 0), or NO_TAX_RATE when the location has no rate."""
    if tax is None:
        draft.problems.append(Problem("NO_TAX_RATE", f"No tax rate for tax location '{draft.tax_location}'."))
        return
    if tax.rate == 0:
        return
    if tax.ledger_account_id is None:
        draft.problems.append(Problem("NO_TAX_ACCOUNT", f"The tax rate of '{tax.location}' has no ledger account."))
    draft.lines.append(_tax_line(tax, draft.amount, places))


def _check_total(draft: BillingDraft) -> None:
    if draft.amount < 0:
        draft.problems.append(Problem("NEGATIVE_TOTAL", f"The billing's total {draft.amount} is negative."))


# -------------------------------------------------------------------------------------------- entry points


def _span(contract: ContractIn, period: tuple[date, date]) -> _PeriodSpan:
    start, end = period
    billing_end = end if contract.end is None else min(end, contract.end)
    return _PeriodSpan(start, end, max(start, contract.start), billing_end)


def _price_period(contract: ContractIn, period: tuple[date, date], *, currency: str, as_of: date,
                  tax: TaxIn | None, tax_location: str) -> BillingDraft:
    span = _span(contract, period)
    draft = BillingDraft(contract_id=contract.id, account_id=contract.account_id, currency=currency,
                         frequency=contract.frequency, period_start=span.start, period_end=span.end,
                         billing_start=span.billing_start, billing_end=span.billing_end, as_of=as_of,
                         tax_location=tax_location, lines=[], problems=[])
    places = _places(currency, draft.problems)
    for charge in contract.charges:
        lines, problems = _charge_lines(charge, span, places)
        draft.lines.extend(lines)
        draft.problems.extend(problems)
    _add_tax(draft, tax, places)
    _check_total(draft)
    return draft


def price_contract(contract: ContractIn, *, currency: str, as_of: date, billed_starts: frozenset[date] | set[date],
                   tax: TaxIn | None, tax_location: str) -> list[BillingDraft]:
    """One draft per period due up to `as_of` whose start is not in `billed_starts` (missed periods caught up),
    its lines rounded to the minor unit of `currency` (the account's).

    A contract without charges yields no drafts.
    """
    if not contract.charges:
        return []
    periods = periods_due(contract.anchor, contract.frequency, contract.start, contract.end, as_of)
    return [_price_period(contract, period, currency=currency, as_of=as_of, tax=tax, tax_location=tax_location)
            for period in periods if period[0] not in billed_starts]


def price_one_offs(account_id: int, items: Sequence[OneOffIn], *, currency: str, as_of: date, tax: TaxIn | None,
                   tax_location: str) -> BillingDraft | None:
    """One draft of an account's one-off items (work orders, manual charges, adjustments), or None if none,
    its lines rounded to the minor unit of `currency` (the account's).

    Its period (and the days it bills) runs from the earliest item's day (at most `as_of`) to `as_of`; one line
    per item, in order.
    """
    if not items:
        return None
    start = min(min(item.day for item in items), as_of)
    draft = BillingDraft(contract_id=None, account_id=account_id, currency=currency, frequency=None,
                         period_start=start, period_end=as_of, billing_start=start, billing_end=as_of, as_of=as_of,
                         tax_location=tax_location, lines=[], problems=[])
    places = _places(currency, draft.problems)
    draft.lines = [_one_off_line(item, places) for item in items]
    draft.problems.extend(_one_off_problems(items))
    _add_tax(draft, tax, places)
    _check_total(draft)
    return draft

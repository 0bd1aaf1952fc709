"""A line's price trace: stored as the few facts its columns do not hold, composed on read (docs/BILLING.md).

A detail line's columns already hold its kind, amount, days billed of days in the period, price source and the
records it names (charge, dated price, source item, revenue account); its billing holds the period, the days it
bills and the tax location; `revenue_distribution` holds the split. So the `trace` column keeps only what was
true at pricing time and is found nowhere else: the unit price and quantity used, a dated price's window, a
service change's prices and effective date, a one-off item's day, the tax rate and base, the currency's decimals
when they are not two. `compose` rebuilds the whole trace (the reason and the formula in words included) from
those facts and the columns.

Any key stored beside the facts wins over what would be composed: rows written before the compact shape (whose
trace held everything, `price_record`, `why`, `formula`, `period`…) read exactly as they were written, and a
clerk's line edit pins the reason and formula the line was priced with. Pure: no database, no I/O.
"""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import orjson

from domain.currencies import STORED_DECIMALS
from domain.money import round_half_up
from models.enums import DetailKind, PriceSource

TIMES = "\u00d7"  # the multiplication and minus signs of the formulas
MINUS = "\u2212"
ONE_OFF_KINDS = (DetailKind.WORK_ORDER, DetailKind.MANUAL, DetailKind.ADJUSTMENT)


class LineColumns(Protocol):
    """What a detail line's columns hold (a `models.BillingDetail` row or a pricing `LineDraft`)."""

    @property
    def kind(self) -> DetailKind: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def days_billed(self) -> int | None: ...
    @property
    def days_in_period(self) -> int | None: ...
    @property
    def price_source(self) -> PriceSource | None: ...
    @property
    def charge_id(self) -> int | None: ...
    @property
    def dated_price_id(self) -> int | None: ...
    @property
    def source_type(self) -> str | None: ...
    @property
    def source_id(self) -> int | None: ...
    @property
    def trace(self) -> dict[str, Any]: ...


class BillingColumns(Protocol):
    """What a billing's columns hold for its lines' traces (a `models.PeriodicBilling` row or a draft)."""

    @property
    def period_start(self) -> date: ...
    @property
    def period_end(self) -> date: ...
    @property
    def billing_start(self) -> date: ...
    @property
    def billing_end(self) -> date: ...
    @property
    def tax_location(self) -> str: ...


@dataclass(frozen=True)
class LineRow:
    """A detail line's columns read as plain values (`LineColumns`)."""

    kind: DetailKind
    amount: Decimal
    days_billed: int | None
    days_in_period: int | None
    price_source: PriceSource | None
    charge_id: int | None
    dated_price_id: int | None
    source_type: str | None
    source_id: int | None
    trace: dict[str, Any]


@dataclass(frozen=True)
class BillingRow:
    """A billing's columns read as plain values (`BillingColumns`)."""

    period_start: date
    period_end: date
    billing_start: date
    billing_end: date
    tax_location: str


LINE_FIELDS = tuple(LineRow.__dataclass_fields__)
BILLING_FIELDS = tuple(BillingRow.__dataclass_fields__)


@dataclass(frozen=True)
class Trace:
    """A line's whole trace. `record_type`/`record_id` name the price record (a TaxRate by `tax_location`)."""

    price_source: PriceSource | None
    record_type: str | None
    record_id: int | None
    why: str
    period_start: date
    period_end: date
    billing_start: date
    billing_end: date
    days_billed: int | None
    days_in_period: int | None
    unit_price: Decimal | None
    quantity: Decimal | None
    formula: str
    tax_rate: Decimal | None
    tax_location: str | None
    tax_base: Decimal | None


# ---------------------------------------------------------------------------------------------- formatting


def number_text(value: Decimal) -> str:
    """A plain decimal string without exponent or trailing zeros (quantities, rates)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def price_text(value: Decimal, places: int) -> str:
    """A price shown with the currency's decimals (cents, or none for yen), or with all its places when it has
    more."""
    rounded = round_half_up(value, places)
    return format(rounded, "f") if value == rounded else format(value, "f")


def window_text(first: Any, last: Any) -> str:
    """A dated price's window in words."""
    return f"from {first}, open-ended" if last is None else f"{first} to {last}"


# ---------------------------------------------------------------------------------------------- composing


def _date(value: Any, default: date) -> date:
    return default if value is None else date.fromisoformat(value)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _record(line: LineColumns, stored: dict[str, Any]) -> tuple[str | None, int | None]:
    """The price record: stored when the columns cannot tell (a service change pricing a recurring line; rows of
    the old shape), else the dated price, the source item, the tax rate or the charge."""
    if isinstance(stored.get("price_record"), dict):
        record = stored["price_record"]
        return record.get("type"), record.get("id") if isinstance(record.get("id"), int) else None
    if isinstance(stored.get("record"), list):
        kind, pk = stored["record"]
        return kind, pk
    if line.dated_price_id is not None:
        return "DatedPrice", line.dated_price_id
    if line.source_type is not None:
        return line.source_type, line.source_id
    if line.kind == DetailKind.TAX:
        return "TaxRate", None
    if line.charge_id is not None:
        return "RecurringCharge", line.charge_id
    return None, None


def _why(line: LineColumns, billing: BillingColumns, facts: dict[str, Any], record: tuple[str | None, int | None],
         amount: str) -> str:
    start = billing.billing_start.isoformat()
    kind, pk = record
    if line.kind == DetailKind.RECURRING and kind == "DatedPrice":
        first, last = facts.get("window") or ("?", None)
        why = f"Dated price #{pk} ({window_text(first, last)}) contains the billing starting date {start}"
        if facts.get("overlap"):
            others = ", ".join(f"#{other}" for other in facts["overlap"])
            why += (f"; dated prices {others} contain it too (overlapping legacy data), the earliest-starting one "
                    "is used")
        return why
    if line.kind == DetailKind.RECURRING and kind == "ServiceChange":
        return (f"No dated price contains the billing starting date {start}: service change #{pk} effective "
                f"{facts.get('effective')} set the charge's price to {facts.get('unit_price')}")
    if line.kind == DetailKind.RECURRING:
        return (f"No dated price contains the billing starting date {start} and no service change applies: the "
                f"charge's own periodic price is used")
    if line.kind == DetailKind.SERVICE_CHANGE:
        return (f"Service change #{pk} effective {facts.get('effective')} changes the price from "
                f"{facts.get('replaced_price')} to {facts.get('new_price')} for the {line.days_billed} days from "
                f"{facts.get('effective')} to {billing.billing_end.isoformat()}")
    if line.kind in ONE_OFF_KINDS:
        return f"{kind} #{pk} of {facts.get('day')} is billed once, for {amount}"
    if line.kind == DetailKind.TAX:
        return (f"Tax rate {facts.get('rate')} of tax location {billing.tax_location} applied to the other lines "
                f"({facts.get('base')})")
    return ""


def _formula(line: LineColumns, facts: dict[str, Any], amount: str) -> str:
    days = f"{line.days_billed}/{line.days_in_period}"
    if line.kind == DetailKind.RECURRING:
        return f"{facts.get('unit_price')} {TIMES} {facts.get('quantity')} {TIMES} {days} = {amount}"
    if line.kind == DetailKind.SERVICE_CHANGE:
        return (f"({facts.get('new_price')} {MINUS} {facts.get('replaced_price')}) {TIMES} {facts.get('quantity')} "
                f"{TIMES} {days} = {amount}")
    if line.kind == DetailKind.TAX:
        return f"{facts.get('base')} {TIMES} {facts.get('rate')} = {amount}"
    if line.kind in ONE_OFF_KINDS and facts.get("quantity") is not None and facts.get("unit_price") is not None:
        return f"{facts['quantity']} {TIMES} {facts['unit_price']} = {amount}"
    if line.kind in ONE_OFF_KINDS:
        return f"{facts.get('raw')} rounded half-up = {amount}"
    return amount


def compose(line: LineColumns, billing: BillingColumns) -> Trace:
    """The whole trace of `line` (of `billing`): its stored facts and keys, the rest from the columns."""
    stored = line.trace or {}
    amount = str(round_half_up(line.amount, stored.get("places", STORED_DECIMALS)))
    record = _record(line, stored)
    period: dict[str, Any] = stored["period"] if isinstance(stored.get("period"), dict) else {}
    is_tax = line.kind == DetailKind.TAX
    source = stored.get("price_source", line.price_source)
    return Trace(
        price_source=None if source is None else PriceSource(source),
        record_type=record[0], record_id=record[1],
        why=stored["why"] if "why" in stored else _why(line, billing, stored, record, amount),
        period_start=_date(period.get("start"), billing.period_start),
        period_end=_date(period.get("end"), billing.period_end),
        billing_start=_date(stored.get("billing_starting_date"), billing.billing_start),
        billing_end=_date(stored.get("billing_ending_date"), billing.billing_end),
        days_billed=stored.get("days_billed", line.days_billed),
        days_in_period=stored.get("days_in_period", line.days_in_period),
        unit_price=_decimal(stored.get("unit_price")), quantity=_decimal(stored.get("quantity")),
        formula=stored["formula"] if "formula" in stored else _formula(line, stored, amount),
        tax_rate=_decimal(stored.get("rate")) if is_tax else None,
        tax_location=stored.get("location", billing.tax_location) if is_tax else None,
        tax_base=_decimal(stored.get("base")) if is_tax else None,
    )


MAX_COMPOSED = 50_000  # composed traces kept per process (a few hundred bytes each), the oldest dropped first
_COMPOSED: OrderedDict[tuple, Trace] = OrderedDict()


def composed(line: LineColumns, billing: BillingColumns) -> Trace:
    """`compose(line, billing)`, remembered by everything it is composed from: the line's columns, its stored
    facts (as sorted JSON) and its billing's columns. A line or billing edited since composes anew (its inputs
    differ); the same inputs compose the same trace, so a page read again formats none of its lines' strings
    and dates (docs/PERFORMANCE.md, "Serving the grid"). `Trace` is frozen: sharing it is safe."""
    stored = line.trace
    try:
        facts = orjson.dumps(stored, option=orjson.OPT_SORT_KEYS) if stored else b""
    except TypeError:  # a value orjson cannot encode (never written by pricing): composed, not remembered
        return compose(line, billing)
    key = (line.kind, line.amount, line.days_billed, line.days_in_period, line.price_source, line.charge_id,
           line.dated_price_id, line.source_type, line.source_id, facts, billing.period_start, billing.period_end,
           billing.billing_start, billing.billing_end, billing.tax_location)
    found = _COMPOSED.get(key)
    if found is not None:
        return found
    found = _COMPOSED[key] = compose(line, billing)
    if len(_COMPOSED) > MAX_COMPOSED:
        _COMPOSED.popitem(last=False)
    return found


def pinned(line: LineColumns, billing: BillingColumns) -> dict[str, Any]:
    """The stored trace with the reason and formula written out, as composed now: a clerk's edit of the line's
    amount or days keeps the arithmetic it was priced with."""
    composed = compose(line, billing)
    return {**(line.trace or {}), "why": composed.why, "formula": composed.formula}

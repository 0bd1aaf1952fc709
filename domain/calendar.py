"""Billing periods of a contract: anchored, calendar-aware, pure (docs/DATA_MODEL.md).

Period k of a contract is `[anchor + k*step, anchor + (k+1)*step - 1 day]` for any integer k (negative
allowed). Every boundary is computed from the anchor in one step, never by adding steps one after another, so
an anchor on the 31st clips to each month's end without drifting (Jan 31 → Feb 28 → Mar 31).
"""

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from models.enums import BillingFrequency

STEP: dict[BillingFrequency, relativedelta] = {
    BillingFrequency.WEEKLY: relativedelta(days=7),
    BillingFrequency.MONTHLY: relativedelta(months=1),
    BillingFrequency.QUARTERLY: relativedelta(months=3),
    BillingFrequency.SEMI_ANNUAL: relativedelta(months=6),
    BillingFrequency.ANNUAL: relativedelta(months=12),
}

_ONE_DAY = timedelta(days=1)


def _step_months(frequency: BillingFrequency) -> int:
    step = STEP[frequency]
    return step.years * 12 + step.months


def _step_days(frequency: BillingFrequency) -> int:
    return STEP[frequency].days


def period_start(anchor: date, frequency: BillingFrequency, index: int) -> date:
    """First day of period `index` (0 is the period that starts on the anchor)."""
    return anchor + relativedelta(months=_step_months(frequency) * index, days=_step_days(frequency) * index)


def period_bounds(anchor: date, frequency: BillingFrequency, index: int) -> tuple[date, date]:
    """First and last day (inclusive) of period `index`."""
    return period_start(anchor, frequency, index), period_start(anchor, frequency, index + 1) - _ONE_DAY


def _estimated_index(anchor: date, frequency: BillingFrequency, day: date) -> int:
    months = _step_months(frequency)
    if months:
        return ((day.year - anchor.year) * 12 + day.month - anchor.month) // months
    return (day - anchor).days // _step_days(frequency)


def _locate(anchor: date, frequency: BillingFrequency, day: date) -> tuple[int, date, date]:
    """Index, first day, and first day of the next period, of the period containing `day`.

    The index is estimated from the calendar distance, then adjusted by at most a step or two.
    """
    index = _estimated_index(anchor, frequency, day)
    start = period_start(anchor, frequency, index)
    while start > day:
        index -= 1
        start = period_start(anchor, frequency, index)
    following = period_start(anchor, frequency, index + 1)
    while following <= day:
        index, start = index + 1, following
        following = period_start(anchor, frequency, index + 1)
    return index, start, following


def period_index(anchor: date, frequency: BillingFrequency, day: date) -> int:
    """Index of the period that contains `day`."""
    return _locate(anchor, frequency, day)[0]


def period_containing(anchor: date, frequency: BillingFrequency, day: date) -> tuple[date, date]:
    """The anchored period (first day, last day) that contains `day`."""
    _, start, following = _locate(anchor, frequency, day)
    return start, following - _ONE_DAY


def periods_due(anchor: date, frequency: BillingFrequency, service_start: date, service_end: date | None,
                as_of: date) -> list[tuple[date, date]]:
    """Every period overlapping the service span whose first day is on or before `as_of` (billed in advance).

    In chronological order; empty when the service starts after `as_of` or the span is empty.
    """
    last_day = as_of if service_end is None else min(as_of, service_end)
    if service_start > last_day:
        return []
    index, start, following = _locate(anchor, frequency, service_start)
    periods = [(start, following - _ONE_DAY)]
    while following <= last_day:
        index, start = index + 1, following
        following = period_start(anchor, frequency, index + 1)
        periods.append((start, following - _ONE_DAY))
    return periods


def days_inclusive(start: date, end: date) -> int:
    """Number of days from `start` to `end`, both included."""
    return (end - start).days + 1

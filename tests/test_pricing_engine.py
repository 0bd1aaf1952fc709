"""The pure pricing engine: anchored periods, price choice, proration, service changes, problems, tax, traces."""

import json
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import days_inclusive, period_containing, periods_due
from domain.pricing import (
    BillingDraft,
    ChargeIn,
    ContractIn,
    DatedPriceIn,
    OneOffIn,
    ServiceChangeIn,
    TaxIn,
    price_contract,
    price_one_offs,
)
from domain.trace import Trace, compose
from models.enums import BillingFrequency, BillingStatus, DetailKind, PriceSource

D = Decimal
MONTHLY = BillingFrequency.MONTHLY
NO_TAX = TaxIn("ZERO", D(0), 90)
# Keys the stored trace never holds: the line's and billing's columns (and the distribution rows) hold them.
COLUMN_KEYS = {"price_source", "price_record", "why", "period", "billing_starting_date", "billing_ending_date",
               "days_billed", "days_in_period", "formula", "distribution", "charge_id", "location"}


def charge(charge_id: int = 1, price: str = "20", quantity: str = "1", revenue: int | None = 10,
           dated: tuple[DatedPriceIn, ...] = (), changes: tuple[ServiceChangeIn, ...] = ()) -> ChargeIn:
    return ChargeIn(charge_id, f"Charge {charge_id}", D(price), D(quantity), revenue, dated, changes)


def contract(*charges: ChargeIn, start: date = date(2026, 1, 1), end: date | None = None,
             anchor: date | None = None, frequency: BillingFrequency = MONTHLY) -> ContractIn:
    return ContractIn(1, 7, frequency, start, end, anchor or start, charges)


def price(c: ContractIn, as_of: date, *, billed: frozenset[date] = frozenset(), tax: TaxIn | None = NO_TAX,
          currency: str = "USD") -> list[BillingDraft]:
    return price_contract(c, currency=currency, as_of=as_of, billed_starts=billed, tax=tax,
                          tax_location="ZERO" if tax else "NOWHERE")


def one_offs(items: list[OneOffIn], tax: TaxIn = NO_TAX, currency: str = "USD") -> BillingDraft | None:
    return price_one_offs(7, items, currency=currency, as_of=date(2026, 4, 30), tax=tax, tax_location=tax.location)


def explain(draft: BillingDraft, line: int) -> Trace:
    """The whole trace of a draft's line, as the graph composes it from the stored facts and the columns."""
    return compose(draft.lines[line], draft)


def kinds(draft: BillingDraft) -> list[str]:
    return [problem.kind for problem in draft.problems]


# ------------------------------------------------------------------------------------------------ calendar


def test_monthly_anchor_on_the_31st_clips_to_month_ends_without_drift() -> None:
    anchor = date(2027, 1, 31)
    periods = periods_due(anchor, MONTHLY, anchor, None, date(2028, 12, 31))
    assert len(periods) == 24
    assert periods[0] == (date(2027, 1, 31), date(2027, 2, 27))
    assert periods[1] == (date(2027, 2, 28), date(2027, 3, 30))
    assert periods[2] == (date(2027, 3, 31), date(2027, 4, 29))
    assert periods[13] == (date(2028, 2, 29), date(2028, 3, 30))  # leap year
    assert periods[-1] == (date(2028, 12, 31), date(2029, 1, 30))
    for (_, end), (next_start, _) in pairwise(periods):
        assert next_start == end + timedelta(days=1)  # contiguous, no gap, no overlap
    assert [start.day for start, _ in periods[:3]] == [31, 28, 31]
    assert sum(1 for start, _ in periods if start.day == 31) == 14  # every 31-day month still starts on the 31st


def test_month_end_periods_from_an_anchor_on_the_first() -> None:
    anchor = date(2027, 1, 1)
    assert period_containing(anchor, MONTHLY, date(2028, 2, 15)) == (date(2028, 2, 1), date(2028, 2, 29))
    assert period_containing(anchor, MONTHLY, date(2027, 2, 28)) == (date(2027, 2, 1), date(2027, 2, 28))
    assert period_containing(anchor, MONTHLY, date(2025, 12, 31)) == (date(2025, 12, 1), date(2025, 12, 31))


def test_quarterly_weekly_semi_annual_and_annual_periods() -> None:
    anchor = date(2026, 1, 15)
    assert period_containing(anchor, BillingFrequency.QUARTERLY, date(2026, 5, 1)) == (date(2026, 4, 15),
                                                                                       date(2026, 7, 14))
    assert period_containing(anchor, BillingFrequency.QUARTERLY, date(2026, 1, 14)) == (date(2025, 10, 15),
                                                                                        date(2026, 1, 14))
    assert period_containing(anchor, BillingFrequency.WEEKLY, date(2026, 1, 22)) == (date(2026, 1, 22),
                                                                                     date(2026, 1, 28))
    assert period_containing(anchor, BillingFrequency.WEEKLY, date(2026, 1, 14)) == (date(2026, 1, 8),
                                                                                     date(2026, 1, 14))
    assert period_containing(anchor, BillingFrequency.SEMI_ANNUAL, date(2026, 12, 1)) == (date(2026, 7, 15),
                                                                                          date(2027, 1, 14))
    leap = date(2024, 2, 29)
    assert period_containing(leap, BillingFrequency.ANNUAL, date(2025, 6, 1)) == (date(2025, 2, 28),
                                                                                  date(2026, 2, 27))
    assert period_containing(leap, BillingFrequency.ANNUAL, date(2028, 3, 1)) == (date(2028, 2, 29),
                                                                                  date(2029, 2, 27))


def test_periods_due_catches_up_missed_periods_billed_in_advance() -> None:
    anchor = date(2026, 1, 1)
    assert len(periods_due(anchor, MONTHLY, anchor, None, date(2026, 5, 31))) == 5  # Jan..May
    assert len(periods_due(anchor, MONTHLY, anchor, None, date(2026, 6, 1))) == 6  # June starts on as_of
    mid = periods_due(anchor, MONTHLY, date(2026, 1, 15), None, date(2026, 6, 14))
    assert mid[0] == (date(2026, 1, 1), date(2026, 1, 31)) and len(mid) == 6


def test_contract_end_stops_periods_and_late_start_gives_none() -> None:
    anchor = date(2026, 1, 1)
    ended = periods_due(anchor, MONTHLY, anchor, date(2026, 3, 10), date(2026, 12, 31))
    assert ended == [(date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 2, 28)),
                     (date(2026, 3, 1), date(2026, 3, 31))]
    assert periods_due(anchor, MONTHLY, date(2026, 7, 1), None, date(2026, 6, 30)) == []
    assert periods_due(anchor, MONTHLY, anchor, date(2025, 12, 31), date(2026, 6, 30)) == []
    assert days_inclusive(date(2026, 2, 1), date(2026, 2, 28)) == 28


def test_periods_due_far_from_the_anchor_is_direct() -> None:
    periods = periods_due(date(1900, 1, 31), MONTHLY, date(2026, 3, 5), None, date(2026, 4, 1))
    assert periods == [(date(2026, 2, 28), date(2026, 3, 30)), (date(2026, 3, 31), date(2026, 4, 29))]


# ----------------------------------------------------------------------------------------- the reference test vector


def spec_contract() -> ContractIn:
    feb, mar, may = (date(2026, 2, 1), date(2026, 2, 28)), (date(2026, 3, 1), date(2026, 3, 31)), date(2026, 5, 1)
    a = charge(1, "20", dated=(DatedPriceIn(11, *feb, D(30)), DatedPriceIn(12, *mar, D(40)),
                               DatedPriceIn(13, may, None, D(50))))
    b = charge(2, "100", revenue=20, dated=(DatedPriceIn(21, *feb, D(200)), DatedPriceIn(22, *mar, D(300)),
                                            DatedPriceIn(23, may, None, D(400))))
    return contract(a, b)


def test_spec_vector_bills_120_230_340_120_450_naming_each_price_source() -> None:
    drafts = price(spec_contract(), date(2026, 5, 1))
    assert [d.amount for d in drafts] == [D("120.00"), D("230.00"), D("340.00"), D("120.00"), D("450.00")]
    assert [d.period_start.month for d in drafts] == [1, 2, 3, 4, 5]
    sources = [[(line.price_source, line.dated_price_id) for line in d.lines] for d in drafts]
    charge_price = (PriceSource.CONTRACT_CHARGE, None)
    assert sources == [
        [charge_price, charge_price],
        [(PriceSource.DATED_PRICE, 11), (PriceSource.DATED_PRICE, 21)],
        [(PriceSource.DATED_PRICE, 12), (PriceSource.DATED_PRICE, 22)],
        [charge_price, charge_price],
        [(PriceSource.DATED_PRICE, 13), (PriceSource.DATED_PRICE, 23)],
    ]
    assert all(d.status == BillingStatus.NEW and d.problems == [] for d in drafts)
    assert explain(drafts[1], 0).why == ("Dated price #11 (2026-02-01 to 2026-02-28) contains the billing "
                                               "starting date 2026-02-01")
    assert explain(drafts[1], 0).formula == "30.00 \u00d7 1 \u00d7 28/28 = 30.00"
    assert (explain(drafts[3], 0).record_type, explain(drafts[3], 0).record_id) == ("RecurringCharge", 1)
    assert (explain(drafts[1], 0).record_type, explain(drafts[1], 0).record_id) == ("DatedPrice", 11)


def test_already_billed_periods_are_skipped() -> None:
    billed = frozenset({date(2026, 2, 1), date(2026, 3, 1)})
    drafts = price(spec_contract(), date(2026, 5, 1), billed=billed)
    assert [(d.period_start.month, d.amount) for d in drafts] == [(1, D("120.00")), (4, D("120.00")),
                                                                 (5, D("450.00"))]


def test_contract_without_charges_yields_no_drafts() -> None:
    assert price(contract(), date(2026, 5, 1)) == []


def test_every_trace_is_json_compact_and_composes_whole() -> None:
    drafts = price(spec_contract(), date(2026, 5, 1), tax=TaxIn("NY", D("0.08875"), 90))
    for draft in drafts:
        for i, line in enumerate(draft.lines):
            assert json.loads(json.dumps(line.trace)) == line.trace
            assert not COLUMN_KEYS & set(line.trace), line.trace
            trace = explain(draft, i)
            assert trace.why and trace.formula.endswith(f"= {line.amount}")
            assert (trace.period_start, trace.period_end) == (draft.period_start, draft.period_end)
            assert (trace.billing_start, trace.days_billed) == (draft.billing_start, line.days_billed)
            assert line.distributions == [(line.revenue_account_id, line.amount)]
    tax = explain(drafts[0], -1)
    assert (tax.record_type, tax.tax_rate, tax.tax_base) == ("TaxRate", D("0.08875"), D("120.00"))
    assert tax.tax_location == drafts[0].tax_location  # the billing's


# ------------------------------------------------------------------------------------------------ proration


def test_contract_starting_mid_period_is_prorated_from_its_start() -> None:
    c = contract(charge(price="31"), start=date(2026, 1, 15), anchor=date(2026, 1, 1))
    first = price(c, date(2026, 1, 15))[0]
    line = first.lines[0]
    assert (first.period_start, first.period_end) == (date(2026, 1, 1), date(2026, 1, 31))
    assert (first.billing_start, first.billing_end) == (date(2026, 1, 15), date(2026, 1, 31))  # the days billed
    assert (line.days_billed, line.days_in_period, line.amount) == (17, 31, D("17.00"))
    assert explain(first, 0).billing_start == date(2026, 1, 15)
    assert explain(first, 0).formula == "31.00 \u00d7 1 \u00d7 17/31 = 17.00"


def test_contract_ending_mid_period_is_prorated_to_its_end() -> None:
    c = contract(charge(price="100", quantity="2"), end=date(2026, 2, 10))
    drafts = price(c, date(2026, 6, 1))
    assert len(drafts) == 2
    assert (drafts[1].period_start, drafts[1].period_end) == (date(2026, 2, 1), date(2026, 2, 28))
    assert (drafts[1].billing_start, drafts[1].billing_end) == (date(2026, 2, 1), date(2026, 2, 10))
    assert (drafts[0].billing_start, drafts[0].billing_end) == (drafts[0].period_start, drafts[0].period_end)
    line = drafts[1].lines[0]
    assert (line.days_billed, line.days_in_period, line.amount) == (10, 28, D("71.43"))  # 200 * 10/28 = 71.428...


def test_dated_price_is_chosen_at_the_billing_starting_date_not_the_period_start() -> None:
    dated = (DatedPriceIn(5, date(2026, 1, 10), None, D(62)),)
    c = contract(charge(dated=dated), start=date(2026, 1, 20), anchor=date(2026, 1, 1))
    line = price(c, date(2026, 1, 20))[0].lines[0]
    assert (line.price_source, line.dated_price_id, line.days_billed, line.amount) == (
        PriceSource.DATED_PRICE, 5, 12, D("24.00"))


# ------------------------------------------------------------------------------------------ service changes


def test_service_change_mid_period_bills_a_prorated_difference_then_the_new_price() -> None:
    change = ServiceChangeIn(77, date(2026, 4, 11), D(50))
    drafts = price(contract(charge(price="20", changes=(change,))), date(2026, 5, 1))
    april, may = drafts[3], drafts[4]
    assert [line.kind for line in april.lines] == [DetailKind.RECURRING, DetailKind.SERVICE_CHANGE]
    difference = april.lines[1]
    assert (difference.amount, difference.days_billed, difference.days_in_period) == (D("20.00"), 20, 30)
    assert (difference.source_type, difference.source_id, difference.charge_id) == ("ServiceChange", 77, 1)
    assert difference.revenue_account_id == 10
    assert april.amount == D("40.00")
    assert [line.amount for line in may.lines] == [D("50.00")]
    assert (explain(may, 0).record_type, explain(may, 0).record_id) == ("ServiceChange", 77)
    assert explain(may, 0).why.endswith("service change #77 effective 2026-04-11 set the charge's price to 50.00")
    assert explain(april, 1).formula == "(50.00 \u2212 20.00) \u00d7 1 \u00d7 20/30 = 20.00"


def test_service_change_lines_follow_their_charge_and_chain_within_a_period() -> None:
    changes = (ServiceChangeIn(2, date(2026, 4, 21), D(40)), ServiceChangeIn(1, date(2026, 4, 11), D(30)))
    c = contract(charge(1, "20", changes=changes), charge(2, "5", revenue=20))
    april = price(c, date(2026, 4, 1))[3]
    assert [(line.kind, line.charge_id) for line in april.lines] == [
        (DetailKind.RECURRING, 1), (DetailKind.SERVICE_CHANGE, 1), (DetailKind.SERVICE_CHANGE, 1),
        (DetailKind.RECURRING, 2)]
    # 20 for all 30 days, +10 for 20 days, +10 for 10 days: 20 + 6.67 + 3.33
    assert [line.amount for line in april.lines[:3]] == [D("20.00"), D("6.67"), D("3.33")]


def test_service_change_covered_by_a_dated_price_is_not_billed() -> None:
    dated = (DatedPriceIn(9, date(2026, 4, 15), date(2026, 4, 30), D(99)),)
    c = contract(charge(price="20", dated=dated, changes=(ServiceChangeIn(3, date(2026, 4, 20), D(50)),)))
    april = price(c, date(2026, 4, 1))[3]
    assert [line.kind for line in april.lines] == [DetailKind.RECURRING]


def test_service_change_after_the_contract_end_is_not_billed() -> None:
    c = contract(charge(changes=(ServiceChangeIn(3, date(2026, 1, 25), D(50)),)), end=date(2026, 1, 20))
    assert [line.kind for line in price(c, date(2026, 1, 1))[0].lines] == [DetailKind.RECURRING]


# -------------------------------------------------------------------------------------------------- problems


def test_charge_without_revenue_account_is_rejected_with_errors() -> None:
    draft = price(contract(charge(revenue=None)), date(2026, 1, 1))[0]
    assert kinds(draft) == ["NO_REVENUE_ACCOUNT"]
    assert "Charge 1" in draft.problems[0].message
    assert draft.status == BillingStatus.REJECTED_WITH_ERRORS
    assert draft.amount == D("20.00")  # the billing still shows its amount


def test_location_without_tax_rate_is_rejected_with_errors() -> None:
    draft = price(contract(charge()), date(2026, 1, 1), tax=None)[0]
    assert kinds(draft) == ["NO_TAX_RATE"]
    assert "NOWHERE" in draft.problems[0].message
    assert draft.status == BillingStatus.REJECTED_WITH_ERRORS


def test_overlapping_dated_prices_are_rejected_but_priced_with_the_earliest_window() -> None:
    dated = (DatedPriceIn(2, date(2026, 1, 1), None, D(70)), DatedPriceIn(1, date(2025, 12, 1), None, D(60)))
    draft = price(contract(charge(dated=dated)), date(2026, 1, 1))[0]
    assert kinds(draft) == ["OVERLAPPING_DATED_PRICES"]
    assert draft.status == BillingStatus.REJECTED_WITH_ERRORS
    assert (draft.lines[0].dated_price_id, draft.amount) == (1, D("60.00"))


def test_big_credit_adjustment_gives_a_negative_total() -> None:
    items = [OneOffIn(DetailKind.MANUAL, "ManualCharge", 1, "Setup", date(2026, 4, 3), D("25"), 10),
             OneOffIn(DetailKind.ADJUSTMENT, "InvoiceAdjustment", 2, "Credit", date(2026, 4, 9), D("-100"), 10)]
    draft = one_offs(items)
    assert draft is not None
    assert draft.amount == D("-75.00")
    assert kinds(draft) == ["NEGATIVE_TOTAL"]
    assert draft.status == BillingStatus.REJECTED_WITH_ERRORS


# -------------------------------------------------------------------------------------------------- one-offs


def test_one_offs_make_one_draft_from_the_earliest_day_to_as_of() -> None:
    items = [OneOffIn(DetailKind.WORK_ORDER, "WorkOrder", 5, "Repair", date(2026, 4, 10), D("3") * D("25.125"), 10,
                      quantity=D(3), unit_price=D("25.125")),
             OneOffIn(DetailKind.MANUAL, "ManualCharge", 6, "Fee", date(2026, 3, 2), D("10"), 10)]
    draft = one_offs(items, tax=TaxIn("CA", D("0.0725"), 90))
    assert draft is not None
    assert (draft.contract_id, draft.frequency) == (None, None)
    assert (draft.period_start, draft.period_end) == (date(2026, 3, 2), date(2026, 4, 30))
    assert (draft.billing_start, draft.billing_end) == (date(2026, 3, 2), date(2026, 4, 30))  # bills its period
    assert [(line.kind, line.amount) for line in draft.lines] == [
        (DetailKind.WORK_ORDER, D("75.38")), (DetailKind.MANUAL, D("10.00")), (DetailKind.TAX, D("6.19"))]
    assert explain(draft, 0).formula == "3 \u00d7 25.125 = 75.38"
    assert draft.status == BillingStatus.NEW
    assert one_offs([]) is None


def test_one_off_day_after_as_of_keeps_the_period_start_at_as_of() -> None:
    items = [OneOffIn(DetailKind.MANUAL, "ManualCharge", 6, "Fee", date(2026, 5, 2), D("10"), 10)]
    draft = one_offs(items)
    assert draft is not None and draft.period_start == draft.period_end == date(2026, 4, 30)


# ------------------------------------------------------------------------------------------------------- tax


def test_tax_rounds_half_up_and_comes_last() -> None:
    draft = price(contract(charge(price="10.05")), date(2026, 1, 1), tax=TaxIn("A", D("0.05"), 90))[0]
    assert [line.kind for line in draft.lines] == [DetailKind.RECURRING, DetailKind.TAX]
    assert draft.lines[-1].amount == D("0.50")  # 0.5025
    assert draft.lines[-1].revenue_account_id == 90
    assert explain(draft, -1).formula == "10.05 \u00d7 0.05 = 0.50"
    assert (explain(draft, -1).tax_rate, explain(draft, -1).tax_base, explain(draft, -1).tax_location) == (
        D("0.05"), D("10.05"), draft.tax_location)
    assert draft.amount == D("10.55")


def test_tax_at_8_25_percent_rounds_half_up_at_the_half_cent() -> None:
    cases = {"10.00": "0.83", "6.00": "0.50", "100.00": "8.25", "0.06": "0.00", "1.40": "0.12"}  # 0.825, 0.495…
    for base, expected in cases.items():
        draft = price(contract(charge(price=base)), date(2026, 1, 1), tax=TaxIn("TX", D("0.0825"), 90))[0]
        assert draft.lines[-1].amount == D(expected), base
    half = price(contract(charge(price="2.00")), date(2026, 1, 1), tax=TaxIn("TX", D("0.0825"), 90))[0]
    assert half.lines[-1].amount == D("0.17")  # 0.165 rounds up, never to even


def test_zero_rate_adds_no_tax_line() -> None:
    draft = price(contract(charge()), date(2026, 1, 1))[0]
    assert [line.kind for line in draft.lines] == [DetailKind.RECURRING]


# -------------------------------------------------------------------------------------------- currencies


def test_yen_lines_round_half_up_to_whole_yen() -> None:
    c = contract(charge(price="10000"), start=date(2026, 1, 15), anchor=date(2026, 1, 1))
    draft = price(c, date(2026, 1, 15), tax=TaxIn("TX", D("0.0825"), 90), currency="JPY")[0]
    recurring, tax = draft.lines
    assert (recurring.days_billed, recurring.days_in_period, recurring.amount) == (17, 31, D("5484"))  # 5483.87
    assert tax.amount == D("452")  # 5484 * 0.0825 = 452.43
    assert draft.amount == D("5936") and draft.status == BillingStatus.NEW
    assert explain(draft, 0).formula == "10000 \u00d7 1 \u00d7 17/31 = 5484"
    assert explain(draft, 0).unit_price == D("10000") and recurring.trace["unit_price"] == "10000"
    assert explain(draft, 1).formula == "5484 \u00d7 0.0825 = 452"
    half = price(contract(charge(price="1")), date(2026, 1, 1), tax=TaxIn("TX", D("0.5"), 90), currency="JPY")[0]
    assert half.lines[-1].amount == D("1")  # 0.5 yen rounds up, never to even


def test_yen_one_offs_and_service_changes_round_to_whole_yen() -> None:
    items = [OneOffIn(DetailKind.WORK_ORDER, "WorkOrder", 5, "Repair", date(2026, 4, 10), D("1.5") * D("333"), 10,
                      quantity=D("1.5"), unit_price=D("333")),
             OneOffIn(DetailKind.MANUAL, "ManualCharge", 6, "Fee", date(2026, 4, 2), D("1000"), 10)]
    draft = one_offs(items, tax=TaxIn("CA", D("0.0725"), 90), currency="JPY")
    assert draft is not None
    assert [line.amount for line in draft.lines] == [D("500"), D("1000"), D("109")]  # 499.5; 108.75
    assert explain(draft, 0).formula == "1.5 \u00d7 333 = 500"
    change = ServiceChangeIn(77, date(2026, 4, 11), D(5000))
    april = price(contract(charge(price="2000", changes=(change,))), date(2026, 4, 1), currency="JPY")[3]
    assert [line.amount for line in april.lines] == [D("2000"), D("2000")]  # 3000 * 20/30


def test_usd_vector_is_unchanged_when_the_currency_is_named() -> None:
    drafts = price(spec_contract(), date(2026, 5, 1), currency="USD")
    assert [d.amount for d in drafts] == [D("120.00"), D("230.00"), D("340.00"), D("120.00"), D("450.00")]


def test_a_currency_storage_cannot_hold_rejects_the_billing_with_errors() -> None:
    for currency, reason in (("BHD", "3 decimals"), ("BGN", "not an ISO 4217 currency in circulation")):
        draft = price(contract(charge(price="10.125")), date(2026, 1, 1), currency=currency)[0]
        assert kinds(draft) == ["UNSUPPORTED_CURRENCY"], currency
        assert reason in draft.problems[0].message
        assert draft.status == BillingStatus.REJECTED_WITH_ERRORS
        assert draft.amount == D("10.13")  # rounded to what storage holds, shown, never invoiced


# ---------------------------------------------------------------------------------------- property tests

money = st.decimals(min_value=D("0.01"), max_value=D("99999.99"), places=2)
quantities = st.decimals(min_value=D("0.5"), max_value=D("40"), places=1)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))
frequencies = st.sampled_from(list(BillingFrequency))
rates = st.decimals(min_value=D(0), max_value=D("0.25"), places=4)


@settings(max_examples=200, deadline=None)
@given(anchor=days, frequency=frequencies, offset=st.integers(min_value=0, max_value=400), amount=money,
       quantity=quantities)
def test_a_period_split_in_two_sums_to_the_full_amount(anchor: date, frequency: BillingFrequency, offset: int,
                                                        amount: Decimal, quantity: Decimal) -> None:
    start, end = period_containing(anchor, frequency, anchor + timedelta(days=offset))
    split = start + timedelta(days=offset % days_inclusive(start, end))  # the last day of the first part
    priced = charge(price=str(amount), quantity=str(quantity))
    full = price(contract(priced, start=start, anchor=anchor, frequency=frequency), start)[0].amount
    parts = [contract(priced, start=start, end=split, anchor=anchor, frequency=frequency),
             contract(priced, start=split + timedelta(days=1), anchor=anchor, frequency=frequency)]
    amounts = [drafts[0].amount for part in parts if (drafts := price(part, end))]
    assert abs(sum(amounts) - full) <= D("0.01")  # each part rounds by at most half a cent


contracts = st.builds(
    lambda start, length, frequency, prices, rate_change: contract(
        *[charge(i + 1, str(p), dated=((DatedPriceIn(i, start + timedelta(days=length // 2), None, p + 1),)
                                       if i % 2 else ()),
                 changes=(ServiceChangeIn(i, start + timedelta(days=length // 3), rate_change),))
          for i, p in enumerate(prices)],
        start=start, end=start + timedelta(days=length), anchor=start - timedelta(days=length % 40),
        frequency=frequency),
    days, st.integers(min_value=0, max_value=500), frequencies, st.lists(money, min_size=1, max_size=4), money)


@settings(max_examples=200, deadline=None)
@given(c=contracts, as_of_offset=st.integers(min_value=0, max_value=600), rate=rates,
       currency=st.sampled_from([("USD", D("0.01")), ("JPY", D(1)), ("EUR", D("0.01")), ("KRW", D(1))]))
def test_amount_is_the_sum_of_lines_and_distributions_sum_to_their_line(c: ContractIn, as_of_offset: int,
                                                                        rate: Decimal,
                                                                        currency: tuple[str, Decimal]) -> None:
    code, minor_unit = currency
    drafts = price(c, c.start + timedelta(days=as_of_offset), tax=TaxIn("T", rate, 90), currency=code)
    for draft in drafts:
        assert draft.amount == sum((line.amount for line in draft.lines), D(0))
        assert (draft.status == BillingStatus.NEW) == (not draft.problems)
        assert draft.period_start <= draft.billing_start <= draft.billing_end <= draft.period_end
        for line in draft.lines:
            assert line.amount == line.amount.quantize(minor_unit)
            assert sum((amount for _, amount in line.distributions), D(0)) == line.amount
        assert [line.kind for line in draft.lines].count(DetailKind.TAX) == (1 if rate > 0 else 0)


@settings(max_examples=200, deadline=None)
@given(c=contracts, as_of_offset=st.integers(min_value=0, max_value=600), rate=rates)
def test_pricing_is_deterministic(c: ContractIn, as_of_offset: int, rate: Decimal) -> None:
    as_of = c.start + timedelta(days=as_of_offset)
    assert price(c, as_of, tax=TaxIn("T", rate, 90)) == price(c, as_of, tax=TaxIn("T", rate, 90))


@settings(max_examples=200, deadline=None)
@given(amounts=st.lists(st.decimals(min_value=D(-5000), max_value=D(5000), places=3), min_size=1, max_size=6),
       rate=rates)
def test_one_off_drafts_sum_their_lines(amounts: list[Decimal], rate: Decimal) -> None:
    items = [OneOffIn(DetailKind.MANUAL, "ManualCharge", i, "x", date(2026, 4, 1 + i), amount, 10)
             for i, amount in enumerate(amounts)]
    draft = one_offs(items, tax=TaxIn("T", rate, 90))
    assert draft is not None
    assert draft.amount == sum((line.amount for line in draft.lines), D(0))
    assert ("NEGATIVE_TOTAL" in kinds(draft)) == (draft.amount < 0)
    for line in draft.lines:
        assert sum((amount for _, amount in line.distributions), D(0)) == line.amount

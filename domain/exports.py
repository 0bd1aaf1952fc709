"""Billing details as CSV rows (the "Export Billing Details to CSV" button), streamed page by page.

One row per detail line with its trace columns; hidden billings are not exported. `billing_starting_date` and
`billing_ending_date` are the first and last day billed, `period_start_date`/`period_end_date` the period's own
bounds. Dates are ISO, amounts plain decimals, text UTF-8, so the file opens cleanly in a spreadsheet and parses
back exactly.
"""

import io
from collections import defaultdict
from collections.abc import AsyncIterator

import models
from domain import spreadsheet_csv
from domain.access import Viewer, require, visible
from domain.trace import BILLING_FIELDS, LINE_FIELDS, BillingRow, LineRow, compose
from models.enums import Permission

PAGE = 2000
COLUMNS = ("batch_code", "billing_id", "account_number", "account_name", "contract_number", "billing_status",
           "billing_starting_date", "billing_ending_date", "period_start_date", "period_end_date", "tax_location",
           "line", "detail_id", "kind", "description", "billing_amount", "days_billed", "days_in_period",
           "price_source", "charge_id", "dated_price_id", "source_type", "source_id", "revenue_account",
           "distributions", "why", "formula", "tax_rate")
FIELDS = ("id", "position", "kind", "description", "amount", "days_billed", "days_in_period", "price_source",
          "charge_id", "dated_price_id", "source_type", "source_id", "trace", "revenue_account__code", "billing_id",
          "billing__status", "billing__billing_start", "billing__billing_end", "billing__period_start",
          "billing__period_end", "billing__tax_location",
          "billing__batch__code", "billing__account__number", "billing__account__name", "billing__contract__number")


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.value if hasattr(value, "value") else str(value)  # enums by name, dates ISO, decimals plain


def _row(detail: dict, distributions: list[tuple[str, str]]) -> list[str]:
    trace = compose(LineRow(**{f: detail[f] for f in LINE_FIELDS}),
                    BillingRow(**{f: detail[f"billing__{f}"] for f in BILLING_FIELDS}))
    values = {
        "batch_code": detail["billing__batch__code"], "billing_id": detail["billing_id"],
        "account_number": detail["billing__account__number"], "account_name": detail["billing__account__name"],
        "contract_number": detail["billing__contract__number"], "billing_status": detail["billing__status"],
        "billing_starting_date": detail["billing__billing_start"],
        "billing_ending_date": detail["billing__billing_end"],
        "period_start_date": detail["billing__period_start"], "period_end_date": detail["billing__period_end"],
        "tax_location": detail["billing__tax_location"], "line": detail["position"] + 1, "detail_id": detail["id"],
        "kind": detail["kind"], "description": detail["description"], "billing_amount": detail["amount"],
        "days_billed": detail["days_billed"], "days_in_period": detail["days_in_period"],
        "price_source": detail["price_source"], "charge_id": detail["charge_id"],
        "dated_price_id": detail["dated_price_id"], "source_type": detail["source_type"],
        "source_id": detail["source_id"], "revenue_account": detail["revenue_account__code"],
        "distributions": ";".join(f"{code}:{amount}" for code, amount in distributions),
        "why": trace.why, "formula": trace.formula, "tax_rate": trace.tax_rate,
    }
    return [_text(values[c]) for c in COLUMNS]


async def billing_detail_csv(viewer: Viewer, *, batch_id: int | None = None,
                             billing_id: int | None = None) -> AsyncIterator[str]:
    """CSV text in pieces: the header, then one piece per page of details (bounded memory for any batch)."""
    require(viewer, Permission.BILLING_ACCESS)
    details = visible(viewer, models.BillingDetail)
    details = details.filter(billing__batch_id=batch_id) if batch_id is not None else details.filter(
        billing_id=billing_id)
    buffer = io.StringIO()
    writer = spreadsheet_csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    last_id = 0
    while True:
        page = await details.filter(id__gt=last_id).order_by("id").limit(PAGE).values(*FIELDS)
        if not page:
            return
        splits: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for detail_id, code, amount in await models.RevenueDistribution.filter(
                detail_id__in=[d["id"] for d in page]).order_by("id").values_list(
                "detail_id", "revenue_account__code", "amount"):
            splits[detail_id].append((code, str(amount)))
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(_row(d, splits[d["id"]]) for d in page)
        yield buffer.getvalue()
        last_id = page[-1]["id"]

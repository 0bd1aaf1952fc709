"""Preview is processing: over hypothesis-drawn worlds (accounts in USD or JPY, contracts of every frequency,
prorated starts and ends, anchors, quantities, dated-price windows, service changes, manual charges, approved
adjustments, tax locations with and without a rate), the preview of `analyzeBillingBatch` and what
`processBillingBatch` then writes are the same, billing for billing and line for line.

Compared: through the API, the preview's count, total, rejected count and per-account counts and amounts
against the processed batch's summary and billings; in the database, each previewed billing
(`domain.processing.preview_drafts`, the code path behind the preview) against the billing written for the same
contract period or account — dates, amount, status — and each of its lines: kind, description, amount, days
billed and in period, price source and record, source item, revenue account, stored trace and revenue
distributions. Half the examples go on to the next month's batch, where earlier billings, billed service changes
and billed one-off items must be skipped alike. The processing job runs in this process through the domain calls
its actors make (`tests/support/inline_jobs.py`). Seeded, bounded in examples.
"""

import os
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models
from domain import processing
from domain.pricing import BillingDraft
from tests.reliability import worlds
from tests.reliability.results import record
from tests.support import inline_jobs
from tests.support.api import Api

EXAMPLES = int(os.environ.get("BILLRUN_RELIABILITY_PREVIEW_EXAMPLES", "100"))

CREATE_BATCH = """mutation($input: CreateBillingBatchInput!) { createBillingBatch(input: $input) {
  billingBatch { id } errors { code field message } } }"""
ANALYZE = """mutation($id: ID!) { analyzeBillingBatch(input: {batchId: $id}) {
  preview { billingCount amount rejectedCount hiddenBillingCount accounts { billingCount amount account { id } } }
  errors { code } } }"""
PROCESS = """mutation($id: ID!) { processBillingBatch(input: {batchId: $id}) { job { id } errors { code } } }"""
RESOLVE = """mutation($id: ID!) { resolveFinding(input: {id: $id, note: "checked"}) { errors { code } } }"""
PROCESSED = """query($id: ID!) { billingBatch(id: $id) { status summary { billingCount totalAmount
  billingCounts { status count } }
  periodicBillings(first: 100) { nodes { periodicBillingAmount serviceCustomer { id } } } } }"""


@dataclass
class Figures:
    examples: int = 0
    batches: int = 0
    billings_compared: int = 0
    lines_compared: int = 0
    mismatches: int = 0
    started: float = 0.0


@pytest.fixture
async def books(admin: Api, alone: None):
    figures = Figures(started=time.monotonic())
    yield admin, await worlds.chart(admin), figures
    record("preview_equals_processing", {
        "examples": figures.examples, "batches": figures.batches, "billings_compared": figures.billings_compared,
        "lines_compared": figures.lines_compared, "mismatches": figures.mismatches,
        "wall_seconds": round(time.monotonic() - figures.started, 1)},
        lost=0, duplicated=0, leaked=0,
        held=["the preview's count, total, rejected count and per-account figures equal the processed batch's",
              "every previewed billing and line (amount, days, price source and record, trace, distributions) "
              "equals the one processing wrote"])


def _line_of_draft(line) -> tuple:
    return (line.kind.value, line.description[:200], line.amount, line.days_billed, line.days_in_period,
            line.price_source.value if line.price_source else None, line.charge_id, line.dated_price_id,
            line.source_type, line.source_id, line.revenue_account_id, line.trace,
            sorted((a, amount) for a, amount in line.distributions if a is not None))


def _previewed(draft: BillingDraft) -> tuple:
    return ((draft.contract_id, draft.account_id, draft.period_start),
            (draft.period_end, draft.billing_start, draft.billing_end, draft.amount, draft.status.value,
             draft.tax_location, [_line_of_draft(line) for line in draft.lines]))


async def _processed(batch_id: int) -> dict[tuple, tuple]:
    """The billings processing wrote (those it adopted aside), as the preview describes them."""
    found = {}
    billings = await models.PeriodicBilling.filter(batch_id=batch_id).order_by("id")
    details = await models.BillingDetail.filter(billing__batch_id=batch_id).order_by("billing_id", "position")
    splits: dict[int, list] = {}
    for detail_id, account, amount in await models.RevenueDistribution.filter(
            detail__billing__batch_id=batch_id).values_list("detail_id", "revenue_account_id", "amount"):
        splits.setdefault(detail_id, []).append((account, amount))
    lines: dict[int, list] = {}
    for d in details:
        lines.setdefault(d.billing_id, []).append((
            d.kind.value, d.description, d.amount, d.days_billed, d.days_in_period,
            d.price_source.value if d.price_source else None, d.charge_id, d.dated_price_id, d.source_type,
            d.source_id, d.revenue_account_id, d.trace, sorted(splits.get(d.id, []))))
    for b in billings:
        found[(b.contract_id, b.account_id, b.period_start)] = (
            b.period_end, b.billing_start, b.billing_end, b.amount, b.status.value, b.tax_location,
            lines.get(b.id, []))
    return found


async def _compare(api: Api, batch_id: int, figures: Figures) -> None:
    gid = worlds.gid("BillingBatch", batch_id)
    preview = (await api.ok(ANALYZE, {"id": gid}))["analyzeBillingBatch"]["preview"]
    batch = await models.BillingBatch.get(id=batch_id)
    drafts = dict(_previewed(d) for d in await processing.preview_drafts(batch))
    payload = (await api.ok(PROCESS, {"id": gid}))["processBillingBatch"]
    if any(e["code"] == "UNRESOLVED_FINDINGS" for e in payload["errors"]):
        for finding_id in await models.Finding.filter(batch_id=batch_id, severity="ERROR", resolved_at=None,
                                                      billing_id=None).values_list("id", flat=True):
            await api.ok(RESOLVE, {"id": worlds.gid("Finding", finding_id)})
        preview = (await api.ok(ANALYZE, {"id": gid}))["analyzeBillingBatch"]["preview"]
        payload = (await api.ok(PROCESS, {"id": gid}))["processBillingBatch"]
    assert payload["errors"] == [], payload
    await inline_jobs.run_pending([batch_id])
    figures.batches += 1

    written = await _processed(batch_id)
    mismatched = sorted(set(drafts) ^ set(written), key=str)
    for key in set(drafts) & set(written):
        figures.billings_compared += 1
        figures.lines_compared += max(len(drafts[key][-1]), len(written[key][-1]))
        if drafts[key] != written[key]:
            mismatched.append(key)
    figures.mismatches += len(mismatched)
    assert not mismatched, [(k, drafts.get(k), written.get(k)) for k in mismatched]

    state = (await api.ok(PROCESSED, {"id": gid}))["billingBatch"]
    assert state["status"] == "PROCESSED", state
    rejected = sum(c["count"] for c in state["summary"]["billingCounts"] if c["status"] == "REJECTED_WITH_ERRORS")
    per_account: dict[str, list] = {}
    for node in state["periodicBillings"]["nodes"]:
        entry = per_account.setdefault(node["serviceCustomer"]["id"], [0, Decimal(0)])
        entry[0] += 1
        entry[1] += Decimal(node["periodicBillingAmount"])
    figures_seen = (preview["billingCount"], Decimal(preview["amount"]), preview["rejectedCount"],
                    {a["account"]["id"]: [a["billingCount"], Decimal(a["amount"])] for a in preview["accounts"]})
    figures_made = (state["summary"]["billingCount"], Decimal(state["summary"]["totalAmount"]), rejected, per_account)
    if figures_seen != figures_made:
        figures.mismatches += 1
    assert figures_seen == figures_made, (figures_seen, figures_made)
    assert preview["hiddenBillingCount"] == 0


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
          phases=worlds.PHASES,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(world=worlds.worlds(), next_month=st.booleans())
async def test_the_preview_is_what_processing_creates(books, world: worlds.World, next_month: bool) -> None:
    api, accounts, figures = books
    figures.examples += 1
    built = await worlds.build(world, accounts)
    for month in (5, 6) if next_month else (5,):
        day = worlds.month_end(date(2026, month, 1)).isoformat()
        created = await api.mutate("createBillingBatch", CREATE_BATCH, {"input": {
            "name": f"{built.bill_group} {month}", "billGroup": built.bill_group, "division": "D",
            "currency": built.currency, "invoiceDate": day, "asOfDate": day}})
        await _compare(api, worlds.db_id(created["billingBatch"]["id"]), figures)

"""N+1 guards: the query count of a nested page does not grow with the page size."""

from pathlib import Path

import pytest

from tests.support import billing, builders
from tests.support.api import Api
from tests.support.queries import count_queries

TREE = """query($first: Int!) { accounts(first: $first) { totalCount edges { node { number
  contracts { number account { number } charges { description revenueAccount { code }
    datedPrices { periodicPrice charge { description } } } } } } } }"""


async def _customers(admin: Api, count: int) -> None:
    revenue = await builders.revenue_account(admin)
    for i in range(count):
        account = await builders.account(admin, f"C-{i:03}")
        for j in range(2):
            contract = await builders.contract(admin, account, f"SC-{i:03}-{j}")
            for k in range(2):
                charge = await builders.charge(admin, contract, "10.00", revenue, f"charge {k}")
                await builders.dated_price(admin, charge, "2026-02-01", None, "12.00")


async def test_accounts_contracts_charges_prices_cost_a_fixed_number_of_queries(admin: Api) -> None:
    await _customers(admin, 12)
    counts = {}
    for size in (2, 12):
        with count_queries() as log:
            data = await admin.ok(TREE, {"first": size})
        assert len(data["accounts"]["edges"]) == size
        assert sum(len(e["node"]["contracts"]) for e in data["accounts"]["edges"]) == 2 * size
        counts[size] = log.count
    assert counts[2] == counts[12], counts
    # token lookup, page, total, contracts, accounts, charges, revenue accounts, dated prices, charges
    assert counts[12] <= 10, counts


GRID = (Path(__file__).resolve().parent.parent / "bench" / "grid.graphql").read_text(encoding="utf-8")
EDIT = """mutation($input: UpdatePeriodicBillingInput!) { updatePeriodicBilling(input: $input) { errors { code } } }"""


@pytest.mark.usefixtures("worker")
async def test_the_billings_grid_costs_the_same_statements_at_10_and_at_100(admin: Api) -> None:
    """The grid of `billrun bench graph` (bench/grid.graphql): contracts, accounts, lines and their revenue
    accounts, audit rows and the disposition rules' inputs, each loaded once per level for the whole page."""
    await billing.bulk_contracts(admin, 40)  # March, April and May: 120 billings
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    first = (await admin.ok(GRID, {"batch": batch, "first": 20}))["billingBatch"]["periodicBillings"]["edges"]
    for edge in first:  # audit rows on the page
        edit = {"id": edge["node"]["id"], "externalComment": "ok"}
        await admin.mutate("updatePeriodicBilling", EDIT, {"input": edit})
    counts = {}
    for size in (10, 100):
        with count_queries() as log:
            data = await admin.ok(GRID, {"batch": batch, "first": size})
        page = data["billingBatch"]["periodicBillings"]
        assert len(page["edges"]) == size and page["totalCount"] == 120
        assert all(e["node"]["details"] and e["node"]["allowedTransitions"] for e in page["edges"])
        assert sum(len(e["node"]["audits"]) for e in page["edges"]) >= 10
        counts[size] = log.count
    assert counts[10] == counts[100], counts
    # token, batch, total, page, contracts, accounts, lines, audits, rules' inputs (2), revenue accounts
    assert counts[100] <= 11, counts
    # Through fragments (named and inline) the page loads the same relations in bulk, and answers the same.
    answers = {}
    for document in (INLINE, FRAGMENTS):
        with count_queries() as log:
            answers[document] = await admin.ok(document, {"batch": batch})
        assert log.count == counts[100] - 1, log.statements  # no contracts selected
    assert answers[INLINE] == answers[FRAGMENTS]


INLINE = """query($batch: ID!) { billingBatch(id: $batch) { periodicBillings(first: 100) { nodes {
  id serviceCustomer { number } details { id revenueAccount { code } } audits { field } allowedTransitions } } } }"""
FRAGMENTS = """query($batch: ID!) { billingBatch(id: $batch) { periodicBillings(first: 100) { nodes { ...B } } } }
fragment B on PeriodicBilling { id serviceCustomer { number } ... on PeriodicBilling { details { ...L } }
  audits { field } allowedTransitions }
fragment L on BillingDetail { id revenueAccount { code } }"""

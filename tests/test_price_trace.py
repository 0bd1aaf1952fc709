"""`BillingDetail.trace` as a typed object: every field of a recurring line priced by a dated price and of its tax
line, the records it links resolving as nodes, and a clerk's edit keeping the arithmetic the line was priced with
while the tax line's follows the new base."""

import httpx
import pytest
from strawberry import relay

from tests.conftest import make_token
from tests.support import billing, builders
from tests.support.api import Api
from tests.support.queries import count_queries

pytestmark = pytest.mark.usefixtures("worker")

LINES = """query($id: ID!) { periodicBilling(id: $id) { details { id kind datedPrice { id } """ + billing.TRACE + """
  } } }"""
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
EDIT = """mutation($input: UpdateBillingDetailInput!) { updateBillingDetail(input: $input) {
  billingDetail { billingAmount } errors { code field message } } }"""


async def _priced(admin: Api) -> tuple[str, str]:
    """One May billing of an 8.25 % account: a 30.00 charge priced 45.00 by an open-ended dated price."""
    accounts = await billing.books(admin)
    account = await builders.account(admin, "PT-1")  # TX-AUSTIN, 8.25 %
    charge = await builders.charge(admin, await builders.contract(admin, account, "SC-PT", start="2026-05-01"),
                                   "30.00", accounts["revenue"])
    dated = await builders.dated_price(admin, charge, "2026-05-01", None, "45.00")
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    [row] = await billing.billings(admin, batch)
    return row["id"], dated


async def test_every_field_of_a_recurring_and_a_tax_line(admin: Api) -> None:
    gid, dated = await _priced(admin)
    recurring, tax = (await admin.ok(LINES, {"id": gid}))["periodicBilling"]["details"]
    month = {"start": "2026-05-01", "end": "2026-05-31"}
    pk = relay.GlobalID.from_id(dated).node_id
    assert recurring["trace"] == {
        "priceSource": "DATED_PRICE", "priceRecord": {"__typename": "DatedPrice", "id": dated},
        "why": f"Dated price #{pk} (from 2026-05-01, open-ended) contains the billing starting date 2026-05-01",
        "period": month, "billed": month, "daysBilled": 31, "daysInPeriod": 31, "unitPrice": "45.00",
        "quantity": "1", "formula": "45.00 \u00d7 1 \u00d7 31/31 = 45.00", "taxRate": None, "taxLocation": None,
        "taxBase": None, "distribution": [{"amount": "45.00", "percent": "100.00",
                                           "revenueAccount": {"id": recurring["trace"]["distribution"][0][
                                               "revenueAccount"]["id"], "code": "4000"}}]}
    assert recurring["datedPrice"]["id"] == dated
    rate = tax["trace"]["priceRecord"]
    assert rate["__typename"] == "TaxRate"
    assert tax["trace"] == {
        "priceSource": None, "priceRecord": rate,
        "why": "Tax rate 0.0825 of tax location TX-AUSTIN applied to the other lines (45.00)",
        "period": month, "billed": month, "daysBilled": None, "daysInPeriod": None, "unitPrice": None,
        "quantity": None, "formula": "45.00 \u00d7 0.0825 = 3.71", "taxRate": "0.0825", "taxLocation": "TX-AUSTIN",
        "taxBase": "45.00", "distribution": [{"amount": "3.71", "percent": "100.00", "revenueAccount": {
            "id": tax["trace"]["distribution"][0]["revenueAccount"]["id"], "code": "2200"}}]}
    for record in (recurring["trace"]["priceRecord"], rate, *(line["trace"]["distribution"][0]["revenueAccount"]
                                                             for line in (recurring, tax))):
        assert (await admin.ok(NODE, {"id": record["id"]}))["node"]["id"] == record["id"]


async def test_an_edit_keeps_the_priced_arithmetic_and_the_tax_follows(admin: Api) -> None:
    gid, _ = await _priced(admin)
    recurring, _tax = (await admin.ok(LINES, {"id": gid}))["periodicBilling"]["details"]
    await admin.mutate("updateBillingDetail", EDIT, {"input": {"id": recurring["id"], "billingAmount": "40.00",
                                                               "daysBilled": 20}})
    edited, tax = (await admin.ok(LINES, {"id": gid}))["periodicBilling"]["details"]
    assert edited["trace"]["formula"] == "45.00 \u00d7 1 \u00d7 31/31 = 45.00"  # as priced
    assert edited["trace"]["why"] == recurring["trace"]["why"]
    assert edited["trace"]["daysBilled"] == 20  # the line's days now
    assert edited["trace"]["distribution"][0]["amount"] == "40.00"
    assert tax["trace"]["formula"] == "40.00 \u00d7 0.0825 = 3.30"
    assert tax["trace"]["taxBase"] == "40.00" and tax["trace"]["why"].endswith("(40.00)")


async def test_a_viewer_without_billing_access_sees_no_line_and_no_trace(admin: Api,
                                                                          client: httpx.AsyncClient) -> None:
    gid, _ = await _priced(admin)
    [line, _tax] = (await admin.ok(LINES, {"id": gid}))["periodicBilling"]["details"]
    _, token = await make_token("stranger@example.com", [])
    stranger = Api(client, token)
    assert (await stranger.ok(LINES, {"id": gid}))["periodicBilling"] is None
    assert (await stranger.ok(NODE, {"id": line["id"]}))["node"] is None


PAGE = """query($id: ID!, $first: Int) { billingBatch(id: $id) { periodicBillings(first: $first) { nodes { id
  details { id trace { why formula priceRecord { __typename ... on Node { id } }
    distribution { percent revenueAccount { code } } } } } } } }"""


async def test_a_page_of_traces_costs_a_fixed_number_of_queries(admin: Api) -> None:
    accounts = await billing.books(admin)
    for i in range(4):  # each billing: a charge priced by its own price, one by a dated price, and tax
        contract = await builders.contract(admin, await builders.account(admin, f"PQ-{i}"), f"SC-PQ-{i}",
                                           start="2026-05-01")
        await builders.charge(admin, contract, "10.00", accounts["revenue"])
        dated = await builders.charge(admin, contract, "20.00", accounts["revenue"])
        await builders.dated_price(admin, dated, "2026-05-01", None, "25.00")
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    counts = []
    for first in (1, 4):
        with count_queries() as log:
            page = (await admin.ok(PAGE, {"id": batch, "first": first}))["billingBatch"]["periodicBillings"]
        assert len(page["nodes"]) == first
        assert all(len(node["details"]) == 3 for node in page["nodes"])
        counts.append(log.count)
    assert counts[0] == counts[1], counts

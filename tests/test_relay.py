"""Relay conventions: global ids round-trip through node(id) for every type; keyset connections page both ways."""

import pytest

from tests.support import builders
from tests.support.api import Api

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


async def test_node_round_trip_for_every_type(admin: Api) -> None:
    revenue = await builders.revenue_account(admin)
    tax_account = (await admin.mutate("createLedgerAccount", builders.CREATE_LEDGER, {"input": {
        "code": "2200", "name": "Tax", "kind": "TAX_PAYABLE"}}))["ledgerAccount"]["id"]
    tax = (await admin.mutate("createTaxRate", builders.CREATE_TAX, {"input": {
        "location": "TX-AUSTIN", "name": "Austin", "rate": "0.0825", "ledgerAccountId": tax_account}}))
    period = (await admin.mutate("createAccountingPeriod", """mutation { createAccountingPeriod(input:
      {month: "2026-11-17"}) { accountingPeriod { id month status } errors { code } } }"""))
    assert period["accountingPeriod"]["month"] == "2026-11-01"
    account = await builders.account(admin, "A-1")
    contract = await builders.contract(admin, account, "SC-1")
    charge = await builders.charge(admin, contract, "20.00", revenue)
    price = await builders.dated_price(admin, charge, "2026-02-01", "2026-02-28", "30.00")
    data = await admin.ok("{ viewer { id user { id } } apiTokens { nodes { id } } }")
    ids = {
        "LedgerAccount": revenue, "TaxRate": tax["taxRate"]["id"],
        "AccountingPeriod": period["accountingPeriod"]["id"], "Account": account, "SalesContract": contract,
        "RecurringCharge": charge, "DatedPrice": price, "Viewer": data["viewer"]["id"],
        "User": data["viewer"]["user"]["id"], "ApiToken": data["apiTokens"]["nodes"][0]["id"],
    }
    for typename, gid in ids.items():
        assert (await admin.ok(NODE, {"id": gid}))["node"] == {"__typename": typename, "id": gid}


async def test_malformed_global_id_is_a_clear_graphql_error(admin: Api) -> None:
    result = await admin(NODE, {"id": "not-a-global-id"})
    assert result.data is None or result.data.get("node") is None
    assert "GlobalID" in result.errors[0]["message"]


@pytest.fixture
async def seven_accounts(admin: Api) -> list[str]:
    return [await builders.account(admin, f"N-{i}") for i in range(7)]


PAGE = """query($first: Int, $after: String, $last: Int, $before: String, $order: AccountOrder) {
  accounts(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount edges { cursor node { number } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


def numbers(conn: dict) -> list[str]:
    return [edge["node"]["number"] for edge in conn["edges"]]


async def test_forward_pagination_with_total_count(admin: Api, seven_accounts: list[str]) -> None:
    seen, after = [], None
    for expected_next in (True, True, False):
        conn = (await admin.ok(PAGE, {"first": 3, "after": after}))["accounts"]
        assert conn["totalCount"] == 7
        assert conn["pageInfo"]["hasNextPage"] is expected_next
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += numbers(conn)
        after = conn["pageInfo"]["endCursor"]
    assert seen == [f"N-{i}" for i in range(7)]


async def test_backward_pagination(admin: Api, seven_accounts: list[str]) -> None:
    conn = (await admin.ok(PAGE, {"last": 3}))["accounts"]
    assert numbers(conn) == ["N-4", "N-5", "N-6"]
    assert conn["pageInfo"]["hasPreviousPage"] is True and conn["pageInfo"]["hasNextPage"] is False
    conn = (await admin.ok(PAGE, {"last": 3, "before": conn["pageInfo"]["startCursor"]}))["accounts"]
    assert numbers(conn) == ["N-1", "N-2", "N-3"] and conn["totalCount"] == 7
    conn = (await admin.ok(PAGE, {"last": 3, "before": conn["pageInfo"]["startCursor"]}))["accounts"]
    assert numbers(conn) == ["N-0"] and conn["pageInfo"]["hasPreviousPage"] is False


async def test_descending_order_pages_both_ways(admin: Api, seven_accounts: list[str]) -> None:
    order = {"field": "NUMBER", "direction": "DESC"}
    first = (await admin.ok(PAGE, {"first": 4, "order": order}))["accounts"]
    assert numbers(first) == ["N-6", "N-5", "N-4", "N-3"]
    rest = (await admin.ok(PAGE, {"first": 4, "after": first["pageInfo"]["endCursor"], "order": order}))
    assert numbers(rest["accounts"]) == ["N-2", "N-1", "N-0"]
    back = (await admin.ok(PAGE, {"last": 2, "before": rest["accounts"]["pageInfo"]["startCursor"],
                                  "order": order}))
    assert numbers(back["accounts"]) == ["N-4", "N-3"]


async def test_filters_narrow_total_count(admin: Api, seven_accounts: list[str]) -> None:
    await builders.account(admin, "Z-1", billGroup="G2")
    data = await admin.ok('{ a: accounts(filter: {billGroup: "G2"}) { totalCount } '
                          'b: accounts(filter: {search: "n-"}) { totalCount } }')
    assert data == {"a": {"totalCount": 1}, "b": {"totalCount": 7}}


@pytest.mark.parametrize(("variables", "message"), [
    ({"first": 501}, "`first` must be between 0 and 500"),
    ({"first": 1, "last": 1}, "either `first` or `last`"),
    ({"after": "garbage!"}, "Invalid cursor"),
])
async def test_bad_page_requests_are_clear_errors(admin: Api, variables: dict, message: str) -> None:
    result = await admin("""query($first: Int, $after: String, $last: Int) {
      accounts(first: $first, after: $after, last: $last) { totalCount } }""", variables)
    assert message in result.errors[0]["message"]
    assert result.errors[0]["extensions"]["code"] == "BAD_REQUEST"

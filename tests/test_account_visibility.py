"""A restricted account, and everything under it, is invisible to users it is not granted to."""

from strawberry.relay import to_base64

import models
from tests.conftest import make_token
from tests.support import builders
from tests.support.api import Api

RESTRICT = """mutation($input: RestrictAccountInput!) { restrictAccount(input: $input) {
  account { id restricted grantedUsers { email } } errors { code field } } }"""


async def _setup(admin: Api, client) -> tuple[Api, Api, dict]:
    revenue = await builders.revenue_account(admin)
    open_id = await builders.account(admin, "OPEN-1")
    hidden_id = await builders.account(admin, "HIDDEN-1")
    contract_id = await builders.contract(admin, hidden_id, "SC-HIDDEN")
    charge_id = await builders.charge(admin, contract_id, "10.00", revenue)
    price_id = await builders.dated_price(admin, charge_id, "2026-02-01", None, "12.00")
    granted_user, granted_token = await make_token("granted@example.com", ["BILLING_ACCESS"])
    _, other_token = await make_token("other@example.com", ["BILLING_ACCESS"])
    payload = await admin.mutate("restrictAccount", RESTRICT, {"input": {
        "accountId": hidden_id, "restricted": True, "userIds": [to_base64("User", granted_user.id)]}})
    assert payload["account"]["grantedUsers"] == [{"email": "granted@example.com"}]
    ids = {"open": open_id, "hidden": hidden_id, "contract": contract_id, "charge": charge_id, "price": price_id}
    return Api(client, granted_token), Api(client, other_token), ids


async def test_hidden_account_is_invisible_in_lists(admin: Api, client) -> None:
    granted, other, _ = await _setup(admin, client)
    query = "{ accounts { totalCount nodes { number } } salesContracts { totalCount } }"
    assert (await other.ok(query)) == {"accounts": {"totalCount": 1, "nodes": [{"number": "OPEN-1"}]},
                                       "salesContracts": {"totalCount": 0}}
    seen = await granted.ok(query)
    assert seen["accounts"]["totalCount"] == 2 and seen["salesContracts"]["totalCount"] == 1
    assert (await admin.ok(query))["accounts"]["totalCount"] == 2  # admins manage grants, so they see all


async def test_hidden_records_read_as_not_found_by_node_and_nodes(admin: Api, client) -> None:
    granted, other, ids = await _setup(admin, client)
    hidden = [ids["hidden"], ids["contract"], ids["charge"], ids["price"]]
    absent = to_base64("Account", 999999)
    for gid in hidden:
        assert (await other.ok("query($id: ID!) { node(id: $id) { id } }", {"id": gid}))["node"] is None
        assert (await granted.ok("query($id: ID!) { node(id: $id) { id } }", {"id": gid}))["node"] == {"id": gid}
    nodes = (await other.ok("query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                            {"ids": [ids["open"], *hidden, absent]}))["nodes"]
    assert nodes == [{"id": ids["open"]}, None, None, None, None, None]


async def test_hidden_account_cannot_be_changed_and_reads_as_not_found(admin: Api, client) -> None:
    _, other, ids = await _setup(admin, client)
    payload = (await other.ok("""mutation($id: ID!) { updateAccount(input: {id: $id, name: "Mine"}) {
      account { id } errors { code field } } }""", {"id": ids["hidden"]}))["updateAccount"]
    assert payload == {"account": None, "errors": [{"code": "NOT_FOUND", "field": "id"}]}
    payload = (await other.ok("""mutation($id: ID!) { createSalesContract(input: {accountId: $id, number: "X",
      frequency: MONTHLY, startDate: "2026-01-01"}) { salesContract { id } errors { code field } } }""",
                              {"id": ids["hidden"]}))["createSalesContract"]
    assert payload["errors"] == [{"code": "NOT_FOUND", "field": "accountId"}]


async def test_opening_the_account_again_makes_it_visible(admin: Api, client) -> None:
    _, other, ids = await _setup(admin, client)
    await admin.mutate("restrictAccount", RESTRICT, {"input": {"accountId": ids["hidden"], "restricted": False}})
    assert (await other.ok("{ accounts { totalCount } }"))["accounts"]["totalCount"] == 2


async def test_only_admins_restrict_accounts(admin: Api, clerk: Api) -> None:
    account_id = await builders.account(admin, "A-1")
    payload = (await clerk.ok(RESTRICT, {"input": {"accountId": account_id, "restricted": True}}))
    assert payload["restrictAccount"]["errors"] == [{"code": "PERMISSION_DENIED", "field": None}]


TEAM = """mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } errors { code } } }"""
MEMBER = """mutation($input: TeamMemberInput!) { %s(input: $input) { team { id } errors { code } } }"""


async def test_a_team_grant_shows_the_account_to_members_only_while_they_are_members(admin: Api, client) -> None:
    granted, other, ids = await _setup(admin, client)
    team = (await admin.mutate("createTeam", TEAM, {"input": {"name": "Desk"}}))["team"]["id"]
    granted_id = (await models.User.get(email="granted@example.com")).id
    other_id = (await models.User.get(email="other@example.com")).id
    payload = await admin.mutate("restrictAccount", RESTRICT, {"input": {
        "accountId": ids["hidden"], "restricted": True, "userIds": [to_base64("User", granted_id)],
        "teamIds": [team]}})
    assert payload["account"]["grantedUsers"] == [{"email": "granted@example.com"}]
    member = {"teamId": team, "userId": to_base64("User", other_id)}
    node = "query($id: ID!) { node(id: $id) { id } }"
    lists = "{ accounts { totalCount } salesContracts { totalCount } }"
    assert (await other.ok(node, {"id": ids["contract"]}))["node"] is None
    await admin.mutate("addTeamMember", MEMBER % "addTeamMember", {"input": member})
    assert (await other.ok(node, {"id": ids["contract"]}))["node"] == {"id": ids["contract"]}
    assert await other.ok(lists) == {"accounts": {"totalCount": 2}, "salesContracts": {"totalCount": 1}}
    await admin.mutate("removeTeamMember", MEMBER % "removeTeamMember", {"input": member})
    assert (await other.ok(node, {"id": ids["contract"]}))["node"] is None
    assert await other.ok(lists) == {"accounts": {"totalCount": 1}, "salesContracts": {"totalCount": 0}}
    # The user granted by name is not affected by the team's changes.
    assert (await granted.ok(node, {"id": ids["contract"]}))["node"] == {"id": ids["contract"]}

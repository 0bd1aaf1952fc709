"""Teams: an account restricted to a team is seen by its members while they are members, and by nobody else;
membership is managed by admins and audited, with events on the stream."""

from strawberry.relay import to_base64

from tests.conftest import make_token
from tests.support import builders
from tests.support.api import Api

TEAM = "team { id name members { name } } errors { code field message }"
CREATE_TEAM = f"mutation($input: CreateTeamInput!) {{ createTeam(input: $input) {{ {TEAM} }} }}"
UPDATE_TEAM = f"mutation($input: UpdateTeamInput!) {{ updateTeam(input: $input) {{ {TEAM} }} }}"
DELETE_TEAM = """mutation($input: DeleteTeamInput!) { deleteTeam(input: $input) { deletedId
  errors { code field message } } }"""
ADD_MEMBER = f"mutation($input: TeamMemberInput!) {{ addTeamMember(input: $input) {{ {TEAM} }} }}"
REMOVE_MEMBER = f"mutation($input: TeamMemberInput!) {{ removeTeamMember(input: $input) {{ {TEAM} }} }}"
RESTRICT = """mutation($input: RestrictAccountInput!) { restrictAccount(input: $input) {
  account { id restricted grantedUsers { name } grantedTeams { name } } errors { code field } } }"""
SEES = """query($id: ID!) { node(id: $id) { id } accounts { totalCount nodes { number } }
  salesContracts { totalCount } }"""
AUDITS = """query($id: ID!) { audits(filter: {entity: "Team", entityId: $id}, first: 20) {
  nodes { field before after operation actorLabel } } }"""
EVENTS = """{ events(filter: {types: [TEAM_CHANGED]}, first: 20) { nodes { payload { ... on TeamChanged {
  name change member actor team { id } } } } } }"""


async def _team(admin: Api, name: str) -> str:
    return (await admin.mutate("createTeam", CREATE_TEAM, {"input": {"name": name}}))["team"]["id"]


async def test_a_team_member_sees_a_team_restricted_account_and_removal_hides_it_at_once(admin: Api, client) -> None:
    revenue = await builders.revenue_account(admin)
    await builders.account(admin, "OPEN-1")
    hidden = await builders.account(admin, "TEAM-1")
    await builders.charge(admin, await builders.contract(admin, hidden, "SC-TEAM"), "10.00", revenue)
    member, member_token = await make_token("member@example.com", ["BILLING_ACCESS"], "Mia Member")
    _, outsider_token = await make_token("outsider@example.com", ["BILLING_ACCESS"])
    member_api, outsider = Api(client, member_token), Api(client, outsider_token)
    team = await _team(admin, "Key accounts")
    payload = await admin.mutate("restrictAccount", RESTRICT, {"input": {
        "accountId": hidden, "restricted": True, "teamIds": [team]}})
    assert payload["account"]["grantedTeams"] == [{"name": "Key accounts"}]
    assert payload["account"]["grantedUsers"] == []

    async def sees(api: Api) -> bool:
        data = await api.ok(SEES, {"id": hidden})
        numbers = [n["number"] for n in data["accounts"]["nodes"]]
        seen = data["node"] is not None
        # Lists, counts and node(id) agree: hidden reads exactly like absent.
        assert seen == ("TEAM-1" in numbers) == (data["accounts"]["totalCount"] == 2) == (
            data["salesContracts"]["totalCount"] == 1), data
        return seen

    assert not await sees(member_api) and not await sees(outsider)
    user_id = to_base64("User", member.id)
    added = await admin.mutate("addTeamMember", ADD_MEMBER, {"input": {"teamId": team, "userId": user_id}})
    assert added["team"]["members"] == [{"name": "Mia Member"}]
    assert await sees(member_api) and not await sees(outsider)
    # The member sees the team (and only themselves in it); the outsider sees no team at all.
    assert (await member_api.ok("{ teams { nodes { name members { name } } } }"))["teams"]["nodes"] == [
        {"name": "Key accounts", "members": [{"name": "Mia Member"}]}]
    assert (await outsider.ok("{ teams { totalCount } }"))["teams"]["totalCount"] == 0
    assert (await member_api.ok("query($id: ID!) { node(id: $id) { ... on Account { grantedTeams { name } } } }",
                                {"id": hidden}))["node"]["grantedTeams"] == [{"name": "Key accounts"}]

    # Removal hides it again at the member's very next request, with the same token.
    await admin.mutate("removeTeamMember", REMOVE_MEMBER, {"input": {"teamId": team, "userId": user_id}})
    assert not await sees(member_api)
    refused = (await member_api.ok("""mutation($id: ID!) { updateAccount(input: {id: $id, name: "Mine"}) {
      account { id } errors { code field } } }""", {"id": hidden}))["updateAccount"]
    assert refused == {"account": None, "errors": [{"code": "NOT_FOUND", "field": "id"}]}

    # Back in, then the team deleted: its grant goes with it.
    await admin.mutate("addTeamMember", ADD_MEMBER, {"input": {"teamId": team, "userId": user_id}})
    assert await sees(member_api)
    renamed = await admin.mutate("updateTeam", UPDATE_TEAM, {"input": {"id": team, "name": "Strategic accounts"}})
    assert renamed["team"]["name"] == "Strategic accounts"
    audits = (await admin.ok(AUDITS, {"id": team}))["audits"]["nodes"]
    assert [(a["operation"], a["field"]) for a in reversed(audits)] == [
        ("CREATE", "name"), ("ADD_MEMBER", "member"), ("REMOVE_MEMBER", "member"), ("ADD_MEMBER", "member"),
        ("RENAME", "name")]
    assert {a["actorLabel"] for a in audits} == {"Ada Admin"}
    deleted = await admin.mutate("deleteTeam", DELETE_TEAM, {"input": {"id": team}})
    assert deleted["deletedId"] == team
    assert not await sees(member_api)
    events = [e["payload"] for e in (await admin.ok(EVENTS))["events"]["nodes"]]
    assert [(e["change"], e["member"]) for e in events] == [
        ("CREATED", None), ("MEMBER_ADDED", "Mia Member"), ("MEMBER_REMOVED", "Mia Member"),
        ("MEMBER_ADDED", "Mia Member"), ("UPDATED", None), ("DELETED", None)]
    assert events[-1]["team"] is None  # deleted: no longer a node


async def test_team_names_are_checked_and_members_must_exist(admin: Api) -> None:
    team = await _team(admin, "Collections")
    for query, name, data, code, field in (
            (CREATE_TEAM, "createTeam", {"name": "  "}, "INVALID_INPUT", "name"),
            (CREATE_TEAM, "createTeam", {"name": "Collections"}, "DUPLICATE", "name"),
            (CREATE_TEAM, "createTeam", {"name": "x" * 201}, "INVALID_INPUT", "name"),
            (ADD_MEMBER, "addTeamMember", {"teamId": team, "userId": to_base64("User", 999_999)}, "NOT_FOUND",
             "userId"),
            (ADD_MEMBER, "addTeamMember", {"teamId": to_base64("Team", 999_999),
                                           "userId": to_base64("User", 999_999)}, "NOT_FOUND", "teamId")):
        payload = (await admin.ok(query, {"input": data}))[name]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], payload
    refused = (await admin.ok(RESTRICT, {"input": {"accountId": await builders.account(admin, "A-1"),
                                                   "restricted": True, "teamIds": [to_base64("Team", 999_999)]}}))
    assert refused["restrictAccount"]["errors"] == [{"code": "NOT_FOUND", "field": "teamIds"}]

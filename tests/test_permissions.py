"""Permissions: a refused permission is a typed payload error and nothing changes."""

from strawberry.relay import to_base64

from tests.conftest import make_token
from tests.support.api import Api

CREATE_LEDGER = """mutation { createLedgerAccount(input: {code: "1200", name: "Receivables", kind: RECEIVABLE}) {
  ledgerAccount { id } errors { code field message } } }"""


async def test_permission_denied_is_a_payload_error_and_writes_nothing(clerk: Api, admin: Api) -> None:
    result = await clerk(CREATE_LEDGER)
    assert result.errors == []
    payload = result.data["createLedgerAccount"]
    assert payload["ledgerAccount"] is None
    assert payload["errors"][0]["code"] == "PERMISSION_DENIED"
    assert "ADMIN" in payload["errors"][0]["message"]
    assert (await admin.ok("{ ledgerAccounts { totalCount } }"))["ledgerAccounts"]["totalCount"] == 0


async def test_user_without_billing_access_sees_no_billing_data(client, admin: Api) -> None:
    await admin.mutate("createAccount", """mutation { createAccount(input: {number: "A1", name: "A",
      billGroup: "G", division: "D", taxLocation: "T", billingEmail: "a@x.io"}) { account { id } errors { code } } }""")
    _, token = await make_token("outsider@example.com", [])
    outsider = Api(client, token)
    assert (await outsider.ok("{ accounts { totalCount } }"))["accounts"]["totalCount"] == 0
    payload = (await outsider.ok("""mutation { createAccount(input: {number: "A2", name: "A", billGroup: "G",
      division: "D", taxLocation: "T", billingEmail: "a@x.io"}) { account { id } errors { code } } }"""))
    assert payload["createAccount"]["errors"] == [{"code": "PERMISSION_DENIED"}]


async def test_send_export_requires_billing_access(admin: Api) -> None:
    payload = (await admin.ok("""mutation { createUser(input: {email: "s@x.io", name: "S",
      permissions: [BILLING_SEND_EXPORT]}) { user { id } errors { code field } } }"""))["createUser"]
    assert payload["errors"] == [{"code": "INVALID_INPUT", "field": "permissions"}]


async def test_only_admins_manage_users(clerk: Api, admin: Api) -> None:
    query = """mutation { createUser(input: {email: "new@x.io", name: "N", permissions: [BILLING_ACCESS],
      password: "long enough pw"}) { user { email permissions } errors { code } } }"""
    assert (await clerk.ok(query))["createUser"]["errors"] == [{"code": "PERMISSION_DENIED"}]
    created = (await admin.ok(query))["createUser"]
    assert created["user"] == {"email": "new@x.io", "permissions": ["BILLING_ACCESS"]}
    assert (await clerk.ok("{ users { totalCount nodes { email } } }"))["users"] == {
        "totalCount": 1, "nodes": [{"email": "clerk@example.com"}]}


UPDATE_USER = """mutation($input: UpdateUserInput!) { updateUser(input: $input) {
  user { id email name permissions isActive } errors { code field message } } }"""
ME = "{ viewer { name permissions user { id name permissions } } }"


async def test_admins_change_a_users_name_and_permissions_and_users_only_their_own_name(admin: Api,
                                                                                       clerk: Api) -> None:
    clerk_id = (await clerk.ok(ME))["viewer"]["user"]["id"]
    changed = await admin.mutate("updateUser", UPDATE_USER, {"input": {
        "id": clerk_id, "name": "Cleo Approver", "permissions": ["BILLING_ACCESS", "BILLING_APPROVE"]}})
    assert changed["user"] == {"id": clerk_id, "email": "clerk@example.com", "name": "Cleo Approver",
                               "permissions": ["BILLING_ACCESS", "BILLING_APPROVE"], "isActive": True}
    # In force at once, for the token the clerk already holds.
    assert (await clerk.ok(ME))["viewer"]["permissions"] == ["BILLING_ACCESS", "BILLING_APPROVE"]
    renamed = await clerk.mutate("updateUser", UPDATE_USER, {"input": {"id": clerk_id, "name": " Cleo "}})
    assert renamed["user"]["name"] == "Cleo"
    refused = (await clerk.ok(UPDATE_USER, {"input": {"id": clerk_id, "permissions": ["BILLING_ACCESS", "ADMIN"]}}))
    assert refused["updateUser"]["user"] is None
    assert [e["code"] for e in refused["updateUser"]["errors"]] == ["PERMISSION_DENIED"]
    admin_id = (await admin.ok(ME))["viewer"]["user"]["id"]
    refused = await clerk.ok(UPDATE_USER, {"input": {"id": admin_id, "name": "Not Ada"}})
    assert [e["code"] for e in refused["updateUser"]["errors"]] == ["PERMISSION_DENIED"]
    users = (await admin.ok("{ users { nodes { email name permissions } } }"))["users"]["nodes"]
    assert sorted((u["email"], u["name"], u["permissions"]) for u in users) == [
        ("admin@example.com", "Ada Admin", ["BILLING_ACCESS", "BILLING_SEND_EXPORT", "BILLING_APPROVE", "ADMIN"]),
        ("clerk@example.com", "Cleo", ["BILLING_ACCESS", "BILLING_APPROVE"])]


async def test_update_user_refuses_bad_input_and_unknown_users(admin: Api, clerk: Api) -> None:
    clerk_id = (await clerk.ok(ME))["viewer"]["user"]["id"]
    for change, field in (({"name": "  "}, "name"), ({"permissions": ["BILLING_SEND_EXPORT"]}, "permissions")):
        payload = (await admin.ok(UPDATE_USER, {"input": {"id": clerk_id, **change}}))["updateUser"]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_INPUT", field)], change
    payload = (await admin.ok(UPDATE_USER, {"input": {"id": to_base64("User", 999999), "name": "Nobody"}}))
    assert [e["code"] for e in payload["updateUser"]["errors"]] == ["NOT_FOUND"]
    assert (await clerk.ok(ME))["viewer"] == {"name": "Cleo Clerk", "permissions": ["BILLING_ACCESS"],
                                              "user": {"id": clerk_id, "name": "Cleo Clerk",
                                                       "permissions": ["BILLING_ACCESS"]}}

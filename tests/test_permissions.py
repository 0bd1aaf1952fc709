"""Permissions: a refused permission is a typed payload error and nothing changes (SPEC §6)."""

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

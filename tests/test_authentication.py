"""Bearer tokens, sign-in and sign-out, rate limiting (SPEC §6)."""

from datetime import UTC, datetime, timedelta

import models
from domain import clock
from tests.conftest import make_token
from tests.support.api import Api

VIEWER = "{ viewer { id email permissions tokenKind } }"
LOGIN = """mutation($email: String!, $password: String!) { login(input: {email: $email, password: $password}) {
  token expiresAt user { email } errors { code field message } } }"""
LOGOUT = "mutation { logout { ok errors { code } } }"


async def test_request_without_token_gets_a_clear_authentication_error(anonymous: Api) -> None:
    result = await anonymous(VIEWER)
    assert result.data is None
    [error] = result.errors
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Authorization: Bearer" in error["message"]


async def test_unknown_token_is_refused_with_reason(anonymous: Api) -> None:
    result = await anonymous.as_("brn_not-a-real-token")(VIEWER)
    [error] = result.errors
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "unknown, revoked or expired" in error["message"]


async def test_every_root_field_needs_a_token(anonymous: Api) -> None:
    for query in ["{ accounts { totalCount } }", "{ salesContracts { totalCount } }",
                  '{ node(id: "QWNjb3VudDox") { id } }', "{ users { totalCount } }"]:
        result = await anonymous(query)
        assert [e["extensions"]["code"] for e in result.errors] == ["UNAUTHENTICATED"], query


async def test_login_then_query_then_logout(anonymous: Api) -> None:
    await make_token("ann@example.com", ["BILLING_ACCESS"])
    payload = (await anonymous.ok(LOGIN, {"email": "Ann@Example.com", "password": "correct horse battery"}))["login"]
    assert payload["errors"] == [] and payload["user"]["email"] == "ann@example.com"
    session = anonymous.as_(payload["token"])
    viewer = (await session.ok(VIEWER))["viewer"]
    assert viewer["tokenKind"] == "SESSION" and viewer["permissions"] == ["BILLING_ACCESS"]
    assert (await session.ok(LOGOUT))["logout"]["ok"] is True
    assert (await session(VIEWER)).errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_session_expires(anonymous: Api) -> None:
    await make_token("exp@example.com", ["BILLING_ACCESS"])
    payload = (await anonymous.ok(LOGIN, {"email": "exp@example.com", "password": "correct horse battery"}))["login"]
    session = anonymous.as_(payload["token"])
    later = datetime.fromisoformat(payload["expiresAt"]) + timedelta(seconds=1)
    with clock.frozen_at(later.astimezone(UTC)):
        assert (await session(VIEWER)).errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await session.ok(VIEWER))["viewer"]["email"] == "exp@example.com"


async def test_wrong_password_is_a_payload_error_and_failures_are_rate_limited(anonymous: Api) -> None:
    await make_token("bob@example.com", ["BILLING_ACCESS"])
    for _ in range(5):
        payload = (await anonymous.ok(LOGIN, {"email": "bob@example.com", "password": "nope"}))["login"]
        assert [e["code"] for e in payload["errors"]] == ["INVALID_CREDENTIALS"] and payload["token"] is None
    # Even the right password is refused while the window lasts.
    payload = (await anonymous.ok(LOGIN, {"email": "bob@example.com", "password": "correct horse battery"}))["login"]
    assert [e["code"] for e in payload["errors"]] == ["LOGIN_RATE_LIMITED"]
    with clock.frozen_at(datetime.now(UTC) + timedelta(minutes=16)):
        payload = (await anonymous.ok(LOGIN, {"email": "bob@example.com",
                                              "password": "correct horse battery"}))["login"]
        assert payload["errors"] == [] and payload["token"]


async def test_unknown_email_reads_like_a_wrong_password(anonymous: Api) -> None:
    payload = (await anonymous.ok(LOGIN, {"email": "nobody@example.com", "password": "whatever"}))["login"]
    assert [e["code"] for e in payload["errors"]] == ["INVALID_CREDENTIALS"]


async def test_api_token_is_limited_to_its_permissions_and_revocable(admin: Api) -> None:
    user_id = (await admin.ok(VIEWER))["viewer"]["id"]
    created = await admin.mutate("createApiToken", """mutation($input: CreateApiTokenInput!) {
      createApiToken(input: $input) { token apiToken { id tokenPrefix permissions } errors { code } } }""",
                                 {"input": {"userId": _user_gid(user_id), "name": "crm",
                                            "permissions": ["BILLING_ACCESS"]}})
    partner = admin.as_(created["token"])
    assert created["apiToken"]["tokenPrefix"] == created["token"][:10]
    assert (await partner.ok(VIEWER))["viewer"]["permissions"] == ["BILLING_ACCESS"]
    refused = await partner.ok("""mutation { createLedgerAccount(input: {code: "9", name: "x", kind: CASH}) {
      ledgerAccount { id } errors { code } } }""")
    assert refused["createLedgerAccount"]["errors"] == [{"code": "PERMISSION_DENIED"}]
    await admin.mutate("revokeApiToken", """mutation($id: ID!) { revokeApiToken(input: {id: $id}) {
      apiToken { revokedAt } errors { code } } }""", {"id": created["apiToken"]["id"]})
    assert (await partner(VIEWER)).errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


def _user_gid(viewer_gid: str) -> str:
    from strawberry.relay import from_base64, to_base64

    return to_base64("User", from_base64(viewer_gid)[1])


UPDATE_USER = """mutation($input: UpdateUserInput!) { updateUser(input: $input) {
  user { isActive } errors { code field message } } }"""


async def _session(anonymous: Api, email: str, password: str = "correct horse battery") -> Api:
    payload = (await anonymous.ok(LOGIN, {"email": email, "password": password}))["login"]
    assert payload["errors"] == [], payload["errors"]
    return anonymous.as_(payload["token"])


async def test_deactivating_a_user_ends_their_sessions_and_suspends_their_tokens(anonymous: Api, admin: Api) -> None:
    user, api_token = await make_token("leaver@example.com", ["BILLING_ACCESS"])
    session = await _session(anonymous, "leaver@example.com")
    user_id = _user_gid((await session.ok(VIEWER))["viewer"]["id"])
    payload = await admin.mutate("updateUser", UPDATE_USER, {"input": {"id": user_id, "isActive": False}})
    assert payload["user"] == {"isActive": False}
    for token in (session.token, api_token):
        assert (await anonymous.as_(token)(VIEWER)).errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    refused = (await anonymous.ok(LOGIN, {"email": "leaver@example.com", "password": "correct horse battery"}))
    assert [e["code"] for e in refused["login"]["errors"]] == ["INVALID_CREDENTIALS"]
    # Back again: the API token works, the ended session stays ended.
    await admin.mutate("updateUser", UPDATE_USER, {"input": {"id": user_id, "isActive": True}})
    assert (await anonymous.as_(api_token).ok(VIEWER))["viewer"]["email"] == "leaver@example.com"
    assert (await session(VIEWER)).errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await models.User.get(id=user.id)).is_active is True


async def test_an_admin_resets_a_password_from_a_session_and_the_old_one_stops_working(anonymous: Api,
                                                                                       admin: Api) -> None:
    await make_token("forgetful@example.com", ["BILLING_ACCESS"])
    theirs = await _session(anonymous, "forgetful@example.com")
    user_id = _user_gid((await theirs.ok(VIEWER))["viewer"]["id"])
    admin_session = await _session(anonymous, "admin@example.com")
    await admin_session.mutate("updateUser", UPDATE_USER, {"input": {"id": user_id,
                                                                      "password": "a brand new secret"}})
    assert (await theirs(VIEWER)).errors[0]["extensions"]["code"] == "UNAUTHENTICATED"  # sessions end
    old = (await anonymous.ok(LOGIN, {"email": "forgetful@example.com", "password": "correct horse battery"}))
    assert [e["code"] for e in old["login"]["errors"]] == ["INVALID_CREDENTIALS"]
    fresh = await _session(anonymous, "forgetful@example.com", "a brand new secret")
    assert (await fresh.ok(VIEWER))["viewer"]["tokenKind"] == "SESSION"
    short = (await admin_session.ok(UPDATE_USER, {"input": {"id": user_id, "password": "short"}}))["updateUser"]
    assert [(e["code"], e["field"]) for e in short["errors"]] == [("INVALID_INPUT", "password")]

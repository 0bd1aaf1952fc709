"""Bearer tokens, sign-in and sign-out, users, and the limits on guessing passwords."""

import asyncio
import concurrent.futures
import functools
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import argon2
import httpx
import pydantic
import pytest
from strawberry.relay import from_base64, to_base64

import models
from billrun.app import create_app
from billrun.settings import Settings, reset_settings
from domain import auth, clock
from tests.conftest import ALL, make_token
from tests.support import billing, builders, waiting
from tests.support.api import Api
from tests.support.worker import ROOT

PASSWORD = "correct horse battery"  # every make_token user's
VIEWER = "{ viewer { id email permissions tokenKind } }"
LOGIN = """mutation($email: String!, $password: String!) { login(input: {email: $email, password: $password}) {
  token expiresAt retryAt user { email } errors { code field message } } }"""
LOGOUT = "mutation { logout { ok errors { code } } }"
UPDATE_USER = """mutation($input: UpdateUserInput!) { updateUser(input: $input) {
  user { id name email isActive } errors { code field } } }"""
CREATE_USER = """mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } errors { code } } }"""
CREATE_TOKEN = """mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) {
  token apiToken { id } errors { code } } }"""
REVOKE = "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { revokedAt } errors { code } } }"


def _gid(user: models.User) -> str:
    return to_base64("User", user.id)


def _codes(payload: dict) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def _login(api: Api, email: str, password: str = PASSWORD) -> dict:
    return (await api.ok(LOGIN, {"email": email, "password": password}))["login"]


async def _session(api: Api, email: str, password: str = PASSWORD) -> Api:
    payload = await _login(api, email, password)
    assert payload["errors"] == [], payload
    return api.as_(payload["token"])


async def _alive(api: Api) -> bool:
    result = await api(VIEWER)
    return not result.errors


def _client(app, host: str, port: int = 40000) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(host, port)), base_url="http://testserver")


def _recent() -> datetime:
    """A moment to freeze the clock at: now, since the worker's housekeeping purges attempts weeks old."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Change settings through the environment for one test."""
    yield monkeypatch
    monkeypatch.undo()
    reset_settings()


# --- tokens and sessions ---------------------------------------------------------------------------------------


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
    payload = await _login(anonymous, "Ann@Example.com")
    assert payload["errors"] == [] and payload["user"]["email"] == "ann@example.com"
    session = anonymous.as_(payload["token"])
    viewer = (await session.ok(VIEWER))["viewer"]
    assert viewer["tokenKind"] == "SESSION" and viewer["permissions"] == ["BILLING_ACCESS"]
    assert (await session.ok(LOGOUT))["logout"]["ok"] is True
    assert (await session(VIEWER)).errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_session_expires(anonymous: Api) -> None:
    await make_token("exp@example.com", ["BILLING_ACCESS"])
    payload = await _login(anonymous, "exp@example.com")
    session = anonymous.as_(payload["token"])
    later = datetime.fromisoformat(payload["expiresAt"]) + timedelta(seconds=1)
    with clock.frozen_at(later.astimezone(UTC)):
        assert (await session(VIEWER)).errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await session.ok(VIEWER))["viewer"]["email"] == "exp@example.com"


async def test_api_token_is_limited_to_its_permissions_and_revocable(admin: Api) -> None:
    user_id = (await admin.ok(VIEWER))["viewer"]["id"]
    created = await admin.mutate("createApiToken", """mutation($input: CreateApiTokenInput!) {
      createApiToken(input: $input) { token apiToken { id tokenPrefix permissions } errors { code } } }""",
                                 {"input": {"userId": to_base64("User", from_base64(user_id)[1]), "name": "crm",
                                            "permissions": ["BILLING_ACCESS"]}})
    partner = admin.as_(created["token"])
    assert created["apiToken"]["tokenPrefix"] == created["token"][:10]
    assert (await partner.ok(VIEWER))["viewer"]["permissions"] == ["BILLING_ACCESS"]
    refused = await partner.ok("""mutation { createLedgerAccount(input: {code: "9", name: "x", kind: CASH}) {
      ledgerAccount { id } errors { code } } }""")
    assert refused["createLedgerAccount"]["errors"] == [{"code": "PERMISSION_DENIED"}]
    await admin.mutate("revokeApiToken", REVOKE, {"id": created["apiToken"]["id"]})
    assert (await partner(VIEWER)).errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- updateUser ------------------------------------------------------------------------------------------------


async def test_anyone_renames_themselves_but_nobody_else(clerk: Api) -> None:
    me = await models.User.get(email="clerk@example.com")
    renamed = await clerk.mutate("updateUser", UPDATE_USER, {"input": {"id": _gid(me), "name": " Cleo C. "}})
    assert renamed["user"]["name"] == "Cleo C."
    other, _ = await make_token("other@example.com", ["BILLING_ACCESS"], "Otto")
    refused = (await clerk.ok(UPDATE_USER, {"input": {"id": _gid(other), "name": "Mallory"}}))["updateUser"]
    assert _codes(refused) == [("PERMISSION_DENIED", None)]
    assert (await models.User.get(id=other.id)).name == "Otto"
    too_long = (await clerk.ok(UPDATE_USER, {"input": {"id": _gid(me), "name": "x" * 201}}))["updateUser"]
    assert _codes(too_long) == [("INVALID_INPUT", "name")]


async def test_own_password_change_needs_a_session_and_the_current_password(clerk: Api, anonymous: Api) -> None:
    me = await models.User.get(email="clerk@example.com")
    change = {"id": _gid(me), "password": "a brand new secret"}
    # An API token never changes a password, not even with the right current one.
    refused = (await clerk.ok(UPDATE_USER, {"input": {**change, "currentPassword": PASSWORD}}))["updateUser"]
    assert _codes(refused) == [("PERMISSION_DENIED", "password")]
    session, other_session = await _session(anonymous, me.email), await _session(anonymous, me.email)
    missing = (await session.ok(UPDATE_USER, {"input": change}))["updateUser"]
    assert _codes(missing) == [("INVALID_CREDENTIALS", "currentPassword")]
    wrong = (await session.ok(UPDATE_USER, {"input": {**change, "currentPassword": "not it at all"}}))["updateUser"]
    assert _codes(wrong) == [("INVALID_CREDENTIALS", "currentPassword")]
    assert (await models.User.get(id=me.id)).password_hash == me.password_hash
    await session.mutate("updateUser", UPDATE_USER, {"input": {**change, "currentPassword": PASSWORD}})
    # The caller's session stays, the user's other sessions end, API tokens are not sessions.
    assert await _alive(session) and not await _alive(other_session) and await _alive(clerk)
    assert _codes(await _login(anonymous, me.email)) == [("INVALID_CREDENTIALS", "password")]
    assert (await _login(anonymous, me.email, "a brand new secret"))["token"]


async def test_current_password_guesses_count_like_failed_sign_ins(clerk: Api, anonymous: Api) -> None:
    me = await models.User.get(email="clerk@example.com")
    session = await _session(anonymous, me.email)
    change = {"id": _gid(me), "password": "a brand new secret"}
    for guess in range(5):
        wrong = await session.ok(UPDATE_USER, {"input": {**change, "currentPassword": f"guess number {guess}"}})
        assert _codes(wrong["updateUser"]) == [("INVALID_CREDENTIALS", "currentPassword")]
    right = (await session.ok(UPDATE_USER, {"input": {**change, "currentPassword": PASSWORD}}))["updateUser"]
    assert _codes(right) == [("LOGIN_RATE_LIMITED", "currentPassword")]
    assert [e["code"] for e in (await _login(anonymous, me.email))["errors"]] == ["LOGIN_RATE_LIMITED"]


async def test_an_admin_resets_another_users_password_from_a_session_and_ends_their_sessions(
        admin: Api, anonymous: Api) -> None:
    clerk, _ = await make_token("cleo@example.com", ["BILLING_ACCESS"])
    clerk_session = await _session(anonymous, clerk.email)
    reset = {"id": _gid(clerk), "password": "reset by the admin"}
    refused = (await admin.ok(UPDATE_USER, {"input": reset}))["updateUser"]  # the admin's API token
    assert _codes(refused) == [("PERMISSION_DENIED", "password")]
    admin_session = await _session(anonymous, "admin@example.com")
    await admin_session.mutate("updateUser", UPDATE_USER, {"input": reset})  # no current password needed
    assert not await _alive(clerk_session) and await _alive(admin_session)
    assert (await _login(anonymous, clerk.email, "reset by the admin"))["token"]


async def test_deactivation_ends_every_session_and_token_and_sign_in(admin: Api, anonymous: Api) -> None:
    clerk, token = await make_token("cleo@example.com", ["BILLING_ACCESS"])
    clerk_session = await _session(anonymous, clerk.email)
    off = await admin.mutate("updateUser", UPDATE_USER, {"input": {"id": _gid(clerk), "isActive": False}})
    assert off["user"]["isActive"] is False
    assert not await _alive(clerk_session) and not await _alive(anonymous.as_(token))
    assert _codes(await _login(anonymous, clerk.email)) == [("INVALID_CREDENTIALS", "password")]
    await admin.mutate("updateUser", UPDATE_USER, {"input": {"id": _gid(clerk), "isActive": True}})
    assert await _alive(anonymous.as_(token)) and not await _alive(clerk_session)  # sessions stay ended


async def test_permissions_only_narrow(client: httpx.AsyncClient, anonymous: Api) -> None:
    root, _ = await make_token("root@example.com", ALL)
    token, _ = await auth.create_api_token(None, user_id=root.id, name="ops", permissions=["ADMIN"])
    ops = Api(client, token)
    new_user = {"email": "new@example.com", "name": "New", "password": "long enough pw"}
    refused = await ops.ok(CREATE_USER, {"input": {**new_user, "permissions": ["ADMIN", "BILLING_ACCESS"]}})
    assert refused["createUser"]["errors"] == [{"code": "PERMISSION_DENIED"}]
    created = await ops.mutate("createUser", CREATE_USER, {"input": {**new_user, "permissions": ["ADMIN"]}})
    for permissions in (None, ALL, ["ADMIN", "BILLING_ACCESS"]):  # null: all of the user's
        refused = await ops.ok(CREATE_TOKEN, {"input": {"userId": _gid(root), "name": "more",
                                                        "permissions": permissions}})
        assert refused["createApiToken"]["errors"] == [{"code": "PERMISSION_DENIED"}], permissions
    same = await ops.mutate("createApiToken", CREATE_TOKEN, {"input": {
        "userId": _gid(root), "name": "same", "permissions": ["ADMIN"]}})
    assert (await ops.as_(same["token"]).ok(VIEWER))["viewer"]["permissions"] == ["ADMIN"]
    # What counts is the token's effective permissions: its list within its user's.
    theirs = await ops.mutate("createApiToken", CREATE_TOKEN, {"input": {
        "userId": created["user"]["id"], "name": "theirs", "permissions": ["ADMIN", "BILLING_ACCESS"]}})
    assert (await ops.as_(theirs["token"]).ok(VIEWER))["viewer"]["permissions"] == ["ADMIN"]
    refused = await ops.ok(UPDATE_USER, {"input": {"id": _gid(root), "permissions": ALL}})
    assert _codes(refused["updateUser"]) == [("PERMISSION_DENIED", "permissions")]


async def test_acting_on_another_user_needs_everything_they_hold(client: httpx.AsyncClient, anonymous: Api) -> None:
    await make_token("ops@example.com", ["ADMIN"])
    ops = await _session(anonymous, "ops@example.com")  # a session: password resets are allowed to it
    boss, boss_token = await make_token("boss@example.com", ALL)
    peer, _ = await make_token("peer@example.com", ["ADMIN"])
    boss_token_id = (await models.AccessToken.get(token_hash=auth.hash_token(boss_token))).id
    attempts = [
        (UPDATE_USER, {"input": {"id": _gid(boss), "password": "taken over now"}}),
        (UPDATE_USER, {"input": {"id": _gid(boss), "permissions": ["ADMIN"]}}),
        (UPDATE_USER, {"input": {"id": _gid(boss), "isActive": False}}),
        (UPDATE_USER, {"input": {"id": _gid(boss), "name": "Boss?"}}),
        (CREATE_TOKEN, {"input": {"userId": _gid(boss), "name": "theirs", "permissions": ["ADMIN"]}}),
        (REVOKE, {"id": to_base64("ApiToken", boss_token_id)}),
    ]
    for query, variables in attempts:
        payload = next(iter((await ops.ok(query, variables)).values()))
        assert [e["code"] for e in payload["errors"]] == ["PERMISSION_DENIED"], (query, variables)
    assert (await _login(anonymous, boss.email))["token"] and await _alive(anonymous.as_(boss_token))
    # A user holding no more than the actor may be managed as before.
    await ops.mutate("updateUser", UPDATE_USER, {"input": {"id": _gid(peer), "password": "reset by ops!"}})
    assert (await _login(anonymous, peer.email, "reset by ops!"))["token"]


# --- the sign-in limiter ---------------------------------------------------------------------------------------


async def test_parallel_wrong_guesses_are_evaluated_at_most_up_to_the_limit(anonymous: Api) -> None:
    await make_token("bob@example.com", ["BILLING_ACCESS"])
    results = await asyncio.gather(*(_login(anonymous, "bob@example.com", f"guess {i:02d} wrong")
                                     for i in range(25)))
    codes = [p["errors"][0]["code"] for p in results]
    assert codes.count("INVALID_CREDENTIALS") == 5 and codes.count("LOGIN_RATE_LIMITED") == 20
    assert await models.LoginAttempt.filter(email="bob@example.com").count() == 5  # only those were evaluated
    assert not await models.LoginAttempt.filter(succeeded=None).exists()


async def test_the_right_password_among_parallel_guesses_beyond_the_limit_never_wins(anonymous: Api) -> None:
    await make_token("bob@example.com", ["BILLING_ACCESS"])
    for i in range(5):
        await _login(anonymous, "bob@example.com", f"guess {i} wrong")
    guesses = [f"guess {i:02d} wrong" for i in range(24)]
    guesses.insert(12, PASSWORD)
    results = await asyncio.gather(*(_login(anonymous, "bob@example.com", g) for g in guesses))
    assert all(p["token"] is None for p in results)
    assert {p["errors"][0]["code"] for p in results} == {"LOGIN_RATE_LIMITED"}
    assert not await models.AccessToken.filter(kind="SESSION").exists()


async def test_failures_wait_longer_each_time_and_the_wait_ends(anonymous: Api) -> None:
    await make_token("bob@example.com", ["BILLING_ACCESS"])
    start = _recent()
    with clock.frozen_at(start):
        for _ in range(5):
            assert _codes(await _login(anonymous, "bob@example.com", "wrong!")) == [("INVALID_CREDENTIALS", "password")]
        limited = await _login(anonymous, "bob@example.com")  # even the right password waits
        assert _codes(limited) == [("LOGIN_RATE_LIMITED", "email")] and limited["token"] is None
        assert datetime.fromisoformat(limited["retryAt"]) == start + timedelta(seconds=30)
        assert "try again in 30 s" in limited["errors"][0]["message"]
    with clock.frozen_at(start + timedelta(seconds=29)):
        assert _codes(await _login(anonymous, "bob@example.com")) == [("LOGIN_RATE_LIMITED", "email")]
    later = start + timedelta(seconds=30)
    with clock.frozen_at(later):  # one more guess is evaluated, and doubles the wait
        assert _codes(await _login(anonymous, "bob@example.com", "wrong!")) == [("INVALID_CREDENTIALS", "password")]
        limited = await _login(anonymous, "bob@example.com")
        assert datetime.fromisoformat(limited["retryAt"]) == later + timedelta(seconds=60)
    with clock.frozen_at(later + timedelta(seconds=60)):
        assert (await _login(anonymous, "bob@example.com"))["token"]
        # A success resets the e-mail's count: a typo afterwards is just a wrong password.
        assert _codes(await _login(anonymous, "bob@example.com", "wrong!")) == [("INVALID_CREDENTIALS", "password")]


async def test_the_wait_is_capped_and_old_failures_are_forgotten(anonymous: Api) -> None:
    await make_token("bob@example.com", ["BILLING_ACCESS"])
    last = _recent()
    await models.LoginAttempt.bulk_create([
        models.LoginAttempt(email="bob@example.com", remote_addr="192.0.2.1", succeeded=False,
                            at=last - timedelta(seconds=i)) for i in range(40)])
    with clock.frozen_at(last):
        limited = await _login(anonymous, "bob@example.com")
        assert datetime.fromisoformat(limited["retryAt"]) == last + timedelta(seconds=900)  # not 30 s * 2**35
    with clock.frozen_at(last + timedelta(seconds=900)):
        assert (await _login(anonymous, "bob@example.com"))["token"]


async def test_guesses_from_one_address_across_emails_are_limited(app, settings_env: pytest.MonkeyPatch) -> None:
    settings_env.setenv("BILLRUN_LOGIN_MAX_FAILURES_PER_ADDRESS", "3")
    reset_settings()
    for name in ("amy", "ben", "cat", "dan"):
        await make_token(f"{name}@example.com", ["BILLING_ACCESS"])
    async with _client(app, "203.0.113.7") as sprayer, _client(app, "203.0.113.8") as neighbour:
        spray = Api(sprayer)
        for name in ("amy", "ben", "cat"):
            assert [e["code"] for e in (await _login(spray, f"{name}@example.com", "Summer2026!"))["errors"]] == [
                "INVALID_CREDENTIALS"]
        # A fourth e-mail from the same address waits, even with the right password; other addresses do not.
        assert _codes(await _login(spray, "dan@example.com")) == [("LOGIN_RATE_LIMITED", "email")]
        assert (await _login(Api(neighbour), "dan@example.com"))["token"]


async def test_an_ipv6_client_counts_as_its_whole_slash_64(app, settings_env: pytest.MonkeyPatch) -> None:
    settings_env.setenv("BILLRUN_LOGIN_MAX_FAILURES_PER_ADDRESS", "3")
    reset_settings()
    await make_token("amy@example.com", ["BILLING_ACCESS"])
    for i in range(3):
        async with _client(app, f"2001:db8:0:7::{i + 1}") as rotating:
            await _login(Api(rotating), f"nobody{i}@example.com", "Summer2026!")
    async with _client(app, "2001:db8:0:7::99") as same_64, _client(app, "2001:db8:0:8::1") as next_64:
        assert _codes(await _login(Api(same_64), "amy@example.com")) == [("LOGIN_RATE_LIMITED", "email")]
        assert (await _login(Api(next_64), "amy@example.com"))["token"]


async def test_an_unknown_email_costs_one_verification_of_an_equal_hash(anonymous: Api) -> None:
    user, _ = await make_token("bob@example.com", ["BILLING_ACCESS"])
    api_only = await models.User.create(email="robot@example.com", name="robot", permissions=["BILLING_ACCESS"])
    inactive, _ = await make_token("gone@example.com", ["BILLING_ACCESS"])
    await models.User.filter(id=inactive.id).update(is_active=False)
    # The dummy hash has the parameters of a real one, so verifying it costs the same.
    assert argon2.extract_parameters(await auth.dummy_password_hash()) == argon2.extract_parameters(
        user.password_hash)
    for email, verified in [("nobody@example.com", "dummy"), (api_only.email, "dummy"), (inactive.email, "dummy"),
                            (user.email, "password")]:
        before = auth.verifications.copy()
        assert _codes(await _login(anonymous, email, "whatever it is")) == [("INVALID_CREDENTIALS", "password")]
        assert auth.verifications - before == {verified: 1}, email


class _RecordingExecutor(concurrent.futures.ThreadPoolExecutor):
    """A real thread pool that remembers what it was given to run."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.ran: list[object] = []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(fn, functools.partial) and fn.args:  # asyncio.to_thread: partial(context.run, func, ...)
            self.ran.append(fn.args[0])
        return super().submit(fn, *args, **kwargs)


async def test_argon2_runs_in_a_thread_not_on_the_event_loop(anonymous: Api) -> None:
    loop = asyncio.get_running_loop()
    recording = _RecordingExecutor()
    loop.set_default_executor(recording)
    try:
        await auth.create_user(None, email="t@example.com", name="T", permissions=[], password="long enough pw")
        await _login(anonymous, "t@example.com", "long enough pw")
    finally:
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor())
        recording.shutdown()
    argon2_calls = [getattr(fn, "__name__", "") for fn in recording.ran
                    if isinstance(getattr(fn, "__self__", None), argon2.PasswordHasher)]
    assert argon2_calls == ["hash", "verify"]


# --- client addresses ------------------------------------------------------------------------------------------

FORWARDED = {"X-Forwarded-For": "198.51.100.9"}


async def _wrong_login_from(client: httpx.AsyncClient, email: str, headers: dict[str, str]) -> str:
    """Fail a sign-in and return the client address it was counted under."""
    response = await client.post("/graphql", headers=headers, json={
        "query": LOGIN, "variables": {"email": email, "password": "not the password"}})
    assert response.json()["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    return (await models.LoginAttempt.filter(email=email).order_by("-id").first()).remote_addr


@pytest.fixture
async def proxied_app(settings_env: pytest.MonkeyPatch) -> AsyncIterator:
    settings_env.setenv("BILLRUN_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
    reset_settings()
    yield create_app(run_workers=False)


async def test_forwarded_addresses_are_ignored_unless_a_proxy_is_trusted(app) -> None:
    async with _client(app, "10.0.0.5") as peer:
        assert await _wrong_login_from(peer, "a@example.com", FORWARDED) == "10.0.0.5"


async def test_a_trusted_proxy_forwards_the_client_address_and_nobody_else_does(proxied_app) -> None:
    async with _client(proxied_app, "10.1.2.3") as proxy, _client(proxied_app, "192.0.2.1") as other_proxy, \
            _client(proxied_app, "203.0.113.5") as stranger:
        assert await _wrong_login_from(proxy, "a@example.com", FORWARDED) == "198.51.100.9"
        assert await _wrong_login_from(other_proxy, "b@example.com", FORWARDED) == "198.51.100.9"
        assert await _wrong_login_from(stranger, "c@example.com", FORWARDED) == "203.0.113.5"
        # A client writing its own X-Forwarded-For through the proxy gets only the address the proxy saw.
        spoofed = {"X-Forwarded-For": "127.0.0.1, 198.51.100.10"}
        assert await _wrong_login_from(proxy, "d@example.com", spoofed) == "198.51.100.10"


async def test_the_forwarded_address_is_the_one_the_limiter_counts(proxied_app, settings_env) -> None:
    settings_env.setenv("BILLRUN_LOGIN_MAX_FAILURES_PER_ADDRESS", "2")
    reset_settings()
    await make_token("amy@example.com", ["BILLING_ACCESS"])
    async with _client(proxied_app, "10.1.2.3") as proxy:
        api = Api(proxy)
        for email in ("x@example.com", "y@example.com"):
            await _wrong_login_from(proxy, email, FORWARDED)
        result = await api.client.post("/graphql", headers=FORWARDED, json={
            "query": LOGIN, "variables": {"email": "amy@example.com", "password": PASSWORD}})
        assert result.json()["data"]["login"]["errors"][0]["code"] == "LOGIN_RATE_LIMITED"
        other = await api.client.post("/graphql", headers={"X-Forwarded-For": "198.51.100.77"}, json={
            "query": LOGIN, "variables": {"email": "amy@example.com", "password": PASSWORD}})
        assert other.json()["data"]["login"]["token"]


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert Settings(trusted_proxies=" 10.0.0.0/8 ,::1").trusted_proxy_list == ["10.0.0.0/8", "::1"]
    with pytest.raises(pydantic.ValidationError, match=r"proxy\.internal"):
        Settings(trusted_proxies="10.0.0.1, proxy.internal")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served() -> Iterator[str]:
    """`billrun serve`, as deployed (no trusted proxies configured)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "BILLRUN_TRUSTED_PROXIES"}
    proc = subprocess.Popen([sys.executable, "-m", "billrun", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def started() -> bool:
        if proc.poll() is not None:
            pytest.fail("billrun serve exited before it answered")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    waiting.until_sync(started, "billrun serve to answer /health", 30, every=0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(15)


async def test_billrun_serve_does_not_believe_forwarded_headers_by_itself(served: str) -> None:
    # uvicorn alone would trust X-Forwarded-For from 127.0.0.1; billrun trusts only BILLRUN_TRUSTED_PROXIES.
    async with httpx.AsyncClient(base_url=served) as client:
        assert await _wrong_login_from(client, "a@example.com", FORWARDED) == "127.0.0.1"


# --- other users are not an open book --------------------------------------------------------------------------

PERSON = "{ name email permissions isActive }"
SEEN_BY_A_COLLEAGUE = f"""query($batch: ID!, $billing: ID!) {{
  billingBatch(id: $batch) {{
    createdBy {PERSON}
    findings {{ resolvedBy {PERSON} }}
    notifications {{ resolvedBy {PERSON} }}
    audits {{ nodes {{ actorLabel actor {PERSON} }} }}
  }}
  periodicBilling(id: $billing) {{ audits {{ operation actorLabel actor {PERSON} }} }}
}}"""


async def test_a_clerk_sees_colleagues_names_never_their_emails_or_permissions(admin: Api, clerk: Api,
                                                                               worker) -> None:
    accounts = await billing.books(admin)
    account = await builders.account(admin, "N-1", taxLocation="ZERO")
    await builders.charge(admin, await builders.contract(admin, account, "SC-N1", start="2026-05-01"), "10.00",
                          accounts["revenue"])
    await admin.mutate("createWorkOrder", """mutation($input: CreateWorkOrderInput!) { createWorkOrder(input:
      $input) { workOrder { id } errors { code } } }""", {"input": {
        "accountId": account, "description": "Pickup", "performedOn": "2026-04-28", "status": "COMPLETED"}})
    batch = await billing.batch(admin)  # created by the admin
    [finding] = (await admin.ok(billing.ANALYZE, {"id": batch}))["analyzeBillingBatch"]["findings"]
    await admin.mutate("resolveFinding", """mutation($id: ID!) { resolveFinding(input: {id: $id, note: "later"}) {
      finding { id } errors { code } } }""", {"id": finding["id"]})
    await billing.process(admin, batch)
    [row] = await billing.billings(admin, batch)
    await admin.mutate("updateBillingStatus", """mutation($id: ID!) { updateBillingStatus(input: {billingId: $id,
      status: HOLD}) { periodicBilling { id } errors { code } } }""", {"id": row["id"]})
    ada = await models.User.get(email="admin@example.com")
    batch_id, billing_id = int(from_base64(batch)[1]), int(from_base64(row["id"])[1])
    await models.Notification.create(kind="PROCESS_FAILED", message="m", batch_id=batch_id, status="RESOLVED",
                                     resolved_by=ada, resolved_at=clock.now(), resolution_note="fixed")
    # An audit row written before labels were names holds the e-mail: it reads as the current name.
    await models.Audit.create(entity="PeriodicBilling", entity_id=billing_id, field="internal_comment", before=None,
                              after="old note", operation="EDIT", actor=ada, actor_label=ada.email,
                              batch_id=batch_id, billing_id=billing_id, at=clock.now())
    await models.User.filter(id=ada.id).update(name="Ada Lovelace")  # renamed since
    # What is written now names the user, not the e-mail.
    [disposition] = await models.Audit.filter(operation="DISPOSITION").values_list("actor_label", flat=True)
    assert disposition == "Ada Admin"
    [event] = await models.Event.filter(type="BILLING_DISPOSITIONED")
    assert event.payload["actor"] == "Ada Admin"

    variables = {"batch": batch, "billing": row["id"]}
    response = await clerk.raw(SEEN_BY_A_COLLEAGUE, variables)
    assert "admin@example.com" not in response.text
    seen = response.json()["data"]
    colleague = {"name": "Ada Lovelace", "email": None, "permissions": None, "isActive": None}
    assert seen["billingBatch"]["createdBy"] == colleague
    assert seen["billingBatch"]["findings"] == [{"resolvedBy": colleague}]
    assert seen["billingBatch"]["notifications"] == [{"resolvedBy": colleague}]
    billing_audits = seen["periodicBilling"]["audits"]
    assert {a["operation"] for a in billing_audits} >= {"DISPOSITION", "EDIT"}
    for audit in billing_audits + seen["billingBatch"]["audits"]["nodes"]:
        if audit["actor"] is None:
            assert audit["actorLabel"] == "system"
        else:
            assert audit["actorLabel"] == "Ada Lovelace" and audit["actor"] == colleague
    # Admins, and each user about themselves, still see everything.
    as_admin = (await admin.ok(SEEN_BY_A_COLLEAGUE, variables))["billingBatch"]["createdBy"]
    assert as_admin == {"name": "Ada Lovelace", "email": "admin@example.com", "permissions": ALL,
                        "isActive": True}
    me = (await clerk.ok("{ viewer { user { email permissions isActive } } }"))["viewer"]["user"]
    assert me == {"email": "clerk@example.com", "permissions": ["BILLING_ACCESS"], "isActive": True}

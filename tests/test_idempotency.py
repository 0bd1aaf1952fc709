"""Safe to retry: idempotency keys over HTTP against the ASGI app, with a real worker posting the batches."""

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import websockets
from graphql import GraphQLInputObjectType, GraphQLNonNull, GraphQLObjectType, get_named_type
from strawberry.relay import to_base64

import models
from billrun.settings import get_settings, reset_settings
from domain import auth, clock, housekeeping, idempotency
from domain.errors import ErrorCode, Problem
from models.enums import JobKind, Permission
from schema import schema
from schema.idempotency import refusal_payload
from tests.conftest import ALL, make_token
from tests.support import billing, posting
from tests.support.api import Api
from tests.support.live_server import live_server
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.usefixtures("worker")

POST = """mutation($id: ID!, $mode: PostMode!, $key: String) {
  postBillingBatch(input: {batchId: $id, mode: $mode, idempotencyKey: $key}) {
    job { id kind status } errors { code field message } } }"""
CREATE_BATCH = """mutation($input: CreateBillingBatchInput!) { createBillingBatch(input: $input) {
  billingBatch { id name } errors { code field message } } }"""
CREATE_TOKEN = """mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) {
  secret: token apiToken { id name } errors { code field message } } }"""
LEDGER = """mutation($input: CreateLedgerAccountInput!) { createLedgerAccount(input: $input) {
  ledgerAccount { id code } errors { code field message } } }"""


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Change settings through the environment for one test (the app reads them per request)."""
    yield monkeypatch
    monkeypatch.undo()
    reset_settings()


def _set(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    reset_settings()


async def _approved_batch(admin: Api, customers: int = 3) -> str:
    accounts = await posting.company(admin)
    for n in range(customers):
        await posting.customer(admin, accounts, f"C-{n}")
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    return batch


async def _records() -> list[models.IdempotencyRecord]:
    return await models.IdempotencyRecord.all().order_by("id")


async def _token_id(token: str) -> int:
    return (await models.AccessToken.get(token_hash=auth.hash_token(token))).id


def _payload(response: httpx.Response, field: str) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"][field]


def _batch(name: str, key: str | None = None) -> dict:
    """The variables of CREATE_BATCH: a batch dated in May 2026 (the `may` fixture opens it)."""
    return {"input": {"name": name, "invoiceDate": "2026-05-01", **({"idempotencyKey": key} if key else {})}}


@pytest.fixture
async def may(admin: Api) -> None:
    await admin.mutate("createAccountingPeriod", """mutation { createAccountingPeriod(input: {month: "2026-05-01"})
      { accountingPeriod { id } errors { code } } }""")


def _future() -> datetime:
    """A moment to freeze the clock at, ahead of the real one: the worker's purge (on the real clock) must not
    sweep what a frozen test keeps, nor find anything of it expired."""
    return (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)


# ------------------------------------------------------------------ the schema


def test_every_mutation_but_login_takes_an_idempotency_key() -> None:
    mutation = schema._schema.mutation_type
    assert mutation is not None
    missing = []
    for name, field in mutation.fields.items():
        argument = field.args.get("input")
        input_type = get_named_type(argument.type) if argument else None
        key = input_type.fields.get("idempotencyKey") if isinstance(input_type, GraphQLInputObjectType) else None
        if key is None or isinstance(key.type, GraphQLNonNull) or get_named_type(key.type).name != "String":
            missing.append(name)
    assert missing == ["login"]


def test_every_mutation_payload_has_a_refusal_shape() -> None:
    """IDEMPOTENCY_KEY_MISMATCH / _IN_PROGRESS answer the mutation's own payload: errors set, the rest empty."""
    problems = [Problem(ErrorCode.IDEMPOTENCY_IN_PROGRESS, "busy", "idempotencyKey")]
    for name, field in schema._schema.mutation_type.fields.items():
        payload_type = get_named_type(field.type)
        assert isinstance(payload_type, GraphQLObjectType)
        payload = refusal_payload(schema, payload_type, problems)
        assert payload.errors == problems, name


# ------------------------------------------------------------------ concurrency and replay


async def test_twenty_concurrent_posts_with_one_key_post_once(admin: Api, smtp_server: Mailbox) -> None:
    batch = await _approved_batch(admin)
    variables = {"id": batch, "mode": "SEND", "key": "post-may-run-1"}
    responses = await asyncio.gather(*(admin.raw(POST, variables) for _ in range(20)))

    assert len({r.content for r in responses}) == 1, {r.content for r in responses}
    payload = _payload(responses[0], "postBillingBatch")
    assert payload["errors"] == [] and payload["job"]["kind"] == "POST"
    batch_id = posting.db_id(batch)
    assert await models.Job.filter(batch_id=batch_id, kind=JobKind.POST).count() == 1
    job = await billing.wait_for_job(admin, payload["job"]["id"])
    assert job["status"] == "SUCCEEDED"
    await posting.follow_ups_done(admin, batch)
    assert await models.Invoice.all().count() == 3
    assert len(smtp_server.messages) == 3

    # After completion, a retry gets the stored bytes (the job as it was then: QUEUED), and runs nothing.
    again = await admin.raw(POST, variables)
    assert again.content == responses[0].content
    assert await models.Job.filter(batch_id=batch_id, kind=JobKind.POST).count() == 1
    # The same key with another request: refused, in the mutation's own payload shape.
    other = await admin.raw(POST, {**variables, "mode": "EXPORT"})
    assert _payload(other, "postBillingBatch")["job"] is None
    assert [e["code"] for e in _payload(other, "postBillingBatch")["errors"]] == ["IDEMPOTENCY_KEY_MISMATCH"]
    assert _payload(other, "postBillingBatch")["errors"][0]["field"] == "idempotencyKey"
    [record] = await _records()
    assert record.response is not None and record.response.encode() == responses[0].content


async def test_a_retry_of_a_running_request_waits_for_it_then_answers_in_progress(
        admin: Api, pg: asyncpg.Connection, settings_env: pytest.MonkeyPatch, smtp_server: Mailbox) -> None:
    batch = await _approved_batch(admin, customers=1)
    variables = {"id": batch, "mode": "SEND", "key": "held-1"}
    # Another client holds the batch row: the first post claims the key, then waits on the lock.
    lock = pg.transaction()
    await lock.start()
    await pg.execute("SELECT id FROM billing_batch WHERE id = $1 FOR UPDATE", posting.db_id(batch))
    first = asyncio.create_task(admin.raw(POST, variables))
    deadline = asyncio.get_running_loop().time() + 30
    while not await pg.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND wait_event_type = 'Lock'"):
        assert asyncio.get_running_loop().time() < deadline and not first.done(), "the first post never waited"
        await asyncio.sleep(0.02)
    [claim] = await _records()
    assert claim.response is None and claim.operation == "postBillingBatch"

    # A retry waits BILLRUN_IDEMPOTENCY_WAIT_SECONDS, then answers IDEMPOTENCY_IN_PROGRESS (nothing stored).
    _set(settings_env, "BILLRUN_IDEMPOTENCY_WAIT_SECONDS", "0.3")
    busy = _payload(await admin.raw(POST, variables), "postBillingBatch")
    assert busy["job"] is None and [e["code"] for e in busy["errors"]] == ["IDEMPOTENCY_IN_PROGRESS"]
    assert not first.done()

    # A retry with a longer wait is still waiting when the lock goes: it gets the first one's response.
    _set(settings_env, "BILLRUN_IDEMPOTENCY_WAIT_SECONDS", "30")
    waiting = asyncio.create_task(admin.raw(POST, variables))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await lock.rollback()
    answered, replayed = await asyncio.gather(first, waiting)
    assert replayed.content == answered.content
    payload = _payload(answered, "postBillingBatch")
    assert payload["errors"] == [] and payload["job"]["kind"] == "POST"
    assert await models.Job.filter(batch_id=posting.db_id(batch), kind=JobKind.POST).count() == 1
    await billing.wait_for_job(admin, payload["job"]["id"])
    await posting.follow_ups_done(admin, batch)
    assert (await admin.raw(POST, variables)).content == answered.content


async def test_a_retry_over_websocket_gets_the_http_response(admin: Api) -> None:
    """The key is the token's whatever the transport: a mutation sent over HTTP, retried over
    graphql-transport-ws (token in connection_init) against `billrun serve`, is answered the stored response."""
    request = {"input": {"code": "4100", "name": "Consulting", "kind": "REVENUE", "idempotencyKey": "ws-1"}}
    first = (await admin.raw(LEDGER, request)).json()
    assert first["data"]["createLedgerAccount"]["errors"] == []
    with live_server() as port:
        async with websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {admin.token}"}}
            await ws.send(json.dumps(init))
            async with asyncio.timeout(30):
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                          "payload": {"query": LEDGER, "variables": request}}))
                while (message := json.loads(await ws.recv()))["type"] == "ping":
                    pass
    assert message["type"] == "next" and message["payload"] == first
    assert await models.LedgerAccount.filter(code="4100").count() == 1


# ------------------------------------------------------------------ who may replay what


async def test_another_token_of_the_same_user_does_not_get_the_first_tokens_response(client) -> None:
    user, strong_token = await make_token("ops@example.com", ALL, "Olga Ops")
    narrow_token, _ = await auth.create_api_token(None, user_id=user.id, name="narrow",
                                                  permissions=[Permission.BILLING_ACCESS.value])
    strong, narrow = Api(client, strong_token), Api(client, narrow_token)
    request = {"input": {"code": "4100", "name": "Consulting", "kind": "REVENUE", "idempotencyKey": "same-key"}}

    created = _payload(await strong.raw(LEDGER, request), "createLedgerAccount")
    assert created["errors"] == [] and created["ledgerAccount"]["code"] == "4100"
    # The narrowed token runs its own request, refused for its own permissions: no replay of the strong one.
    refused = _payload(await narrow.raw(LEDGER, request), "createLedgerAccount")
    assert refused["ledgerAccount"] is None and [e["code"] for e in refused["errors"]] == ["PERMISSION_DENIED"]
    assert sorted(r.caller for r in await _records()) == sorted(
        [f"token:{await _token_id(strong_token)}", f"token:{await _token_id(narrow_token)}"])
    # Each token gets its own response again.
    assert _payload(await strong.raw(LEDGER, request), "createLedgerAccount") == created
    assert _payload(await narrow.raw(LEDGER, request), "createLedgerAccount") == refused
    assert await models.LedgerAccount.filter(code="4100").count() == 1


async def test_create_api_token_replay_leaves_the_secret_out(admin: Api) -> None:
    user, _ = await make_token("partner@example.com", ["BILLING_ACCESS"])
    request = {"input": {"userId": to_base64("User", user.id), "name": "crm", "idempotencyKey": "token-1"}}

    first = await admin.raw(CREATE_TOKEN, request)
    created = _payload(first, "createApiToken")
    assert created["errors"] == [] and created["secret"].startswith(auth.TOKEN_PREFIX)
    [record] = await _records()
    assert created["secret"] not in record.response and auth.hash_token(created["secret"]) not in record.response

    replay = _payload(await admin.raw(CREATE_TOKEN, request), "createApiToken")
    assert replay == {**created, "secret": None}
    assert await models.AccessToken.filter(user_id=user.id, name="crm").count() == 1
    # The token itself works: only its secret is not repeated.
    assert (await Api(admin.client, created["secret"]).ok("{ viewer { email } }"))["viewer"]["email"] == (
        "partner@example.com")


# ------------------------------------------------------------------ what is not stored


async def test_a_keyed_operation_holds_exactly_one_mutation(admin: Api, may: None) -> None:
    two = """mutation { a: createBillingBatch(input: {name: "A", idempotencyKey: "k"}) { errors { code } }
      b: createBillingBatch(input: {name: "B"}) { errors { code } } }"""
    result = await admin(two)
    assert result.data is None and result.errors[0]["extensions"]["code"] == "BAD_REQUEST"
    assert "exactly one mutation field" in result.errors[0]["message"]
    too_long = await admin(CREATE_BATCH, _batch("A", "k" * 201))
    assert too_long.errors[0]["extensions"]["code"] == "BAD_REQUEST" and "200" in too_long.errors[0]["message"]
    assert await _records() == [] and await models.BillingBatch.all().count() == 0
    # Without a key, several mutations in one operation run as ever.
    plain = await admin.ok("""mutation { a: createBillingBatch(input: {name: "A", invoiceDate: "2026-05-01"}) {
      errors { code } } b: createBillingBatch(input: {name: "B", invoiceDate: "2026-05-01"}) { errors { code } } }""")
    assert plain == {"a": {"errors": []}, "b": {"errors": []}}


async def test_requests_that_never_ran_are_not_stored(admin: Api, may: None) -> None:
    unknown_field = """mutation { createBillingBatch(input: {name: "A", idempotencyKey: "k"}) { nope } }"""
    assert (await admin(unknown_field)).errors
    bad_variables = await admin(CREATE_BATCH, {"input": {**_batch("A", "k")["input"], "name": 5}})
    assert bad_variables.errors and bad_variables.data is None
    assert await _records() == []
    created = _payload(await admin.raw(CREATE_BATCH, _batch("A", "k")),
                       "createBillingBatch")
    assert created["errors"] == [] and created["billingBatch"]["name"] == "A"


async def test_a_request_that_met_a_bug_releases_its_key(admin: Api, may: None, pg: asyncpg.Connection) -> None:
    """A real failure below the API (the database refuses every new batch) is masked and not stored: the retry
    with the same key runs again once the database is back."""
    await pg.execute("CREATE FUNCTION refuse_batches() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN RAISE EXCEPTION 'storage unavailable'; END $$")
    await pg.execute("CREATE TRIGGER refuse_batches BEFORE INSERT ON billing_batch "
                     "FOR EACH ROW EXECUTE FUNCTION refuse_batches()")
    request = _batch("A", "k")
    try:
        failed = await admin(CREATE_BATCH, request)
        assert failed.errors[0]["extensions"]["code"] == "INTERNAL_ERROR"
        assert await _records() == []
    finally:
        await pg.execute("DROP TRIGGER refuse_batches ON billing_batch; DROP FUNCTION refuse_batches()")
    created = _payload(await admin.raw(CREATE_BATCH, request), "createBillingBatch")
    assert created["errors"] == [] and created["billingBatch"]["name"] == "A"
    [record] = await _records()
    assert record.response is not None


async def test_business_refusals_and_graphql_errors_of_a_run_are_stored_as_sent(admin: Api, may: None) -> None:
    """A run that refused (payload errors) or answered a GraphQL error is replayed as it was: it ran."""
    await billing.batch(admin, "Taken", invoice_date="2026-05-01")
    request = _batch("Taken", "dup")
    first = await admin.raw(CREATE_BATCH, request)
    assert [e["code"] for e in _payload(first, "createBillingBatch")["errors"]] == ["DUPLICATE"]
    assert (await admin.raw(CREATE_BATCH, request)).content == first.content
    bad_id = """mutation { processBillingBatch(input: {batchId: "not-an-id", idempotencyKey: "bad-id"}) {
      job { id } errors { code } } }"""
    response = await admin.raw(bad_id)
    assert response.json()["errors"]
    assert (await admin.raw(bad_id)).content == response.content
    assert len(await _records()) == 2


# ------------------------------------------------------------------ expiry


async def test_an_expired_key_is_swept_and_can_be_used_again(admin: Api, may: None) -> None:
    start = _future()
    ttl = timedelta(hours=get_settings().idempotency_ttl_hours)
    with clock.frozen_at(start):
        first = _payload(await admin.raw(CREATE_BATCH, _batch("A", "k")),
                         "createBillingBatch")
    assert first["errors"] == []
    [record] = await _records()
    assert record.expires_at == start + ttl
    with clock.frozen_at(start + ttl - timedelta(minutes=1)):  # still held: another request is refused
        held = _payload(await admin.raw(CREATE_BATCH, _batch("B", "k")),
                        "createBillingBatch")
        assert [e["code"] for e in held["errors"]] == ["IDEMPOTENCY_KEY_MISMATCH"]
        assert (await housekeeping.purge_expired())["idempotency_records"] == 0
    with clock.frozen_at(start + ttl + timedelta(minutes=1)):
        assert (await housekeeping.purge_expired())["idempotency_records"] == 1
        assert await _records() == []
        again = _payload(await admin.raw(CREATE_BATCH, _batch("B", "k")),
                         "createBillingBatch")
    assert again["errors"] == [] and again["billingBatch"]["name"] == "B"


async def test_the_workers_purge_sweeps_expired_keys_on_its_schedule(admin: Api) -> None:
    """`billrun worker` enqueues the purge every BILLRUN_SWEEP_INTERVAL_SECONDS (1 s in the tests)."""
    with clock.frozen_at(datetime.now(UTC) - timedelta(hours=get_settings().idempotency_ttl_hours + 1)):
        await admin.raw(CREATE_BATCH, _batch("A", "old"))
    assert len(await _records()) == 1
    deadline = asyncio.get_running_loop().time() + 30
    while await _records():
        assert asyncio.get_running_loop().time() < deadline, "the worker never purged the expired key"
        await asyncio.sleep(0.1)


async def test_a_claim_whose_request_died_frees_its_key_after_the_lease(admin: Api, may: None) -> None:
    start = _future()
    token_id = await _token_id(admin.token)
    with clock.frozen_at(start):  # a request claimed the key, then its process died before it answered
        claim = await idempotency.begin(idempotency.Request(caller=f"token:{token_id}", key="k",
                                                            operation="createBillingBatch", fingerprint="lost"))
    assert isinstance(claim, idempotency.Claim)
    request = _batch("A", "k")
    with clock.frozen_at(start + timedelta(seconds=10)):
        held = _payload(await admin.raw(CREATE_BATCH, request), "createBillingBatch")
        assert [e["code"] for e in held["errors"]] == ["IDEMPOTENCY_KEY_MISMATCH"]
    lease = timedelta(seconds=get_settings().idempotency_lease_seconds)
    with clock.frozen_at(start + lease + timedelta(seconds=1)):
        created = _payload(await admin.raw(CREATE_BATCH, request), "createBillingBatch")
    assert created["errors"] == [] and created["billingBatch"]["name"] == "A"
    [record] = await _records()
    assert record.response is not None and json.loads(record.response)["data"]["createBillingBatch"] == created

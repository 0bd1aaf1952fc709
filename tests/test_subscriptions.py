"""GraphQL subscriptions across processes: real `billrun serve` API processes, a real Dramatiq worker process, the
real Redis pub/sub, over both WebSocket protocols."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

import models
from domain import auth, clock
from tests.conftest import ALL, make_token
from tests.support import billing
from tests.support.api import Api
from tests.support.live_server import live_server
from tests.support.subscriptions import EVENT_FIELDS, LEGACY, TRANSPORT, Subscription

pytestmark = pytest.mark.usefixtures("worker")

BATCH_EVENTS = "subscription($batch: ID!, $after: String) { billingBatchEvents(batchId: $batch, after: $after) { %s } }"
BATCH_EVENTS = BATCH_EVENTS.replace("%s", EVENT_FIELDS)
ALL_EVENTS = "subscription($after: String, $types: [EventType!]) { events(after: $after, types: $types) { %s } }"
ALL_EVENTS = ALL_EVENTS.replace("%s", EVENT_FIELDS)
JOB_PROGRESS = "subscription($job: ID!) { jobProgress(jobId: $job) { %s } }".replace("%s", EVENT_FIELDS)
ANALYZE = """mutation($id: ID!) { analyzeBillingBatch(input: {batchId: $id}) { errors { code message } } }"""
EDIT = """mutation($id: ID!, $note: String) { updatePeriodicBilling(input: {id: $id, internalComment: $note}) {
  periodicBilling { id } errors { code message } } }"""


class Server:
    """A `billrun serve` process: its WebSocket URL and an HTTP client of its API."""

    def __init__(self, port: int, http: httpx.AsyncClient) -> None:
        self.ws_url = f"ws://127.0.0.1:{port}/graphql"
        self.http = http

    def api(self, token: str) -> Api:
        return Api(self.http, token)


async def _server(**env: str) -> AsyncIterator[Server]:
    with live_server(BILLRUN_WS_REAUTH_SECONDS="1", **env) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            yield Server(port, http)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """A fresh API process per test (its hub starts at the head of this test's log)."""
    async for found in _server():
        yield found


@pytest.fixture
async def other_server() -> AsyncIterator[Server]:
    async for found in _server():
        yield found


@pytest.fixture
async def token() -> str:
    return (await make_token("partner@example.com", ALL, "Pat Partner"))[1]


async def _log_of(batch_gid: str, after: int = 0) -> list[tuple[int, str]]:
    return [(i, t) for i, t in await models.Event.filter(batch_id=_pk(batch_gid), id__gt=after).order_by(
        "id").values_list("id", "type")]


def _pk(gid: str) -> int:
    from strawberry.relay import from_base64

    return int(from_base64(gid)[1])


def _seen(events: list[dict]) -> list[tuple[int, str]]:
    return [(int(e["cursor"]), e["type"]) for e in events]


def _analysis_finished(event: dict) -> bool:
    return event["type"] == "JOB_FINISHED" and event["payload"]["jobKind"] == "ANALYZE"


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
async def test_a_subscriber_receives_in_order_the_events_of_a_batch_a_worker_processes(
        server: Server, token: str, protocol: str) -> None:
    api = server.api(token)
    await billing.bulk_contracts(api, 120)  # three chunks of 50 for the worker
    batch = await billing.batch(api)
    subscription = await Subscription(server.ws_url, token, protocol).open(BATCH_EVENTS, {"batch": batch})
    try:
        await api.mutate("processBillingBatch", billing.PROCESS, {"id": batch})
        received = await subscription.events_until(_analysis_finished, "billingBatchEvents")
    finally:
        await subscription.close()
    logged = await _log_of(batch)
    start = logged.index(_seen(received)[0])
    assert _seen(received) == logged[start:start + len(received)]  # the log's order, nothing missing
    progress = [(e["payload"]["done"], e["payload"]["total"]) for e in received if e["type"] == "JOB_PROGRESS"]
    assert len(progress) == 4 and progress[0] == (0, 120) and progress[-1] == (120, 120)  # chunks end in any order
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    statuses = [e["payload"]["batchStatus"] for e in received if e["type"] == "BATCH_STATUS_CHANGED"]
    assert statuses == ["PROCESSING", "PROCESSED"] and all(e["batch"]["id"] == batch for e in received)


async def test_a_subscriber_resuming_with_its_cursor_gets_every_event_once_while_events_keep_coming(
        server: Server, token: str) -> None:
    api = server.api(token)
    await billing.bulk_contracts(api, 300)  # six chunks: progress keeps coming while the subscriber is away
    batch = await billing.batch(api)
    producing = asyncio.Event()
    producing.set()

    async def producer() -> None:  # events of the same batch from the API, throughout
        while producing.is_set():
            await api.mutate("analyzeBillingBatch", ANALYZE, {"id": batch})

    first = await Subscription(server.ws_url, token).open(BATCH_EVENTS, {"batch": batch})
    await api.mutate("processBillingBatch", billing.PROCESS, {"id": batch})
    analyses = asyncio.create_task(producer())
    received = []
    try:
        received += [(await first.next())["billingBatchEvents"] for _ in range(4)]
    finally:
        await first.close()  # away for the middle of the batch
    last = int(received[-1]["cursor"])
    await _until(lambda: _count_after(batch, last, at_least=6))
    second = await Subscription(server.ws_url, token).open(BATCH_EVENTS, {"batch": batch,
                                                                         "after": str(last)})
    try:
        received += await second.events_until(_analysis_finished, "billingBatchEvents")
        received += [(await second.next())["billingBatchEvents"] for _ in range(3)]  # live, producer running
        producing.clear()
        await analyses
        billings = await billing.billings(api, batch, first=1)
        await api.mutate("updatePeriodicBilling", EDIT, {"id": billings[0]["id"], "note": "the end"})
        received += await second.events_until(lambda e: e["type"] == "BILLING_EDITED", "billingBatchEvents")
    finally:
        await second.close()
    logged = await _log_of(batch)
    start = logged.index(_seen(received)[0])
    assert _seen(received) == logged[start:]  # exactly the full sequence: no gap, no duplicate, in order
    assert len([t for _, t in logged if t == "BATCH_ANALYZED"]) > 3


async def _count_after(batch: str, cursor: int, at_least: int) -> bool:
    return len(await _log_of(batch, cursor)) >= at_least


async def _until(condition, within: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.05)


async def test_a_subscriber_never_receives_events_about_an_account_it_may_not_see(server: Server,
                                                                                token: str) -> None:
    api = server.api(token)
    batch = await billing.processed_with_a_restricted_account(api)
    _, outsider_token = await make_token("outsider@example.com", ["BILLING_ACCESS"])
    live = await Subscription(server.ws_url, outsider_token).open(BATCH_EVENTS, {"batch": batch})
    everything = await Subscription(server.ws_url, outsider_token, LEGACY).open(ALL_EVENTS, {})
    granted = await Subscription(server.ws_url, token).open(BATCH_EVENTS, {"batch": batch})  # the same operation
    try:
        rows = {r["serviceCustomer"]["number"]: r["id"] for r in await billing.billings(api, batch)}
        for number in ("SECRET-1", "OPEN-1", "SECRET-1"):
            await api.mutate("updatePeriodicBilling", EDIT, {"id": rows[number], "note": number})
        await api.mutate("analyzeBillingBatch", ANALYZE, {"id": batch})  # about no account: everyone's
        admin_seen = await granted.events_until(lambda e: e["type"] == "BATCH_ANALYZED", "billingBatchEvents")
        assert [e["type"] for e in admin_seen] == ["BILLING_EDITED"] * 3 + ["BATCH_ANALYZED"]
        for subscription, field in ((live, "billingBatchEvents"), (everything, "events")):
            seen = await subscription.events_until(lambda e: e["type"] == "BATCH_ANALYZED", field)
            assert [e["type"] for e in seen] == ["BILLING_EDITED", "BATCH_ANALYZED"]
            assert seen[0]["cursor"] == admin_seen[1]["cursor"]  # the open account's edit, nothing else
        replayed = await Subscription(server.ws_url, outsider_token).open(BATCH_EVENTS, {"batch": batch,
                                                                                       "after": "0"})
        from_log = await replayed.events_until(lambda e: e["type"] == "BATCH_ANALYZED" and
                                               int(e["cursor"]) == int(seen[-1]["cursor"]), "billingBatchEvents")
        await replayed.close()
    finally:
        await live.close()
        await everything.close()
        await granted.close()
    secret = await models.Event.filter(account_id__in=await models.Account.filter(restricted=True).values_list(
        "id", flat=True)).values_list("id", flat=True)
    assert len(secret) == 2 and not {int(e["cursor"]) for e in from_log} & set(secret)
    assert [e["type"] for e in from_log].count("BILLING_EDITED") == 1


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
@pytest.mark.parametrize("how", ["revoked", "expired", "user deactivated"])
async def test_a_token_that_stops_being_valid_closes_its_sockets(server: Server, token: str, protocol: str,
                                                                 how: str) -> None:
    user, own_token = await make_token("leaving@example.com", ["BILLING_ACCESS"])
    await billing.books(server.api(token))
    subscription = await Subscription(server.ws_url, own_token, protocol).open(ALL_EVENTS,
                                                                               {"types": ["BATCH_CREATED"]})
    await billing.batch(server.api(token), "Seen while valid")
    assert (await subscription.next())["events"]["payload"]["name"] == "Seen while valid"
    row = models.AccessToken.filter(token_hash=auth.hash_token(own_token))
    if how == "revoked":
        await server.api(token).mutate("revokeApiToken", """mutation($id: ID!) { revokeApiToken(input: {id: $id}) {
          errors { code } } }""", {"id": _token_gid(await row.first())})
    elif how == "expired":
        await row.update(expires_at=clock.now())
    else:
        await models.User.filter(id=user.id).update(is_active=False)
    assert await subscription.closed_by_server() == 4403


def _token_gid(row: models.AccessToken) -> str:
    from strawberry.relay import to_base64

    return to_base64("ApiToken", row.id)


async def test_an_event_made_through_one_api_process_reaches_a_subscriber_of_another(
        server: Server, other_server: Server, token: str) -> None:
    subscription = await Subscription(other_server.ws_url, token).open(ALL_EVENTS, {"types": ["BATCH_CREATED"]})
    try:
        await billing.books(server.api(token))
        await billing.batch(server.api(token), "Made on the first process")
        event = (await subscription.next())["events"]
    finally:
        await subscription.close()
    assert event["type"] == "BATCH_CREATED" and event["payload"]["name"] == "Made on the first process"


async def test_job_progress_completes_after_the_job_s_final_event(server: Server, token: str) -> None:
    api = server.api(token)
    await billing.bulk_contracts(api, 120)
    batch = await billing.batch(api)
    job = (await api.mutate("processBillingBatch", billing.PROCESS, {"id": batch}))["job"]["id"]
    for _ in range(2):  # while it runs, and again once it has finished: the whole story, then complete
        subscription = await Subscription(server.ws_url, token).open(JOB_PROGRESS, {"job": job})
        try:
            received = []
            while (data := await subscription.next()) is not None:
                received.append(data["jobProgress"])
        finally:
            await subscription.close()
        assert [e["type"] for e in received] == ["JOB_QUEUED"] + ["JOB_PROGRESS"] * 4 + ["JOB_FINISHED"]
        assert received[-2]["payload"] == {"__typename": "JobProgress", "done": 120, "total": 120}
        assert received[-1]["payload"] == {"__typename": "JobFinished", "jobKind": "PROCESS",
                                           "jobStatus": "SUCCEEDED"}
        assert all(e["job"]["id"] == job for e in received)


@pytest.mark.parametrize("variables, code", [({"batch": "QmlsbGluZ0JhdGNoOjk5OTk5"}, "NOT_FOUND"),
                                             ({"batch": None, "after": "not-a-cursor"}, "BAD_REQUEST")])
async def test_a_subscription_that_cannot_start_is_refused_with_a_code(server: Server, token: str,
                                                                     variables: dict, code: str) -> None:
    if variables["batch"] is None:
        await billing.books(server.api(token))
        variables["batch"] = await billing.batch(server.api(token))
    subscription = await Subscription(server.ws_url, token).open(BATCH_EVENTS, variables)
    try:
        [error] = await subscription.error()
    finally:
        await subscription.close()
    assert error["extensions"]["code"] == code

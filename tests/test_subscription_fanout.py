"""The subscriptions' fast path (billrun/fanout.py) on a real `billrun serve` process: one serialized payload per
(operation, viewer) spliced into both protocols' frames, visibility per viewer, and a socket that does not read
closed (1013) without holding back the others, which then resumes by cursor."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from strawberry.relay import from_base64

from billrun.bench_live import RawClient
from domain import events
from domain.transactions import in_transaction
from tests.conftest import ALL, make_token
from tests.support import billing
from tests.support.api import Api
from tests.support.live_server import live_server
from tests.support.scrape import value
from tests.support.subscriptions import DEADLINE, LEGACY, TRANSPORT, Subscription

pytestmark = pytest.mark.usefixtures("worker")

ANALYZE = """mutation($id: ID!) { analyzeBillingBatch(input: {batchId: $id}) { errors { code message } } }"""
EDIT = """mutation($id: ID!, $note: String) { updatePeriodicBilling(input: {id: $id, internalComment: $note}) {
  periodicBilling { id } errors { code message } } }"""
# What a viewer may see shows in the frame: the batch's billings it may see.
SCOPED = """subscription($batch: ID!) { billingBatchEvents(batchId: $batch) {
  cursor type batch { periodicBillings(first: 0) { totalCount } } } }"""


@dataclass
class Served:
    """A `billrun serve` process with small socket queues, and an admin's token on it."""

    port: int
    http: httpx.AsyncClient
    token: str

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def api(self) -> Api:
        return Api(self.http, self.token)


@pytest.fixture
async def server() -> AsyncIterator[Served]:
    _, token = await make_token("partner@example.com", ALL, "Pat Partner")
    with live_server(BILLRUN_WS_SEND_QUEUE="4", BILLRUN_WS_SEND_TIMEOUT_SECONDS="0.5",
                     BILLRUN_MAX_ALIASES="200") as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            yield Served(port, http, token)


async def _frame(subscription: Subscription) -> str:
    """The next result frame as the server wrote it."""
    assert subscription.ws is not None
    async with asyncio.timeout(DEADLINE):
        while True:
            text = await subscription.ws.recv()
            assert isinstance(text, str)
            if json.loads(text)["type"] in ("next", "data"):
                return text


def _payload_text(frame: str) -> str:
    """The spliced `payload` of a frame, as text."""
    return frame[frame.index('"payload":') + len('"payload":'):-1]


async def test_each_viewer_gets_its_own_frame_and_one_viewer_the_same_payload_on_both_protocols(
        server: Served) -> None:
    url, token, api = server.url, server.token, server.api
    batch = await billing.processed_with_a_restricted_account(api)
    rows = {r["serviceCustomer"]["number"]: r["id"] for r in await billing.billings(api, batch)}
    _, outsider = await make_token("outsider@example.com", ["BILLING_ACCESS"])
    variables = {"batch": batch}
    subscriptions = {(who, protocol): await Subscription(url, tok, protocol).open(SCOPED, variables)
                     for who, tok in (("admin", token), ("outsider", outsider)) for protocol in (TRANSPORT, LEGACY)}
    try:
        await api.mutate("updatePeriodicBilling", EDIT, {"id": rows["SECRET-1"], "note": "hidden from some"})
        await api.mutate("analyzeBillingBatch", ANALYZE, {"id": batch})  # about no account: everyone's
        frames = {key: [await _frame(s)] for key, s in subscriptions.items()}
        for protocol in (TRANSPORT, LEGACY):
            frames[("admin", protocol)].append(await _frame(subscriptions[("admin", protocol)]))
    finally:
        for subscription in subscriptions.values():
            await subscription.close()
    for who, count in (("admin", 2), ("outsider", 1)):
        seen = [[json.loads(f)["payload"]["data"]["billingBatchEvents"] for f in frames[(who, p)]]
                for p in (TRANSPORT, LEGACY)]
        assert seen[0] == seen[1]
        assert [e["type"] for e in seen[0]] == (["BILLING_EDITED", "BATCH_ANALYZED"] if who == "admin"
                                                else ["BATCH_ANALYZED"])  # the hidden account's edit never came
        assert seen[0][-1]["batch"]["periodicBillings"]["totalCount"] == count
        transport, legacy = frames[(who, TRANSPORT)][-1], frames[(who, LEGACY)][-1]
        assert json.loads(transport)["type"] == "next" and json.loads(legacy)["type"] == "data"
        assert json.loads(transport)["id"] == json.loads(legacy)["id"] == "1"
        assert _payload_text(transport) == _payload_text(legacy)  # one serialization, spliced into both
    assert _payload_text(frames[("admin", TRANSPORT)][-1]) != _payload_text(frames[("outsider", TRANSPORT)][-1])


WIDE = "subscription($batch: ID!, $after: String) { billingBatchEvents(batchId: $batch, after: $after) { cursor %s } }"
WIDE = WIDE % " ".join(f"x{n}: createdAt" for n in range(150))  # ~6 KB a frame: a few MB fill any socket buffer
NARROW = "subscription($batch: ID!) { billingBatchEvents(batchId: $batch) { cursor } }"
MISSED = 3000


async def _slow_client(port: int, token: str, batch: str) -> RawClient:
    """A subscriber whose socket takes (almost) nothing: a tiny receive buffer, and it stops reading once
    acknowledged."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    _, client = await loop.create_connection(
        lambda: RawClient(f"127.0.0.1:{port}", "/graphql", token, {"batch": batch}, lambda frame, count: False,
                          query=WIDE), sock=sock)
    async with asyncio.timeout(DEADLINE):
        await client.acknowledged
    assert client.transport is not None
    client.transport.pause_reading()
    return client


async def test_a_socket_that_does_not_read_is_closed_without_delaying_the_others_and_resumes_by_cursor(
        server: Served) -> None:
    url, token, api = server.url, server.token, server.api
    await billing.books(api)
    batch = await billing.batch(api)
    slow = await _slow_client(server.port, token, batch)
    fast = await Subscription(url, token).open(NARROW, {"batch": batch})
    try:
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while value((await server.http.get("/metrics")).text, "billrun_subscriptions_open") < 2:  # both registered
            assert asyncio.get_running_loop().time() < deadline, "the subscriptions never registered"
            await asyncio.sleep(0.05)
        async with in_transaction():
            for n in range(MISSED):
                await events.batch_analyzed(int(from_base64(batch)[1]), n, 0)
        async def all_of_fast() -> list[int]:
            return [int((await fast.next())["billingBatchEvents"]["cursor"]) for _ in range(MISSED)]

        following = asyncio.create_task(all_of_fast())  # the other subscriber reads throughout
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while value((await server.http.get("/metrics")).text, "billrun_websockets_too_far_behind_total") < 1:
            assert asyncio.get_running_loop().time() < deadline, "the socket that does not read was never closed"
            await asyncio.sleep(0.05)
        assert slow.transport is not None
        slow.transport.resume_reading()  # soon, well within the server's WebSocket ping timeout
        async with asyncio.timeout(DEADLINE):
            with pytest.raises(RuntimeError, match="closed by the server"):
                await slow.finished
        assert slow.close_code == 1013
        got = [int(json.loads(frame)["payload"]["data"]["billingBatchEvents"]["cursor"])
               for _, frame in slow.arrivals]
        cursors = await following
        assert cursors == sorted(set(cursors))  # every one, in order: the closed socket held nothing back
        assert len(got) < MISSED and got == cursors[:len(got)]
        resumed = await Subscription(url, token).open(WIDE, {"batch": batch,
                                                             "after": str(got[-1]) if got else None})
        rest = [int((await resumed.next())["billingBatchEvents"]["cursor"]) for _ in range(MISSED - len(got))]
        await resumed.close()
        assert got + rest == cursors  # exactly the full sequence once it resumed by cursor
    finally:
        slow.close()
        await fast.close()
    assert value((await server.http.get("/metrics")).text, "billrun_websockets_too_far_behind_total") == 1


@pytest.fixture
async def roomy_server() -> AsyncIterator[Served]:
    """A `billrun serve` process whose socket queues hold every frame the test makes: nothing is closed as too far
    behind, so a paused reader's frames wait in its queue."""
    _, token = await make_token("partner@example.com", ALL, "Pat Partner")
    with live_server(BILLRUN_WS_SEND_QUEUE=str(4 * ROUND), BILLRUN_MAX_ALIASES="200") as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            yield Served(port, http, token)


ROUND = 2000  # events of ~6 KB a frame: 12 MB, more than a socket and its transport buffer hold


async def _commit_round(batch: str, start: int) -> None:
    async with in_transaction():
        for n in range(start, start + ROUND):
            await events.batch_analyzed(int(from_base64(batch)[1]), n, 0)


async def test_frames_written_at_once_and_frames_queued_behind_a_full_socket_arrive_in_order_on_both_protocols(
        roomy_server: Served) -> None:
    """A frame is written at once only while nothing waits in its socket's queue and the transport takes it: a
    reader that pauses gets the rest queued, and frames that come while the queue drains go behind them."""
    server = roomy_server
    await billing.books(server.api)
    batch = await billing.batch(server.api)
    paused = await _slow_client(server.port, server.token, batch)  # WIDE frames, reading paused once acknowledged
    paused.done = lambda frame, count: count >= 2 * ROUND
    legacy = await Subscription(server.url, server.token, LEGACY).open(WIDE, {"batch": batch})
    try:
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while value((await server.http.get("/metrics")).text, "billrun_subscriptions_open") < 2:
            assert asyncio.get_running_loop().time() < deadline, "the subscriptions never registered"
            await asyncio.sleep(0.05)
        await _commit_round(batch, 0)
        legacy_cursors = [int((await legacy.next())["billingBatchEvents"]["cursor"]) for _ in range(ROUND)]
        # The hub has handed the round out: the paused socket holds a few frames, its queue the rest.
        assert paused.transport is not None and len(paused.arrivals) < ROUND
        paused.transport.resume_reading()
        await _commit_round(batch, ROUND)  # while its queue drains: these go behind what waits
        legacy_cursors += [int((await legacy.next())["billingBatchEvents"]["cursor"]) for _ in range(ROUND)]
        async with asyncio.timeout(DEADLINE):
            await paused.finished
    finally:
        paused.close()
        await legacy.close()
    cursors = [int(json.loads(frame)["payload"]["data"]["billingBatchEvents"]["cursor"])
               for _, frame in paused.arrivals]
    assert len(cursors) == 2 * ROUND and cursors == sorted(set(cursors))  # every one once, in order
    assert cursors == legacy_cursors
    assert cursors[-1] - cursors[0] == 2 * ROUND - 1  # no gap
    assert value((await server.http.get("/metrics")).text, "billrun_websockets_too_far_behind_total") == 0

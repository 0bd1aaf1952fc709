"""`billrun bench live`: the event stream end to end, across processes (docs/PERFORMANCE.md, "Live events").

One `billrun serve` API process, one Dramatiq worker process, Redis pub/sub, and clients in this process on real
WebSockets (graphql-transport-ws). After one warm-up batch (the processes' first connections, caches), three
measures:
- **latency**: a batch processed by the worker process; for each of its events, the time from its `createdAt`
  (taken in the worker's transaction, just before commit) to its arrival at one subscriber of the API process;
- **fan-out**: the same with S subscribers of one API process (each event's latency at each subscriber);
- **resume**: M events committed while a subscriber was away; the time from its re-subscribing with its cursor
  to the last of them arriving.
The clocks are one host's. It needs the scratch database of `billrun bench process` (its name ends in `_bench`).
"""

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from statistics import quantiles
from typing import Any

import websockets

from billrun import bench
from domain.access import Viewer

FIELDS = "cursor type createdAt payload { ... on JobFinished { jobKind } }"
BATCH_EVENTS = ("subscription($batch: ID!, $after: String) { billingBatchEvents(batchId: $batch, after: $after) { "
                + FIELDS + " } }")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def _api(env: dict[str, str]) -> AsyncIterator[str]:
    """A `billrun serve` process; yields its WebSocket URL."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "billrun", "serve", "--port", str(port)],  # noqa: ASYNC220
                            cwd=bench.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the API process did not start") from None
                await asyncio.sleep(0.1)
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Client:
    """One subscriber on its own socket, recording when each event arrived."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.ws: websockets.ClientConnection | None = None
        self.arrivals: list[tuple[float, dict]] = []

    async def subscribe(self, variables: dict) -> None:
        self.ws = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]  # websockets types subprotocols as its Subprotocol NewType
                                           max_size=None)
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}}
        await self.ws.send(json.dumps(init))
        assert json.loads(await self.ws.recv())["type"] == "connection_ack"
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": BATCH_EVENTS,
                                                                                  "variables": variables}}))

    async def receive_until(self, done: Callable[[dict[str, Any]], bool], count: int | None = None) -> None:
        assert self.ws is not None
        while True:
            message = json.loads(await self.ws.recv())
            if message["type"] != "next":
                continue
            event = message["payload"]["data"]["billingBatchEvents"]
            self.arrivals.append((time.time(), event))
            if done(event) or (count is not None and len(self.arrivals) >= count):
                return

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def _analysis_done(event: dict) -> bool:
    return event["type"] == "JOB_FINISHED" and event["payload"].get("jobKind") == "ANALYZE"


def _latencies_ms(clients: list[Client]) -> list[float]:
    return [(at - datetime.fromisoformat(event["createdAt"]).timestamp()) * 1000
            for client in clients for at, event in client.arrivals]


def _summary(samples: list[float]) -> dict:
    cuts = quantiles(samples, n=100, method="inclusive")
    return {"samples": len(samples), "p50_ms": round(cuts[49], 1), "p99_ms": round(cuts[98], 1),
            "max_ms": round(max(samples), 1)}


async def _connected(url: str, token: str, count: int, variables: dict) -> list[Client]:
    clients = [Client(url, token) for _ in range(count)]
    gate = asyncio.Semaphore(50)

    async def connect(client: Client) -> None:
        async with gate:
            await client.subscribe(variables)

    await asyncio.gather(*(connect(c) for c in clients))
    await asyncio.sleep(0.5)  # the last subscriptions registered with the hub (set-up, not measured)
    return clients


def _pace(clients: list[Client]) -> dict:
    """How the batch's events came (their number, over how long) and, per event, the time from its first
    subscriber to its last: what one event costs the API process to hand to all of them."""
    by_event: dict[str, list[float]] = {}
    created: dict[str, float] = {}
    for client in clients:
        for at, event in client.arrivals:
            by_event.setdefault(event["cursor"], []).append(at)
            created[event["cursor"]] = datetime.fromisoformat(event["createdAt"]).timestamp()
    spreads = sorted((max(v) - min(v)) * 1000 for v in by_event.values())
    return {"events": len(by_event), "events_over_seconds": round(max(created.values()) - min(created.values()), 2),
            "median_spread_first_to_last_subscriber_ms": round(spreads[len(spreads) // 2], 1)}


async def _processed_while_followed(url: str, token: str, viewer: Viewer, subscribers: int,
                                    name: str) -> tuple[list[float], dict]:
    """Process one batch with the worker while `subscribers` clients follow it; every arrival's latency, and how
    the events came."""
    from billrun.settings import get_settings
    from domain import batches, processing

    await bench._reset_billings(get_settings().database_url)  # the batch bills every contract again: real chunks
    batch = await batches.create_batch(viewer, {"name": name})
    from strawberry.relay import to_base64

    clients = await _connected(url, token, subscribers, {"batch": to_base64("BillingBatch", batch.id)})
    try:
        await processing.start_processing(viewer, batch.id)
        await asyncio.wait_for(asyncio.gather(*(c.receive_until(_analysis_done) for c in clients)), 600)
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    return _latencies_ms(clients), _pace(clients)


async def _resume(url: str, token: str, viewer: Viewer, missed: int) -> dict:
    """M events committed while away, then one re-subscription with the cursor: seconds until the last arrives."""
    from strawberry.relay import to_base64

    from domain import batches, events
    from domain.transactions import in_transaction

    batch = await batches.create_batch(viewer, {"name": "bench-resume"})
    cursor = await events.last_cursor()
    async with in_transaction():  # set-up: the events missed
        for n in range(missed):
            await events.batch_analyzed(batch.id, n, 0)
    client = Client(url, token)
    started = time.perf_counter()
    await client.subscribe({"batch": to_base64("BillingBatch", batch.id), "after": str(cursor)})
    await asyncio.wait_for(client.receive_until(lambda event: False, count=missed), 600)
    seconds = time.perf_counter() - started
    await client.close()
    cursors = [int(e["cursor"]) for _, e in client.arrivals]
    if cursors != sorted(set(cursors)) or len(cursors) != missed:
        raise SystemExit("the resumed subscriber did not get every missed event once, in order")
    return {"missed_events": missed, "seconds": round(seconds, 2), "events_per_second": round(missed / seconds)}


async def bench_live(contracts: int, subscribers: int, missed: int, chunk_size: int, fan_out_chunk_size: int) -> dict:
    from billrun import db
    from billrun.settings import get_settings
    from domain import auth
    from workers import actors  # noqa: F401 - the configured broker and the actors this process sends to

    settings = get_settings()
    if settings.embedded:
        raise SystemExit("The benchmark needs REDIS_URL (a worker process and pub/sub between processes).")
    env = dict(await bench._prepare(settings.database_url, contracts), BILLRUN_LOG_LEVEL="WARNING")
    try:
        await auth.create_user(None, email="bench@billrun.example", name="Bench",
                               permissions=["BILLING_ACCESS", "ADMIN"])
        viewer = await bench._bench_viewer("bench-live")
        token, _ = await auth.create_api_token(None, user_id=viewer.user_id, name="bench-live-ws")
        async with _api(env) as url:
            async with bench._workers(dict(env, BILLRUN_CHUNK_SIZE=str(chunk_size)), 1):
                await _processed_while_followed(url, token, viewer, 1, "bench-live-warm-up")  # not measured
                latency = _summary((await _processed_while_followed(url, token, viewer, 1, "bench-live-1"))[0])
            async with bench._workers(dict(env, BILLRUN_CHUNK_SIZE=str(fan_out_chunk_size)), 1):
                samples, pace = await _processed_while_followed(url, token, viewer, subscribers,
                                                                f"bench-live-{subscribers}")
                fan_out = {**_summary(samples), **pace}
            resumed = await _resume(url, token, viewer, missed)
    finally:
        await db.close()
    return {"contracts": contracts, "chunk_size": chunk_size, "latency_one_subscriber": latency,
            "target_p99_ms_one_subscriber": 50, "subscribers": subscribers, "fan_out_chunk_size": fan_out_chunk_size,
            "latency_fan_out": fan_out, "target_p99_ms_fan_out": 250, "resume": resumed,
            "target_resume_seconds": 2}

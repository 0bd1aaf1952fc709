"""`billrun bench live`: the event stream end to end, across processes (docs/PERFORMANCE.md, "Live events").

One `billrun serve` API process, one Dramatiq worker process, Redis pub/sub, and clients on real WebSockets
(graphql-transport-ws, no compression) in client processes of their own (`--client-processes`, the subscribers
spread over them), each frame timed as its bytes reach the client process, decoded only after the measure.
After one warm-up batch (the processes' first connections, caches), three measures:
- **latency**: a batch processed by the worker process; for each of its events, the time from its `createdAt`
  (taken in the worker's transaction, just before commit) to its arrival at one subscriber of the API process;
- **fan-out**: the same with S subscribers of one API process (each event's latency at each subscriber);
- **resume**: M events committed while a subscriber was away; the time from its re-subscribing with its cursor
  to the last of them arriving.
The clocks are one host's. It needs the scratch database of `billrun bench process` (its name ends in `_bench`).
"""

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from statistics import quantiles
from typing import Any
from urllib.parse import urlsplit

from billrun import bench
from domain.access import Viewer

FIELDS = "cursor type createdAt payload { ... on JobFinished { jobKind } }"
BATCH_EVENTS = ("subscription($batch: ID!, $after: String) { billingBatchEvents(batchId: $batch, after: $after) { "
                + FIELDS + " } }")


@asynccontextmanager
async def _api(env: dict[str, str]) -> AsyncIterator[tuple[str, int]]:
    """A `billrun serve` process; yields its WebSocket URL and its pid."""
    async with bench.served(env, ["-m", "billrun", "serve"]) as (address, pid):
        yield f"ws://{address}/graphql", pid


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process `pid` has used so far, from its kernel clock: a figure that does not
    depend on what else the machine runs (unlike latencies, which wait for a core)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> float:
    return round(os.getloadavg()[0], 1)


class RawClient(asyncio.Protocol):
    """One subscriber on its own socket (graphql-transport-ws over a minimal WebSocket client, no compression),
    recording when each frame arrived: the time is taken as the bytes reach the process (`data_received`),
    before any decoding; frames are kept as bytes and decoded after the measure."""

    def __init__(self, host: str, path: str, token: str, variables: dict,
                 done: Callable[[bytes, int], bool], query: str = BATCH_EVENTS) -> None:
        self.host, self.path, self.token, self.variables, self.done = host, path, token, variables, done
        self.query = query
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.acknowledged = asyncio.get_running_loop().create_future()
        self.finished = asyncio.get_running_loop().create_future()
        self.arrivals: list[tuple[float, bytes]] = []
        self.started = 0.0
        self.close_code: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                         f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n").encode())

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in bytes(buffer[:end]).split(b"\r\n", 1)[0]:
                self._fail(f"no WebSocket upgrade: {bytes(buffer[:end])[:200]!r}")
                return
            del buffer[:end + 4]
            self.upgraded = True
            self.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}})
            self.send({"id": "1", "type": "subscribe", "payload": {"query": self.query, "variables": self.variables}})
        while len(buffer) >= 2:
            opcode, size, at = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if size == 126:
                if len(buffer) < 4:
                    return
                size, at = int.from_bytes(buffer[2:4], "big"), 4
            elif size == 127:
                if len(buffer) < 10:
                    return
                size, at = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < at + size:
                return
            payload = bytes(buffer[at:at + size])
            del buffer[:at + size]
            if opcode == 0x1:
                self._text(now, payload)
            elif opcode == 0x9:  # ping: pong
                self._write_frame(0xA, payload)
            elif opcode == 0x8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self._fail(f"closed by the server: {payload[:2].hex()} {payload[2:]!r}")

    def _text(self, now: float, payload: bytes) -> None:
        if b'"connection_ack"' in payload[:40]:
            if not self.acknowledged.done():
                self.acknowledged.set_result(None)
            return
        if b'"next"' not in payload[:40]:
            if b'"error"' in payload[:40]:
                self._fail(f"the subscription was refused: {payload[:300]!r}")
            return
        self.arrivals.append((now, payload))
        if not self.finished.done() and self.done(payload, len(self.arrivals)):
            self.finished.set_result(None)

    def _fail(self, reason: str) -> None:
        for future in (self.acknowledged, self.finished):
            if not future.done():
                future.set_exception(RuntimeError(reason))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail("the connection was lost")

    def send(self, message: dict) -> None:
        self._write_frame(0x1, json.dumps(message).encode())

    def _write_frame(self, opcode: int, data: bytes) -> None:
        assert self.transport is not None
        size = len(data)
        head = bytes([0x80 | opcode])
        if size < 126:
            head += bytes([0x80 | size])
        elif size < 65536:
            head += bytes([0x80 | 126]) + size.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + size.to_bytes(8, "big")
        mask = os.urandom(4)
        masked = (int.from_bytes(data, "big") ^ int.from_bytes((mask * (size // 4 + 1))[:size], "big")).to_bytes(
            size, "big") if size else b""
        self.transport.write(head + mask + masked)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def events(self) -> list[tuple[float, dict]]:
        return [(at, json.loads(frame)["payload"]["data"]["billingBatchEvents"]) for at, frame in self.arrivals]


async def _clients(url: str, token: str, count: int, variables: dict, until: str) -> None:
    """A client process (`python -m billrun.bench_live URL TOKEN COUNT VARIABLES UNTIL`): `count` subscribers;
    prints `ready` once each is acknowledged, then, when each has its events, one JSON line: per subscriber,
    when it started connecting and its events with their arrival times."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    expected = None if until == "analysis" else int(until)

    def done(frame: bytes, received: int) -> bool:
        if expected is not None:
            return received >= expected
        return b'"JOB_FINISHED"' in frame and b'"ANALYZE"' in frame

    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(50)
    clients: list[RawClient] = []

    async def connect() -> None:
        async with gate:
            started = time.time()
            _, client = await loop.create_connection(
                lambda: RawClient(f"{host}:{port}", parts.path or "/", token, variables, done), host, port)
            client.started = started
            clients.append(client)
            await asyncio.wait_for(client.acknowledged, 60)

    await asyncio.gather(*(connect() for _ in range(count)))
    print("ready", flush=True)
    try:
        await asyncio.wait_for(asyncio.gather(*(c.finished for c in clients)), 180)
    except TimeoutError:
        waiting = [c for c in clients if not c.finished.done()]
        print(f"{len(waiting)} subscribers still waiting; received: {sorted({len(c.arrivals) for c in waiting})}, "
              f"the others {sorted({len(c.arrivals) for c in clients if c.finished.done()})}", file=sys.stderr)
        raise
    report = [{"started": c.started, "events": [[at, event] for at, event in c.events()]} for c in clients]
    for client in clients:
        client.close()
    print(json.dumps(report), flush=True)


class Followers:
    """Subscribers spread over client processes, so that receiving is not bounded by one process's loop."""

    def __init__(self, url: str, token: str, count: int, variables: dict, until: str, processes: int) -> None:
        self.args = (url, token, variables, until)
        self.counts = [count // processes + (1 if n < count % processes else 0) for n in range(processes)]
        self.counts = [c for c in self.counts if c]
        self.procs: list[subprocess.Popen] = []

    async def _line(self, proc: subprocess.Popen, within: float) -> bytes:
        assert proc.stdout is not None
        return await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), within)

    async def start(self) -> None:
        url, token, variables, until = self.args
        for count in self.counts:
            self.procs.append(subprocess.Popen(  # noqa: ASYNC220 - started, not waited for
                [sys.executable, "-m", "billrun.bench_live", url, token, str(count), json.dumps(variables), until],
                cwd=bench.ROOT, stdout=subprocess.PIPE))
        for proc in self.procs:
            if (await self._line(proc, 300)).strip() != b"ready":
                raise SystemExit("a client process did not subscribe")

    async def results(self) -> list[dict]:
        found: list[dict] = []
        for proc in self.procs:
            line = await self._line(proc, 660)
            if not line:
                raise SystemExit("a client process failed")
            found.extend(json.loads(line))
        return found

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            await asyncio.to_thread(proc.wait)
            if proc.stdout is not None:
                proc.stdout.close()


def _latencies_ms(followers: list[dict]) -> list[float]:
    return [(at - datetime.fromisoformat(event["createdAt"]).timestamp()) * 1000
            for follower in followers for at, event in follower["events"]]


def _summary(samples: list[float]) -> dict:
    cuts = quantiles(samples, n=100, method="inclusive")
    return {"samples": len(samples), "p50_ms": round(cuts[49], 1), "p99_ms": round(cuts[98], 1),
            "max_ms": round(max(samples), 1)}


def _pace(followers: list[dict]) -> dict:
    """How the batch's events came (their number, over how long) and, per event, the time from its first
    subscriber to its last: what one event costs the API process to hand to all of them. `per_event`: each
    event's type, when it was created (ms after the first), and its latency to its first and its last
    subscriber."""
    by_event: dict[str, list[float]] = {}
    created: dict[str, float] = {}
    types: dict[str, str] = {}
    for follower in followers:
        for at, event in follower["events"]:
            by_event.setdefault(event["cursor"], []).append(at)
            types[event["cursor"]] = event["type"]
            created[event["cursor"]] = datetime.fromisoformat(event["createdAt"]).timestamp()
    spreads = sorted((max(v) - min(v)) * 1000 for v in by_event.values())
    firsts = sorted((min(v) - created[cursor]) * 1000 for cursor, v in by_event.items())
    start = min(created.values())
    per_event = [{"cursor": cursor, "type": types[cursor], "created_ms": round((created[cursor] - start) * 1000, 1),
                  "first_ms": round((min(v) - created[cursor]) * 1000, 1),
                  "last_ms": round((max(v) - created[cursor]) * 1000, 1)}
                 for cursor, v in sorted(by_event.items(), key=lambda item: int(item[0]))]
    return {"events": len(by_event), "events_over_seconds": round(max(created.values()) - min(created.values()), 2),
            "median_spread_first_to_last_subscriber_ms": round(spreads[len(spreads) // 2], 1),
            "median_latency_to_first_subscriber_ms": round(firsts[len(firsts) // 2], 1),
            "per_event": per_event}


async def _processed_while_followed(url: str, token: str, viewer: Viewer, subscribers: int, name: str,
                                    processes: int, api_pid: int) -> tuple[list[float], dict]:
    """Process one batch with the worker while `subscribers` clients follow it; every arrival's latency, how the
    events came, and the API process's CPU time per delivery while they came."""
    from strawberry.relay import to_base64

    from billrun.settings import get_settings
    from domain import batches, processing

    await bench._reset_billings(get_settings().database_url)  # the batch bills every contract again: real chunks
    batch = await batches.create_batch(viewer, {"name": name})
    followers = Followers(url, token, subscribers, {"batch": to_base64("BillingBatch", batch.id)}, "analysis",
                          min(processes, subscribers))
    try:
        await followers.start()
        await asyncio.sleep(1.0)  # the last subscriptions registered with the hub (set-up, not measured)
        cpu = cpu_seconds(api_pid)
        await processing.start_processing(viewer, batch.id)
        found = await followers.results()
        cpu = cpu_seconds(api_pid) - cpu
    finally:
        await followers.stop()
    pace = _pace(found)
    deliveries = sum(len(f["events"]) for f in found)
    pace["api_cpu_seconds"] = round(cpu, 2)
    pace["api_cpu_us_per_delivery"] = round(cpu * 1e6 / deliveries, 1)
    pace["load_average_1m"] = _load()
    return _latencies_ms(found), pace


async def _resume(url: str, token: str, viewer: Viewer, missed: int, api_pid: int) -> dict:
    """M events committed while away, then one re-subscription with the cursor: seconds until the last arrives."""
    from strawberry.relay import to_base64

    from domain import batches, events
    from domain.transactions import in_transaction

    batch = await batches.create_batch(viewer, {"name": "bench-resume"})
    cursor = await events.last_cursor()
    async with in_transaction():  # set-up: the events missed
        for n in range(missed):
            await events.batch_analyzed(batch.id, n, 0)
    followers = Followers(url, token, 1, {"batch": to_base64("BillingBatch", batch.id), "after": str(cursor)},
                          str(missed), 1)
    try:
        cpu = cpu_seconds(api_pid)
        await followers.start()
        (found,) = await followers.results()
        cpu = cpu_seconds(api_pid) - cpu
    finally:
        await followers.stop()
    seconds = found["events"][-1][0] - found["started"]
    cursors = [int(e["cursor"]) for _, e in found["events"]]
    if cursors != sorted(set(cursors)) or len(cursors) != missed:
        raise SystemExit("the resumed subscriber did not get every missed event once, in order")
    return {"missed_events": missed, "seconds": round(seconds, 2), "events_per_second": round(missed / seconds),
            "api_cpu_seconds": round(cpu, 2), "api_cpu_us_per_event": round(cpu * 1e6 / missed, 1),
            "load_average_1m": _load()}


MEASURES = ("latency", "fan-out", "resume")


async def bench_live(contracts: int, subscribers: int, missed: int, chunk_size: int, fan_out_chunk_size: int,
                     client_processes: int = 2, only: str | None = None) -> dict:
    """Every measure, or `only` one of MEASURES (to iterate on it; the warm-up batch runs before either of the
    first two)."""
    from billrun import db
    from billrun.settings import get_settings
    from domain import auth
    from workers import actors  # noqa: F401 - the configured broker and the actors this process sends to

    if only is not None and only not in MEASURES:
        raise SystemExit(f"--only takes one of {', '.join(MEASURES)}")
    settings = get_settings()
    if settings.embedded:
        raise SystemExit("The benchmark needs REDIS_URL (a worker process and pub/sub between processes).")
    env = dict(await bench._prepare(settings.database_url, contracts), BILLRUN_LOG_LEVEL="WARNING")
    found: dict[str, Any] = {"contracts": contracts}
    try:
        await auth.create_user(None, email="bench@billrun.example", name="Bench",
                               permissions=["BILLING_ACCESS", "ADMIN"])
        viewer = await bench._bench_viewer("bench-live")
        token, _ = await auth.create_api_token(None, user_id=viewer.user_id, name="bench-live-ws")
        async with _api(env) as (url, pid):
            if only in (None, "latency", "fan-out"):
                async with bench._workers(dict(env, BILLRUN_CHUNK_SIZE=str(chunk_size)), 1):
                    await _processed_while_followed(url, token, viewer, 1, "bench-live-warm-up", 1, pid)  # not measured
                    if only in (None, "latency"):
                        found.update(chunk_size=chunk_size, latency_one_subscriber=_summary(
                            (await _processed_while_followed(url, token, viewer, 1, "bench-live-1", 1, pid))[0]),
                            target_p99_ms_one_subscriber=50)
            if only in (None, "fan-out"):
                async with bench._workers(dict(env, BILLRUN_CHUNK_SIZE=str(fan_out_chunk_size)), 1):
                    samples, pace = await _processed_while_followed(url, token, viewer, subscribers,
                                                                    f"bench-live-{subscribers}", client_processes,
                                                                    pid)
                found.update(subscribers=subscribers, fan_out_chunk_size=fan_out_chunk_size,
                             client_processes=client_processes, latency_fan_out={**_summary(samples), **pace},
                             target_p99_ms_fan_out=250)
            if only in (None, "resume"):
                found.update(resume=await _resume(url, token, viewer, missed, pid), target_resume_seconds=2)
    finally:
        await db.close()
    return found


if __name__ == "__main__":  # a client process of the bench (Followers)
    asyncio.run(_clients(sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]))

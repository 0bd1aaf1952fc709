"""Load, and abuse under load, on the real stack: a `billrun serve` process, a real Dramatiq worker process, the
real Redis pub/sub and PostgreSQL, driven over loopback.

Fifty concurrent clients mix grid reads (bench/grid.graphql), single dispositions (with `expectedVersion`), edits
and mass updates on one processed batch for BILLRUN_RELIABILITY_LOAD_SECONDS (60), while the worker processes and
reverses another batch over and over and a hundred WebSocket subscribers listen to that batch's events (ninety)
and to `events` (ten). What must hold: no failure beyond typed refusals (payload `errors { code }`, counted by
code), no lost update (every billing ends as the successful changes say: status, comment and version), one audit
row per change, every subscriber has every event of the log. Then the same load again on a twin batch with five
more clients sending documents the edge refuses: each is refused with a 4xx or a GraphQL error (never a 5xx),
and the others' p99 stays within 2x of the run without them. Both runs share one set-up, back to back.
"""

import asyncio
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import pytest
from strawberry.relay import from_base64, to_base64
from tortoise.functions import Max

import models
from billrun.settings import get_settings
from tests.conftest import ALL, empty_tables, make_token
from tests.reliability.results import record
from tests.support import billing
from tests.support.api import Api
from tests.support.live_server import live_server
from tests.support.scrape import value
from tests.support.subscriptions import Subscription
from tests.support.waiting import until
from tests.support.worker import ROOT
from tests.test_edge_limits import fan_out

SECONDS = float(os.environ.get("BILLRUN_RELIABILITY_LOAD_SECONDS", "60"))
SEED = 15
# The fifty clients, by what they do; the five abusers come on top in the second run.
CLIENTS = {"grid": 15, "disposition": 17, "edit": 15, "mass": 3}
ABUSERS = 5
BATCH_SUBSCRIBERS, EVENT_SUBSCRIBERS = 90, 10
# The load batch's billings: 36 dispositioned one by one, 3 groups of 8 mass-updated, all 60 edited.
SINGLES, GROUP = 36, 8
WORKER_CONTRACTS = 100  # the worker's batch: two chunks of BILLRUN_CHUNK_SIZE
RATIO = 2.0  # the others' p99 with the abusers, at most this times their p99 without

GRID = (ROOT / "bench" / "grid.graphql").read_text()
READ = "query($id: ID!) { periodicBilling(id: $id) { billingStatus version allowedTransitions } }"
DISPOSE = """mutation($id: ID!, $status: BillingStatus!, $version: Int) { updateBillingStatus(input: {billingId: $id,
  status: $status, expectedVersion: $version}) { periodicBilling { id } errors { code } } }"""
EDIT = """mutation($id: ID!, $note: String) { updatePeriodicBilling(input: {id: $id, internalComment: $note}) {
  periodicBilling { id } errors { code } } }"""
MASS = """mutation($batch: ID!, $status: BillingStatus!, $search: String) { massUpdateBillingStatus(input: {
  batchId: $batch, status: $status, filter: {search: $search}}) { changedCount refusedCount refusals { code }
  errors { code } } }"""
# Each target may follow the one before (docs/REVIEW.md), so every mass update changes its whole group.
MASS_CYCLE = ("HOLD", "APPROVAL_IN_PROCESS", "APPROVED", "NEW", "CANCELLED", "NEW")
BATCH_EVENTS = """subscription($batch: ID!, $after: String) { billingBatchEvents(batchId: $batch, after: $after) {
  cursor } }"""
ALL_EVENTS = "subscription($after: String) { events(after: $after) { cursor } }"


def _pk(gid: str) -> int:
    return int(from_base64(gid)[1])


def _p(latencies: list[float], q: float) -> float:
    """The q-quantile (nearest rank) in milliseconds."""
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


@dataclass
class Tally:
    """What the clients saw: latencies and outcomes per operation kind, failures in words."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ok: Counter[str] = field(default_factory=Counter)
    refused: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[str] = field(default_factory=list)

    def figures(self, seconds: float) -> dict[str, dict[str, Any]]:
        return {kind: {"requests": len(times), "ok": self.ok[kind], "refused_by_code": dict(self.refused[kind]),
                       "per_second": round(len(times) / seconds, 2), "p50_ms": _p(times, 0.5),
                       "p99_ms": _p(times, 0.99)} for kind, times in sorted(self.latencies.items())}

    def p99(self, kinds: list[str]) -> float:
        return _p([t for kind in kinds for t in self.latencies[kind]], 0.99)


@dataclass
class Ledger:
    """The successful changes, as the clients applied them: the truth the final rows must equal."""

    slots: dict[int, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))  # (version, status)
    comments: dict[int, str] = field(default_factory=dict)  # the last successful edit (one client per billing)
    edits: Counter[int] = field(default_factory=Counter)
    mass: Counter[int] = field(default_factory=Counter)
    group_status: dict[int, str] = field(default_factory=dict)  # billing -> the last mass update's target

    @property
    def changes(self) -> int:
        return sum(len(s) for s in self.slots.values()) + sum(self.edits.values()) + sum(self.mass.values())


@dataclass
class World:
    token: str
    load: list[str]  # one load batch per run
    worker_batch: str
    billings: dict[str, list[int]]  # load batch -> its billings' ids, in account-number order
    groups: dict[str, list[list[int]]]  # load batch -> the mass-updated groups' billing ids


async def _seed(api: Api) -> World:
    """Two twin load batches of 60 one-month billings (processed), and the worker's batch of 200 contracts."""
    accounts = await billing.books(api)
    numbers = {}
    for run in ("A", "B"):
        numbers[run] = [f"L{run}-S-{n:02}" for n in range(SINGLES)] + [
            f"L{run}-M{g}-{n:02}" for g in range(CLIENTS["mass"]) for n in range(GROUP)]
        await billing.bulk_accounts(accounts["revenue"], numbers[run], bill_group=f"L{run}", start="2026-05-01")
    await billing.bulk_accounts(accounts["revenue"], [f"W-{n:03}" for n in range(WORKER_CONTRACTS)],
                                bill_group="W", start="2026-05-01")
    load = [await billing.batch(api, f"Load {run}", billGroup=f"L{run}") for run in ("A", "B")]
    await asyncio.gather(*(billing.process(api, batch) for batch in load))
    billings, groups = {}, {}
    for run, batch in zip(("A", "B"), load, strict=True):
        rows = dict(await models.PeriodicBilling.filter(batch_id=_pk(batch)).values_list("account__number", "id"))
        billings[batch] = [rows[n] for n in numbers[run]]
        groups[batch] = [[rows[f"L{run}-M{g}-{n:02}"] for n in range(GROUP)] for g in range(CLIENTS["mass"])]
    worker_batch = await billing.batch(api, "Worker", billGroup="W")
    return World(api.token or "", load, worker_batch, billings, groups)


class Run:
    """One run of the load on one load batch: the clients, the worker's loop, the subscribers, and the checks."""

    def __init__(self, http: httpx.AsyncClient, port: int, world: World, batch: str, abusive: bool) -> None:
        self.http, self.port, self.world, self.batch, self.abusive = http, port, world, batch, abusive
        self.api = Api(http, world.token)
        self.tally, self.abuse, self.ledger = Tally(), Tally(), Ledger()
        self.stop = asyncio.Event()
        self.cycles = 0
        self.timings: dict[str, float] = {}
        self.figures: dict[str, Any] = {}
        ids = world.billings[batch]
        self.singles = ids[:SINGLES]
        self.all_ids = ids

    async def _timed(self, tally: Tally, kind: str, send: Callable[[], Awaitable[httpx.Response]]) -> Any:
        """Send one request; a non-200 answer, a transport error or any top-level GraphQL error is a failure
        (None returned), otherwise the `data`."""
        started = time.perf_counter()
        try:
            response = await send()
        except httpx.HTTPError as error:
            tally.latencies[kind].append(time.perf_counter() - started)
            tally.failures.append(f"{kind}: {type(error).__name__} {error}")
            return None
        tally.latencies[kind].append(time.perf_counter() - started)
        if response.status_code != 200:
            tally.failures.append(f"{kind}: HTTP {response.status_code} {response.text[:200]}")
            return None
        body = response.json()
        if body.get("errors"):
            tally.failures.append(f"{kind}: {body['errors'][:1]}")
            return None
        return body["data"]

    def _post(self, query: str, variables: dict) -> Callable[[], Awaitable[httpx.Response]]:
        headers = {"Authorization": f"Bearer {self.world.token}"}
        return lambda: self.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)

    def _payload(self, kind: str, payload: dict) -> bool:
        """A mutation's payload: True when it went through, its error codes counted when refused."""
        if payload["errors"]:
            self.tally.refused[kind].update(e["code"] for e in payload["errors"])
            return False
        self.tally.ok[kind] += 1
        return True

    # The clients ----------------------------------------------------------------------------------------

    async def grid(self, rng: random.Random) -> None:
        while not self.stop.is_set():
            data = await self._timed(self.tally, "grid", self._post(GRID, {"batch": self.batch, "first": 50}))
            if data is not None:
                page = data["billingBatch"]["periodicBillings"]
                if page["totalCount"] != len(self.all_ids) or len(page["edges"]) != 50:
                    self.tally.failures.append(f"grid: {page['totalCount']} billings, {len(page['edges'])} rows")
                else:
                    self.tally.ok["grid"] += 1

    async def disposition(self, rng: random.Random) -> None:
        while not self.stop.is_set():
            billing_id = rng.choice(self.singles)
            gid = _gid(billing_id)
            read = await self._timed(self.tally, "read", self._post(READ, {"id": gid}))
            if read is None:
                continue
            self.tally.ok["read"] += 1
            seen = read["periodicBilling"]
            targets = [t for t in seen["allowedTransitions"] if t != "REJECTED"]  # REJECTED is final
            if not targets:
                self.tally.failures.append(f"disposition: billing {billing_id} offers no move from {seen}")
                continue
            target = rng.choice(targets)
            data = await self._timed(self.tally, "disposition", self._post(DISPOSE, {
                "id": gid, "status": target, "version": seen["version"]}))
            if data is not None and self._payload("disposition", data["updateBillingStatus"]):
                # Accepted against version v: this change is the one that made v + 1.
                self.ledger.slots[billing_id].append((seen["version"] + 1, target))

    async def edit(self, rng: random.Random, own: list[int], client: int) -> None:
        n = 0
        while not self.stop.is_set():
            billing_id = rng.choice(own)
            n += 1
            note = f"client {client} edit {n}"
            data = await self._timed(self.tally, "edit", self._post(EDIT, {"id": _gid(billing_id), "note": note}))
            if data is not None and self._payload("edit", data["updatePeriodicBilling"]):
                self.ledger.comments[billing_id] = note  # this client alone edits this billing: the last one wins
                self.ledger.edits[billing_id] += 1

    async def mass(self, rng: random.Random, group: int) -> None:
        own = self.world.groups[self.batch][group]
        search = f"-M{group}-"
        step = 0
        while not self.stop.is_set():
            target = MASS_CYCLE[step % len(MASS_CYCLE)]
            data = await self._timed(self.tally, "mass_update", self._post(MASS, {
                "batch": self.batch, "status": target, "search": search}))
            if data is None or not self._payload("mass_update", payload := data["massUpdateBillingStatus"]):
                continue
            if (payload["changedCount"], payload["refusedCount"]) != (GROUP, 0):  # the group was all elsewhere
                self.tally.failures.append(f"mass_update to {target}: {payload}")
                continue
            step += 1
            for billing_id in own:
                self.ledger.mass[billing_id] += 1
                self.ledger.group_status[billing_id] = target

    async def abuser(self, rng: random.Random, client: int) -> None:
        documents = _abusive_documents()
        kinds = list(documents)
        n = client
        while not self.stop.is_set():
            kind = kinds[n % len(kinds)]
            n += 1
            body, expected = documents[kind]
            started = time.perf_counter()
            try:
                if kind == "oversized_body":
                    response = await self._declared_only(len(body))
                else:
                    response = await self.http.post("/graphql", content=body, headers={
                        "Authorization": f"Bearer {self.world.token}", "Content-Type": "application/json"})
            except (httpx.HTTPError, OSError) as error:
                self.abuse.failures.append(f"{kind}: {type(error).__name__} {error}")
                continue
            finally:
                self.abuse.latencies[kind].append(time.perf_counter() - started)
            codes = _codes(response)
            if response.status_code >= 500 or expected not in codes or (
                    response.status_code == 200 and response.json().get("data") is not None):
                self.abuse.failures.append(f"{kind}: HTTP {response.status_code} {response.text[:200]}")
            else:
                self.abuse.refused[kind][f"{response.status_code} {expected}"] += 1

    async def _declared_only(self, length: int) -> httpx.Response:
        """An oversized body as the edge refuses it: on its declared length, before a byte of it is read, the
        connection closed after the 413. So only the headers are sent (a client writing the body on regardless
        meets that close as a reset, racing the answer), and the answer is read to the end."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(b"POST /graphql HTTP/1.1\r\nHost: billrun\r\nContent-Type: application/json\r\n"
                         + f"Authorization: Bearer {self.world.token}\r\nContent-Length: {length}\r\n\r\n".encode())
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), timeout=60)  # to EOF: the server closes after refusing
        finally:
            writer.close()
        head, _, content = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
        return httpx.Response(status, content=content, headers={"content-type": "application/json"})

    # The worker's side and the subscribers ------------------------------------------------------------

    async def worker_loop(self) -> None:
        """Process the worker's batch, reverse it, again, until the run stops (the last step finishes)."""
        batch = self.world.worker_batch
        while not self.stop.is_set():
            status = (await self.api.ok(billing.BATCH, {"id": batch}))["billingBatch"]["status"]
            if status == "NOT_STARTED":
                await billing.process(self.api, batch)
                self.cycles += 1
            else:
                payload = await self.api.mutate("reverseBillingBatch", billing.REVERSE, {"id": batch})
                job = await billing.wait_for_job(self.api, payload["job"]["id"])
                assert job["status"] == "SUCCEEDED", job
                await billing.jobs_done(self.api, batch)

    async def run(self) -> None:
        head = await _last_event()
        audit_head = await _last_audit()
        before = {r["id"]: r for r in await models.PeriodicBilling.filter(id__in=self.all_ids).values(
            "id", "status", "version", "internal_comment")}
        url = f"ws://127.0.0.1:{self.port}/graphql"
        mark = time.perf_counter()
        batch_subs = await asyncio.gather(*(Subscription(url, self.world.token).open(
            BATCH_EVENTS, {"batch": self.world.worker_batch, "after": str(head)}) for _ in range(BATCH_SUBSCRIBERS)))
        event_subs = await asyncio.gather(*(Subscription(url, self.world.token).open(ALL_EVENTS, {
            "after": str(head)}) for _ in range(EVENT_SUBSCRIBERS)))
        received: dict[int, list[int]] = defaultdict(list)
        readers = [asyncio.create_task(_read(s, received[n])) for n, s in enumerate(batch_subs + event_subs)]

        self.timings["subscribe"] = round(time.perf_counter() - mark, 1)
        rng = random.Random(SEED + self.abusive)
        clients: list[Coroutine[Any, Any, None]] = []
        clients += [self.grid(random.Random(rng.random())) for _ in range(CLIENTS["grid"])]
        clients += [self.disposition(random.Random(rng.random())) for _ in range(CLIENTS["disposition"])]
        share = len(self.all_ids) // CLIENTS["edit"]
        clients += [self.edit(random.Random(rng.random()), self.all_ids[c * share:(c + 1) * share], c)
                    for c in range(CLIENTS["edit"])]
        clients += [self.mass(random.Random(rng.random()), g) for g in range(CLIENTS["mass"])]
        if self.abusive:
            clients += [self.abuser(random.Random(rng.random()), c) for c in range(ABUSERS)]
        started = time.perf_counter()
        loop = asyncio.create_task(self.worker_loop())
        asyncio.get_running_loop().call_later(SECONDS, self.stop.set)  # the run's length; each client then ends
        await asyncio.gather(*clients)  # its request in flight and stops
        elapsed = time.perf_counter() - started
        await loop
        await billing.jobs_done(self.api, self.world.worker_batch)
        self.timings["drain"] = round(time.perf_counter() - started - SECONDS, 1)
        mark = time.perf_counter()

        # Every subscriber has every event of the log since the run began, once, in order.
        last = await _last_event()
        worker_batch = _pk(self.world.worker_batch)
        batch_log = cast(list[int], await models.Event.filter(batch_id=worker_batch, id__gt=head,
                                                              id__lte=last).order_by("id").values_list("id", flat=True))
        whole_log = cast(list[int], await models.Event.filter(id__gt=head, id__lte=last).order_by("id").values_list(
            "id", flat=True))
        logs = [batch_log if n < BATCH_SUBSCRIBERS else whole_log for n in range(len(readers))]

        async def caught_up() -> bool:
            return all(not log or (received[n] and received[n][-1] >= log[-1]) for n, log in enumerate(logs))
        await until(caught_up, "every subscriber to reach the last event of its log", within=60)
        self.timings["catch_up"] = round(time.perf_counter() - mark, 1)
        mark = time.perf_counter()
        missed = duplicated = 0
        for n, expected in enumerate(logs):
            got = [c for c in received[n] if c <= last]
            missed += len(set(expected) - set(got))
            duplicated += len(got) - len(set(got)) + len(set(got) - set(expected))
            if got != expected:
                self.tally.failures.append(f"subscriber {n}: {len(got)} events, the log has {len(expected)}")
        for reader in readers:
            reader.cancel()
        for subscription in batch_subs + event_subs:
            await subscription.close()

        async def subscriptions_open() -> int:
            return int(value((await self.http.get("/metrics")).text, "billrun_subscriptions_open"))

        async def released() -> bool:
            return await subscriptions_open() == 0
        try:
            await until(released, "the closed subscriptions to be released", within=30)
        except pytest.fail.Exception:
            pass  # counted as leaked below, and the test fails on it
        leaked = await subscriptions_open()

        # The final rows equal the successful changes; one audit row per change.
        after = {r["id"]: r for r in await models.PeriodicBilling.filter(id__in=self.all_ids).values(
            "id", "status", "version", "internal_comment")}
        lost_updates = 0
        for billing_id in self.all_ids:
            slots = sorted(self.ledger.slots[billing_id])
            if len({v for v, _ in slots}) != len(slots):
                duplicated += len(slots) - len({v for v, _ in slots})
                self.tally.failures.append(f"billing {billing_id}: two changes accepted from one version {slots}")
            status = self.ledger.group_status.get(billing_id, slots[-1][1] if slots else before[billing_id]["status"])
            version = before[billing_id]["version"] + len(slots) + self.ledger.edits[billing_id] + (
                self.ledger.mass[billing_id])
            comment = self.ledger.comments.get(billing_id, before[billing_id]["internal_comment"])
            found = after[billing_id]
            if (found["status"], found["version"], found["internal_comment"]) != (status, version, comment):
                lost_updates += 1
                self.tally.failures.append(f"billing {billing_id}: {found}, the changes say {status, version, comment}")
        audits: Counter[int] = Counter(cast(list[int], await models.Audit.filter(
            batch_id=_pk(self.batch), id__gt=audit_head).values_list("billing_id", flat=True)))
        changes = self.ledger.changes
        audit_rows = sum(audits.values())
        for billing_id in self.all_ids:
            made = len(self.ledger.slots[billing_id]) + self.ledger.edits[billing_id] + self.ledger.mass[billing_id]
            if audits[billing_id] != made:
                self.tally.failures.append(f"billing {billing_id}: {audits[billing_id]} audit rows, {made} changes")
        self.timings["checks"] = round(time.perf_counter() - mark, 1)
        self.figures = {
            "seconds": round(elapsed, 1), "clients": sum(CLIENTS.values()) + (ABUSERS if self.abusive else 0),
            "subscribers": len(readers), "operations": self.tally.figures(elapsed),
            "failures": len(self.tally.failures), "failure_examples": self.tally.failures[:5],
            "changes_applied": changes, "audit_rows": audit_rows, "lost_updates": lost_updates,
            "worker_batch_cycles": self.cycles, "events_in_log": len(whole_log),
            "events_of_worker_batch": len(batch_log), "events_missed": missed,
            "events_delivered": sum(len(r) for r in received.values()),
            "p99_ms": self.tally.p99(NORMAL_KINDS), "wall_seconds": self.timings,
        }
        self.lost = lost_updates + missed + max(0, changes - audit_rows)
        self.duplicated = duplicated + max(0, audit_rows - changes)
        self.leaked = leaked


NORMAL_KINDS = ["grid", "read", "disposition", "edit", "mass_update"]


def _gid(billing_id: int) -> str:
    return to_base64("PeriodicBilling", billing_id)


async def _read(subscription: Subscription, into: list[int]) -> None:
    while True:
        data = await subscription.next(within=600)
        if data is None:
            return
        into.append(int(next(iter(data.values()))["cursor"]))


async def _last_event() -> int:
    return cast(int | None, await models.Event.annotate(last=Max("id")).first().values_list("last", flat=True)) or 0


async def _last_audit() -> int:
    return cast(int | None, await models.Audit.annotate(last=Max("id")).first().values_list("last", flat=True)) or 0


def _codes(response: httpx.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return []
    return [(e.get("extensions") or {}).get("code", "") for e in body.get("errors") or []]


def _abusive_documents() -> dict[str, tuple[bytes, str]]:
    """What the edge refuses, as request bodies, with the code each is refused with."""
    import json

    settings = get_settings()
    deep = "{ salesContracts { nodes { " + "account { contracts { " * 6 + "number" + " } }" * 6 + " } } }"
    costly = """{ accounts(first: 500) { edges { node { contracts { charges { datedPrices { id periodicPrice
      charge { id description periodicPrice quantity } } } } } } } }"""
    documents = {
        "over_deep": (json.dumps({"query": deep}).encode(), "QUERY_TOO_DEEP"),
        "over_cost": (json.dumps({"query": costly}).encode(), "QUERY_TOO_COSTLY"),
        "fragment_fan_out": (json.dumps({"query": fan_out("spreads")}).encode(), "QUERY_TOO_COSTLY"),
        "oversized_document": (json.dumps({"query": "{ viewer { id } }" + " " * settings.max_query_bytes}).encode(),
                               "QUERY_TOO_LARGE"),
        "oversized_body": (json.dumps({"query": "{ viewer { id } }", "variables": {
            "pad": "x" * settings.max_body_bytes}}).encode(), "REQUEST_TOO_LARGE"),
    }
    return documents


@pytest.fixture(scope="module")
async def runs(database: None, worker: object) -> AsyncIterator[dict[str, Run]]:
    """Both runs, back to back on one server and one worker: the load alone, then the load with the abusers."""
    began = time.perf_counter()
    await empty_tables()
    _, token = await make_token("load@example.com", ALL, "Lou Load")
    with live_server() as port:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120, limits=limits) as http:
            mark = time.perf_counter()
            world = await _seed(Api(http, token))
            seeded = round(time.perf_counter() - mark, 1)
            found = {}
            for name, batch, abusive in (("load", world.load[0], False), ("abuse", world.load[1], True)):
                found[name] = Run(http, port, world, batch, abusive)
                found[name].timings["seed"] = seeded
                await found[name].run()
    for run in found.values():  # both sections' wall time, server start to stop (the budget is 3.5 min)
        run.figures["both_sections_wall_seconds"] = round(time.perf_counter() - began, 1)
    yield found


HELD = ["no failure beyond typed refusals (counted by code)",
        "every billing's status, comment and version equal the successful changes",
        "one audit row per change", "every subscriber received exactly the event log's cursors, in order",
        "every closed subscription released by the server"]


async def test_load(runs: dict[str, Run]) -> None:
    run = runs["load"]
    record("load", run.figures, lost=run.lost, duplicated=run.duplicated, leaked=run.leaked, held=HELD)
    assert run.tally.failures == []
    assert run.figures["changes_applied"] == run.figures["audit_rows"] > 0
    assert (run.lost, run.duplicated, run.leaked) == (0, 0, 0)
    assert all(run.tally.ok[kind] > 0 for kind in NORMAL_KINDS) and run.cycles > 0


async def test_abuse_under_load(runs: dict[str, Run]) -> None:
    plain, abused = runs["load"], runs["abuse"]
    ratio = round(abused.figures["p99_ms"] / max(plain.figures["p99_ms"], 0.1), 2)
    refused = {kind: dict(codes) for kind, codes in abused.abuse.refused.items()}
    figures = {**abused.figures, "abusers": ABUSERS, "abusive_requests": abused.abuse.figures(
        abused.figures["seconds"]), "abusive_refused_by_code": refused,
        "abusive_failures": len(abused.abuse.failures), "abusive_failure_examples": abused.abuse.failures[:5],
        "p99_ms_without_abusers": plain.figures["p99_ms"], "p99_ms_with_abusers": abused.figures["p99_ms"],
        "p99_ratio": ratio, "p99_ratio_limit": RATIO}
    record("abuse_under_load", figures, lost=abused.lost, duplicated=abused.duplicated, leaked=abused.leaked,
           held=[*HELD, "every abusive request refused with a 4xx or a GraphQL error, never a 5xx",
                 f"the others' p99 within {RATIO:g}x of the run without the abusers"])
    assert abused.abuse.failures == []
    assert all(refused.get(kind) for kind in _abusive_documents())
    assert abused.tally.failures == []
    assert (abused.lost, abused.duplicated, abused.leaked) == (0, 0, 0)
    assert ratio <= RATIO, (plain.figures["p99_ms"], abused.figures["p99_ms"])

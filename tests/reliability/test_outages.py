"""Broker and database outages mid-batch (section `outages`): a batch processed by a real worker through a real
API process, both on a Redis of the test's own; that Redis stopped for a few seconds mid-batch (it restarts
empty: every queued message is gone), then the test database's backends killed and new connections refused for
a few seconds. Meanwhile the API answers `/readyz` unready; once they return the batch completes with exact
counts, and two WebSocket subscribers of `billingBatchEvents` — one that stays connected, one that drops at
each outage and resumes with its last cursor — receive every event cursor of the batch once, in order."""

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest

import models
from domain import jobs
from tests.conftest import ALL, make_token
from tests.reliability.results import record
from tests.support import billing, broker, environment, posting
from tests.support.api import Api
from tests.support.live_server import live_server
from tests.support.private_redis import PrivateRedis
from tests.support.scrape import value
from tests.support.subscriptions import Subscription
from tests.support.waiting import until
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.usefixtures("alone")  # the test's own worker only

CONTRACTS = 150  # monthly from March, billed to May: 3 billings each
OUTAGE_SECONDS = 4.0
# One contract per chunk and one thread, so the batch is still running when each outage starts; the sweeper
# (every second) sends again a job nothing moved for 2 s.
WORKER_SETTINGS = {"BILLRUN_CHUNK_SIZE": "3", "BILLRUN_JOB_STALE_AFTER_SECONDS": "2"}
SERVER_SETTINGS = {"BILLRUN_READY_TIMEOUT_SECONDS": "0.5", "BILLRUN_EVENTS_POLL_SECONDS": "0.5"}
EVENTS = "subscription($batch: ID!, $after: String) { billingBatchEvents(batchId: $batch, after: $after) { cursor } }"


@dataclass
class Follower:
    """A subscriber that resumes with the last cursor it received whenever its socket or subscription ends (a
    client following the documented contract); `drop()` closes its socket from the client side."""

    url: str
    token: str
    batch: str
    cursors: list[int] = field(default_factory=list)
    resumed: int = 0
    failures: list[str] = field(default_factory=list)
    current: Subscription | None = None

    async def run(self) -> None:
        while True:
            after = str(self.cursors[-1]) if self.cursors else "0"
            try:
                self.current = await Subscription(self.url, self.token).open(EVENTS, {"batch": self.batch,
                                                                                     "after": after})
                while (data := await self.current.next(within=300)) is not None:
                    self.cursors.append(int(data["billingBatchEvents"]["cursor"]))
                self.failures.append("completed")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the socket dropped, or the subscription failed: resume by cursor
                self.failures.append(type(error).__name__)
            finally:
                if self.current is not None:
                    with contextlib.suppress(Exception):
                        await self.current.close()
                    self.current = None
            self.resumed += 1
            await asyncio.sleep(0.2)

    async def drop(self) -> None:
        if self.current is not None and self.current.ws is not None:
            await self.current.ws.close()


@dataclass
class Readiness:
    """`/readyz` polled every 0.1 s: (monotonic time, status code; 0 when the request itself failed)."""

    http: httpx.AsyncClient
    samples: list[tuple[float, int]] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            try:
                code = (await self.http.get("/readyz", timeout=3)).status_code
            except httpx.HTTPError:
                code = 0
            self.samples.append((time.monotonic(), code))
            await asyncio.sleep(0.1)

    def unready_between(self, start: float, end: float) -> float:
        """Seconds answered unready between `start` and `end` (sample to sample)."""
        window = [(t, c) for t, c in self.samples if start <= t <= end]
        return sum(later[0] - t for (t, c), later in itertools.pairwise(window) if c != 200)

    def first(self, after: float, ready: bool) -> float | None:
        return next((t for t, c in self.samples if t >= after and (c == 200) == ready), None)


async def _database_outage(seconds: float) -> tuple[float, int]:
    """Refuse new connections to the test database and kill its backends (every 0.1 s, so none that slipped in
    survives) for `seconds`, from an admin connection to another database; returns (duration, backends
    killed)."""
    admin = await asyncpg.connect(environment.PG_ADMIN_URL)
    name = environment.TEST_DB_NAME
    killed = 0
    started = time.monotonic()
    try:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        while time.monotonic() - started < seconds:
            killed += len(await admin.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> "
                "pg_backend_pid()", name))
            await asyncio.sleep(0.1)
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        await admin.close()
    return time.monotonic() - started, killed


async def _progress(job_id: int) -> tuple[int, int]:
    job = await models.Job.get(id=job_id)
    return job.progress_done, job.progress_total


async def _batch_jobs_done(batch_id: int) -> bool:
    return not await models.Job.filter(batch_id=batch_id, status__in=jobs.UNFINISHED).exists()


async def test_a_batch_completes_exactly_through_a_broker_outage_and_database_outage() -> None:
    redis = PrivateRedis().start()
    worker = WorkerProcess(processes=1, threads=2, env={**WORKER_SETTINGS, "REDIS_URL": redis.url})
    tasks: list[asyncio.Task] = []
    try:
        with live_server(REDIS_URL=redis.url, **SERVER_SETTINGS) as port:
            _, token = await make_token("ops@example.com", ALL, "Olga Ops")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                api = Api(http, token)
                await billing.bulk_contracts(api, CONTRACTS)
                batch = await billing.batch(api, "Outage run")
                batch_id = posting.db_id(batch)
                url = f"ws://127.0.0.1:{port}/graphql"
                steady, dropping = Follower(url, token, batch), Follower(url, token, batch)
                readiness = Readiness(http)
                tasks = [asyncio.create_task(t.run()) for t in (steady, dropping, readiness)]
                await until(lambda: _ready_now(readiness), "the API to answer ready")
                worker.start()
                job_id = posting.db_id((await api.mutate("processBillingBatch", billing.PROCESS,
                                                         {"id": batch}))["job"]["id"])
                await until(lambda: _progressed(job_id, 20), "processing to get going", 60)

                # The broker: Redis stopped, then started again (empty: nothing was persisted).
                done_before_redis, total = await _progress(job_id)
                redis_stopped = time.monotonic()
                redis.stop()
                await dropping.drop()
                await until(lambda: _unready_since(readiness, redis_stopped), "/readyz to answer unready")
                while time.monotonic() - redis_stopped < OUTAGE_SECONDS:  # noqa: ASYNC110 - the outage lasts its time
                    await asyncio.sleep(0.05)
                redis.start()
                redis_back = time.monotonic()
                redis_seconds = redis_back - redis_stopped
                await until(lambda: _progressed(job_id, done_before_redis + 20), "processing to resume", 60)
                resumed_after_redis = time.monotonic() - redis_back
                # The database near the end of the batch, when the few messages left would cycle through their
                # retries within the outage.
                await until(lambda: _progressed(job_id, total * 7 // 10), "processing to near its end", 60)
                done_before_db, _ = await _progress(job_id)
                assert done_before_db < total, "the batch finished before the database outage: make it bigger"

                # The database: backends killed, new connections refused.
                await dropping.drop()
                db_started = time.monotonic()
                db_seconds, killed = await _database_outage(OUTAGE_SECONDS)
                db_back = time.monotonic()
                assert readiness.first(db_started, ready=False) is not None, "/readyz never answered unready"

                await until(lambda: _batch_jobs_done(batch_id), "the batch's jobs to finish", 120)
                completed = time.monotonic()
                # Whatever is still queued or waiting to be retried is handled before anything is counted (a
                # message that exhausted its retries fails its job only when `fail_job` runs, later).
                await broker.wait_until_handled(url=redis.url, within=90)
                given_up = await broker.dead_lettered(url=redis.url)
                expected = list(await models.Event.filter(batch_id=batch_id).order_by("id").values_list(
                    "id", flat=True))
                for follower in (steady, dropping):
                    await until(lambda f=follower: _caught_up(f, expected[-1]), "a subscriber to catch up", 60)
                await until(lambda: _ready_now(readiness), "the API to answer ready again")
                # Nothing of the subscribers stays behind in the server once they are gone, however often they
                # resumed (the ones refused during the outages included).
                for task in tasks[:2]:
                    task.cancel()
                leaked = await _subscriptions_left(http)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        worker.stop()
        redis.close()

    # Exact counts: one billing per contract period, one line each, every chunk done once, nothing failed.
    rows = await models.PeriodicBilling.filter(batch_id=batch_id).values_list("contract_id", "period_start")
    billings, distinct = len(rows), len(set(rows))
    lines = await models.BillingDetail.filter(billing__batch_id=batch_id).count()
    job = await models.Job.get(id=job_id)
    open_chunks = await models.JobChunk.filter(job_id=job_id, done_at=None).count()
    statuses = await models.Job.filter(batch_id=batch_id).values_list("kind", "status")
    assert (await models.BillingBatch.get(id=batch_id)).status == "PROCESSED"
    assert job.status == "SUCCEEDED" and job.progress_done == job.progress_total == CONTRACTS, job
    assert sorted(statuses) == [("ANALYZE", "SUCCEEDED"), ("PROCESS", "SUCCEEDED")], statuses
    assert await models.Audit.filter(entity="BillingBatch", after="PROCESSED").count() == 1
    assert await models.Notification.filter(batch_id=batch_id).count() == 0
    expected_billings = CONTRACTS * 3
    lost = expected_billings - distinct + open_chunks + (lines < expected_billings) * (expected_billings - lines)
    duplicated = (billings - distinct) + max(0, lines - expected_billings)

    # Every cursor once, in order, for both subscribers.
    gaps = {name: len(set(expected) - set(f.cursors)) for name, f in (("steady", steady), ("dropping", dropping))}
    duplicates = {name: len(f.cursors) - len(set(f.cursors)) for name, f in (("steady", steady),
                                                                             ("dropping", dropping))}
    in_order = {name: f.cursors == sorted(f.cursors) for name, f in (("steady", steady), ("dropping", dropping))}
    figures = {
        "contracts": CONTRACTS, "billings_expected": expected_billings, "billings": billings,
        "chunks": await models.JobChunk.filter(job_id=job_id).count(),
        "redis_outage_seconds": round(redis_seconds, 2),
        "database_outage_seconds": round(db_seconds, 2), "database_backends_killed": killed,
        "unready_seconds_redis": round(readiness.unready_between(redis_stopped, redis_back + 2), 2),
        "unready_seconds_database": round(readiness.unready_between(db_started, db_back + 2), 2),
        "seconds_to_resume_after_redis": round(resumed_after_redis, 2),
        "seconds_to_complete_after_database": round(completed - db_back, 2),
        "job_messages_given_up": given_up,
        "events_expected": len(expected),
        "events_received": {"steady": len(steady.cursors), "dropping": len(dropping.cursors)},
        "subscriber_resumes": {"steady": steady.resumed, "dropping": dropping.resumed},
        "subscriber_ends": {"steady": dict(Counter(steady.failures)), "dropping": dict(Counter(dropping.failures))},
        "gaps": gaps, "duplicates": duplicates, "subscriptions_left_open": leaked,
    }
    assert all(in_order.values()), in_order
    assert sum(gaps.values()) == 0 and sum(duplicates.values()) == 0, figures
    assert lost == 0 and duplicated == 0, figures
    assert leaked == 0, f"{leaked} subscriptions still open in the server after their sockets closed"
    assert given_up == 0, "a job's message exhausted its retries during an outage"
    record("outages", figures, lost=lost + sum(gaps.values()), duplicated=duplicated + sum(duplicates.values()),
           leaked=leaked, held=[
               "Redis stopped mid-batch (restarting empty) and the test database's backends killed with new "
               "connections refused: /readyz answered 503 during each, 200 after",
               "the batch completed once both returned: one billing per contract period, one line each, every "
               "chunk done once, no job failed",
               "a subscriber that stayed connected and one that dropped at each outage and resumed with its last "
               "cursor each received every event cursor of the batch once, in order",
               "once both subscribers closed, the server holds no subscription of theirs (leaked)"])


async def _ready_now(readiness: Readiness) -> bool:
    return bool(readiness.samples) and readiness.samples[-1][1] == 200


async def _unready_since(readiness: Readiness, since: float) -> bool:
    return readiness.first(since, ready=False) is not None


async def _progressed(job_id: int, at_least: int) -> bool:
    return (await _progress(job_id))[0] >= at_least


async def _caught_up(follower: Follower, last: int) -> bool:
    return bool(follower.cursors) and follower.cursors[-1] >= last


async def _subscriptions_left(http: httpx.AsyncClient, within: float = 15.0) -> int:
    """The server's open subscriptions, once it has had `within` seconds to notice closed sockets (0 as soon as
    it has)."""
    deadline = time.monotonic() + within
    while (left := int(value((await http.get("/metrics")).text, "billrun_subscriptions_open"))) and (  # noqa: ASYNC110
            time.monotonic() < deadline):
        await asyncio.sleep(0.1)
    return left

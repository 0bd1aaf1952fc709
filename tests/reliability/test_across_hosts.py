"""Across hosts (section `across_hosts`): two worker "hosts", each a network namespace of the test's own making with
a veth pair to the host, share batches over the network. PostgreSQL and Redis listen on 127.0.0.1 only: each
host reaches them through TCP forwarders of the test's own on its host-side veth address. A first batch is
processed by both with exact counts; during a second one, one host's link is cut: its messages come back to the
queue after the broker's heartbeat timeout and the batch completes on the other host, with exact counts again."""

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime

import asyncpg
import pytest

import models
from domain import jobs
from tests.reliability.results import record
from tests.support import billing, environment, posting
from tests.support.api import Api
from tests.support.forwarder import Forwarder
from tests.support.waiting import until
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.usefixtures("alone")  # the two hosts' workers only, on the suite's broker

CONTRACTS = 90  # per batch, monthly from March, billed to May: 3 billings each
# Small chunks so both hosts get several; the sweeper re-sends a job nothing moved for 2 s. A transaction left
# open by a host whose link was cut (holding the locks of its chunk and job) is ended by PostgreSQL after 3 s.
WORKER_SETTINGS = {"BILLRUN_CHUNK_SIZE": "2", "BILLRUN_JOB_STALE_AFTER_SECONDS": "2",
                   "BILLRUN_DATABASE_IDLE_IN_TRANSACTION_SECONDS": "3"}
LATENCY = 0.01  # seconds
DONE = re.compile(r"^\[([0-9-]+ [0-9:,]+)\].* process_chunk done in .*job_id=(\d+)\]")


def _ip(*args: str) -> None:
    """`ip …` (iproute2, as root); its error in the failure when it refuses (no namespaces on this machine, say)."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()}")


class Host:
    """A network namespace joined to the host by a veth pair on a /30 of its own: the host side `gateway`, the
    namespace side `address`. Names carry the test process's PID, so concurrent runs never collide."""

    def __init__(self, letter: str, subnet: int) -> None:
        tag = f"{os.getpid() % 100000}{letter}"
        self.namespace = f"billrun-{tag}"
        self.outside, self.inside = f"brh{tag}", f"brn{tag}"  # interface names: at most 15 characters
        octet = 100 + os.getpid() % 100
        self.gateway, self.address = f"10.{octet}.{subnet}.1", f"10.{octet}.{subnet}.2"

    def create(self) -> None:
        _ip("netns", "add", self.namespace)
        _ip("link", "add", self.outside, "type", "veth", "peer", "name", self.inside)
        _ip("link", "set", self.inside, "netns", self.namespace)
        _ip("addr", "add", f"{self.gateway}/30", "dev", self.outside)
        _ip("link", "set", self.outside, "up")
        _ip("-n", self.namespace, "addr", "add", f"{self.address}/30", "dev", self.inside)
        _ip("-n", self.namespace, "link", "set", self.inside, "up")
        _ip("-n", self.namespace, "link", "set", "lo", "up")

    def cut(self) -> None:
        _ip("link", "set", self.outside, "down")

    def delete(self) -> None:
        for args in (("netns", "del", self.namespace), ("link", "del", self.outside)):
            subprocess.run(["ip", *args], capture_output=True, timeout=30)  # whatever exists of it


@contextmanager
def worker_host(stack: ExitStack, letter: str, subnet: int) -> Iterator[tuple[Host, WorkerProcess, Forwarder]]:
    """A host with its forwarders (PostgreSQL, Redis) and a worker inside it; all of it gone afterwards. Yields
    the PostgreSQL forwarder too (its clients' ports, its latency)."""
    host = Host(letter, subnet)
    stack.callback(host.delete)
    host.create()
    pg = stack.enter_context(_forwarding(host.gateway, ("127.0.0.1", 5432)))
    redis = stack.enter_context(_forwarding(host.gateway, ("127.0.0.1", 6379)))
    redis_db = environment.REDIS_TEST_URL.rsplit("/", 1)[1]
    worker = WorkerProcess(processes=1, threads=2, namespace=host.namespace, env={
        **WORKER_SETTINGS,
        "DATABASE_URL": f"postgres://postgres@{host.gateway}:{pg.port}/{environment.TEST_DB_NAME}",
        "REDIS_URL": f"redis://{host.gateway}:{redis.port}/{redis_db}"})
    stack.callback(worker.kill)
    yield host, worker, pg


@contextmanager
def _forwarding(address: str, target: tuple[str, int]) -> Iterator[Forwarder]:
    forwarder = Forwarder((address, 0), target).start()
    try:
        yield forwarder
    finally:
        forwarder.stop()


def _handled(worker: WorkerProcess, job_id: int) -> list[float]:
    """When the worker finished each chunk message of the job (its log's timestamps, epoch seconds)."""
    found = []
    for line in worker.log:
        if (match := DONE.match(line)) and int(match[2]) == job_id:
            found.append(datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").timestamp())
    return found


async def _seed(admin: Api) -> None:
    """2 * CONTRACTS contracts; the second half in bill group G2, so two batches bill disjoint halves."""
    await billing.bulk_contracts(admin, 2 * CONTRACTS)
    assert await models.Account.filter(number__gte=f"K-{CONTRACTS:04}").update(bill_group="G2") == CONTRACTS


async def _process(admin: Api, group: str) -> tuple[int, int]:
    batch = await billing.batch(admin, f"Run {group}", billGroup=group)
    payload = await admin.mutate("processBillingBatch", billing.PROCESS, {"id": batch})
    return posting.db_id(batch), posting.db_id(payload["job"]["id"])


async def _finished(batch_id: int) -> bool:
    return not await models.Job.filter(batch_id=batch_id, status__in=jobs.UNFINISHED).exists()


async def _exactly(batch_id: int, job_id: int) -> tuple[int, int]:
    """(lost, duplicated) billings and lines of a processed batch; every chunk done, both jobs succeeded."""
    rows = await models.PeriodicBilling.filter(batch_id=batch_id).values_list("contract_id", "period_start")
    lines = await models.BillingDetail.filter(billing__batch_id=batch_id).count()
    expected = CONTRACTS * 3
    job = await models.Job.get(id=job_id)
    assert job.status == "SUCCEEDED" and job.progress_done == job.progress_total == CONTRACTS, job
    assert await models.JobChunk.filter(job_id=job_id, done_at=None).count() == 0
    assert sorted(await models.Job.filter(batch_id=batch_id).values_list("kind", "status")) == [
        ("ANALYZE", "SUCCEEDED"), ("PROCESS", "SUCCEEDED")]
    assert (await models.BillingBatch.get(id=batch_id)).status == "PROCESSED"
    lost = max(0, expected - len(set(rows))) + max(0, expected - lines)
    duplicated = (len(rows) - len(set(rows))) + max(0, lines - expected)
    return lost, duplicated


async def test_two_worker_hosts_share_a_batch_and_one_survives_the_other_losing_its_link(admin: Api) -> None:
    await _seed(admin)
    with ExitStack() as stack:
        (a, worker_a, _), (b, worker_b, b_pg) = (stack.enter_context(worker_host(stack, "a", 1)),
                                                 stack.enter_context(worker_host(stack, "b", 2)))
        worker_a.start()
        worker_b.start()

        # Both hosts share the first batch.
        first, first_job = await _process(admin, "G1")
        started = time.monotonic()
        await until(lambda: _finished(first), "the first batch to be processed", 120)
        shared_seconds = time.monotonic() - started
        lost_1, duplicated_1 = await _exactly(first, first_job)
        by_host = {"a": len(_handled(worker_a, first_job)), "b": len(_handled(worker_b, first_job))}
        chunks = await models.JobChunk.filter(job_id=first_job).count()
        assert by_host["a"] > 0 and by_host["b"] > 0, by_host
        assert sum(by_host.values()) >= chunks, by_host  # every chunk's message handled (a no-op one may repeat)

        # The second batch: host b's link cut mid-batch, inside a transaction. Host b's link to PostgreSQL is
        # slower now (LATENCY each way), so its transactions last long enough to be cut in the middle.
        b_pg.latency = LATENCY
        second, second_job = await _process(admin, "G2")
        await until(lambda: _progressed(second_job, CONTRACTS // 4), "the second batch to get going", 60)
        await until(lambda: _in_transaction(b_pg.upstream_ports), "host b to be inside a transaction", 60)
        before_cut = {"a": len(_handled(worker_a, second_job)), "b": len(_handled(worker_b, second_job))}
        b.cut()
        cut_at, cut_wall = time.monotonic(), time.time()
        open_at_cut = len(await _in_transaction(b_pg.upstream_ports))
        await until(lambda: _finished(second), "the second batch to complete on host a", 60)
        recovered = time.monotonic() - cut_at
        lost_2, duplicated_2 = await _exactly(second, second_job)
        after_cut_b = [t for t in _handled(worker_b, second_job) if t > cut_wall + 0.5]
        assert after_cut_b == [], "host b handled messages after its link was cut"
        a_after_cut = len([t for t in _handled(worker_a, second_job) if t > cut_wall])

        hosts = (a, b)
        workers = (worker_a, worker_b)
    # Torn down: no namespace, interface or worker process of the test is left.
    leaked = _left_behind(hosts, workers)
    lost, duplicated = lost_1 + lost_2, duplicated_1 + duplicated_2
    figures = {
        "contracts_per_batch": CONTRACTS, "chunks_per_batch": chunks,
        "shared_batch_seconds": round(shared_seconds, 2),
        "chunk_messages_per_host": by_host,
        "chunks_per_second_per_host": {h: round(n / shared_seconds, 2) for h, n in by_host.items()},
        "second_batch_chunks_before_cut": before_cut,
        "chunks_on_a_after_cut": a_after_cut,
        "transactions_of_b_open_at_cut": open_at_cut,
        "b_latency_ms_each_way_in_second_batch": LATENCY * 1000,
        "idle_in_transaction_timeout_s": float(WORKER_SETTINGS["BILLRUN_DATABASE_IDLE_IN_TRANSACTION_SECONDS"]),
        "seconds_from_cut_to_complete": round(recovered, 2),
        "heartbeat_timeout_ms": int(os.environ["BILLRUN_BROKER_HEARTBEAT_TIMEOUT_MS"]),
    }
    assert lost == 0 and duplicated == 0 and leaked == 0, figures
    record("across_hosts", figures, lost=lost, duplicated=duplicated, leaked=leaked, held=[
        "two worker hosts in network namespaces, reaching PostgreSQL and Redis through forwarders on their veth "
        "addresses, shared a batch: one billing per contract period, one line each, every chunk done, its "
        "chunks handled by both hosts",
        "one host's link cut mid-batch: the batch completed on the other, with exact counts",
        "torn down: no network namespace, veth interface or worker process of the test left (leaked)"])


async def _progressed(job_id: int, at_least: int) -> bool:
    return (await models.Job.get(id=job_id)).progress_done >= at_least


def _left_behind(hosts: tuple[Host, ...], workers: tuple[WorkerProcess, ...]) -> int:
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30).stdout
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=30).stdout
    return (sum(host.namespace in namespaces for host in hosts) + sum(host.outside in links for host in hosts)
            + sum(worker.alive for worker in workers))


async def _in_transaction(ports: set[int]) -> list[int]:
    """The backends of those client ports that are inside a transaction now."""
    admin = await asyncpg.connect(environment.PG_ADMIN_URL)
    try:
        return [row[0] for row in await admin.fetch(
            "SELECT client_port FROM pg_stat_activity WHERE datname = $1 AND xact_start IS NOT NULL "
            "AND client_port = ANY($2::int[])", environment.TEST_DB_NAME, sorted(ports))]
    finally:
        await admin.close()

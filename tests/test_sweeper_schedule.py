"""The sweeper runs once per tick across all worker hosts: two `billrun worker` masters, each trying every
tick, sweep once per tick between them (a Redis lock per tick), not twice."""

import asyncio
import json
import re

import httpx
import pytest

from tests.support.live_server import free_port
from tests.support.scrape import scrape, value
from tests.support.worker import WorkerProcess

CLAIMED = re.compile(r"sweeper tick (\d+) claimed by (\S+):")
TICKS = 6


def _claims(workers: list[WorkerProcess]) -> list[tuple[int, str]]:
    found = []
    for worker in workers:
        for line in list(worker.log):
            if match := CLAIMED.search(json.loads(line)["message"]):
                found.append((int(match.group(1)), match.group(2)))
    return found


def _serving(port: int) -> bool:
    try:
        scrape(f"http://127.0.0.1:{port}/metrics")
    except httpx.TransportError:
        return False
    return True


@pytest.mark.usefixtures("alone")
async def test_two_worker_hosts_sweep_once_per_tick() -> None:
    ports = [free_port(), free_port()]
    workers = [WorkerProcess(processes=1, threads=2, cli=True, env={
        "BILLRUN_LOG_FORMAT": "json", "BILLRUN_SWEEP_INTERVAL_SECONDS": "1",
        "BILLRUN_WORKER_METRICS_PORT": str(port)}) for port in ports]
    try:
        for worker in workers:
            worker.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while len({tick for tick, _ in _claims(workers)}) < TICKS:
            assert loop.time() < deadline, _claims(workers)
            await asyncio.sleep(0.1)

        def counts() -> tuple[float, float, float]:
            texts = [scrape(f"http://127.0.0.1:{port}/metrics") for port in ports]
            claimed = sum(value(t, "billrun_sweeper_ticks_total", outcome="claimed") for t in texts)
            elsewhere = sum(value(t, "billrun_sweeper_ticks_total", outcome="elsewhere") for t in texts)
            sweeps = sum(value(t, "dramatiq_messages_total", queue_name="housekeeping", actor_name="sweep")
                         for t in texts)
            return claimed, elsewhere, sweeps

        # Each host's metrics process (a fork of the master) may come up after the first ticks on a busy machine.
        while not all(_serving(port) for port in ports):
            assert loop.time() < deadline, "a worker host's metrics never came up"
            await asyncio.sleep(0.1)

        # Settle: both hosts have been trying the same ticks for a while (each finding the other's claims), and
        # every claimed tick's sweep message has run on one of the two hosts.
        def settled(claimed: float, elsewhere: float, sweeps: float) -> bool:
            return sweeps == claimed >= TICKS and elsewhere >= TICKS - 2

        while not settled(*(current := counts())):
            assert loop.time() < deadline, current
            await asyncio.sleep(0.1)
    finally:
        for worker in workers:
            worker.stop()

    claims = _claims(workers)
    ticks = [tick for tick, _ in claims]
    assert len(ticks) == len(set(ticks)), f"a tick was swept twice: {sorted(ticks)}"
    claimed, elsewhere, sweeps = counts_at_stop = current
    assert sweeps == claimed >= TICKS, counts_at_stop  # one sweep per claimed tick
    # Both hosts tried the ticks both ran through: each tick the other one claimed, it found taken.
    assert elsewhere >= TICKS - 2, counts_at_stop
    first, last = min(ticks), max(ticks)
    # About one sweep per interval (a loaded machine may let a tick pass unclaimed), never two.
    assert len(ticks) >= (last - first + 1) - 2, sorted(ticks)

"""A worker host as production runs it (`billrun worker`): after a batch, its metrics endpoint shows the
messages, durations and queue depths, and every line it printed is JSON, a job's lines carrying the job id."""

import asyncio
import json
from collections.abc import Iterator

import pytest

import models
from tests.support import billing
from tests.support.api import Api
from tests.support.live_server import free_port
from tests.support.scrape import scrape, total, value
from tests.support.worker import WorkerProcess, others_paused


@pytest.fixture(scope="module")
def host() -> Iterator[tuple[WorkerProcess, int]]:
    """`billrun worker` with two processes, JSON logs and its metrics on a free port, alone on the queues."""
    from workers.broker import broker

    port = free_port()
    with others_paused():
        process = WorkerProcess(processes=2, threads=2, cli=True, env={
            "BILLRUN_LOG_FORMAT": "json", "BILLRUN_WORKER_METRICS_PORT": str(port),
            "BILLRUN_SWEEP_INTERVAL_SECONDS": "0"}).start()
        try:
            yield process, port
        finally:
            process.stop()
            broker.flush_all()


async def _scrape_when(port: int, ready, within: float = 30.0) -> str:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            text = await asyncio.to_thread(scrape, f"http://127.0.0.1:{port}/metrics")
        except Exception:  # the metrics process is still starting
            text = ""
        if text and ready(text):
            return text
        assert asyncio.get_running_loop().time() < deadline, text[-3000:]
        await asyncio.sleep(0.1)


async def test_a_worker_exposes_its_series_after_processing_a_batch(host: tuple[WorkerProcess, int],
                                                                    admin: Api) -> None:
    _, port = host
    await billing.bulk_contracts(admin, 120)  # 3 chunks of 50
    await billing.process(admin, await billing.batch(admin))

    def chunks_counted(text: str) -> bool:
        return value(text, "dramatiq_messages_total", queue_name="billing", actor_name="process_chunk") >= 3

    text = await _scrape_when(port, chunks_counted)
    # Both worker processes write into one directory; the sum is the batch's, whichever process ran what.
    assert value(text, "dramatiq_messages_total", queue_name="billing", actor_name="plan_processing") >= 1
    assert value(text, "dramatiq_message_duration_milliseconds_count", queue_name="billing",
                 actor_name="process_chunk") >= 3
    assert total(text, "dramatiq_message_errors_total", actor_name="process_chunk") == 0
    assert value(text, "dramatiq_messages_inprogress", queue_name="billing", actor_name="process_chunk") == 0
    for state in ("ready", "delayed", "dead"):  # the queue depth, read from the broker
        assert f'billrun_queue_messages{{queue="billing",state="{state}"}}' in text
    assert value(text, "billrun_queue_messages", queue="billing", state="ready") == 0


async def test_a_worker_logs_json_lines_carrying_message_and_job_ids(host: tuple[WorkerProcess, int],
                                                                    admin: Api) -> None:
    process, _ = host
    await billing.bulk_contracts(admin, 60)
    await billing.process(admin, await billing.batch(admin))
    job_id = await models.Job.filter(kind="PROCESS").first().values_list("id", flat=True)

    deadline = asyncio.get_running_loop().time() + 30
    while True:
        lines = [json.loads(line) for line in list(process.log) if line.strip()]  # every line parses
        ours = [line for line in lines if line.get("job_id") == job_id]
        if {line.get("actor") for line in ours} >= {"plan_processing", "process_chunk"}:
            break
        assert asyncio.get_running_loop().time() < deadline, ours
        await asyncio.sleep(0.1)
    for line in lines:
        assert {"timestamp", "level", "logger", "message"} <= set(line), line
    for line in ours:
        assert line["message_id"] and line["actor"] in ("plan_processing", "process_chunk"), line
    # Both the master's lines and the worker processes' are JSON, each with its own process id.
    assert len({line["process"] for line in lines}) >= 3
    assert any(line["logger"] == "dramatiq.MainProcess" for line in lines)

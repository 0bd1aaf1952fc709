"""Commit/send gaps (reliability section `commit_send_gaps`): a job's state is committed first and its message sent
after commit, so a process can die in between. Three gaps, each with a real process killed at a fault point
(`domain.jobs.QUEUED_STEPS`):

- the API process (`billrun serve`) dies *before* the commit of processBillingBatch: nothing of it stays (the
  batch NOT_STARTED, no job, no event) and no message was sent — none without its committed state;
- the API process dies *after* that commit and before publishing: the batch is PROCESSING with a QUEUED job
  whose message was never sent; the sweeper finds it (it reports `jobs_resent`) and the batch is processed once;
- a worker dies after posting's finishing commit and before publishing its follow-ups (SEND and AUTO_PAY
  QUEUED, no message): the sweeper re-sends both, every invoice is e-mailed and charged once.

No batch is left orphaned (every job of every batch finishes) and the broker's queue holds nothing at the end.
"""

import ast
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

import models
from domain import jobs
from tests.reliability.results import record
from tests.support import billing, broker, posting, waiting
from tests.support.api import Api
from tests.support.crash import Crash
from tests.support.live_server import live_server
from tests.support.mailbox import Mailbox
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.usefixtures("alone")

CUSTOMERS = 4
WORKER_SETTINGS = {"BILLRUN_JOB_STALE_AFTER_SECONDS": "2", "BILLRUN_CHUNK_SIZE": "2"}


def _sweeper_reports(worker: WorkerProcess) -> Counter[str]:
    """What the worker's sweeper said it recovered: the sum of its `sweeper: {...}` log lines."""
    total: Counter[str] = Counter()
    for line in worker.log:
        if "sweeper: {" in line:
            start = line.index("sweeper: {") + len("sweeper: ")
            total.update(ast.literal_eval(line[start:line.index("}", start) + 1]))
    return total


async def _queued_messages() -> int:
    """Messages the broker holds for the billing queue (enqueued and not acknowledged)."""
    import redis.asyncio as redis

    from tests.support import environment

    client = redis.Redis.from_url(environment.REDIS_TEST_URL)
    try:
        return int(await client.hlen("dramatiq:billing.msgs")) + int(await client.hlen("dramatiq:billing.DQ.msgs"))
    finally:
        await client.aclose()


async def _api_dies_at(admin: Api, point: str, batch: str, markers: Path) -> None:
    """processBillingBatch through a real API process armed to die at `point`; the request gets no answer."""
    with live_server(BILLRUN_FAULTS=point, BILLRUN_FAULTS_DIR=str(markers)) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            with pytest.raises(httpx.HTTPError):  # the process ended mid-request
                await Api(client, admin.token)(billing.PROCESS, {"id": batch})
    assert (markers / point).exists()


async def test_no_message_without_its_commit_and_no_commit_without_its_message(
        admin: Api, smtp_server: Mailbox, tmp_path: Path) -> None:
    accounts = await posting.company(admin)
    for n in range(CUSTOMERS):
        await posting.customer(admin, accounts, f"GAP-{n}", "40.00", taxLocation="ZERO", autopayEnabled=True,
                               paymentMethodToken="tok_ok")
    batch = await billing.batch(admin, "Gap run")
    batch_id = posting.db_id(batch)
    figures: dict[str, dict] = {}

    # 1. Before commit: nothing stays, nothing was sent.
    await _api_dies_at(admin, "process.queued.before_commit", batch, tmp_path / "before")
    stayed = {"batch_status": (await models.BillingBatch.get(id=batch_id)).status.value,
              "jobs": await models.Job.all().count(),
              "events": await models.Event.filter(type="JOB_QUEUED").count(),
              "messages": await _queued_messages()}
    figures["api_dies_before_commit"] = stayed
    assert stayed == {"batch_status": "NOT_STARTED", "jobs": 0, "events": 0, "messages": 0}

    # 2. After commit, before publishing: committed, no message; the sweeper finds it.
    await _api_dies_at(admin, "process.queued.committed", batch, tmp_path / "after")
    [job] = await models.Job.all()
    assert (job.kind.value, job.status.value) == ("PROCESS", "QUEUED")
    assert (await models.BillingBatch.get(id=batch_id)).status.value == "PROCESSING"
    assert await _queued_messages() == 0  # the message was never sent
    worker = WorkerProcess(env=WORKER_SETTINGS).start()
    try:
        started = time.monotonic()
        await waiting.until(lambda: _jobs_done(batch_id), "the sweeper to recover the lost processing", within=60)
        recovered_in = time.monotonic() - started
    finally:
        worker.stop()
    swept = _sweeper_reports(worker)
    figures["api_dies_after_commit"] = {"sweeper_reported": dict(swept), "recovered_seconds": round(recovered_in, 2)}
    assert swept["jobs_resent"] >= 1
    assert await models.PeriodicBilling.filter(batch_id=batch_id).count() == CUSTOMERS
    assert (await models.BillingBatch.get(id=batch_id)).status.value == "PROCESSED"

    # 3. A worker dies after posting's finishing commit, before its follow-ups' messages are sent.
    crash = Crash(tmp_path / "follow-ups", ["send.queued.committed"], WORKER_SETTINGS)
    victim = crash.victim()
    try:
        await posting.approve_all(admin, batch)
        await admin.mutate("postBillingBatch", posting.POST, {"id": batch, "mode": "SEND"})
        assert await crash.happens(victim) == crash.checkpoints
    finally:
        victim.stop()
    queued = sorted(k.value for k in await models.Job.filter(status="QUEUED").values_list("kind", flat=True))
    assert queued == ["AUTO_PAY", "SEND"]  # committed with POSTED; neither message sent
    replacement = crash.replacement()
    try:
        started = time.monotonic()
        await waiting.until(lambda: _jobs_done(batch_id), "the sweeper to recover the follow-ups", within=90)
        recovered_in = time.monotonic() - started
        await broker.wait_until_handled()
    finally:
        replacement.stop()
    swept = _sweeper_reports(replacement)
    figures["worker_dies_before_follow_ups_sent"] = {"queued_unsent": queued, "sweeper_reported": dict(swept),
                                                     "recovered_seconds": round(recovered_in, 2)}
    assert swept["jobs_resent"] >= 2

    # Nothing lost, duplicated or left behind.
    invoices = await models.Invoice.filter(batch_id=batch_id).count()
    mails = Counter(m.message["Message-ID"] for m in smtp_server.messages)
    charges = await models.SandboxCharge.all().count()
    lost = (CUSTOMERS - invoices) + (CUSTOMERS - len(mails)) + (CUSTOMERS - charges)
    duplicated = sum(n - 1 for n in mails.values()) + max(0, charges - CUSTOMERS) + max(0, invoices - CUSTOMERS)
    leaked = (await models.Job.filter(status__in=jobs.UNFINISHED).count()
              + await models.JobChunk.filter(done_at=None).count() + await _queued_messages())
    kinds = Counter(k.value for k in await models.Job.all().values_list("kind", flat=True))
    figures["jobs"] = dict(kinds)
    record("commit_send_gaps", figures, lost=lost, duplicated=duplicated, leaked=leaked, held=[
        "a process dying before the commit leaves nothing: no batch change, no job, no event, no message",
        "a process dying after the commit and before publishing leaves a QUEUED job the sweeper re-sends "
        "(and reports: jobs_resent)",
        "the batch is processed, posted, e-mailed and charged exactly once; no job, chunk or message left",
    ])
    assert (lost, duplicated, leaked) == (0, 0, 0)
    assert kinds == {"PROCESS": 1, "ANALYZE": 1, "POST": 1, "SEND": 1, "AUTO_PAY": 1}
    assert (await models.BillingBatch.get(id=batch_id)).status.value == "POSTED"


async def _jobs_done(batch_id: int) -> bool:
    unfinished = await models.Job.filter(batch_id=batch_id, status__in=jobs.UNFINISHED).exists()
    return not unfinished and await models.Job.filter(batch_id=batch_id).exists()

"""Crash-proof jobs: a worker killed at each step of the job protocol (`domain.faults` checkpoints: after the plan
commits, inside a chunk before its commit, after a chunk commits, after the last chunk's finishing commits), then
a fresh worker started: the batch completes with exact counts. Recovery is the broker's redelivery of the dead
worker's messages (heartbeat timeout 3 s in the tests) and the sweeper (every second), never a person."""

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import models
from domain import faults, jobs, processing
from tests.support import billing, posting
from tests.support.api import Api
from tests.support.crash import Crash
from tests.support.mailbox import Mailbox
from tests.support.worker import ROOT, WorkerProcess

pytestmark = pytest.mark.usefixtures("alone")  # the test's own workers only, the dead one's leftovers dropped

CUSTOMERS = 10  # monthly from March, billed to May: 3 billings each, plus one one-off billing
# Small chunks, so every job has several; the sweeper re-sends a job nothing moved for 2 s.
WORKER_SETTINGS = {"BILLRUN_CHUNK_SIZE": "4", "BILLRUN_SEND_CHUNK_SIZE": "3", "BILLRUN_JOB_STALE_AFTER_SECONDS": "2"}
WORK_ORDER = """mutation($input: CreateWorkOrderInput!) { createWorkOrder(input: $input) { workOrder { id }
  errors { code } } }"""
MANUAL_CHARGE = """mutation($input: CreateManualChargeInput!) { createManualCharge(input: $input) {
  manualCharge { id } errors { code } } }"""


async def _company(admin: Api) -> None:
    accounts = await posting.company(admin)
    first = None
    for n in range(CUSTOMERS):
        account = await posting.customer(admin, accounts, f"CR-{n:02}", "25.00", start="2026-03-01",
                                         taxLocation="ZERO", autopayEnabled=True, paymentMethodToken="tok_ok")
        first = first or account
    # Pre-billing findings: an open work order stays unbilled (its finding stays); two identical manual charges
    # are billed (their duplicate finding must go when the analysis runs again after processing).
    await admin.mutate("createWorkOrder", WORK_ORDER, {"input": {
        "accountId": first, "description": "Open job", "performedOn": "2026-04-20"}})
    for _ in range(2):
        await admin.mutate("createManualCharge", MANUAL_CHARGE, {"input": {
            "accountId": first, "description": "Fee", "chargeDate": "2026-04-02", "amount": "12.00",
            "revenueAccountId": accounts["revenue"]}})


async def _jobs_done(batch_id: int, within: float = 120) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while await models.Job.filter(batch_id=batch_id, status__in=jobs.UNFINISHED).exists():
        assert asyncio.get_running_loop().time() < deadline, await models.Job.filter(batch_id=batch_id).values(
            "kind", "status", "progress_done", "progress_total")
        await asyncio.sleep(0.1)


async def _job(batch_id: int, kind: str) -> models.Job:
    [job] = await models.Job.filter(batch_id=batch_id, kind=kind)
    return job


async def _processed_exactly(batch_id: int) -> None:
    """One billing per contract period and one one-off billing, each line once, finishing done once, the analysis
    run again after processing."""
    rows = await models.PeriodicBilling.filter(batch_id=batch_id).values_list("contract_id", "period_start")
    contract_periods = [row for row in rows if row[0] is not None]
    assert len(contract_periods) == len(set(contract_periods)) == CUSTOMERS * 3
    assert len(rows) == CUSTOMERS * 3 + 1
    assert await models.BillingDetail.filter(billing__batch_id=batch_id).count() == CUSTOMERS * 3 + 2
    assert await models.ManualCharge.exclude(billed_on_id=None).count() == 2
    assert (await models.BillingBatch.get(id=batch_id)).status == "PROCESSED"
    process = await _job(batch_id, "PROCESS")
    assert process.status == "SUCCEEDED" and process.progress_done == process.progress_total == CUSTOMERS + 1
    assert await models.JobChunk.filter(job_id=process.id, done_at=None).count() == 0
    assert await models.Audit.filter(entity="BillingBatch", after="PROCESSED").count() == 1
    assert (await _job(batch_id, "ANALYZE")).status == "SUCCEEDED"
    assert await models.Finding.filter(batch_id=batch_id, billing_id=None).values_list("kind", flat=True) == [
        "WORK_ORDER_OPEN"]


async def _posted_exactly(batch_id: int, smtp_server: Mailbox) -> None:
    """One invoice per billing with gap-free numbers, one journal entry each, finishing done once; the follow-ups
    ran: one delivery per invoice (one e-mail each), one successful charge per invoice."""
    invoiced = CUSTOMERS * 3 + 1
    invoices = await models.Invoice.filter(batch_id=batch_id).values_list("billing_id", "number")
    assert len(invoices) == len({b for b, _ in invoices}) == invoiced
    assert sorted(int(n.removeprefix("INV-")) for _, n in invoices) == list(range(1, invoiced + 1))
    assert await models.PeriodicBilling.filter(batch_id=batch_id, status="INVOICED").count() == invoiced
    assert await models.JournalEntry.filter(batch_id=batch_id, payment_id=None).count() == invoiced
    assert (await models.BillingBatch.get(id=batch_id)).status == "POSTED"
    assert await models.Audit.filter(entity="BillingBatch", after="POSTED").count() == 1
    kinds = Counter(await models.Job.filter(batch_id=batch_id).values_list("kind", flat=True))
    assert kinds == {"PROCESS": 1, "ANALYZE": 1, "POST": 1, "SEND": 1, "AUTO_PAY": 1}
    for kind in ("POST", "SEND", "AUTO_PAY"):
        job = await _job(batch_id, kind)
        assert job.status == "SUCCEEDED" and job.progress_done == job.progress_total == invoiced, (kind, job)
    deliveries = await models.Delivery.all().values_list("invoice_id", "status")
    assert len(deliveries) == len({i for i, _ in deliveries}) == invoiced and {s for _, s in deliveries} == {"SENT"}
    assert len({m.message["Message-ID"] for m in smtp_server.messages}) == len(smtp_server.messages) == invoiced
    payments = await models.Payment.all().values_list("invoice_id", "status")
    assert len(payments) == len({i for i, _ in payments}) == invoiced and {s for _, s in payments} == {"SUCCEEDED"}
    assert await models.SandboxCharge.all().count() == invoiced
    assert await models.Invoice.filter(batch_id=batch_id, status="PAID").count() == invoiced
    assert await models.JournalEntry.filter(batch_id=batch_id).exclude(payment_id=None).count() == invoiced


@pytest.mark.parametrize("step", jobs.STEPS)
async def test_processing_completes_exactly_after_a_crash(step: str, admin: Api, tmp_path: Path) -> None:
    await _company(admin)
    crash = Crash(tmp_path / "faults", [f"process.{step}"], WORKER_SETTINGS)
    victim = crash.victim()
    try:
        batch = await billing.batch(admin)
        await admin.mutate("processBillingBatch", billing.PROCESS, {"id": batch})
        assert await crash.happens(victim) == crash.checkpoints
    finally:
        victim.stop()
    replacement = crash.replacement()
    try:
        await _jobs_done(posting.db_id(batch))
    finally:
        replacement.stop()
    await _processed_exactly(posting.db_id(batch))


@pytest.mark.parametrize("kind", ("post", "send"))
@pytest.mark.parametrize("step", jobs.STEPS)
async def test_posting_and_sending_complete_exactly_after_a_crash(kind: str, step: str, admin: Api,
                                                                  smtp_server: Mailbox, tmp_path: Path) -> None:
    await _company(admin)
    crash = Crash(tmp_path / "faults", [f"{kind}.{step}"], WORKER_SETTINGS)
    victim = crash.victim()  # it processes the batch too: its fault point is further on
    try:
        batch = await posting.processed(admin, "Crash run")
        await posting.approve_all(admin, batch)
        await admin.mutate("postBillingBatch", posting.POST, {"id": batch, "mode": "SEND"})
        assert await crash.happens(victim) == crash.checkpoints
    finally:
        victim.stop()
    replacement = crash.replacement()
    try:
        await _jobs_done(posting.db_id(batch))
    finally:
        replacement.stop()
    await _posted_exactly(posting.db_id(batch), smtp_server)


async def test_the_export_queued_by_posting_runs_after_a_crash_right_after_posting(admin: Api,
                                                                                   tmp_path: Path) -> None:
    await _company(admin)
    crash = Crash(tmp_path / "faults", ["post.finish.committed"], WORKER_SETTINGS)
    victim = crash.victim()
    try:
        batch = await posting.processed(admin, "Export run")
        await posting.approve_all(admin, batch)
        await admin.mutate("postBillingBatch", posting.POST, {"id": batch, "mode": "EXPORT"})
        assert await crash.happens(victim) == crash.checkpoints
    finally:
        victim.stop()
    batch_id = posting.db_id(batch)
    assert (await _job(batch_id, "EXPORT")).status == "QUEUED"  # committed with POSTED, its message never sent
    replacement = crash.replacement()
    try:
        await _jobs_done(batch_id)
    finally:
        replacement.stop()
    export = await _job(batch_id, "EXPORT")
    assert export.status == "SUCCEEDED" and export.progress_done == export.progress_total == 2
    assert sorted(await models.Export.filter(batch_id=batch_id).values_list("format", flat=True)) == [
        "INVOICES_CSV", "JOURNAL_CSV"]


async def test_a_running_job_whose_chunk_messages_were_lost_is_planned_again(admin: Api) -> None:
    from workers.broker import broker

    await _company(admin)
    batch = await billing.batch(admin)
    payload = await admin.mutate("processBillingBatch", billing.PROCESS, {"id": batch})
    job_id = posting.db_id(payload["job"]["id"])
    assert (await models.Job.get(id=job_id)).updated_at.year > 1970  # its heartbeat starts with it
    await jobs.plan(processing.JOB, job_id)  # planned (RUNNING, chunks created, their messages sent) ...
    broker.flush_all()  # ... and every message lost
    assert (await models.Job.get(id=job_id)).status == "RUNNING"
    assert await models.JobChunk.filter(job_id=job_id, done_at=None).count() == 2
    worker = WorkerProcess(env={"BILLRUN_JOB_STALE_AFTER_SECONDS": "1"}).start()
    try:
        await _jobs_done(posting.db_id(batch))
    finally:
        worker.stop()
    await _processed_exactly(posting.db_id(batch))


def _run_armed(script: str, armed: str, markers: Path) -> subprocess.CompletedProcess:
    """Run `script` in a fresh Python process with `armed` fault points, markers in `markers`."""
    env = dict(os.environ, BILLRUN_FAULTS=armed, BILLRUN_FAULTS_DIR=str(markers))
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_a_fault_point_ends_the_process_once_and_only_where_armed(tmp_path: Path) -> None:
    script = "from domain import faults; faults.checkpoint('demo.step'); print('went on')"

    def run(armed: str) -> subprocess.CompletedProcess:
        return _run_armed(script, armed, tmp_path)

    assert run("other.step").stdout.strip() == "went on"
    first = run("other.step, demo.step")
    assert first.returncode == faults.KILLED and "went on" not in first.stdout
    assert "checkpoint demo.step reached" in first.stderr
    again = run("demo.step")  # the marker remembers: a restarted process goes on
    assert again.returncode == 0 and again.stdout.strip() == "went on"


def test_every_chunked_kind_names_its_fault_points() -> None:
    from domain import accounting_export, credit_notes, payments, sending
    from domain import posting as posting_domain

    kinds = {k.kind for k in (processing.JOB, posting_domain.JOB, sending.JOB, accounting_export.JOB, payments.JOB,
                              credit_notes.JOB)}
    assert kinds == set(jobs.CHUNKED_KINDS)
    assert "send.chunk.before_commit" in jobs.checkpoints() and len(jobs.checkpoints()) == len(kinds) * 4


def test_an_ordinal_fault_point_ends_the_process_at_its_kth_reach_counted_across_processes(tmp_path: Path) -> None:
    script = "from domain import faults\nfor n in (1, 2, 3):\n    faults.checkpoint('demo.step'); print(n, flush=True)"

    def run(armed: str) -> subprocess.CompletedProcess:
        return _run_armed(script, armed, tmp_path)

    first = run("demo.step#2,demo.step#5")
    assert first.returncode == faults.KILLED and first.stdout.split() == ["1"]  # died at the 2nd reach
    second = run("demo.step#2,demo.step#5")  # reaches 3 and 4 go on, the 5th ends it
    assert second.returncode == faults.KILLED and second.stdout.split() == ["1", "2"]
    third = run("demo.step#2,demo.step#5")  # both fired: it runs through
    assert third.returncode == 0 and third.stdout.split() == ["1", "2", "3"]
    assert (tmp_path / "demo.step#2").exists() and (tmp_path / "demo.step#5").exists()

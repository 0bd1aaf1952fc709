"""Safe to retry: a chunk delivered twice and a worker killed mid-batch still give one billing per contract period."""

import asyncio
import os
import signal

import pytest
from strawberry.relay import from_base64

import models
from domain import jobs
from tests.support import billing, broker
from tests.support.api import Api
from tests.support.worker import WorkerProcess


async def _one_billing_per_contract_period(batch_gid: str, contracts: int, periods: int) -> None:
    batch_id = int(from_base64(batch_gid)[1])
    rows = await models.PeriodicBilling.filter(batch_id=batch_id).values_list("contract_id", "period_start")
    assert len(rows) == len(set(rows)) == contracts * periods
    details = await models.BillingDetail.filter(billing__batch_id=batch_id).count()
    assert details == contracts * periods


@pytest.mark.usefixtures("worker")
async def test_chunk_messages_delivered_twice_change_nothing(admin: Api) -> None:
    await billing.bulk_contracts(admin, 120)  # 3 chunks of 50
    batch = await billing.batch(admin)
    job = await billing.process(admin, batch)
    assert job["progressDone"] == job["progressTotal"] == 120
    job_id = await models.Job.filter(kind="PROCESS").first().values_list("id", flat=True)
    chunk_numbers = await models.JobChunk.filter(job_id=job_id).values_list("chunk_no", flat=True)
    assert len(chunk_numbers) == 3
    for chunk_no in chunk_numbers:  # the broker delivers every chunk once more
        jobs.send(jobs.PROCESS_CHUNK, job_id=job_id, chunk_no=chunk_no)
    jobs.send(jobs.PLAN_PROCESSING, job_id=job_id)
    await broker.wait_until_handled()  # every duplicate was delivered and handled
    await _one_billing_per_contract_period(batch, 120, 3)
    assert (await models.Job.get(id=job_id)).progress_done == 120


@pytest.mark.usefixtures("alone")
async def test_worker_killed_mid_batch_and_restarted(admin: Api) -> None:
    await billing.bulk_contracts(admin, 1500)  # 30 chunks of 50
    victim = WorkerProcess(processes=1, threads=2).start()
    batch = await billing.batch(admin)
    payload = await admin.mutate("processBillingBatch", billing.PROCESS, {"id": batch})
    job_gid = payload["job"]["id"]
    while (await admin.ok(billing.JOB, {"id": job_gid}))["job"]["progressDone"] < 100:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    # Kill the master and its worker process hard, mid-batch: no graceful shutdown, no acks.
    for line in victim.log:
        if "[PID " in line:
            os.kill(int(line.split("[PID ")[1].split("]")[0]), signal.SIGKILL) if _alive(line) else None
    victim.proc.kill()
    victim.proc.wait()
    done_at_kill = (await admin.ok(billing.JOB, {"id": job_gid}))["job"]["progressDone"]
    assert done_at_kill < 1500, "the batch finished before the kill; make it bigger"
    replacement = WorkerProcess(processes=1, threads=2).start()
    try:
        job = await billing.wait_for_job(admin, job_gid, within=180)
    finally:
        replacement.stop()
    assert job["status"] == "SUCCEEDED" and job["progressDone"] == 1500
    await _one_billing_per_contract_period(batch, 1500, 3)


def _alive(line: str) -> bool:
    pid = int(line.split("[PID ")[1].split("]")[0])
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True

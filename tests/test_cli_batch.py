"""`billrun batch …` in production's shape: a real `billrun serve` API process and a separate Dramatiq worker
process on PostgreSQL and Redis; the command follows the job's events across processes and says how it ended."""

import asyncio
import re

import pytest

from billrun.client import ExitCode
from tests.support import billing, cli, posting
from tests.support.api import Api
from tests.support.live_server import live_server

pytestmark = pytest.mark.usefixtures("worker")


async def _batch(port: int, admin: Api, *args: str) -> cli.Run:
    return await asyncio.to_thread(cli.batch, port, admin.token, *args)


async def test_process_wait_follows_a_worker_s_job_then_post_and_export(admin: Api) -> None:
    await billing.bulk_contracts(admin, 120)  # three chunks of BILLRUN_CHUNK_SIZE
    await posting.receivable_and_cash(admin)
    with live_server() as port:
        created = await _batch(port, admin, "create", "--name", "Worker run", "--invoice-date", "2026-05-01",
                               "--json")
        assert created.code == ExitCode.OK, created.stderr
        code = created.json()["billingBatch"]["code"]

        run = await _batch(port, admin, "process", code, "--wait")

        assert run.code == ExitCode.OK, run.stderr
        assert f"{code}  Worker run  PROCESSED" in run.stdout
        billings = re.search(r"billings +(\d+) \(NEW (\d+)\), total ([\d.]+)", run.stdout)
        assert billings and billings[1] == billings[2] and int(billings[1]) % 120 == 0, run.stdout
        assert int(billings[1]) * 25 == float(billings[3])  # 25.00 a contract period, no tax
        frame = re.search(cli.BAR_FRAME.format(label="Processing"), run.stderr)
        assert frame and frame[1] == frame[2], run.stderr
        await billing.jobs_done(admin, created.json()["billingBatch"]["id"])  # the analysis it queued

        refused = await _batch(port, admin, "post", code, "--mode", "EXPORT", "--json")
        assert refused.code == ExitCode.REFUSED
        assert refused.json()["errors"][0]["code"] == "BILLINGS_NOT_DISPOSITIONED"
        await admin.mutate("massUpdateBillingStatus", """mutation($id: ID!) { massUpdateBillingStatus(input:
          {batchId: $id, status: APPROVED}) { changedCount errors { code } } }""",
                           {"id": created.json()["billingBatch"]["id"]})
        posted = await _batch(port, admin, "post", code, "--mode", "EXPORT", "--wait", "--json")
        assert posted.code == ExitCode.OK, posted.stderr
        assert posted.json()["job"]["status"] == "SUCCEEDED"
        assert posted.json()["billingBatch"]["status"] == "POSTED"
        assert posted.json()["billingBatch"]["summary"]["invoiceCount"] == int(billings[1])

        exported = await _batch(port, admin, "export", code, "--format", "INVOICES_CSV", "--output", "-")
        assert exported.code == ExitCode.OK, exported.stderr
        assert exported.stdout.count("\n") == int(billings[1]) + 1  # a header and a line per invoice
        await billing.jobs_done(admin, created.json()["billingBatch"]["id"])


async def test_a_failed_job_exits_4_with_its_error(admin: Api) -> None:
    accounts = await billing.books(admin)
    await billing.unwritable_contract(admin, accounts)  # its processing fails on every delivery
    batch = await billing.batch(admin)
    with live_server() as port:
        run = await _batch(port, admin, "process", batch, "--wait")
    assert run.code == ExitCode.JOB_FAILED, run.stderr
    assert "PROCESS job FAILED" in run.stderr and "overflow" in run.stderr.lower()
    assert "FAILED" in run.stdout and "PROCESS_FAILED" in run.stdout  # the summary, with its notification
    await billing.jobs_done(admin, batch)

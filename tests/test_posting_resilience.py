"""Posting is safe under concurrency and crashes: gap-free invoice numbers with two batches posting at once, and a
worker killed mid-posting and restarted leaves no invoice, journal entry or charge duplicated."""

import asyncio

import pytest

import models
from tests.support import billing, posting
from tests.support.api import Api
from tests.support.mailbox import Mailbox
from tests.support.worker import WorkerProcess


async def _customers(admin: Api, accounts: dict, prefix: str, count: int, group: str, **fields: object) -> None:
    for n in range(count):
        await posting.customer(admin, accounts, f"{prefix}-{n:03}", "10.00", taxLocation="ZERO", billGroup=group,
                               **fields)


def _gap_free(numbers: list[str]) -> None:
    values = sorted(int(n.removeprefix("INV-")) for n in numbers)
    assert values == list(range(1, len(numbers) + 1)), "invoice numbers have gaps or duplicates"


@pytest.mark.usefixtures("worker")
async def test_two_batches_posting_at_once_share_one_gap_free_sequence(admin: Api) -> None:
    accounts = await posting.company(admin)
    await _customers(admin, accounts, "A", 120, "GA")  # 3 chunks of 50 each
    await _customers(admin, accounts, "B", 120, "GB")
    first = await posting.processed(admin, "Group A", billGroup="GA")
    second = await posting.processed(admin, "Group B", billGroup="GB")
    for batch in (first, second):
        await posting.approve_all(admin, batch)
    jobs = await asyncio.gather(*(admin.mutate("postBillingBatch", posting.POST, {"id": b, "mode": "EXPORT"})
                                  for b in (first, second)))
    for payload in jobs:
        assert (await billing.wait_for_job(admin, payload["job"]["id"]))["status"] == "SUCCEEDED"
    for batch in (first, second):
        await posting.follow_ups_done(admin, batch)
    numbers = await models.Invoice.all().values_list("number", flat=True)
    assert len(numbers) == 240
    _gap_free(numbers)
    # Chunks of both batches interleaved on the one sequence: neither batch holds a contiguous block alone.
    assert await models.Invoice.filter(batch_id=posting.db_id(first)).count() == 120
    assert await models.JournalEntry.filter(payment_id=None).count() == 240


@pytest.mark.usefixtures("alone")
async def test_worker_killed_mid_posting_and_restarted_duplicates_nothing(admin: Api, smtp_server: Mailbox) -> None:
    accounts = await posting.company(admin)
    await _customers(admin, accounts, "K", 300, "GK", autopayEnabled=True, paymentMethodToken="tok_ok")
    victim = WorkerProcess(processes=1, threads=2).start()
    try:
        batch = await posting.processed(admin, "Kill run", billGroup="GK")
        await posting.approve_all(admin, batch)
        payload = await admin.mutate("postBillingBatch", posting.POST, {"id": batch, "mode": "SEND"})
        job_gid = payload["job"]["id"]
        while (await admin.ok(billing.JOB, {"id": job_gid}))["job"]["progressDone"] < 50:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    finally:
        victim.kill()  # hard, mid-posting: no graceful shutdown, no acks
    done_at_kill = (await admin.ok(billing.JOB, {"id": job_gid}))["job"]["progressDone"]
    assert done_at_kill < 300, "the posting finished before the kill; make it bigger"
    replacement = WorkerProcess(processes=1, threads=2).start()
    try:
        assert (await billing.wait_for_job(admin, job_gid, within=180))["status"] == "SUCCEEDED"
        found = await posting.follow_ups_done(admin, batch, within=180)
    finally:
        replacement.stop()
    assert found["status"] == "POSTED" and found["summary"]["invoiceCount"] == 300
    numbers = await models.Invoice.all().values_list("number", flat=True)
    assert len(numbers) == len(set(numbers)) == 300
    _gap_free(numbers)
    assert await models.JournalEntry.filter(payment_id=None).count() == 300
    assert await models.Delivery.filter(status="SENT").count() == 300
    assert len({m.message["Message-ID"] for m in smtp_server.messages}) == 300
    # Every invoice charged exactly once: one payment each, one sandbox charge per key, all paid.
    assert await models.Payment.filter(status="SUCCEEDED").count() == 300
    assert await models.SandboxCharge.all().count() == 300
    assert await models.Invoice.filter(status="PAID").count() == 300
    assert await models.JournalEntry.exclude(payment_id=None).count() == 300


@pytest.mark.usefixtures("worker")
async def test_an_invoice_is_emailed_once_even_when_two_workers_send_it(admin: Api, smtp_server: Mailbox) -> None:
    from domain import sending

    accounts = await posting.company(admin)
    await posting.customer(admin, accounts, "ONCE", "10.00", taxLocation="ZERO")
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "EXPORT")  # invoices, no e-mail yet
    [outgoing] = await sending.documents(await models.Invoice.all().values_list("id", flat=True))
    # Two deliveries of the same invoice at once (a chunk redelivered while the first still runs).
    await asyncio.gather(sending.deliver(None, outgoing), sending.deliver(None, outgoing))
    assert len(smtp_server.to("once@example.com")) == 1
    assert await models.Delivery.filter(status="SENT").count() == 1


@pytest.mark.usefixtures("worker")
async def test_a_send_whose_worker_died_is_reported_not_repeated(admin: Api) -> None:
    from datetime import timedelta

    from domain import clock

    accounts = await posting.company(admin)
    await posting.customer(admin, accounts, "STUCK", "10.00", taxLocation="ZERO")
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "EXPORT")
    invoice = await models.Invoice.get()
    # What a worker killed between its claim and the SMTP answer leaves behind.
    claim = await models.Delivery.create(invoice=invoice, channel="SMTP", recipient="stuck@example.com",
                                         status="SENDING")
    await models.Delivery.filter(id=claim.id).update(created_at=clock.now() - timedelta(minutes=11))
    deadline = asyncio.get_running_loop().time() + 30
    while (await models.Delivery.get(id=claim.id)).status == "SENDING":  # the worker's sweeper runs every second
        assert asyncio.get_running_loop().time() < deadline, "the sweeper did not settle the stuck delivery"
        await asyncio.sleep(0.2)
    found = (await admin.ok(posting.BATCH, {"id": batch}))["billingBatch"]
    assert [n["kind"] for n in found["notifications"]] == ["DELIVERY_UNKNOWN"]
    assert [b["kind"] for b in found["completion"]["blockers"]] == ["OPEN_NOTIFICATION"]

"""A real Dramatiq worker process consumes the real Redis broker and runs the domain."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

import models
from tests.support.worker import WorkerProcess


async def _eventually(check, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the worker did not do the work in time"
        await asyncio.sleep(0.1)


async def test_worker_process_runs_an_actor_against_the_database(worker: WorkerProcess) -> None:
    from workers.actors import purge_expired

    old = datetime.now(UTC) - timedelta(days=60)
    await models.LoginAttempt.create(email="old@example.com", succeeded=False, at=old)
    await models.LoginAttempt.create(email="new@example.com", succeeded=False, at=datetime.now(UTC))
    purge_expired.send()
    purge_expired.send()  # delivered twice: the second run finds nothing left to do

    async def only_recent_left() -> bool:
        return await models.LoginAttempt.all().values_list("email", flat=True) == ["new@example.com"]

    await _eventually(only_recent_left)


@pytest.mark.usefixtures("alone")  # this worker alone, so its output is the whole story
async def test_a_transient_gateway_error_logs_one_warning_per_retry_and_no_traceback(admin, smtp_server) -> None:
    """`tok_error` fails transiently twice, then succeeds: two WARNING lines, each naming the attempt; the
    retries are expected, so the worker logs no ERROR and no traceback."""
    from tests.support import posting

    accounts = await posting.company(admin)
    await posting.customer(admin, accounts, "FLAKY", "30.00", taxLocation="ZERO", autopayEnabled=True,
                           paymentMethodToken="tok_error")
    own = WorkerProcess(processes=1, threads=2).start()
    try:
        batch = await posting.processed(admin)
        await posting.approve_all(admin, batch)
        await posting.post(admin, batch, "EXPORT")
    finally:
        own.stop()
    payment = await models.Payment.get()
    assert payment.status == "SUCCEEDED" and payment.attempts == 3
    output = "".join(own.log)
    assert "Traceback" not in output
    assert "[ERROR]" not in output and "[CRITICAL]" not in output
    warnings = [line for line in own.log if "[WARNING]" in line and f"payment {payment.id})" in line]
    assert len(warnings) == 2, warnings
    assert ["attempt 1 of 4" in warnings[0], "attempt 2 of 4" in warnings[1]] == [True, True]

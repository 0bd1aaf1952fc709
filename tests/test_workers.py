"""A real Dramatiq worker process consumes the real Redis broker and runs the domain."""

import asyncio
from datetime import UTC, datetime, timedelta

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

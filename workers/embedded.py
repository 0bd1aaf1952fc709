"""The embedded default's in-process worker: Dramatiq's Worker on the StubBroker, actors on the API's loop."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dramatiq
from dramatiq.asyncio import set_event_loop_thread

from domain import jobs
from workers.broker import AppLoop, broker


@asynccontextmanager
async def in_process_worker(threads: int = 2) -> AsyncIterator[dramatiq.Worker]:
    """Run a Worker for the lifetime of the API process (embedded mode only)."""
    import workers.actors  # noqa: F401 - declare the actors

    set_event_loop_thread(AppLoop(asyncio.get_running_loop()))  # type: ignore[arg-type]
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    await jobs.resend_unfinished()
    try:
        yield worker
    finally:
        await asyncio.to_thread(worker.stop)
        set_event_loop_thread(None)

"""The embedded default's in-process worker: Dramatiq's Worker on the StubBroker, actors on the API's loop."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dramatiq
from dramatiq.asyncio import set_event_loop_thread

from billrun.settings import get_settings
from domain import housekeeping, jobs, schedules, webhooks
from workers.broker import AppLoop, broker

log = logging.getLogger("billrun.workers")


async def _sweep_every(seconds: int) -> None:
    """The embedded default's sweeper, purge and scheduler, as `billrun worker` runs them: on the API's loop,
    every `seconds` (0: never)."""
    while seconds > 0:
        await asyncio.sleep(seconds)
        for task in (housekeeping.sweep, housekeeping.purge_expired, schedules.run_due):
            try:
                await task()
            except Exception:  # logged; the next tick tries again
                log.exception("%s failed", task.__name__)


async def _dispatch_webhooks_every(seconds: float) -> None:
    """The embedded default's webhook dispatcher, on the API's loop: its messages run on the in-process worker."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await webhooks.dispatch()
        except Exception:  # logged; the next tick tries again
            log.exception("webhook dispatch failed")


@asynccontextmanager
async def in_process_worker(threads: int = 2) -> AsyncIterator[dramatiq.Worker]:
    """Run a Worker for the lifetime of the API process (embedded mode only)."""
    import workers.actors  # noqa: F401 - declare the actors

    # AppLoop stands in for dramatiq's EventLoopThread, of which dramatiq calls only `run_coroutine`.
    set_event_loop_thread(AppLoop(asyncio.get_running_loop()))  # type: ignore[arg-type]  # duck-typed stand-in
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    await jobs.resend_unfinished()
    sweeper = asyncio.create_task(_sweep_every(get_settings().sweep_interval_seconds))
    dispatcher = asyncio.create_task(_dispatch_webhooks_every(get_settings().webhook_poll_seconds))
    try:
        yield worker
    finally:
        sweeper.cancel()
        dispatcher.cancel()
        await asyncio.to_thread(worker.stop)
        set_event_loop_thread(None)

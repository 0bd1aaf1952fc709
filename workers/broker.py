"""The Dramatiq broker: Redis in production, in-process on the embedded default.

Both modes declare the same async actors. On Redis, dramatiq's AsyncIO middleware runs them on its event loop
thread, where `AsyncOrm` opens Tortoise once per worker process. Embedded, `AppLoop` runs them on the API's
own event loop, which already holds the ORM (see `workers.embedded`).
"""

import asyncio
import logging
import threading

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from billrun import db, wakeups
from billrun.settings import Settings, get_settings

log = logging.getLogger("billrun.workers")


class AsyncOrm(AsyncIO):
    """dramatiq's event loop thread, with the ORM opened on it when a worker process boots and closed
    before the loop stops (one middleware, so the order of the two can never be wrong)."""

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        super().before_worker_boot(broker, worker)
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None
        loop_thread.run_coroutine(db.init())
        log.info("ORM ready in worker process")

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is not None and loop_thread.loop.is_running():
            loop_thread.run_coroutine(wakeups.close())  # the event wake-ups' Redis client of this loop
            loop_thread.run_coroutine(db.close())
        super().after_worker_shutdown(broker, worker)


class Sweeper(dramatiq.Middleware):
    """Every `sweep_interval_seconds`, each worker process enqueues the sweeper and the purge (both are
    idempotent, so several hosts doing it is harmless); 0 turns it off."""

    def __init__(self, interval_seconds: int) -> None:
        self.interval = interval_seconds
        self.stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self.interval > 0:
            threading.Thread(target=self._run, args=(broker,), name="billrun-sweeper", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.stop.set()

    def _run(self, broker: dramatiq.Broker) -> None:
        while not self.stop.wait(self.interval):
            for actor in ("sweep", "purge_expired"):
                try:
                    broker.enqueue(dramatiq.Message(queue_name="housekeeping", actor_name=actor, args=(),
                                                    kwargs={}, options={}))
                except Exception:  # the broker is down for a moment: try at the next tick
                    log.exception("could not enqueue %s", actor)


class AppLoop:
    """Stands in for dramatiq's event loop thread: runs actor coroutines on the API's running loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run_coroutine(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


def build_broker(settings: Settings) -> dramatiq.Broker:
    if settings.embedded:
        broker: dramatiq.Broker = StubBroker()
        broker.emit_after("process_boot")  # a hand-started Worker enforces time limits only after this
    else:
        broker = RedisBroker(url=settings.redis_url, heartbeat_timeout=settings.broker_heartbeat_timeout_ms,
                             maintenance_chance=settings.broker_maintenance_chance)
        broker.add_middleware(AsyncOrm())
        broker.add_middleware(Sweeper(settings.sweep_interval_seconds))
    return broker


# Actors bind to the broker at declaration: set it before any actor module is imported.
broker = build_broker(get_settings())
dramatiq.set_broker(broker)

"""The Dramatiq broker: Redis or RabbitMQ in production, in-process on the embedded default.

Every mode declares the same async actors. With a real broker, dramatiq's AsyncIO middleware runs them on its
event loop thread, where `AsyncOrm` opens Tortoise once per worker process. Embedded, `AppLoop` runs them on the
API's own event loop, which already holds the ORM (see `workers.embedded`). `BILLRUN_BROKER_URL=amqp://…` selects
RabbitMQ; otherwise the broker is the Redis of REDIS_URL (or of a `redis://` BILLRUN_BROKER_URL).
"""

import asyncio
import contextvars
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import dramatiq
import redis
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.broker import MessageProxy
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import current_millis
from dramatiq.middleware import AsyncIO

from billrun import db, logs, metrics, wakeups
from billrun.settings import Settings, get_settings

T = TypeVar("T")

log = logging.getLogger("billrun.workers")


class AsyncOrm(AsyncIO):
    """dramatiq's event loop thread, with the ORM opened on it when a worker process boots and closed
    before the loop stops (one middleware, so the order of the two can never be wrong)."""

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        super().before_worker_boot(broker, worker)  # type: ignore[no-untyped-call]  # dramatiq: unannotated
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None
        loop_thread.run_coroutine(db.init())
        log.info("ORM ready in worker process")

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is not None and loop_thread.loop.is_running():
            loop_thread.run_coroutine(wakeups.close())  # the event wake-ups' Redis client of this loop
            loop_thread.run_coroutine(db.close())
        super().after_worker_shutdown(broker, worker)  # type: ignore[no-untyped-call]  # dramatiq: unannotated


class Sweeper(dramatiq.Middleware):
    """Runs the sweeper, the purge and the scheduler once per `interval_seconds` across every worker host (0:
    never); the same schedule, named otherwise, sends the webhook dispatcher (`Sweeper.webhooks`).

    Ticks fall on the wall clock's multiples of the interval, the same instants on every host. At each tick every
    worker process tries to claim it in Redis (`SET billrun:<name>:<interval>:<tick> NX PX`); the one that gets
    the key enqueues `sweep`, `purge_expired` and `run_schedules`, the others let it be. Without Redis (RabbitMQ
    and no REDIS_URL) each process enqueues them: all are idempotent (the scheduler by a unique key), so that only
    costs work."""

    def __init__(self, interval_seconds: float, lock_url: str | None, *, name: str = "sweeper",
                 actors: tuple[tuple[str, str], ...] = (("housekeeping", "sweep"), ("housekeeping", "purge_expired"),
                                                         ("housekeeping", "run_schedules")),
                 counted: bool = True) -> None:
        self.interval = interval_seconds
        self.lock_url = lock_url
        self.name, self.actors, self.counted = name, actors, counted  # counted: billrun_sweeper_ticks_total
        self.stop = threading.Event()
        self.owner = f"{socket.gethostname()}:{os.getpid()}"

    @classmethod
    def webhooks(cls, interval_seconds: float, lock_url: str | None) -> "Sweeper":
        """Sends `dispatch_webhooks` once per tick across every worker host."""
        from domain import webhooks

        return WebhookTicker(interval_seconds, lock_url, name="webhooks",
                             actors=((webhooks.QUEUE, webhooks.DISPATCH),), counted=False)

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self.interval > 0:
            self.owner = f"{socket.gethostname()}:{os.getpid()}"
            threading.Thread(target=self._run, args=(broker,), name=f"billrun-{self.name}", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.stop.set()

    def _run(self, broker: dramatiq.Broker) -> None:
        client = redis.Redis.from_url(self.lock_url, socket_timeout=5) if self.lock_url else None
        if client is None:
            log.warning("no Redis for the %s's lock: every worker process runs it", self.name)
        try:
            while True:
                tick = int(time.time() // self.interval) + 1
                if self.stop.wait(max(0.0, tick * self.interval - time.time())):
                    return
                if self._claim(client, tick):
                    self._enqueue(broker, tick)
        finally:
            if client is not None:
                client.close()

    def _claim(self, client: redis.Redis | None, tick: int) -> bool:
        if client is None:
            return True
        try:
            # The key outlives the tick so that a host whose clock runs a little late cannot claim it again.
            claimed = client.set(f"billrun:{self.name}:{self.interval}:{tick}", self.owner, nx=True,
                                 px=int(max(2_000, 2_000 * self.interval)))
        except redis.RedisError:  # Redis is down for a moment: whoever reaches it at the next tick sweeps
            self._count("failed")
            log.warning("%s tick %d: Redis is unreachable, skipped", self.name, tick)
            return False
        self._count("claimed" if claimed else "elsewhere")
        return bool(claimed)

    def _count(self, outcome: str) -> None:
        if self.counted:
            metrics.sweeper_ticks.labels(outcome).inc()

    def _enqueue(self, broker: dramatiq.Broker, tick: int) -> None:
        for queue, actor in self.actors:
            try:
                broker.enqueue(dramatiq.Message(queue_name=queue, actor_name=actor, args=(), kwargs={}, options={}))
            except Exception:  # the broker is down for a moment: the next tick tries again
                log.exception("could not enqueue %s", actor)
        if self.counted:  # the webhook ticks come every second or so: not worth a line each
            log.info("%s tick %d claimed by %s: %s enqueued", self.name, tick, self.owner,
                     ", ".join(actor for _, actor in self.actors))


class WebhookTicker(Sweeper):
    """The sweeper's schedule sending the webhook dispatcher: a class of its own, as dramatiq keeps one middleware
    per class (a second instance of the same class is added with a warning)."""


class WorkerMetrics(dramatiq.Middleware):
    """Dramatiq's Prometheus series (billrun/metrics.py), by queue and actor: messages processed, errors,
    retries, dead-lettered, in progress, durations. Unlike dramatiq's own middleware it decides nothing about
    directories or ports: `billrun worker` does (and serves them)."""

    def __init__(self) -> None:
        self.started: dict[str, int] = {}

    def after_nack(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        metrics.message_rejects.labels(message.queue_name, message.actor_name).inc()

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None) -> None:
        if "retries" in message.options:
            metrics.message_retries.labels(message.queue_name, message.actor_name).inc()

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        metrics.messages_in_progress.labels(message.queue_name, message.actor_name).inc()
        self.started[message.message_id] = current_millis()

    def after_process_message(self, broker: dramatiq.Broker, message: MessageProxy, *, result: object = None,
                              exception: BaseException | None = None) -> None:
        labels = (message.queue_name, message.actor_name)
        started = self.started.pop(message.message_id, None)
        if started is None:  # skipped before it started (e.g. too old): nothing was in progress
            metrics.messages.labels(*labels).inc()
            return
        metrics.message_duration.labels(*labels).observe(current_millis() - started)
        metrics.messages_in_progress.labels(*labels).dec()
        metrics.messages.labels(*labels).inc()
        if exception is not None:
            metrics.message_errors.labels(*labels).inc()

    after_skip_message = after_process_message

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        metrics.forget_process()


class MessageLogContext(dramatiq.Middleware):
    """Every line a worker logs while it runs a message carries the message id, the actor and, for a job's
    message, the job id (billrun/logs.py), and each message ends with one line saying how it went and how long
    it took. Async actors inherit the context: dramatiq hands their coroutine to the event loop thread with the
    calling thread's context. In a worker process it also sets up the log format."""

    def __init__(self, configure_logging: bool) -> None:
        self.configure_logging = configure_logging
        self.running: dict[str, tuple[contextvars.Token, int]] = {}

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        if self.configure_logging:
            logs.configure(get_settings(), stream=sys.stderr)  # dramatiq's pipe to its master process

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        context = {"message_id": message.message_id, "actor": message.actor_name}
        if (job_id := message.kwargs.get("job_id")) is not None:
            context["job_id"] = job_id
        self.running[message.message_id] = (logs.message.set(context), current_millis())

    def after_process_message(self, broker: dramatiq.Broker, message: MessageProxy, *, result: object = None,
                              exception: BaseException | None = None) -> None:
        running = self.running.pop(message.message_id, None)
        if running is None:  # skipped before it started
            return
        token, started = running
        outcome = "done" if exception is None else f"failed ({type(exception).__name__})"
        log.info("%s %s in %d ms", message.actor_name, outcome, current_millis() - started)
        logs.message.reset(token)

    after_skip_message = after_process_message


class AppLoop:
    """Stands in for dramatiq's event loop thread: runs actor coroutines on the API's running loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run_coroutine(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


def build_broker(settings: Settings) -> dramatiq.Broker:
    broker: dramatiq.Broker
    if settings.broker_kind == "stub":
        broker = StubBroker()
        broker.emit_after("process_boot")  # a hand-started Worker enforces time limits only after this
    elif settings.broker_kind == "rabbitmq":
        # Publisher confirms: `send` returns once RabbitMQ holds the message, so a message sent after commit is
        # not lost to a broker restart. A dead worker's unacknowledged messages return to the queue as soon as
        # its connection drops; delayed messages (retry backoff) wait in the `<queue>.DQ` queue.
        broker = RabbitmqBroker(url=settings.broker_url, confirm_delivery=True)
    else:
        broker = RedisBroker(url=settings.broker_url or settings.redis_url,
                             heartbeat_timeout=settings.broker_heartbeat_timeout_ms,
                             maintenance_chance=settings.broker_maintenance_chance)
    if settings.broker_kind != "stub":
        broker.add_middleware(AsyncOrm())
        lock_url = settings.redis_url or _redis_broker(settings)
        broker.add_middleware(Sweeper(settings.sweep_interval_seconds, lock_url))
        broker.add_middleware(Sweeper.webhooks(settings.webhook_poll_seconds, lock_url))
    broker.add_middleware(WorkerMetrics())
    broker.add_middleware(MessageLogContext(configure_logging=settings.broker_kind != "stub"))
    return broker


def _redis_broker(settings: Settings) -> str | None:
    """The Redis the broker itself runs on, if any (a `redis://` BILLRUN_BROKER_URL without REDIS_URL)."""
    return settings.broker_url if settings.broker_kind == "redis" else None


# Actors bind to the broker at declaration: set it before any actor module is imported.
broker = build_broker(get_settings())
dramatiq.set_broker(broker)

"""Wake-ups: after a transaction that wrote events commits, whoever follows the stream is told its new high-water
cursor, so it reads the event log now rather than at its next poll.

A wake-up carries nothing but the cursor; the events are read from the database (pub/sub is fire-and-forget: a
wake-up sent while nobody listens is simply lost, and the poll catches up). In-process listeners (the
subscription hub of this process: the only way on the embedded default) are called at once; with Redis, the
cursor is also published on BILLRUN_EVENTS_CHANNEL for every other process. Announcing never fails and never
waits: each event loop has a publisher task that sends the latest cursor (coalescing a burst into one message),
logging a warning when Redis cannot be reached.
"""

import asyncio
import logging
import time
import weakref
from collections.abc import Callable

import redis.asyncio as aioredis

from billrun import live_metrics
from billrun.settings import get_settings

log = logging.getLogger("billrun.events")

WARN_EVERY_SECONDS = 30.0  # one warning per this while Redis stays unreachable, not one per commit

_listeners: set[Callable[[int], None]] = set()


def listen(callback: Callable[[int], None]) -> None:
    """Call `callback(cursor)` after every commit that wrote events in this process (thread-safe callbacks)."""
    _listeners.add(callback)


def unlisten(callback: Callable[[int], None]) -> None:
    _listeners.discard(callback)


def announce(cursor: int, published: list[str]) -> None:
    """Events up to `cursor` are committed (`published` the types of those this transaction wrote): wake the
    listeners."""
    live_metrics.events_published(published)
    for callback in list(_listeners):
        try:
            callback(cursor)
        except Exception:  # a listener's bug must not fail the operation that committed
            log.exception("event listener failed")
    if get_settings().redis_url:
        try:
            _publisher().push(cursor)
        except RuntimeError:  # no running event loop (a synchronous caller): the poll catches up
            pass


class Publisher:
    """The Redis client and publishing task of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        settings = get_settings()
        assert settings.redis_url
        self.channel = settings.events_channel_name
        self.client = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
        self.pending: int | None = None
        self.ready = asyncio.Event()
        self.warned_at = 0.0
        self.task = loop.create_task(self._run(), name="billrun-wakeups")

    def push(self, cursor: int) -> None:
        self.pending = cursor if self.pending is None else max(self.pending, cursor)
        self.ready.set()

    async def _run(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            await self.flush()

    async def flush(self) -> None:
        cursor, self.pending = self.pending, None
        if cursor is None:
            return
        try:
            await self.client.publish(self.channel, str(cursor))
        except Exception as error:  # Redis down: subscribers of other processes see it at their next poll
            if time.monotonic() - self.warned_at > WARN_EVERY_SECONDS:
                self.warned_at = time.monotonic()
                log.warning("could not publish an event wake-up on Redis (%s); subscribers catch up by polling",
                            error)

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        await self.flush()
        await self.client.aclose()


_publishers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Publisher]" = weakref.WeakKeyDictionary()


def _publisher() -> Publisher:
    loop = asyncio.get_running_loop()
    publisher = _publishers.get(loop)
    if publisher is None:
        publisher = _publishers[loop] = Publisher(loop)
    return publisher


async def close() -> None:
    """Send what is pending and close this event loop's Redis client (at the end of a lifespan or worker)."""
    publisher = _publishers.pop(asyncio.get_running_loop(), None)
    if publisher is not None:
        await publisher.close()

"""The subscription hub of a process, run in this test process on the real database and Redis: every subscriber
gets every event after its start exactly once, in order, whenever it registers, however far behind it falls."""

import asyncio
import random

import pytest

import models
from billrun.hub import Hub, Interest
from billrun.settings import reset_settings
from domain import auth, events
from tests.conftest import ALL, make_token


@pytest.fixture
async def hub(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BILLRUN_SUBSCRIBER_BUFFER", "5")  # a subscriber more than 5 events behind reads the log
    reset_settings()
    running = Hub()
    await running.start()
    yield running
    await running.stop()
    monkeypatch.undo()
    reset_settings()


async def _viewer():
    _, token = await make_token("hub@example.com", ALL)
    return await auth.authenticate(token)


async def _take(subscriber, after: int | None, count: int) -> list[int]:
    taken = []
    async with asyncio.timeout(60):
        async for event in subscriber.events(after):
            taken.append(event.id)
            if len(taken) == count:
                return taken
    return taken


async def test_a_subscriber_far_behind_catches_up_from_the_log_without_a_gap(hub: Hub) -> None:
    viewer = await _viewer()
    subscriber = hub.subscribe(viewer, Interest(batch_id=7))
    for n in range(40):  # far more than its buffer, while it takes nothing
        await events.batch_analyzed(7 if n % 2 else 8, n, 0)
    head = await events.last_cursor()
    async with asyncio.timeout(30):
        while True:  # until the hub has read them all (and handed them to the subscriber's buffer)
            if hub.cursor >= head:
                break
            await asyncio.sleep(0.01)
    assert subscriber.catch_up  # its buffer overflowed: it will read the log
    taken = await _take(subscriber, None, 20)
    assert taken == await models.Event.filter(batch_id=7).order_by("id").values_list("id", flat=True)
    hub.unsubscribe(subscriber)


async def test_subscribers_registering_at_any_moment_get_every_later_event_once(hub: Hub) -> None:
    viewer = await _viewer()
    produced = 150
    rng = random.Random(7)
    results: list[tuple[int | None, list[int]]] = []
    registered = []

    async def subscriber_at(delay: float, resume: bool) -> None:
        await asyncio.sleep(delay)
        after = await events.last_cursor() - rng.randint(0, 10) if resume else None
        subscriber = hub.subscribe(viewer, Interest())
        registered.append(subscriber)
        start = subscriber.start if after is None else max(after, 0)
        taken: list[int] = []
        try:
            async with asyncio.timeout(60):
                async for event in subscriber.events(after):
                    taken.append(event.id)
                    if event.payload.get("finding_count") == -1:  # the producer's last
                        break
        finally:
            hub.unsubscribe(subscriber)
        results.append((start, taken))

    async def producer() -> None:  # until every subscriber has registered, and some more
        n = 0
        while n < produced or len(registered) < 30:
            await events.batch_analyzed(1, n, 0)
            n += 1
            if n % 7 == 0:
                await asyncio.sleep(0.001)
        await events.batch_analyzed(1, -1, 0)

    await asyncio.gather(producer(), *(subscriber_at(rng.random() * 0.3, resume=n % 3 == 0) for n in range(30)))
    everything = await models.Event.all().order_by("id").values_list("id", flat=True)
    for start, taken in results:
        expected = [i for i in everything if i > start]
        assert taken == expected[:len(taken)] and taken[-1] == everything[-1], (start, taken[:5])


"""What the broker still holds, for tests that must know every message sent has been handled (no fixed sleeps)."""

import os

import redis.asyncio as redis

from tests.support import waiting


async def wait_until_handled(queue: str = "billing", within: float = 60.0, url: str | None = None) -> None:
    """Return once every message of `queue` has been processed and acknowledged: Dramatiq's Redis broker keeps a
    message in `dramatiq:<queue>.msgs` from its enqueueing until its worker acks it (delayed retries live in
    `<queue>.DQ`). `url`: the broker's Redis, when not the suite's."""
    client = redis.Redis.from_url(url or os.environ["REDIS_URL"])
    async def handled() -> bool:
        return not (await client.hlen(f"dramatiq:{queue}.msgs") or await client.hlen(f"dramatiq:{queue}.DQ.msgs"))

    try:
        await waiting.until(handled, f"every message of {queue} to be handled", within)
    finally:
        await client.aclose()


async def dead_lettered(queue: str = "billing", url: str | None = None) -> int:
    """How many messages of `queue` the broker gave up on (retries exhausted or failed for good: `<queue>.XQ`)."""
    client = redis.Redis.from_url(url or os.environ["REDIS_URL"])
    try:
        return int(await client.hlen(f"dramatiq:{queue}.XQ.msgs"))
    finally:
        await client.aclose()

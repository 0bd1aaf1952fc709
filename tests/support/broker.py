"""What the broker still holds, for tests that must know every message sent has been handled (no fixed sleeps)."""

import asyncio
import os

import redis.asyncio as redis


async def wait_until_handled(queue: str = "billing", within: float = 60.0) -> None:
    """Return once every message of `queue` has been processed and acknowledged: Dramatiq's Redis broker keeps a
    message in `dramatiq:<queue>.msgs` from its enqueueing until its worker acks it (delayed retries live in
    `<queue>.DQ`)."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    deadline = asyncio.get_running_loop().time() + within
    try:
        while await client.hlen(f"dramatiq:{queue}.msgs") or await client.hlen(f"dramatiq:{queue}.DQ.msgs"):
            assert asyncio.get_running_loop().time() < deadline, f"messages of {queue} still pending"
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()

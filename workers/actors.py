"""Thin actors: take ids as keyword arguments, call the domain, nothing else. Every one is idempotent."""

import logging

import dramatiq

from domain import housekeeping
from workers.broker import broker  # noqa: F401 - the broker must exist before actors are declared

log = logging.getLogger("billrun.workers")


@dramatiq.actor(queue_name="housekeeping", max_retries=3, min_backoff=1_000, max_backoff=30_000,
                time_limit=60_000)
async def purge_expired() -> None:
    """Delete expired sessions, old login attempts and idempotency keys."""
    counts = await housekeeping.purge_expired()
    log.info("purged %s", counts)

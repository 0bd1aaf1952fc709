"""Safe retries, Stripe's way: the first response to a caller's idempotency key is kept and given again.

A request carrying a key first claims it (one row per caller and key: the unique index decides between
concurrent requests), runs, then stores its response, which every retry with the same key gets back as it was.
A retry that finds the claim still running waits for its response (BILLRUN_IDEMPOTENCY_WAIT_SECONDS), then
answers IDEMPOTENCY_IN_PROGRESS; the same key with another request is IDEMPOTENCY_KEY_MISMATCH. A request that
ends without a response worth keeping (a bug) releases its claim, so its retry runs again. A row past
`expires_at` no longer holds its key: a stored response after BILLRUN_IDEMPOTENCY_TTL_HOURS, a claim after its
lease (BILLRUN_IDEMPOTENCY_LEASE_SECONDS: its request died unfinished). The purge deletes such rows.
"""

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

from tortoise.exceptions import IntegrityError

import models
from billrun.settings import get_settings
from domain import clock
from domain.errors import DomainError, ErrorCode

KEY_FIELD = "idempotencyKey"  # the input field, named in the errors
MAX_KEY_LENGTH = 200  # the column's size
FIRST_POLL_SECONDS = 0.02
MAX_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Request:
    """One keyed request: who asks (`caller`), its key, the mutation, and the fingerprint of all of it."""

    caller: str
    key: str
    operation: str
    fingerprint: str


@dataclass(frozen=True)
class Claim:
    """This request holds the key: it runs, then `finish`es with its response or `release`s the key."""

    record_id: int


@dataclass(frozen=True)
class Replay:
    """The response stored for the key: answer it as it is."""

    response: str


def key_problem(key: str) -> str | None:
    """Why a key cannot be used, if it cannot."""
    if not key.strip():
        return f"`{KEY_FIELD}` must not be empty."
    if len(key) > MAX_KEY_LENGTH:
        return f"`{KEY_FIELD}` takes at most {MAX_KEY_LENGTH} characters; {len(key)} given."
    return None


async def begin(request: Request) -> Claim | Replay:
    """Claim the key, or get the response stored for it (waiting for one still running). Refuses with
    IDEMPOTENCY_KEY_MISMATCH or IDEMPOTENCY_IN_PROGRESS; neither refusal is stored."""
    settings = get_settings()
    deadline = time.monotonic() + settings.idempotency_wait_seconds
    pause = FIRST_POLL_SECONDS
    while True:
        claim = await _claim(request, settings.idempotency_lease_seconds)
        if claim is not None:
            return claim
        record = await models.IdempotencyRecord.get_or_none(caller=request.caller, key=request.key)
        if record is not None and record.expires_at <= clock.now():
            # Past its time, the row holds its key no more: whoever deletes it first, claims next.
            await models.IdempotencyRecord.filter(id=record.id, expires_at__lte=clock.now()).delete()
            continue
        if record is not None and record.request_hash != request.fingerprint:
            raise DomainError(ErrorCode.IDEMPOTENCY_KEY_MISMATCH,
                              f"This idempotency key was used for another request ({record.operation}, or other "
                              "input, document or variables): use a new key for a new request.", KEY_FIELD)
        if record is not None and record.response is not None:
            return Replay(record.response)
        left = deadline - time.monotonic()
        if left <= 0:
            raise DomainError(ErrorCode.IDEMPOTENCY_IN_PROGRESS,
                              "A request with this idempotency key is still running: retry later to get its "
                              "response.", KEY_FIELD)
        if record is not None:  # none: released meanwhile, claim again at once
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, MAX_POLL_SECONDS)


async def _claim(request: Request, lease_seconds: int) -> Claim | None:
    try:
        record = await models.IdempotencyRecord.create(
            caller=request.caller, key=request.key, operation=request.operation[:64],
            request_hash=request.fingerprint, response=None,
            expires_at=clock.now() + timedelta(seconds=lease_seconds))
    except IntegrityError:  # the key is held: by a running request, a stored response, or an expired row
        return None
    return Claim(record.id)


async def finish(claim: Claim, response: str) -> None:
    """Keep the response for the replay window. A claim whose lease ran out and was taken over is gone, and
    then nothing is stored (the request that took it over stores its own)."""
    expires = clock.now() + timedelta(hours=get_settings().idempotency_ttl_hours)
    await models.IdempotencyRecord.filter(id=claim.record_id, response__isnull=True).update(
        response=response, expires_at=expires)


async def release(claim: Claim) -> None:
    """Free the key without a response: the next request with it runs."""
    await models.IdempotencyRecord.filter(id=claim.record_id, response__isnull=True).delete()

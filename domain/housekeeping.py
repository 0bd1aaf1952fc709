"""Housekeeping: forget what no rule needs any more (expired sessions, old login attempts, idempotency keys,
events past their retention)."""

from datetime import timedelta

import models
from billrun.settings import get_settings
from domain import clock, credit_notes, events, jobs, payments, sending, webhooks
from models.enums import TokenKind

LOGIN_ATTEMPTS_KEPT = timedelta(days=30)
SESSIONS_KEPT_AFTER_EXPIRY = timedelta(days=7)


async def purge_expired() -> dict[str, int]:
    """Delete rows past their use; idempotent, so safe to run from several workers at once."""
    now = clock.now()
    window = timedelta(seconds=get_settings().login_window_seconds)
    attempts = await models.LoginAttempt.filter(at__lt=now - max(window, LOGIN_ATTEMPTS_KEPT)).delete()
    sessions = await models.AccessToken.filter(
        kind=TokenKind.SESSION, expires_at__lt=now - SESSIONS_KEPT_AFTER_EXPIRY).delete()
    keys = await models.IdempotencyRecord.filter(expires_at__lt=now).delete()
    return {"login_attempts": attempts, "sessions": sessions, "idempotency_records": keys,
            "events": await events.purge()}


async def sweep() -> dict[str, int]:
    """Move on what is stuck (idempotent, safe from several workers at once): jobs nothing moved for a while
    (QUEUED ones whose first message was lost, RUNNING ones whose chunk messages or follow-up were lost: planned
    again, which re-sends their pending chunks), auto-pay charges and credit-note refunds whose answer was lost
    (UNKNOWN: the gateway is asked), e-mails whose worker died mid-send (reported, not re-sent), webhook
    redeliveries whose worker died mid-POST (sent again: receivers de-duplicate on the webhook-id)."""
    return {"jobs_resent": await jobs.resend_stale(), "payments_settled": await payments.settle_unknown(),
            "refunds_settled": await credit_notes.settle_unknown(),
            "deliveries_stuck": await sending.settle_stuck(),
            "webhook_redeliveries_requeued": await webhooks.requeue_stuck_redeliveries()}

"""Notifications on a batch (docs/DATA_MODEL.md): raised by the system (a failed job, a declined payment, an e-mail that
could not be sent…), open until a user resolves them with a note. An open one blocks completing its batch."""

import models
from domain import audit, clock, events, validation
from domain.access import Viewer, get_visible, require
from domain.errors import DomainError, ErrorCode
from domain.transactions import in_transaction
from models.enums import NotificationStatus, Permission


async def raise_once(batch_id: int | None, kind: str, message: str, dedupe_key: str,
                     account_id: int | None = None) -> None:
    """Open a notification unless one with this key exists (a retried job raises it once). Name the account
    it is about, so it is hidden from whoever may not see that account. Opened and announced in one
    transaction (the caller's, when it runs in one)."""
    async with in_transaction():
        notification, created = await models.Notification.get_or_create(
            dedupe_key=dedupe_key, defaults={"batch_id": batch_id, "kind": kind, "message": message[:2000],
                                             "status": NotificationStatus.OPEN, "account_id": account_id})
        if created:
            await events.notification_opened(notification)


async def resolve(viewer: Viewer, notification_id: int, note: str) -> models.Notification:
    """Resolve an open notification with a note saying what was done about it."""
    require(viewer, Permission.BILLING_ACCESS)
    notification = await get_visible(viewer, models.Notification, notification_id, "Notification")
    if not note.strip():
        raise DomainError(ErrorCode.INVALID_INPUT, "Say how it was resolved.", "note")
    validation.check_text(models.Notification, {"resolution_note": note}, {"resolution_note": "note"})
    async with in_transaction():
        updated = await models.Notification.filter(id=notification.id, status=NotificationStatus.OPEN).update(
            status=NotificationStatus.RESOLVED, resolved_by_id=viewer.user_id, resolved_at=clock.now(),
            resolution_note=note.strip())
        if not updated:
            raise DomainError(ErrorCode.INVALID_STATUS, "This notification is resolved already.", "id")
        await audit.record(viewer, "Notification", notification.id,
                           {"status": (NotificationStatus.OPEN, NotificationStatus.RESOLVED)}, "RESOLVE",
                           batch_id=notification.batch_id, account_id=notification.account_id)
        await events.notification_resolved(notification, note.strip(), viewer)
    return await models.Notification.get(id=notification.id)

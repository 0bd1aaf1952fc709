"""Audit rows: before/after of key fields, written in the same transaction as the change, never changed.

Each row names the account its record belongs to (`account_id`, null for a batch or a period), so it is hidden
with that account (`domain.access.visible`). Set-based writers (mass updates, reversal, posting) take it from
the billing in the same statement.
"""

from typing import Any, cast

import models
from domain import clock
from domain.access import SYSTEM_LABEL, Viewer


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.value if hasattr(value, "value") else str(value)


async def record(actor: Viewer | None, entity: str, entity_id: int, changes: dict[str, tuple[Any, Any]],
                 operation: str, *, batch_id: int | None = None, billing_id: int | None = None,
                 account_id: int | None = None) -> None:
    """One row per changed field: `changes` maps field -> (before, after). `account_id` is the account the
    audited record belongs to; when omitted for a billing's record it is read from the billing, so a caller
    can never leave a billing's audit rows unhidden."""
    at = clock.now()
    rows = [models.Audit(entity=entity, entity_id=entity_id, field=name, before=_text(before), after=_text(after),
                         operation=operation, actor_id=actor.user_id if actor else None,
                         actor_label=actor.label if actor else SYSTEM_LABEL, batch_id=batch_id,
                         billing_id=billing_id, account_id=account_id, at=at)
            for name, (before, after) in changes.items() if _text(before) != _text(after)]
    if not rows:
        return
    if account_id is None and billing_id is not None:
        owner = cast(int | None, await models.PeriodicBilling.filter(id=billing_id).first().values_list(
            "account_id", flat=True))
        for row in rows:
            row.account_id = owner
    await models.Audit.bulk_create(rows)

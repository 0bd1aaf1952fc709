"""Audit rows: before/after of key fields, written in the same transaction as the change, never changed."""

from typing import Any

import models
from domain import clock
from domain.access import SYSTEM_LABEL, Viewer


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.value if hasattr(value, "value") else str(value)


async def record(actor: Viewer | None, entity: str, entity_id: int, changes: dict[str, tuple[Any, Any]],
                 operation: str, *, batch_id: int | None = None, billing_id: int | None = None) -> None:
    """One row per changed field: `changes` maps field -> (before, after)."""
    at = clock.now()
    rows = [models.Audit(entity=entity, entity_id=entity_id, field=name, before=_text(before), after=_text(after),
                         operation=operation, actor_id=actor.user_id if actor else None,
                         actor_label=actor.label if actor else SYSTEM_LABEL, batch_id=batch_id,
                         billing_id=billing_id, at=at)
            for name, (before, after) in changes.items() if _text(before) != _text(after)]
    if rows:
        await models.Audit.bulk_create(rows)

"""The outbox: events written in the same transaction as the change that caused them.

Subscribers (GraphQL subscriptions) read them from a cursor; pub/sub only wakes them up.
"""

from typing import Any

import models


async def record(kind: str, *, batch_id: int | None = None, job_id: int | None = None, **payload: Any) -> None:
    await models.BatchEvent.create(kind=kind, batch_id=batch_id, job_id=job_id, payload=payload)

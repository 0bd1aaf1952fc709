"""Named counters incremented under a row lock inside the caller's transaction (gap-free when it commits)."""

from tortoise import connections

import models


async def next_value(name: str) -> int:
    """The next number of sequence `name` (created at 1). Call inside a transaction."""
    await models.NumberSequence.get_or_create(name=name, defaults={"last_value": 0})
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        "UPDATE number_sequence SET last_value = last_value + 1 WHERE name = $1 RETURNING last_value"
        if conn.capabilities.dialect == "postgres" else
        "UPDATE number_sequence SET last_value = last_value + 1 WHERE name = ? RETURNING last_value", [name])
    return int(rows[0]["last_value"])

"""Named counters incremented under a row lock inside the caller's transaction (gap-free when it commits)."""

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from models.bulk import is_postgres


async def ensure(name: str) -> None:
    """Create sequence `name` at 0 unless it exists (safe when two callers race)."""
    conn = connections.get("default")
    await conn.execute_query(
        "INSERT INTO number_sequence (name, last_value) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING"
        if is_postgres(conn) else "INSERT OR IGNORE INTO number_sequence (name, last_value) VALUES (?, 0)", [name])


async def advance(conn: BaseDBAsyncClient, name: str, count: int) -> int:
    """Take `count` numbers of sequence `name` (which must exist); returns the last one taken. The row stays
    locked until the caller's transaction ends, so concurrent callers queue and a rollback returns the
    numbers: no gaps, no duplicates."""
    mark = ("$1", "$2") if is_postgres(conn) else ("?", "?")
    rows = await conn.execute_query_dict(
        f"UPDATE number_sequence SET last_value = last_value + {mark[0]} WHERE name = {mark[1]} "
        "RETURNING last_value", [count, name])
    if not rows:
        raise LookupError(f"Sequence {name!r} does not exist")
    return int(rows[0]["last_value"])


async def next_value(name: str) -> int:
    """The next number of sequence `name` (created at 1). Call inside a transaction."""
    await ensure(name)
    return await advance(connections.get("default"), name, 1)

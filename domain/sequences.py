"""Named counters incremented under a row lock inside the caller's transaction (gap-free when it commits)."""

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from models import sql


async def ensure(name: str) -> None:
    """Create sequence `name` at 0 unless it exists (safe when two callers race)."""
    await sql.ensure_sequence(connections.get("default"), name)


async def advance(conn: BaseDBAsyncClient, name: str, count: int) -> int:
    """Take `count` numbers of sequence `name` (which must exist); returns the last one taken. The row stays
    locked until the caller's transaction ends, so concurrent callers queue and a rollback returns the
    numbers: no gaps, no duplicates."""
    last = await sql.advance_sequence(conn, name, count)
    if last is None:
        raise LookupError(f"Sequence {name!r} does not exist")
    return last


async def take(conn: BaseDBAsyncClient, name: str, count: int) -> int:
    """As `advance`, creating sequence `name` at 0 on first use (one statement once it exists)."""
    last = await sql.advance_sequence(conn, name, count)
    if last is None:
        await sql.ensure_sequence(conn, name)
        last = await advance(conn, name, count)
    return last


async def next_value(name: str) -> int:
    """The next number of sequence `name` (created at 1). Call inside a transaction."""
    await ensure(name)
    return await advance(connections.get("default"), name, 1)

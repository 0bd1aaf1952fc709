"""Named locks held until the end of the current transaction, for rules that count rows before adding one.

PostgreSQL: advisory transaction locks (`pg_advisory_xact_lock`), released by the commit or rollback. SQLite
(the embedded default) has one writer: Tortoise runs a transaction under the connection's own lock, so the
transaction itself already serializes, and there is nothing more to take.
"""

import hashlib

from tortoise.backends.base.client import BaseDBAsyncClient


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (the same in every process, unlike `hash()`)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


async def hold_transaction_locks(conn: BaseDBAsyncClient, *names: str) -> None:
    """Take the locks named, waiting for any other transaction holding one of them.

    Call inside `in_transaction()` with its connection. The keys are taken in one global order (sorted),
    so two transactions asking for overlapping sets can never deadlock.
    """
    if conn.capabilities.dialect != "postgres":
        return
    for key in sorted({lock_key(name) for name in names}):
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [key])

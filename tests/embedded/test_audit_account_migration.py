"""Migration `0010_audit_account` on SQLite: existing audit rows learn their account, and stay append-only."""

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.support import audit_backfill


async def test_existing_audit_rows_get_their_account_and_stay_append_only(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    await asyncio.to_thread(audit_backfill.migrate_to, f"sqlite://{path}", audit_backfill.BEFORE)
    with sqlite3.connect(path) as conn:
        for statement in audit_backfill.seed_sql():
            conn.execute(statement)
    await asyncio.to_thread(audit_backfill.migrate_to, f"sqlite://{path}")
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT id, account_id FROM audit ORDER BY id").fetchall() == audit_backfill.expected()
        for statement in ("UPDATE audit SET account_id = 2 WHERE id = 1", "DELETE FROM audit WHERE id = 1"):
            with pytest.raises(sqlite3.IntegrityError, match="never updated or deleted"):
                conn.execute(statement)
    finally:
        conn.close()


async def test_migrating_keeps_every_index_the_models_declare(tmp_path: Path) -> None:
    """Tortoise rebuilds an SQLite table to alter it and drops its plain indexes; billrun.db.migrate puts them
    back, so the embedded default looks up jobs by status and attempts by e-mail without scanning."""
    path = tmp_path / "fresh.sqlite3"
    await asyncio.to_thread(audit_backfill.migrate_to, f"sqlite://{path}")
    conn = sqlite3.connect(path)
    try:
        indexed = {(table, tuple(r[2] for r in conn.execute(f'PRAGMA index_info("{index}")')))
                   for table, index in conn.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' "
                                                    "AND sql NOT LIKE '%WHERE%' OR (type = 'index' AND sql IS NULL)")}
    finally:
        conn.close()
    for wanted in [("job", ("status",)), ("login_attempt", ("email",)), ("login_attempt", ("at",)),
                   ("periodic_billing", ("batch_id", "status")), ("journal_line", ("entry_id",)),
                   ("payment", ("invoice_id",))]:
        assert wanted in indexed, wanted

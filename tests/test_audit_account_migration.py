"""Migration `0010_audit_account` on PostgreSQL: existing audit rows learn their account, and stay append-only."""

import asyncio

import asyncpg
import pytest

from tests.support import audit_backfill, environment

SCRATCH = f"{environment.TEST_DB_NAME}_migration"


async def _admin_execute(sql: str) -> None:
    admin = await asyncpg.connect(environment.PG_ADMIN_URL)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


async def test_existing_audit_rows_get_their_account_and_stay_append_only() -> None:
    await _admin_execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
    await _admin_execute(f'CREATE DATABASE "{SCRATCH}"')
    url = f"{environment.PG_ADMIN_URL.rsplit('/', 1)[0]}/{SCRATCH}"
    try:
        await asyncio.to_thread(audit_backfill.migrate_to, url, audit_backfill.BEFORE)
        conn = await asyncpg.connect(url)
        try:
            for statement in audit_backfill.seed_sql():
                await conn.execute(statement)
        finally:
            await conn.close()
        await asyncio.to_thread(audit_backfill.migrate_to, url)
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT id, account_id FROM audit ORDER BY id")
            assert [(r["id"], r["account_id"]) for r in rows] == audit_backfill.expected()
            for statement in ("UPDATE audit SET account_id = 2 WHERE id = 1", "DELETE FROM audit WHERE id = 1"):
                with pytest.raises(asyncpg.RaiseError, match="never updated or deleted"):
                    await conn.execute(statement)
        finally:
            await conn.close()
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')

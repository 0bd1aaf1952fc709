"""Tortoise ORM configuration, migrations and connection lifecycle for the API, workers and CLI."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api.migrate import migrate as run_migrations
from tortoise.utils import get_schema_sql

from billrun.settings import get_settings

APP_LABEL = "models"


def tortoise_config(database_url: str | None = None) -> dict[str, Any]:
    """The one Tortoise config: app `models`, migrations in `models/migrations`, UTC timestamps."""
    url = database_url or get_settings().database_url
    return {
        "connections": {"default": _connection(url)},
        "apps": {APP_LABEL: {"models": ["models"], "default_connection": "default",
                             "migrations": "models.migrations"}},
        "use_tz": True,
        "timezone": "UTC",
    }


def _connection(url: str) -> str | dict[str, Any]:
    """The URL, or on PostgreSQL its expansion with the session settings every connection gets:
    `idle_in_transaction_session_timeout` (BILLRUN_DATABASE_IDLE_IN_TRANSACTION_SECONDS), so that a client gone
    silent inside a transaction (its host's link cut) has its locks released instead of holding up the others."""
    seconds = get_settings().database_idle_in_transaction_seconds
    if not url.startswith(("postgres://", "postgresql://", "asyncpg://")) or not seconds:
        return url
    connection = expand_db_url(url)
    settings = connection["credentials"].setdefault("server_settings", {})
    settings.setdefault("idle_in_transaction_session_timeout", str(max(1, round(seconds * 1000))))
    return connection


def _url(config: dict[str, Any]) -> str:
    return config["connections"]["default"] if isinstance(config["connections"]["default"], str) else ""


def ensure_sqlite_dir(database_url: str) -> None:
    """SQLite does not create missing folders; the embedded default keeps its file under var/."""
    if database_url.startswith("sqlite://") and ":memory:" not in database_url:
        Path(database_url.removeprefix("sqlite://").split("?")[0]).parent.mkdir(parents=True, exist_ok=True)


def _migration_url(url: str) -> str:
    """SQLite alters a table by rebuilding it (new table, copy, drop the old one): with foreign keys enforced, that
    drop cascades to the rows of every table referencing it (a billing's details would vanish). So migrations run
    with foreign keys off, as SQLite's own procedure says, and are checked afterwards (`_check_foreign_keys`)."""
    if not url.startswith("sqlite://"):
        return url
    return url + ("&" if "?" in url else "?") + "foreign_keys=OFF"


async def _check_foreign_keys() -> None:
    conn = connections.get("default")
    if conn.capabilities.dialect == "sqlite":
        broken = await conn.execute_query_dict("PRAGMA foreign_key_check")
        if broken:
            raise RuntimeError(f"migrations left rows whose foreign keys point nowhere: {broken[:5]}")


INDEX = re.compile(r'CREATE INDEX IF NOT EXISTS "(?P<name>\w+)" ON "(?P<table>\w+)" \((?P<columns>[^)]*)\)')


async def _restore_sqlite_indexes() -> None:
    """Tortoise rebuilds an SQLite table to alter it and leaves its non-unique indexes behind: create every index
    the models declare whose columns no index of the table covers any more (PostgreSQL keeps them)."""
    conn = connections.get("default")
    if conn.capabilities.dialect != "sqlite":
        return
    for statement in get_schema_sql(conn, safe=True).split(";"):
        found = INDEX.search(statement)
        if found is None:
            continue
        table, wanted = found["table"], [c.strip().strip('"') for c in found["columns"].split(",")]
        existing = [[row["name"] for row in await conn.execute_query_dict(f"PRAGMA index_info(\"{index['name']}\")")]
                    for index in await conn.execute_query_dict(f"PRAGMA index_list(\"{table}\")")
                    if not index["partial"]]  # a partial index serves only its own rows
        if wanted not in existing:
            await conn.execute_script(found.group(0))


async def migrate(database_url: str | None = None, target: str | None = None) -> None:
    """Apply every pending migration (or up to `target`, e.g. `models.0008_ledger_indexes`; idempotent), then close
    the connections it opened."""
    config = tortoise_config(database_url)
    if url := _url(config):  # SQLite (PostgreSQL's is expanded already)
        ensure_sqlite_dir(url)
        config["connections"]["default"] = _migration_url(url)
    try:
        await run_migrations(config=config, target=target)
        await _check_foreign_keys()
        if target is None:  # up to date: the models' indexes must all be there
            await Tortoise.init(config=config)
            await _restore_sqlite_indexes()
    finally:
        await connections.close_all()


async def init(database_url: str | None = None) -> None:
    config = tortoise_config(database_url)
    ensure_sqlite_dir(_url(config))
    await Tortoise.init(config=config, _enable_global_fallback=True)


@asynccontextmanager
async def database(database_url: str | None = None) -> AsyncIterator[None]:
    """Open the ORM for a script or CLI command and close it afterwards."""
    await init(database_url)
    try:
        yield
    finally:
        await close()


TORTOISE_ORM = tortoise_config()  # for the `tortoise` CLI (makemigrations): tortoise -c billrun.db.TORTOISE_ORM


async def close() -> None:
    """Close the connections and forget the ORM's global context, so it can be opened again."""
    await Tortoise.close_connections()

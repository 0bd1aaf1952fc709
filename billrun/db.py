"""Tortoise ORM configuration, migrations and connection lifecycle for the API, workers and CLI."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate as run_migrations

from billrun.settings import get_settings

APP_LABEL = "models"


def tortoise_config(database_url: str | None = None) -> dict[str, Any]:
    """The one Tortoise config: app `models`, migrations in `models/migrations`, UTC timestamps."""
    url = database_url or get_settings().database_url
    return {
        "connections": {"default": url},
        "apps": {APP_LABEL: {"models": ["models"], "default_connection": "default",
                             "migrations": "models.migrations"}},
        "use_tz": True,
        "timezone": "UTC",
    }


def ensure_sqlite_dir(database_url: str) -> None:
    """SQLite does not create missing folders; the embedded default keeps its file under var/."""
    if database_url.startswith("sqlite://") and ":memory:" not in database_url:
        Path(database_url.removeprefix("sqlite://").split("?")[0]).parent.mkdir(parents=True, exist_ok=True)


async def migrate(database_url: str | None = None) -> None:
    """Apply every pending migration (idempotent), then close the connections it opened."""
    config = tortoise_config(database_url)
    ensure_sqlite_dir(config["connections"]["default"])
    try:
        await run_migrations(config=config)
    finally:
        await connections.close_all()


async def init(database_url: str | None = None) -> None:
    config = tortoise_config(database_url)
    ensure_sqlite_dir(config["connections"]["default"])
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

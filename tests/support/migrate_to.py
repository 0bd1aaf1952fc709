"""Migrate a scratch database to a given migration, in a process of its own (run as
`python -m tests.support.migrate_to <database url> [models.<migration name>]`), so a test can build data the way
an older release left it and then apply the migrations after it, without touching its own session's ORM."""

import asyncio
import sys

from billrun import db


async def main(url: str, target: str | None) -> None:
    await db.migrate(url, target=target)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))

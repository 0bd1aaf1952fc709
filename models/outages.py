"""Telling the database being away from a failure of the work itself: the drivers' own exceptions, in one place.

An outage (the server down or restarting, its backends killed, the database refusing connections, the network in
between gone) is no fault of the message that met it: it is retried for as long as it lasts
(`workers.actors`), while a failure of the work itself uses up the message's retries and fails its job.
"""

from types import TracebackType

import asyncpg
from tortoise.exceptions import DBConnectionError

# SQLSTATEs of a connection lost or refused: class 08 (connection exception), 57P01-57P03 (the server shutting
# down, crashed, or not accepting connections yet), 53300 (too many connections).
_SQLSTATES = ("57P01", "57P02", "57P03", "53300")
# 55000 is a generic "object not in prerequisite state"; only this one of its messages is about connections.
_NOT_ACCEPTING = "not currently accepting connections"


def database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` (or an exception it was raised from) says the database could not be reached or dropped
    the connection, rather than refused the work."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (DBConnectionError, asyncpg.InterfaceError)):
            return True  # no connection could be made; the connection is closed
        if isinstance(error, OSError) and _raised_by_the_driver(error):
            return True  # refused, reset or timed out on the way to the database (not an SMTP server's, say)
        if isinstance(error, asyncpg.PostgresError):
            state = error.sqlstate or ""
            if state.startswith("08") or state in _SQLSTATES:
                return True
            if state == "55000" and _NOT_ACCEPTING in str(error):
                return True
        error = error.__cause__ or error.__context__
    return False


def _raised_by_the_driver(error: BaseException) -> bool:
    traceback: TracebackType | None = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_globals.get("__name__", "").startswith(("asyncpg", "tortoise.backends")):
            return True
        traceback = traceback.tb_next
    return False

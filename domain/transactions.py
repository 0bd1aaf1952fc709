"""Transactions that carry their events: `in_transaction()` has the call shape of Tortoise's and is used in its
place by every domain module.

Events recorded inside one (`domain.events.record`) wait in the transaction's outbox and are written when it
ends, as its last statement (`domain.events.write`): their cursors are taken there under a lock held until commit,
so cursor order is commit order. A nested transaction (a savepoint) shares the outbox of the outermost one; if
it rolls back, so do the events it recorded. A transaction that fails writes none. After the outermost one
commits, the processes following the stream are woken (`billrun.wakeups`).
"""

from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient, TransactionContext
from tortoise.transactions import in_transaction as _tortoise_transaction

from billrun import wakeups


@dataclass
class Outbox:
    """The events a transaction has recorded so far, in order (each a row for `domain.events.write`)."""

    pending: list[Any] = field(default_factory=list)


_outbox: ContextVar[Outbox | None] = ContextVar("billrun_outbox", default=None)


def current_outbox() -> Outbox | None:
    """The outbox of the transaction the caller runs in, or None outside any of these transactions."""
    return _outbox.get()


class EventfulTransaction:
    """Tortoise's transaction context, writing the outbox before it commits and announcing it after."""

    def __init__(self, connection_name: str | None) -> None:
        self._inner: TransactionContext = _tortoise_transaction(connection_name)
        self._token: Token[Outbox | None] | None = None
        self._outbox = Outbox()
        self._mark = 0
        self._connection: BaseDBAsyncClient | None = None

    async def __aenter__(self) -> BaseDBAsyncClient:
        self._connection = await self._inner.__aenter__()
        outer = _outbox.get()
        if outer is None:
            self._token = _outbox.set(self._outbox)
        else:  # a savepoint inside one of ours: its events join the outer outbox
            self._outbox, self._mark = outer, len(outer.pending)
        return self._connection

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        if self._token is None:
            if exc_type is not None:
                del self._outbox.pending[self._mark:]
            await self._inner.__aexit__(exc_type, exc, traceback)
            return
        written: tuple[int, list[str]] | None = None
        try:
            if exc_type is None and self._outbox.pending:
                from domain import events

                assert self._connection is not None
                try:
                    written = await events.write(self._connection, self._outbox.pending)
                except BaseException as error:
                    await self._inner.__aexit__(type(error), error, error.__traceback__)
                    raise
            await self._inner.__aexit__(exc_type, exc, traceback)
        finally:
            _outbox.reset(self._token)
        if written is not None:
            wakeups.announce(*written)


def in_transaction(connection_name: str | None = None) -> EventfulTransaction:
    """A transaction (a savepoint when one is open already) whose recorded events are written with it."""
    return EventfulTransaction(connection_name)

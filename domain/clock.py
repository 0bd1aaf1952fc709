"""The one source of "now" and "today", injectable so tests can travel in time without mocks."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from billrun.settings import get_settings

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current UTC timestamp."""
    return _now()


def today() -> date:
    """Today in the configured business time zone (BILLRUN_TIMEZONE): the default invoice date."""
    return now().astimezone(ZoneInfo(get_settings().timezone)).date()


def set_clock(source: Callable[[], datetime]) -> None:
    global _now
    _now = source


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Freeze the clock at `moment` (UTC) for the duration of the block."""
    previous = _now
    set_clock(lambda: moment.astimezone(UTC))
    try:
        yield
    finally:
        set_clock(previous)

"""The event stream's figures, each counted from exactly one place: events written to the log (by type), events
handed to subscribers, subscriptions open. They feed billrun/metrics.py (`event_published`, `event_delivered`,
`subscription_opened` / `subscription_closed`) where that module is installed, and count nothing otherwise.
"""

from collections.abc import Iterable
from importlib import import_module
from types import ModuleType

CHANNEL = "subscription"  # the `channel` label of deliveries (webhooks count theirs under their own)


def _metrics() -> ModuleType | None:
    try:
        return import_module("billrun.metrics")
    except ImportError:
        return None


_METRICS = _metrics()


def events_published(types: Iterable[str]) -> None:
    """One transaction committed events of these types (one entry per event)."""
    if _METRICS is not None:
        for event_type in types:
            _METRICS.event_published(event_type)


def events_delivered(count: int) -> None:
    """`count` events were handed to subscribers (one per subscriber and event)."""
    if _METRICS is not None and count:
        _METRICS.events_delivered.labels(CHANNEL).inc(count)


def subscription_opened() -> None:
    if _METRICS is not None:
        _METRICS.subscription_opened()


def subscription_closed() -> None:
    if _METRICS is not None:
        _METRICS.subscription_closed()


def slow_consumer_closed() -> None:
    """A WebSocket was closed as too far behind (billrun/fanout.py)."""
    if _METRICS is not None:
        _METRICS.websockets_too_far_behind.inc()

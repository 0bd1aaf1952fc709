"""The event stream's figures, each counted from exactly one place: events written to the log, events delivered to
subscribers, subscriptions open. They feed billrun/metrics.py's Prometheus objects (`events_published_total`,
`events_delivered_total`, `subscriptions_open`) when that module is installed, and count nothing otherwise.
"""

from importlib import import_module
from types import ModuleType


def _metrics() -> ModuleType | None:
    try:
        return import_module("billrun.metrics")
    except ImportError:
        return None


_METRICS = _metrics()


def events_published(count: int) -> None:
    """`count` events were committed to the log by one transaction."""
    if _METRICS is not None and hasattr(_METRICS, "events_published_total"):
        _METRICS.events_published_total.inc(count)


def events_delivered(count: int) -> None:
    """`count` events were handed to subscribers (one per subscriber and event)."""
    if _METRICS is not None and hasattr(_METRICS, "events_delivered_total"):
        _METRICS.events_delivered_total.inc(count)


def subscription_opened() -> None:
    if _METRICS is not None and hasattr(_METRICS, "subscriptions_open"):
        _METRICS.subscriptions_open.inc()


def subscription_closed() -> None:
    if _METRICS is not None and hasattr(_METRICS, "subscriptions_open"):
        _METRICS.subscriptions_open.dec()

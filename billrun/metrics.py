"""billrun's Prometheus metrics: every series, the small API that feeds them, and their exposition.

Series (all counters end in `_total`):

API processes (`GET /metrics`)
  billrun_graphql_operations_total{operation, type}        operations run; type: query | mutation | subscription
  billrun_graphql_operation_duration_seconds{operation}    latency of queries and mutations (histogram)
  billrun_graphql_errors_total{operation, kind, code}       kind: graphql (a top-level error: bad document, limit,
                                                            bad input), payload (a business-rule refusal, code =
                                                            its ErrorCode), masked (a bug, code INTERNAL_ERROR)
  billrun_http_requests_total{route, method, status}       every HTTP answer, by route template
  billrun_http_request_duration_seconds{route}              (histogram)
  billrun_subscriptions_open                                subscriptions being served right now
  billrun_events_published_total{type}                      events written to the outbox
  billrun_events_delivered_total{channel}                   events handed to a subscriber or a webhook endpoint
  billrun_webhook_attempts_total{outcome}                   webhook calls by outcome
  billrun_websockets_too_far_behind_total                   WebSockets closed (1013) for not taking their frames

Workers (`billrun worker` serves them on BILLRUN_WORKER_METRICS_HOST:BILLRUN_WORKER_METRICS_PORT); the names
and labels of Dramatiq's own Prometheus middleware, so its dashboards work unchanged:
  dramatiq_messages_total, dramatiq_message_errors_total, dramatiq_message_retries_total,
  dramatiq_message_rejects_total{queue_name, actor_name}, dramatiq_messages_inprogress{…},
  dramatiq_message_duration_milliseconds{…} (histogram)
  billrun_queue_messages{queue, state}                      read from the broker at each scrape; state: ready |
                                                            delayed | dead
  billrun_sweeper_ticks_total{outcome}                      claimed (this process ran the tick) | elsewhere |
                                                            failed

Feeding them (the event stream and webhooks call these; each is cheap and never raises):
  with metrics.subscription_open(): ...      or subscription_opened() / subscription_closed()
  metrics.event_published(event_type)
  metrics.event_delivered("subscription" | "webhook")
  metrics.webhook_attempt("delivered" | "rejected" | "unreachable")

Several processes: when PROMETHEUS_MULTIPROC_DIR names a directory (set before the process starts), every
process writes its values there and a scrape of any one of them answers the sum over all (prometheus-client's
multiprocess mode). `billrun serve` empties it at start; `billrun worker` uses a directory of its own.
"""

import hmac
import os
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None  # read once, as prometheus-client does

# ---------------------------------------------------------------- API series

graphql_operations = Counter("billrun_graphql_operations", "GraphQL operations run, by name and type.",
                             ["operation", "type"])
graphql_duration = Histogram("billrun_graphql_operation_duration_seconds",
                             "Time to answer a GraphQL query or mutation, by operation name.", ["operation"],
                             buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
graphql_errors = Counter("billrun_graphql_errors", "GraphQL errors: top-level (graphql), business-rule refusals "
                         "in payloads (payload, by ErrorCode) and bugs (masked).", ["operation", "kind", "code"])
http_requests = Counter("billrun_http_requests", "HTTP answers by route template, method and status.",
                        ["route", "method", "status"])
http_duration = Histogram("billrun_http_request_duration_seconds", "Time to answer an HTTP request, by route.",
                          ["route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
subscriptions_open = Gauge("billrun_subscriptions_open", "GraphQL subscriptions being served.",
                           multiprocess_mode="livesum")
events_published = Counter("billrun_events_published", "Events written to the outbox, by type.", ["type"])
events_delivered = Counter("billrun_events_delivered", "Events handed to a subscriber or a webhook endpoint.",
                           ["channel"])
websockets_too_far_behind = Counter("billrun_websockets_too_far_behind", "WebSockets closed (1013) because their "
                                    "queue of frames stayed full (BILLRUN_WS_SEND_TIMEOUT_SECONDS).")
webhook_attempts = Counter("billrun_webhook_attempts", "Webhook calls, by outcome.", ["outcome"])

# ---------------------------------------------------------------- worker series

_MESSAGE_LABELS = ["queue_name", "actor_name"]
messages = Counter("dramatiq_messages", "The total number of messages processed.", _MESSAGE_LABELS)
message_errors = Counter("dramatiq_message_errors", "The total number of errored messages.", _MESSAGE_LABELS)
message_retries = Counter("dramatiq_message_retries", "The total number of retried messages.", _MESSAGE_LABELS)
message_rejects = Counter("dramatiq_message_rejects", "The total number of dead-lettered messages.",
                          _MESSAGE_LABELS)
messages_in_progress = Gauge("dramatiq_messages_inprogress", "The number of messages in progress.",
                             _MESSAGE_LABELS, multiprocess_mode="livesum")
message_duration = Histogram("dramatiq_message_duration_milliseconds", "The time spent processing messages.",
                             _MESSAGE_LABELS, buckets=(5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000,
                                                       7500, 10000, 30000, 60000, 600000, 900000))
sweeper_ticks = Counter("billrun_sweeper_ticks", "Sweeper ticks seen by a worker process: claimed (it ran the "
                        "tick), elsewhere (another process had it), failed (Redis or the broker was down).",
                        ["outcome"])

# ---------------------------------------------------------------- feeding


def subscription_opened() -> None:
    subscriptions_open.inc()


def subscription_closed() -> None:
    subscriptions_open.dec()


@contextmanager
def subscription_open() -> Iterator[None]:
    """Counts a subscription as open while the block runs (however it ends)."""
    subscription_opened()
    try:
        yield
    finally:
        subscription_closed()


def event_published(event_type: str) -> None:
    events_published.labels(event_type).inc()


def event_delivered(channel: str) -> None:
    events_delivered.labels(channel).inc()


def webhook_attempt(outcome: str) -> None:
    webhook_attempts.labels(outcome).inc()


# The payload refusals of the GraphQL operation being run: the operation's extension starts a list, the one
# place that turns domain refusals into payload errors (resolvers/mutations.py) adds their codes to it.
_refusals: ContextVar[list[str] | None] = ContextVar("billrun_refusals", default=None)


def collect_refusals() -> list[str]:
    """Start collecting the refusal codes of the operation that runs in this context; returns the list."""
    codes: list[str] = []
    _refusals.set(codes)
    return codes


def record_refusals(codes: Iterable[str]) -> None:
    """Payload errors of the current operation (nothing outside one)."""
    target = _refusals.get()
    if target is not None:
        target.extend(str(code) for code in codes)


# Operation names come from clients: a label takes a GraphQL name (at most 64 characters) and only the first
# `metrics_max_operation_names` distinct ones a process sees; the rest count as `_other`, so no client can
# make the series grow without bound.
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
_operation_names: set[str] = set()
_names_lock = threading.Lock()


def operation_label(name: str | None, max_names: int) -> str:
    if not name:
        return "_anonymous"
    if not _NAME.fullmatch(name):
        return "_other"
    if name in _operation_names:
        return name
    with _names_lock:
        if len(_operation_names) >= max_names:
            return "_other"
        _operation_names.add(name)
    return name


# ---------------------------------------------------------------- exposition


def exposition(*extra: Collector) -> bytes:
    """The text a scrape gets: this process's series, or in multiprocess mode every process's, plus `extra`."""
    if MULTIPROCESS_DIR:
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry, path=MULTIPROCESS_DIR)
    elif extra:
        registry = CollectorRegistry()
        registry.register(DefaultSeries())
    else:
        return generate_latest(REGISTRY)
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


class DefaultSeries(Collector):
    """The default registry's series, to sit in a registry beside other collectors."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


CONTENT_TYPE = CONTENT_TYPE_LATEST


def token_allows(expected: str | None, authorization: str | None) -> bool:
    """Without a configured token anyone may scrape; with one, only `Authorization: Bearer <token>`."""
    if not expected:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


def forget_process(pid: int | None = None) -> None:
    """A process that stops hands back its live gauges (open subscriptions, messages in progress), so a
    scrape no longer counts them."""
    if MULTIPROCESS_DIR:
        prometheus_multiprocess.mark_process_dead(pid or os.getpid(), MULTIPROCESS_DIR)

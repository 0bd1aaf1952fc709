"""The worker host's scrape endpoint: `billrun worker` runs `serve` as a Dramatiq fork process beside its worker
processes. It answers `GET /metrics` (any path, in fact) on BILLRUN_WORKER_METRICS_HOST:PORT with every worker
process's series (they write them to the master's PROMETHEUS_MULTIPROC_DIR) and the queue depths, read from the
broker at each scrape."""

import logging
import sys
from collections.abc import Iterator

from prometheus_client import start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from billrun import logs, metrics
from billrun.settings import Settings, get_settings

log = logging.getLogger("billrun.workers.metrics")

HOUSEKEEPING_QUEUE = "housekeeping"


class QueueDepth(Collector):
    """billrun_queue_messages{queue, state}: ready (waiting for a worker), delayed (retries waiting out their
    backoff), dead (dead-lettered), asked of the broker when scraped. A broker that does not answer leaves the
    series out of that scrape (and logs why) rather than failing the scrape."""

    def __init__(self, settings: Settings, queues: list[str]) -> None:
        self.settings = settings
        self.queues = queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("billrun_queue_messages", "Messages in a broker queue, by state.",
                                   labels=["queue", "state"])
        try:
            counts = self._rabbitmq() if self.settings.broker_kind == "rabbitmq" else self._redis()
        except Exception as error:
            log.warning("queue depths unavailable: %s", type(error).__name__)
            counts = {}
        for (queue, state), value in sorted(counts.items()):
            family.add_metric([queue, state], value)
        yield family

    def _redis(self) -> dict[tuple[str, str], float]:
        import redis

        # Dramatiq's Redis layout: ids waiting in the list `dramatiq:<q>`, delayed messages in the hash
        # `dramatiq:<q>.DQ.msgs` until acknowledged, dead ones in the sorted set `dramatiq:<q>.XQ`.
        client = redis.Redis.from_url(self.settings.broker_url or self.settings.redis_url or "", socket_timeout=5)
        try:
            pipe = client.pipeline(transaction=False)
            for queue in self.queues:
                pipe.llen(f"dramatiq:{queue}")
                pipe.hlen(f"dramatiq:{queue}.DQ.msgs")
                pipe.zcard(f"dramatiq:{queue}.XQ")
            values = pipe.execute()
        finally:
            client.close()
        counts = {}
        for index, queue in enumerate(self.queues):
            for offset, state in enumerate(("ready", "delayed", "dead")):
                counts[(queue, state)] = float(values[3 * index + offset])
        return counts

    def _rabbitmq(self) -> dict[tuple[str, str], float]:
        import pika

        # Ready messages of each queue, its delay queue and its dead-letter queue (passive declares: nothing is
        # created). RabbitMQ does not count what consumers hold, so delayed messages a worker already holds
        # waiting for their time are not in `delayed`.
        parameters = pika.URLParameters(self.settings.broker_url or "")
        parameters.socket_timeout = 5
        connection = pika.BlockingConnection(parameters)
        counts = {}
        try:
            for queue in self.queues:
                for state, name in (("ready", queue), ("delayed", f"{queue}.DQ"), ("dead", f"{queue}.XQ")):
                    channel = connection.channel()
                    try:
                        declared = channel.queue_declare(queue=name, passive=True)
                        counts[(queue, state)] = float(declared.method.message_count)
                    except pika.exceptions.ChannelClosedByBroker:  # not declared yet: nothing in it
                        counts[(queue, state)] = 0.0
                    finally:
                        if channel.is_open:
                            channel.close()
        finally:
            connection.close()
        return counts


def registry(settings: Settings) -> CollectorRegistry:
    """Every worker process's series (multiprocess mode) or this process's, and the queue depths."""
    from domain.jobs import QUEUE

    scrape = CollectorRegistry()
    if metrics.MULTIPROCESS_DIR:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(scrape, path=metrics.MULTIPROCESS_DIR)
    else:
        scrape.register(metrics.DefaultSeries())
    scrape.register(QueueDepth(settings, [QUEUE, HOUSEKEEPING_QUEUE]))
    return scrape


def serve() -> int:
    """Dramatiq fork function (`--fork-function billrun.worker_metrics:serve`): serve until the master stops."""
    settings = get_settings()
    logs.configure(settings, stream=sys.stderr)  # dramatiq's pipe to its master
    server, thread = start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host,
                                       registry=registry(settings))
    log.info("worker metrics on http://%s:%d/metrics", settings.worker_metrics_host, settings.worker_metrics_port)
    try:
        thread.join()
    finally:
        server.shutdown()
    return 0

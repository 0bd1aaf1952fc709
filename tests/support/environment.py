"""Where the suites run: set before any billrun module is imported (settings and the broker read it once).

`BILLRUN_TEST_MODE=postgres` (default): a fresh PostgreSQL database per session, Redis db 15, a real Dramatiq
worker process. `BILLRUN_TEST_MODE=embedded`: SQLite and the in-process broker, as `make run` uses them.
`BILLRUN_TEST_BROKER=rabbitmq` (PostgreSQL mode): the jobs go through RabbitMQ instead of Redis, in a virtual
host of the session's own (named after the test database), Redis staying for everything else.
"""

import os
import socket
import tempfile
from pathlib import Path

MODE = os.environ.get("BILLRUN_TEST_MODE", "postgres")
PG_ADMIN_URL = os.environ.get("BILLRUN_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
TEST_DB_NAME = os.environ.get("BILLRUN_TEST_DB_NAME", "billrun_test")
REDIS_TEST_URL = os.environ.get("BILLRUN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BROKER = os.environ.get("BILLRUN_TEST_BROKER", "redis")
RABBITMQ_URL = os.environ.get("BILLRUN_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
RABBITMQ_VHOST = TEST_DB_NAME  # one per session, like the database: runs never share a queue
SQLITE_PATH = Path(tempfile.gettempdir()) / f"billrun-test-{os.getpid()}.sqlite3"
OUTBOX_DIR = Path(tempfile.gettempdir()) / f"billrun-test-outbox-{os.getpid()}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The PostgreSQL suite e-mails invoices to a real local SMTP server (the `smtp_server` fixture) on this port;
# the embedded suite writes them to the outbox folder, as `make run` does.
SMTP_PORT = _free_port()


def configure() -> None:
    os.environ["BILLRUN_ENV"] = "test"
    os.environ["BILLRUN_LOGIN_MAX_FAILURES"] = "5"
    os.environ["BILLRUN_CHUNK_SIZE"] = "50"
    os.environ["BILLRUN_JOB_MAX_RETRIES"] = "1"  # a failing job fails fast
    os.environ["BILLRUN_JOB_MIN_BACKOFF_MS"] = "100"  # several chunks even for small test batches
    os.environ["BILLRUN_BROKER_HEARTBEAT_TIMEOUT_MS"] = "3000"  # redeliver a killed worker's messages quickly
    os.environ["BILLRUN_BROKER_MAINTENANCE_CHANCE"] = "1000000"  # out of a million: every fetch
    os.environ["BILLRUN_SWEEP_INTERVAL_SECONDS"] = "1"  # the worker's sweeper settles lost answers quickly
    os.environ["BILLRUN_PAYMENT_SETTLE_AFTER_SECONDS"] = "0"
    os.environ["BILLRUN_SEND_CHUNK_SIZE"] = "3"  # several sending chunks even for small test batches
    # Webhooks go to receivers on loopback, looked for every 0.2 s, retried after 0.3 s (five attempts in all).
    os.environ["BILLRUN_WEBHOOK_ALLOW_PRIVATE"] = "true"
    os.environ["BILLRUN_WEBHOOK_POLL_SECONDS"] = "0.2"
    os.environ["BILLRUN_WEBHOOK_RETRY_SCHEDULE"] = "0.3,0.3,0.3,0.3"
    os.environ["BILLRUN_WEBHOOK_TIMEOUT_SECONDS"] = "5"
    os.environ["BILLRUN_OUTBOX_DIR"] = str(OUTBOX_DIR)
    os.environ.pop("BILLRUN_SMTP_URL", None)
    os.environ.pop("BILLRUN_BROKER_URL", None)
    os.environ.pop("BILLRUN_LOG_FORMAT", None)  # text, unless a test asks for JSON
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    os.environ["BILLRUN_WORKER_METRICS_PORT"] = "0"  # a test that scrapes a worker gives it a free port
    if MODE == "embedded":
        os.environ["DATABASE_URL"] = f"sqlite://{SQLITE_PATH}"
        os.environ.pop("REDIS_URL", None)
    else:
        os.environ["BILLRUN_SMTP_URL"] = f"smtp://127.0.0.1:{SMTP_PORT}"
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        os.environ["DATABASE_URL"] = f"{base}/{TEST_DB_NAME}"
        os.environ["REDIS_URL"] = REDIS_TEST_URL
        if BROKER == "rabbitmq":
            os.environ["BILLRUN_BROKER_URL"] = f"{RABBITMQ_URL}/{RABBITMQ_VHOST}"

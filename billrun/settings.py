"""All configuration, read once from the environment (documented as a table in the README)."""

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """billrun's settings. Every field maps to one environment variable (see README)."""

    model_config = SettingsConfigDict(env_prefix="BILLRUN_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite://{ROOT / 'var' / 'billrun.sqlite3'}",
        validation_alias=AliasChoices("DATABASE_URL", "BILLRUN_DATABASE_URL"),
    )
    # PostgreSQL ends a session left idle inside a transaction this long (its locks released, its work rolled
    # back): a host whose network vanished mid-transaction cannot hold rows others wait for. 0: never.
    database_idle_in_transaction_seconds: float = Field(default=60.0, ge=0)
    # No Redis URL (and no broker URL) means the embedded default: in-process broker and workers.
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "BILLRUN_REDIS_URL"))
    # Dramatiq's broker: amqp(s)://… selects RabbitMQ, redis://… a Redis of its own; unset = the Redis of redis_url.
    broker_url: str | None = None
    env: Literal["development", "test", "production"] = "development"
    timezone: str = "UTC"
    base_currency: str = "USD"
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: str = ""  # comma-separated; also the WebSocket origins allowed
    session_ttl_hours: int = 12
    # Sign-in: failed password checks counted per e-mail (reset by a success) and per client address within
    # the window; beyond a limit each further try waits base * 2^(failures beyond it), at most the cap.
    login_max_failures: int = 5
    login_max_failures_per_address: int = 50
    login_window_seconds: int = 900
    login_backoff_base_seconds: int = 30
    login_max_backoff_seconds: int = 900
    # Argon2id cost of password hashes (argon2-cffi's defaults, RFC 9106's low-memory choice); a hash made with
    # other costs is upgraded at its user's next sign-in.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=32)
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (IPs or CIDR networks, comma-separated);
    # empty: the headers are ignored and the client address is the TCP peer's.
    trusted_proxies: str = ""
    max_query_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_query_cost: int = 100_000  # the billings grid at 100 rows with typed traces costs 54,002 (bench/grid.graphql)
    max_query_bytes: int = 32_768  # a document larger than this is refused before it is parsed
    max_nodes: int = 100  # ids one `nodes(ids:)` may ask for
    max_field_repeats: int = 20  # times one response key may be selected in one selection set
    max_page_size: int = 500
    # Automatic persisted queries (docs/API.md): documents kept by their sha256 in each API process, least
    # recently used dropped first.
    persisted_queries_max: int = Field(default=1000, ge=0)
    # Persisted documents answered by their compiled plans where they can be (docs/PERFORMANCE.md): false
    # answers every request with graphql-core alone.
    compiled_plans: bool = True
    max_text_length: int = Field(default=10_000, ge=1)  # characters of a free-text value (comments, notes)
    max_body_bytes: int = 1_048_576  # an HTTP request body beyond this is answered 413 without reading on
    max_ws_message_bytes: int = 1_048_576  # a WebSocket message beyond this closes the socket (1009)
    chunk_size: int = 1000  # contracts (or accounts) per processing message
    job_max_retries: int = 5  # deliveries of a failing job message before the job is FAILED
    job_min_backoff_ms: int = 1000
    # Redis broker: a message held by a dead worker is redelivered after this (dramatiq's heartbeat timeout),
    # found by the maintenance a worker runs on maintenance_chance out of a million broker calls.
    broker_heartbeat_timeout_ms: int = 60_000
    broker_maintenance_chance: int = 1000
    log_level: str = "INFO"
    # Safe retries: a mutation's response is kept per token and idempotency key this long; a retry of one
    # still running waits for it this long; a claim whose request died unfinished frees its key after the lease.
    idempotency_ttl_hours: int = Field(default=24, ge=24)
    idempotency_wait_seconds: float = Field(default=10.0, ge=0)
    idempotency_lease_seconds: int = Field(default=300, ge=1)
    # One line per record: `json` (the default in production) or `text` (the default elsewhere).
    log_format: Literal["json", "text"] | None = None
    # Prometheus: /metrics on every API process, and `billrun worker` serving its processes' series on
    # worker_metrics_host:worker_metrics_port (0: not served). With a token, /metrics wants `Bearer <token>`.
    metrics_enabled: bool = True
    metrics_token: str | None = None
    metrics_max_operation_names: int = Field(default=200, ge=1)  # more distinct names count as `_other`
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9191, ge=0, le=65535)
    ready_timeout_seconds: float = Field(default=2.0, gt=0)  # each /readyz check gives up after this
    send_chunk_size: int = 50  # invoices per sending message (each rendered and e-mailed on its own)
    payment_max_attempts: int = 4  # gateway calls for one payment before it FAILS with a notification
    payment_settle_after_seconds: int = 60  # the sweeper asks the gateway about an UNKNOWN payment after this
    # The sweeper reports an e-mail left SENDING this long (its worker died mid-send) as FAILED, outcome unknown.
    delivery_stuck_after_seconds: float = Field(default=600.0, gt=0)
    # The sweeper runs once per interval across every worker host (a Redis lock per tick), and on the
    # embedded default in its one process.
    sweep_interval_seconds: int = 60
    # Billing schedules (docs/SCHEDULES.md): whether a scheduled batch processed by itself (auto-advance PROCESS)
    # is also posted by the scheduler once every billing is dispositioned and no approval rule wants a second user.
    schedule_auto_post: bool = False
    # The sweeper sends a job again when nothing moved it for this long: QUEUED (its first message was lost) or
    # RUNNING with a stale heartbeat (every chunk touches it), in which case only its pending chunks are re-sent.
    job_stale_after_seconds: int = 120
    # Fault injection for crash tests: the checkpoints named here (comma-separated, e.g.
    # `process.chunk.committed`) end the process at once, each once: a marker file in faults_dir remembers it.
    faults: str = ""
    faults_dir: Path = ROOT / "var" / "faults"
    # Invoice e-mail: smtp://user:pass@host:port (plain, or STARTTLS with ?starttls=1) or smtps:// (implicit TLS);
    # None writes each message as an .eml file into outbox_dir instead of sending it.
    smtp_url: str | None = None
    mail_from: str = "billing@billrun.invalid"  # the From of invoice e-mails
    outbox_dir: Path = ROOT / "var" / "outbox"  # where .eml files go when there is no smtp_url
    # The issuer printed on invoices and credit notes (docs/POSTING.md): its name (BILLRUN_COMPANY_NAME is the
    # older spelling), postal address (lines separated by a newline or `|`), tax id and contact (e-mail, phone).
    # The defaults are the demo company's: set all four in production.
    issuer_name: str = Field(default="billrun demo company",
                             validation_alias=AliasChoices("BILLRUN_ISSUER_NAME", "BILLRUN_COMPANY_NAME"))
    issuer_address: str = "100 Demo Street, Suite 4|Austin, TX 78701|United States"
    issuer_tax_id: str = "US EIN 12-3456789"
    issuer_contact: str = "billing@billrun.invalid | +1 512 555 0100"
    # The event stream (docs/EVENTS.md): how long the event log keeps events (housekeeping purges older ones),
    # the Redis pub/sub channel of the wake-ups (empty: `billrun:events:<redis db>`, since channels are shared by
    # every db of a Redis server), how often a subscription hub reads the log even without a wake-up (pub/sub
    # may lose one), how many events a subscriber may have waiting before it catches up from the log instead,
    # and how often a hub checks the tokens of its open WebSockets (a revoked one is closed, 4403).
    event_retention_days: int = Field(default=30, ge=1)
    events_channel: str = ""
    events_poll_seconds: float = Field(default=2.0, gt=0)
    subscriber_buffer: int = Field(default=10_000, ge=1)
    ws_reauth_seconds: float = Field(default=5.0, gt=0)
    # Each WebSocket's frames wait in a queue of their own (billrun/fanout.py): at most this many; a socket whose
    # queue stays full this long is too far behind and is closed (1013, resume with your last cursor). Per-message
    # compression is off unless enabled: small JSON frames gain little, and it costs a compression per socket.
    ws_send_queue: int = Field(default=1_000, ge=1)
    ws_send_timeout_seconds: float = Field(default=10.0, gt=0)
    ws_per_message_deflate: bool = False
    # Webhooks (docs/WEBHOOKS.md): how often the workers look for endpoints with events to send (one claim per
    # tick across hosts), the timeout of one POST, the waits between failed attempts at one event (seconds, or
    # with an s/m/h suffix; when they are spent the endpoint is disabled), how long a rotated secret still
    # signs, and whether destinations may be private, loopback or link-local addresses (tests only).
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # A sender's lease on an endpoint outlives one POST by this much: a sender that died mid-POST holds the
    # endpoint this long before another sends the event again.
    webhook_lease_margin_seconds: float = Field(default=60.0, gt=0)
    webhook_retry_schedule: str = "5s,5m,30m,2h,5h,10h,10h"
    webhook_secret_grace_hours: float = Field(default=24, ge=0)
    webhook_allow_private: bool = False

    @property
    def embedded(self) -> bool:
        """True on the embedded default: no Redis nor broker, workers run inside the API process."""
        return not self.redis_url and not self.broker_url

    @property
    def broker_kind(self) -> Literal["rabbitmq", "redis", "stub"]:
        """Which Dramatiq broker carries the jobs: RabbitMQ, Redis, or the in-process one (embedded)."""
        url = self.broker_url or self.redis_url
        if url is None:
            return "stub"
        return "rabbitmq" if url.startswith(("amqp://", "amqps://")) else "redis"

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" if self.log_format else self.production

    @property
    def events_channel_name(self) -> str:
        """The pub/sub channel of event wake-ups: BILLRUN_EVENTS_CHANNEL, or one per Redis db."""
        if self.events_channel:
            return self.events_channel
        db = (self.redis_url or "").rsplit("/", 1)[-1].split("?")[0]
        return f"billrun:events:{db if db.isdigit() else 0}"

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @field_validator("broker_url")
    @classmethod
    def _broker_url_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("amqp://", "amqps://", "redis://", "rediss://", "unix://")):
            raise ValueError("BILLRUN_BROKER_URL: use amqp://, amqps:// (RabbitMQ) or redis://, rediss:// (Redis)")
        return value or None

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        """A typo must not silently trust nobody (or a host name): every entry is an IP or a CIDR network."""
        for entry in _entries(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"BILLRUN_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network") from None
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule_parses(cls, value: str) -> str:
        _durations(value)
        return value

    @property
    def webhook_retry_waits(self) -> list[float]:
        """The waits, in seconds, before the second, third… attempt at one event."""
        return _durations(self.webhook_retry_schedule)

    @model_validator(mode="after")
    def _lease_outlasts_wait(self) -> "Settings":
        """A retry waiting for a running request must never take its key over as if that request had died."""
        if self.idempotency_lease_seconds <= self.idempotency_wait_seconds:
            raise ValueError("BILLRUN_IDEMPOTENCY_LEASE_SECONDS must be longer than BILLRUN_IDEMPOTENCY_WAIT_SECONDS")
        return self

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _entries(self.trusted_proxies)


_UNITS = {"s": 1, "m": 60, "h": 3600}


def _durations(value: str) -> list[float]:
    """`5s,5m,2h` (a bare number is seconds) as seconds; at least one, each positive."""
    waits = []
    for entry in _entries(value):
        number, unit = (entry[:-1], entry[-1]) if entry[-1] in _UNITS else (entry, "s")
        try:
            seconds = float(number) * _UNITS[unit]
        except ValueError:
            raise ValueError(f"BILLRUN_WEBHOOK_RETRY_SCHEDULE: {entry!r} is no duration (e.g. 30s, 5m, 2h)") from None
        if not 0 < seconds < float("inf"):
            raise ValueError(f"BILLRUN_WEBHOOK_RETRY_SCHEDULE: {entry!r} must be positive")
        waits.append(seconds)
    if not waits:
        raise ValueError("BILLRUN_WEBHOOK_RETRY_SCHEDULE: give at least one wait")
    return waits


def _entries(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()

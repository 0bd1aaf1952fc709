"""All configuration, read once from the environment (documented as a table in the README)."""

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """billrun's settings. Every field maps to one environment variable (see README)."""

    model_config = SettingsConfigDict(env_prefix="BILLRUN_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite://{ROOT / 'var' / 'billrun.sqlite3'}",
        validation_alias=AliasChoices("DATABASE_URL", "BILLRUN_DATABASE_URL"),
    )
    # No Redis URL means the embedded default: in-process broker and workers.
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "BILLRUN_REDIS_URL"))
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
    max_query_cost: int = 50000
    max_query_bytes: int = 32_768  # a document larger than this is refused before it is parsed
    max_nodes: int = 100  # ids one `nodes(ids:)` may ask for
    max_page_size: int = 500
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
    send_chunk_size: int = 50  # invoices per sending message (each rendered and e-mailed on its own)
    payment_max_attempts: int = 4  # gateway calls for one payment before it FAILS with a notification
    payment_settle_after_seconds: int = 60  # the sweeper asks the gateway about an UNKNOWN payment after this
    sweep_interval_seconds: int = 60  # `billrun worker` and the embedded default run the sweeper this often
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
    company_name: str = "billrun demo company"  # printed as the invoice's issuer
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

    @property
    def embedded(self) -> bool:
        """True on the embedded default: no Redis, workers run inside the API process."""
        return not self.redis_url

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

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _entries(self.trusted_proxies)


def _entries(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()

"""Log records, one line each: JSON (production) or text, carrying what they were logged for.

While the API serves a request (HTTP or WebSocket) every record carries its `request_id`; while a worker runs a
message, its `message_id`, `actor` and, for a job's message, `job_id`. Both come from context variables that
`LogContextMiddleware` (API) and `workers.broker.MessageLogContext` (workers) set, read by `ContextFilter`, so
no call site passes them. `configure()` installs one handler on the root logger; `uvicorn_log_config()` gives
uvicorn (and its worker processes) the same set-up.
"""

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from billrun.settings import Settings

request_id: ContextVar[str | None] = ContextVar("billrun_request_id", default=None)
# The message a worker thread runs: {"message_id", "actor", "job_id"} (job_id only for a job's messages).
message: ContextVar[dict[str, Any] | None] = ContextVar("billrun_message", default=None)

CONTEXT_FIELDS = ("request_id", "message_id", "actor", "job_id")
TEXT_FORMAT = "[%(asctime)s] [PID %(process)d] [%(threadName)s] [%(name)s] [%(levelname)s] %(message)s"


class ContextFilter(logging.Filter):
    """Adds the request and message context to every record passing a handler (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = message.get() or {}
        values = {"request_id": request_id.get(), **current}
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, values.get(name))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp (UTC, ISO 8601), level, logger, message, then whatever context the
    record has (request id, message id, actor, job id), the process id and, for an exception, its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if (value := getattr(record, name, None)) is not None:
                line[name] = value
        line["process"] = record.process
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Dramatiq's own line format (the test helpers read its `[PID n]`), the context appended as key=value."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = " ".join(f"{name}={value}" for name in CONTEXT_FIELDS
                           if (value := getattr(record, name, None)) is not None)
        if not context:
            return text
        first, newline, rest = text.partition("\n")  # keep a traceback below the line it belongs to
        return f"{first} [{context}]{newline}{rest}"


def formatter(settings: Settings) -> logging.Formatter:
    return JsonFormatter() if settings.json_logs else TextFormatter()


def configure(settings: Settings, stream: TextIO | None = None) -> None:
    """Send every record to `stream` (default: the current stderr) in the configured format, at the configured
    level: the root logger gets this one handler instead of whatever it had."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(settings))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    logging.getLogger("pika").setLevel(logging.WARNING)  # pika narrates every connection at INFO


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's `log_config`: applied by uvicorn in its own process and in each worker process it starts. Its
    loggers (the access log too) propagate to the root handler, so they share the format and the context."""
    kind = "billrun.logs.JsonFormatter" if settings.json_logs else "billrun.logs.TextFormatter"
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "billrun.logs.ContextFilter"}},
        "formatters": {"line": {"()": kind}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "line", "filters": ["context"]}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: {"handlers": [], "propagate": True, "level": level}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }


class LogContextMiddleware:
    """Sets `request_id` for everything logged while a request or WebSocket is served (the id
    RequestIdMiddleware gave it), uvicorn's access line included."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = request_id.set(scope.get("state", {}).get("request_id"))
        try:
            await self.app(scope, receive, send)
        finally:
            request_id.reset(token)

"""The operator's routes: `/healthz` (the process answers), `/readyz` (what it needs is reachable), `/metrics`
(Prometheus), and the middleware that counts every HTTP answer by route. None needs a user's token and none
says more than "ok" or what failed."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Match
from tortoise import connections

from billrun import metrics
from billrun.settings import Settings, get_settings

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


async def healthz(request: Request) -> Response:
    """The process is up and serving: no I/O, always 200."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """200 when the database and the broker (and Redis for pub/sub, when configured) answer within
    BILLRUN_READY_TIMEOUT_SECONDS each, else 503 naming the check that failed."""
    settings = get_settings()
    checks = readiness_checks(settings)
    outcomes = await asyncio.gather(*(_outcome(check, settings.ready_timeout_seconds) for check in checks.values()))
    results = dict(zip(checks, outcomes, strict=True))
    ready = all(outcome == "ok" for outcome in results.values())
    return JSONResponse({"status": "ready" if ready else "unready", "checks": results},
                        status_code=200 if ready else 503, headers={"cache-control": "no-store"})


def readiness_checks(settings: Settings) -> dict[str, Callable[[], Awaitable[None]]]:
    """What this process needs, by name: the database, the broker, and Redis when pub/sub uses it."""
    checks: dict[str, Callable[[], Awaitable[None]]] = {"database": _database}
    if settings.broker_kind == "stub":
        checks["broker"] = _in_process
    elif settings.broker_kind == "rabbitmq":
        checks["broker"] = lambda: _rabbitmq(settings.broker_url or "", settings.ready_timeout_seconds)
    else:
        checks["broker"] = lambda: _redis(settings.broker_url or settings.redis_url or "",
                                          settings.ready_timeout_seconds)
    if settings.redis_url:
        checks["redis"] = lambda: _redis(settings.redis_url or "", settings.ready_timeout_seconds)
    return checks


async def _outcome(check: Callable[[], Awaitable[None]], seconds: float) -> str:
    try:
        async with asyncio.timeout(seconds):
            await check()
    except TimeoutError:
        return "timeout"
    except Exception:  # what failed is named by the check; how is for the logs of the service itself
        return "unreachable"
    return "ok"


async def _database() -> None:
    await connections.get("default").execute_query("SELECT 1")


async def _in_process() -> None:
    """The embedded default's broker lives in this process: up whenever the process is."""


async def _redis(url: str, seconds: float) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=seconds, socket_timeout=seconds)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _rabbitmq(url: str, seconds: float) -> None:
    await asyncio.to_thread(_amqp_handshake, url, seconds)


def _amqp_handshake(url: str, seconds: float) -> None:
    """Open and close one AMQP connection: the server answers, and takes these credentials and vhost."""
    import pika

    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.retry_delay = 0
    parameters.socket_timeout = seconds
    parameters.stack_timeout = seconds
    parameters.blocked_connection_timeout = seconds
    pika.BlockingConnection(parameters).close()


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus' scrape: every series of this process (of every process, in multiprocess mode)."""
    if not metrics.token_allows(get_settings().metrics_token, request.headers.get("authorization")):
        return PlainTextResponse("A bearer token is required (BILLRUN_METRICS_TOKEN).", status_code=401,
                                 headers={"www-authenticate": "Bearer"})
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)


class HttpMetricsMiddleware:
    """Counts every HTTP answer by route template (not by path: ids stay out of the labels), method and status,
    and times it. Requests that match no route count as `unmatched`."""

    def __init__(self, app: Any, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    def route_of(self, scope: dict[str, Any]) -> str:
        partial = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return getattr(route, "path", "unmatched")
            if match is Match.PARTIAL and partial is None:  # the path matches, the method does not (405)
                partial = getattr(route, "path", None)
        return partial or "unmatched"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless an answer starts: an exception escaped every handler

        async def tracking_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = self.route_of(scope)
            method = scope.get("method", "")
            metrics.http_requests.labels(route, method if method in METHODS else "other", str(status)).inc()
            metrics.http_duration.labels(route).observe(time.perf_counter() - started)

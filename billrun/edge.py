"""The HTTP edge in front of every route: a request id on each request and response, and a bounded body.

Both are plain ASGI middleware, so they hold for /graphql, the downloads and any route added later.
"""

import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from billrun.settings import get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# A client's own id is kept when it is a plain token (so it can be quoted in logs and headers); else a new one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def problem(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A refusal in the shape of a GraphQL response: `{"errors": [{"message", "extensions": {"code"}}]}`."""
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status,
                        headers=headers)


def request_id_of(connection: HTTPConnection | None) -> str:
    """The id RequestIdMiddleware gave this request (or, outside it, the client's X-Request-Id or a new one)."""
    if connection is None:
        return uuid.uuid4().hex
    given = connection.scope.get("state", {}).get("request_id")
    return given or _request_id_from_headers(connection.headers.get("x-request-id"))


def _request_id_from_headers(header: str | None) -> str:
    return header if header and _REQUEST_ID.fullmatch(header) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives each request an id (the client's `X-Request-Id` when it is a plain token of at most 64 characters,
    else a new one), keeps it in `request.state.request_id` and answers it in an `X-Request-Id` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
        request_id = _request_id_from_headers(header)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                message["headers"] = [*headers, (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)


class BodyTooLarge(Exception):
    """Raised from `receive` when a streamed body passes the limit; answered 413 by BodySizeLimitMiddleware."""


class BodySizeLimitMiddleware:
    """Refuses an HTTP body over BILLRUN_MAX_BODY_BYTES with 413: at once when Content-Length says so (nothing
    is read), else as soon as the streamed (e.g. chunked) bytes pass the limit (nothing more is read)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = get_settings().max_body_bytes
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:  # a route that answers while still reading: nothing sensible left to send
                raise
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        # `Connection: close`: the rest of the body is never read, so the connection cannot be reused.
        response = problem(413, "REQUEST_TOO_LARGE", f"The request body is larger than {limit} bytes "
                           "(BILLRUN_MAX_BODY_BYTES).", headers={"connection": "close"})
        await response(scope, receive, send)


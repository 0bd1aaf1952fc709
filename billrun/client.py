"""A small GraphQL client of billrun's own API, over HTTP (queries, mutations) and WebSocket (subscriptions, the
graphql-transport-ws protocol), as any partner would use it: the `billrun batch …` commands are built on it, so
they work against a remote deployment exactly as against the embedded default.

Every failure is one of the `ClientError`s below, each with the exit code the CLI ends with (docs/OPERATIONS.md,
"CLI")."""

import json
import time
from collections.abc import Iterator
from enum import IntEnum
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

PROTOCOL = "graphql-transport-ws"
FORBIDDEN_CLOSE = 4403  # the server's answer to a connection_init without a valid token


class ExitCode(IntEnum):
    """What a `billrun batch` command ended with: distinct, documented, stable for scripts."""

    OK = 0
    REFUSED = 1  # a business rule refused it: the payload's errors, printed with code, field and message
    USAGE = 2  # bad usage or malformed input (also typer's own code for a usage error)
    AUTH = 3  # no token, or one the server does not accept (unknown, revoked, expired)
    JOB_FAILED = 4  # --wait: the job ended FAILED
    UNREACHABLE = 5  # no answer from a GraphQL server at --url (refused, timed out, a gateway error, not GraphQL)
    SERVER_ERROR = 6  # the server met a bug (its masked INTERNAL_ERROR, or HTTP 500)


class ClientError(Exception):
    """A call that did not succeed, with the code and message to report and the exit code to end with."""

    exit_code = ExitCode.SERVER_ERROR

    def __init__(self, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.errors = errors if errors is not None else [{"code": code, "field": None, "message": message}]


class Refused(ClientError):
    """The mutation's payload answered `errors { code field message }`: nothing was changed."""

    exit_code = ExitCode.REFUSED


class BadRequest(ClientError):
    exit_code = ExitCode.USAGE


class Unauthenticated(ClientError):
    exit_code = ExitCode.AUTH


class Unreachable(ClientError):
    exit_code = ExitCode.UNREACHABLE


class ServerError(ClientError):
    exit_code = ExitCode.SERVER_ERROR


RETRIED_STATUSES = frozenset({502, 503, 504})  # a gateway's or a draining server's: the request may be sent again
IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"


class Client:
    """One API endpoint (`url`, the GraphQL path) and one bearer token. Mutations carry an idempotency key, so
    `mutate` sends them again after a transport failure or while the first attempt is still in progress: the
    server replays the first answer, and the work is never done twice."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 30.0, retries: int = 3) -> None:
        self.url, self.token, self.retries = url, token, retries
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(headers=headers, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of one operation; any GraphQL error is raised as its `ClientError`."""
        return self._data(self._post({"query": document, "variables": variables or {}}))

    def mutate(self, field: str, document: str, variables: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """The payload of mutation `field` (whose `input` variable gets `idempotency_key`); its `errors` raised as
        `Refused`. Transient failures are retried with the same key (up to `retries` more attempts)."""
        variables = {**variables, "input": {**variables["input"], "idempotencyKey": idempotency_key}}
        delay = 0.5
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                payload = self._data(self._post({"query": document, "variables": variables}))[field]
            except Unreachable:
                if last:
                    raise
            else:
                errors = payload.get("errors") or []
                if not errors:
                    return payload
                if last or not any(e["code"] == IN_PROGRESS for e in errors):
                    raise Refused(errors[0]["code"], errors[0]["message"], errors)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    def download(self, url: str) -> bytes:
        """A file the graph links to (an export), fetched with the same token."""
        try:
            response = self.http.get(httpx.URL(self.url).join(url))
        except httpx.TransportError as error:
            raise Unreachable("UNREACHABLE", f"Could not download {url}: {error}") from None
        if response.status_code in (401, 403):
            raise Unauthenticated("UNAUTHENTICATED", f"The download was refused ({response.status_code}).")
        if response.status_code != 200:
            raise _status_error(response)
        return response.content

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.http.post(self.url, json=body)
        except httpx.TransportError as error:
            reason = str(error) or type(error).__name__
            raise Unreachable("UNREACHABLE", f"Could not reach {self.url}: {reason}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not ("data" in answer or "errors" in answer):
            raise _status_error(response)
        return answer

    def _data(self, answer: dict[str, Any]) -> dict[str, Any]:
        errors = answer.get("errors") or []
        if errors:
            raise graphql_error(errors)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise ServerError("INTERNAL_ERROR", "The server answered no data.")
        return data

    def subscribe(self, document: str, variables: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The `data` of each result of one subscription over graphql-transport-ws, until the server completes
        it. Raises `Unauthenticated` when the socket is refused for its token, `Unreachable` when no socket can
        be opened or it drops (the caller may subscribe again or fall back to polling)."""
        ws = self._open_socket()
        try:
            ws.send(json.dumps({"id": "1", "type": "subscribe",
                                "payload": {"query": document, "variables": variables}}))
            while True:
                message = _receive(ws)
                kind = message.get("type")
                if kind == "ping":
                    ws.send(json.dumps({"type": "pong"}))
                elif kind == "next":
                    payload = message.get("payload") or {}
                    if payload.get("errors"):
                        raise graphql_error(payload["errors"])
                    yield payload.get("data") or {}
                elif kind == "error":
                    raise graphql_error(message.get("payload") or [])
                elif kind == "complete":
                    return
        finally:
            ws.close()

    def _open_socket(self) -> ClientConnection:
        url = httpx.URL(self.url)
        ws_url = str(url.copy_with(scheme="wss" if url.scheme == "https" else "ws"))
        try:
            ws = connect(ws_url, subprotocols=[PROTOCOL], open_timeout=10, max_size=None)  # type: ignore[list-item]  # websockets types subprotocols as its Subprotocol NewType
        except InvalidStatus as error:
            status = error.response.status_code
            raise Unreachable("UNREACHABLE", f"{ws_url} refused the WebSocket ({status}).") from None
        except (OSError, TimeoutError, InvalidHandshake) as error:
            raise Unreachable("UNREACHABLE", f"Could not open a WebSocket to {ws_url}: {error}") from None
        init: dict[str, Any] = {"type": "connection_init"}
        if self.token:
            init["payload"] = {"Authorization": f"Bearer {self.token}"}
        try:
            ws.send(json.dumps(init))
            while (message := _receive(ws)).get("type") != "connection_ack":
                if message.get("type") == "ping":
                    ws.send(json.dumps({"type": "pong"}))
        except BaseException:
            ws.close()
            raise
        return ws


def _receive(ws: ClientConnection) -> dict[str, Any]:
    try:
        raw = ws.recv()
    except ConnectionClosed as closed:
        if closed.rcvd is not None and closed.rcvd.code == FORBIDDEN_CLOSE:
            raise Unauthenticated("UNAUTHENTICATED", "The server refused the token (unknown, revoked or expired).") \
                from None
        raise Unreachable("UNREACHABLE", f"The WebSocket closed: {closed}") from None
    message = json.loads(raw)
    return message if isinstance(message, dict) else {}


def graphql_error(errors: list[dict[str, Any]]) -> ClientError:
    """Top-level GraphQL errors as one `ClientError`: an authentication refusal, a bug of the server (masked), or
    else a malformed request (a bad id, a value that does not coerce, a refused document)."""
    codes = [(e.get("extensions") or {}).get("code") for e in errors]
    message = "; ".join(str(e.get("message", "")) for e in errors)
    found = [{"code": code or "BAD_REQUEST", "field": None, "message": e.get("message", "")}
             for code, e in zip(codes, errors, strict=True)]
    if "UNAUTHENTICATED" in codes:
        return Unauthenticated("UNAUTHENTICATED", message, found)
    if "INTERNAL_ERROR" in codes:
        return ServerError("INTERNAL_ERROR", message, found)
    return BadRequest(next((c for c in codes if c), "BAD_REQUEST"), message, found)


def _status_error(response: httpx.Response) -> ClientError:
    """An answer that is not GraphQL's, by its HTTP status."""
    status = response.status_code
    if status in (401, 403):
        return Unauthenticated("UNAUTHENTICATED", f"{response.url} refused the request ({status}).")
    if status == 500:
        return ServerError("INTERNAL_ERROR", f"{response.url} answered 500.")
    if status in RETRIED_STATUSES or status >= 500:
        return Unreachable("UNREACHABLE", f"{response.url} answered {status}.")
    if status in (400, 413, 415):
        return BadRequest("BAD_REQUEST", f"{response.url} refused the request ({status}): {response.text[:200]}")
    return Unreachable("UNREACHABLE", f"No GraphQL server at {response.url} (HTTP {status}).")

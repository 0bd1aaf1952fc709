"""GraphQL over WebSocket with the edge's rules: bounded messages, the strict decoding every transport shares,
well-formed protocol messages, and a connection refused (4403) unless `connection_init` carries a valid token
(and closed with 4403 by the subscription hub once that token stops being valid: billrun/hub.py).

Strawberry's handlers assume well-formed messages (a list, a missing `id` or a `query` that is not a string
made them crash); here every message is checked first and a malformed one is a protocol error.

Every frame a socket sends goes through its outbox (billrun/fanout.py): one writer task, in order, bounded; each
operation's task knows its sink (socket, id, protocol), so a subscription writes its shared frames there itself.
"""

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.unset import UnsetType

from billrun import fanout
from billrun.settings import get_settings
from billrun.strict_json import MalformedRequest, decode_request_json

MAX_CLOSE_REASON_BYTES = 123  # the WebSocket protocol's limit
MESSAGE_TOO_BIG = 1009
PROTOCOL_ERROR = 4400  # graphql-transport-ws' code for an invalid message
FORBIDDEN = 4403  # graphql-transport-ws' code for a refused connection_init


def close_reason(text: str) -> str:
    """`text` cut to what a close frame can carry (123 bytes of UTF-8)."""
    data = text.encode("utf-8")
    if len(data) <= MAX_CLOSE_REASON_BYTES:
        return text
    return data[: MAX_CLOSE_REASON_BYTES - 3].decode("utf-8", "ignore") + "..."


@dataclass(frozen=True)
class MalformedMessage:
    """A message the strict decoding refused; the handler answers it as a protocol error."""

    reason: str


class BoundedWebSocketAdapter(ASGIWebSocketAdapter):
    """Reads messages up to BILLRUN_MAX_WS_MESSAGE_BYTES (a larger one closes the socket with 1009, Message
    Too Big) and decodes each with the strict JSON rules of HTTP requests."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        limit = get_settings().max_ws_message_bytes
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if len(text) > limit // 4 and len(text.encode("utf-8", "surrogatepass")) > limit:
                    await self.close(MESSAGE_TOO_BIG, f"Message larger than {limit} bytes")
                    return
                try:
                    message: object = decode_request_json(text)
                except MalformedRequest as error:
                    message = MalformedMessage(str(error))
                yield message
        except KeyError as error:  # a binary message
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            pass

    @property
    def outbox(self) -> fanout.Outbox:
        """This socket's queue of frames (made on first use, on the running loop)."""
        outbox: fanout.Outbox | None = self.__dict__.get("_outbox")
        if outbox is None:
            outbox = self.__dict__["_outbox"] = fanout.Outbox(self.ws)
        return outbox

    async def send_json(self, message: Any) -> None:
        """Queued behind the frames before it (never waits for the socket, unless its queue is full)."""
        encoded = self.view.encode_json(message)
        await self.outbox.put(encoded.encode() if isinstance(encoded, str) else encoded)

    async def close(self, code: int, reason: str) -> None:
        """What was queued first (a refusal's message), then the close frame."""
        await self.outbox.flush()
        self.outbox.stop()
        await self.ws.close(code=code, reason=close_reason(reason))

    def stop(self) -> None:
        """The socket's handler is done: its writer ends."""
        if "_outbox" in self.__dict__:
            self.outbox.stop()


def _operation_problem(payload: object) -> str | None:
    if not isinstance(payload, dict):
        return "The operation's `payload` must be an object."
    if not isinstance(payload.get("query"), str):
        return "The operation's `query` must be a string."
    for key, kinds in (("variables", dict), ("extensions", dict), ("operationName", str)):
        if not isinstance(payload.get(key), kinds | None):
            return f"The operation's `{key}` must be {'a string' if kinds is str else 'an object'} or null."
    return None


def message_problem(message: object, start: str, stop: str) -> str | None:
    """Why a decoded protocol message cannot be handled, or None. `start`/`stop` name the protocol's
    operation messages (`subscribe`/`complete`, or the legacy `start`/`stop`)."""
    if isinstance(message, MalformedMessage):
        return message.reason
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "A message must be a JSON object with a string `type`."
    kind = message["type"]
    if kind == "connection_init" and not isinstance(message.get("payload"), dict | None):
        return "The `payload` of connection_init must be an object."
    if kind in (start, stop) and not isinstance(message.get("id"), str):
        return f"A `{kind}` message needs a string `id`."
    return _operation_problem(message.get("payload")) if kind == start else None


def _forget_socket(context: Any) -> None:
    """The socket is closed: the subscription hub stops checking its token."""
    from billrun.hub import Hub

    if (hub := Hub.of_this_loop()) is not None:
        hub.forget(context)


def _sink(websocket: Any, operation_id: str, message_type: str) -> None:
    """The operation whose task this is sends its frames to `websocket`'s outbox (billrun/fanout.py)."""
    if isinstance(websocket, BoundedWebSocketAdapter):
        fanout.SINK.set(fanout.Sink(websocket.outbox, operation_id, message_type))


def _done(websocket: Any, context: Any) -> None:
    _forget_socket(context)
    if isinstance(websocket, BoundedWebSocketAdapter):
        websocket.stop()


class CheckedTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws: a malformed message closes the socket with 4400 and the reason."""

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            _done(self.websocket, self.context)

    async def run_operation(self, operation: Any) -> None:
        _sink(self.websocket, operation.id, "next")
        await super().run_operation(operation)

    async def handle_message(self, message: Any) -> None:
        if problem := message_problem(message, "subscribe", "complete"):
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)


class CheckedLegacyWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """The legacy graphql-ws protocol: a malformed `connection_init` (or anything malformed before the
    connection is acknowledged) gets `connection_error` and the socket closed (4400); a `start` with a
    readable `id` but a malformed payload an `error` for that id; anything else malformed closes (4400)."""

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            _done(self.websocket, self.context)

    async def handle_async_results(self, operation_id: str, query: str, operation_name: str | None,
                                   variables: dict[str, object] | None) -> None:
        _sink(self.websocket, operation_id, "data")
        await super().handle_async_results(operation_id, query, operation_name, variables)

    async def handle_message(self, message: Any) -> None:
        problem = message_problem(message, "start", "stop")
        if problem is None:
            await super().handle_message(message)
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "connection_init" or not self.connection_acknowledged:
            await self.send_message({"type": "connection_error", "payload": {"message": problem}})
            await self.websocket.close(code=PROTOCOL_ERROR, reason=problem)
        elif kind == "start" and isinstance(message.get("id"), str):
            await self.send_message({"type": "error", "id": message["id"], "payload": {"message": problem}})
        else:
            await self.websocket.close(code=PROTOCOL_ERROR, reason=problem)

    async def handle_connection_init(self, message: Any) -> None:
        """Strawberry's, except that a refused connection closes with 4403 (Forbidden, as graphql-transport-ws
        does) rather than 1011, which says the server failed."""
        self.context.connection_params = message.get("payload")  # shape checked in handle_message
        try:
            ack_payload = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as rejection:
            await self.send_message({"type": "connection_error", "payload": rejection.payload})
            await self.websocket.close(code=FORBIDDEN, reason="Forbidden")
            return
        if isinstance(ack_payload, UnsetType) or ack_payload is None:
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": ack_payload})
        self.connection_acknowledged = True
        if self.keep_alive:
            self.keep_alive_task = asyncio.create_task(self.handle_keep_alive())

"""The fast path of subscriptions: an event is executed and serialized **once per (operation, viewer)**, and the
same text is written to every socket of that group, below Strawberry's per-operation streaming
(docs/EVENTS.md, "The fast path"; docs/PERFORMANCE.md, "Live events").

- `SharedResults`: by (operation, viewer, event), one execution's future and, once it is known to have no errors,
  its serialized payload (`{"data": …}`). The operation is its text, name and variables; the viewer its user and
  permissions, which is all the scope depends on.
- `Outbox`: one per WebSocket; every frame of the socket goes through it, in order (Strawberry's own messages —
  ack, errors, `complete`, keep-alives — and the fast path's). While nothing waits in its queue and the socket's
  transport is below its high-water mark, a frame is written at once, whole (billrun/ws_protocol.py), the frames
  of one turn of the event loop in one write; otherwise it is queued for the socket's writer task, which waits
  for the transport. The queue holds at most BILLRUN_WS_SEND_QUEUE frames; a producer waits for room, and a
  socket whose queue stays full for BILLRUN_WS_SEND_TIMEOUT_SECONDS is too far behind: it is closed with 1013
  ("try again later"), and its client resumes with its last cursor. A slow socket only ever makes its own
  subscriptions wait.
- `Sink`: one per operation: its socket's outbox, its id and its protocol's message type (`next` for
  graphql-transport-ws, `data` for the legacy graphql-ws). A frame is the shared payload spliced into
  `{"type":…,"id":…,"payload":<shared>}`: the frames of two operations differ only by the id.
- `FastOperation`: what a subscription's stream uses to deliver an event itself (resolvers/events.py). An event
  whose result has errors is not delivered here: the subscription yields it to Strawberry, whose per-operation
  path masks, logs and counts the errors for that operation, as for any result.

The WebSocket handlers (billrun/graphql_ws.py) set the operation's sink and the schema's executor
(schema/subscription.py) sets the subscription's executor in context variables of the operation's task; a
subscription run without both (outside a WebSocket) takes Strawberry's path for every event.
"""

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Protocol

from graphql import ExecutionResult

from billrun import live_metrics
from billrun.settings import get_settings
from billrun.ws_protocol import frame_writer, text_frame

log = logging.getLogger("billrun.fanout")

TRY_AGAIN_LATER = 1013  # RFC 6455: the client retries (graphql-ws clients reconnect on it)
TURN_BYTES = 65536  # frames gathered in one turn of the loop are written once they reach this (the transport's
#                    high-water mark), so a turn never holds more
TOO_FAR_BEHIND = "Too far behind: subscribe again with `after` set to the last cursor you received."


class EventExecutor(Protocol):
    """The subscription's executor (schema/subscription.py: SharedEventExecutor)."""

    def sharing_key(self, event: Any) -> tuple | None: ...

    def group_key(self) -> tuple | None: ...

    def execute_event(self, event: Any) -> Any: ...


# ---------------------------------------------------------------- one execution and one serialization, shared


class Shared:
    """One (operation, viewer, event)'s execution: its future and, once known to have no errors, its payload."""

    __slots__ = ("data", "future")

    def __init__(self, future: asyncio.Future) -> None:
        self.future = future
        self.data: bytes | None = None  # the serialized payload (UTF-8), once the result is known to have no errors

    def payload(self) -> bytes | None:
        """The serialized payload, when the result is in and has no errors (None otherwise, or not yet)."""
        if self.data is None:
            future = self.future
            if not future.done() or future.cancelled() or future.exception() is not None:
                return None
            result = future.result()
            if result.errors:
                return None
            self.data = payload_text(result).encode()
        return self.data


class SharedResults:
    """The latest events' results, by key: a future, so subscribers asking at once wait for one execution."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.found: OrderedDict[tuple, Shared] = OrderedDict()

    def entry(self, key: tuple, execute: Callable[[], Any]) -> Shared:
        shared = self.found.get(key)
        if shared is None:
            shared = Shared(_future_of(execute()))
            self.found[key] = shared
            while len(self.found) > self.size:
                self.found.popitem(last=False)
        return shared

    def result(self, key: tuple, execute: Callable[[], Any]) -> Any:
        """A copy of the shared result (each operation's errors are masked on its own copy), or a coroutine of
        one while it is being computed."""
        future = self.entry(key, execute).future
        if future.done() and not future.cancelled() and future.exception() is None:
            return _copy(future.result())  # the common case: no coroutine to schedule
        return _copy_of(future)


def _future_of(value: Any) -> asyncio.Future:
    """A future of an execution's result: done at once when the execution finished without awaiting anything
    (no task to schedule, no turn of the loop to wait for)."""
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return asyncio.ensure_future(value)
    future = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


def _copy(result: ExecutionResult) -> ExecutionResult:
    return ExecutionResult(result.data, result.errors, result.extensions)


async def _copy_of(future: asyncio.Future) -> ExecutionResult:
    return _copy(await asyncio.shield(future))


def payload_text(result: ExecutionResult) -> str:
    """A result without errors as the `payload` of a `next`/`data` message, as Strawberry would write it."""
    payload: dict[str, Any] = {"data": result.data}
    if result.extensions:
        payload["extensions"] = result.extensions
    return json.dumps(payload)


SHARED = SharedResults()


# ---------------------------------------------------------------- one queue and one writer per socket


class Outbox:
    """A WebSocket's frames, in order, bounded (see the module's docstring). A frame is written at once when
    nothing is queued before it and the socket's transport takes it (`billrun.frames`, billrun/ws_protocol.py);
    otherwise it is queued for the socket's writer task."""

    def __init__(self, websocket: Any) -> None:
        settings = get_settings()
        self.websocket = websocket  # starlette's WebSocket
        self.frames = frame_writer(getattr(websocket, "scope", None))  # None: every frame through ASGI
        self.timeout = settings.ws_send_timeout_seconds
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(settings.ws_send_queue)
        self.closed = False
        self._holding = False  # the writer took a frame from the queue and has not written it yet
        self._turn: list[bytes] | None = None  # whole frames to write at the end of this turn of the loop
        self._turn_bytes = 0
        self._writer: asyncio.Task | None = None

    def offer(self, *parts: bytes) -> bool:
        """Write the frame whose text is `parts` joined, or queue it, without waiting: False when the queue is
        full (the caller waits with `put`, or hands the frame to a task that does) or the socket is gone.

        Frames offered while nothing waits in the queue and the transport takes more are written at once — all
        of one turn of the event loop in one write (a burst of events, or a replayed page, is one system call
        per socket, not one per frame; at most TURN_BYTES wait so)."""
        if self.closed:
            return False
        turn = self._turn
        if turn is not None:
            frame = text_frame(parts)
            turn.append(frame)
            self._turn_bytes += len(frame)
            if self._turn_bytes >= TURN_BYTES:
                self._write_turn()
            return True
        frames = self.frames
        if frames is not None and not self._holding and self.queue.empty() and frames.writable:
            frame = text_frame(parts)
            self._turn, self._turn_bytes = [frame], len(frame)
            asyncio.get_running_loop().call_soon(self._write_turn)
            return True
        try:
            self.queue.put_nowait(parts[0] if len(parts) == 1 else b"".join(parts))
        except asyncio.QueueFull:
            return False
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_forever(), name="billrun-ws-writer")
        return True

    def _write_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn and not self.closed and self.frames is not None and not self.frames.write_framed(turn):
            self.stop()  # closed by either side: nothing more to write

    async def put(self, *parts: bytes) -> bool:
        """Write or queue a frame, waiting for room; False when the socket is gone (or was just closed as too far
        behind)."""
        if self.offer(*parts):
            return True
        if self.closed:
            return False
        try:
            async with asyncio.timeout(self.timeout):
                await self.queue.put(b"".join(parts))  # the queue was full, so its writer runs
        except TimeoutError:
            self._too_far_behind()
            return False
        return not self.closed

    async def _write_forever(self) -> None:
        frames, queue = self.frames, self.queue
        try:
            while True:
                data = await queue.get()
                self._holding = True
                try:
                    if frames is None:
                        await self.websocket.send_text(data.decode())
                    else:
                        if not frames.writable:
                            await frames.wait_writable()
                        if not frames.write(data):
                            raise ConnectionError("the socket is closed")
                finally:
                    self._holding = False
                    queue.task_done()
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket is gone (closed by either side): nothing more to write
            self.stop()

    async def flush(self, within: float = 1.0) -> None:
        """Wait (a little) until what was queued is written: a refusal's message before its close frame."""
        self._write_turn()
        if self._writer is not None and not self.closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await self.queue.join()

    def stop(self) -> None:
        """Write nothing more: the writer ends, producers waiting for room return, the queue is let go."""
        self.closed = True
        self._turn = None
        if self._writer is not None and self._writer is not _current_task():
            self._writer.cancel()
        while not self.queue.empty():
            self.queue.get_nowait()
            self.queue.task_done()

    def _too_far_behind(self) -> None:
        if self.closed:
            return
        self.stop()
        live_metrics.slow_consumer_closed()
        log.info("closing a WebSocket too far behind (%s frames waiting for %s s)", self.queue.maxsize,
                 self.timeout)
        asyncio.get_running_loop().create_task(self._close(TRY_AGAIN_LATER, TOO_FAR_BEHIND))

    async def _close(self, code: int, reason: str) -> None:
        """The close frame goes out once the client takes what its socket holds; a client that takes nothing at
        all is dropped by the server's WebSocket ping timeout (uvicorn's, 20 s) meanwhile."""
        with contextlib.suppress(Exception):  # closed meanwhile
            await self.websocket.close(code=code, reason=reason)


def _current_task() -> asyncio.Task | None:
    with contextlib.suppress(RuntimeError):
        return asyncio.current_task()
    return None


class Sink:
    """Where one operation's frames go: its socket's outbox, with its id (see the module's docstring)."""

    def __init__(self, outbox: Outbox, operation_id: str, message_type: str) -> None:
        self.outbox = outbox
        self._head = f'{{"type":"{message_type}","id":{json.dumps(operation_id)},"payload":'.encode()

    async def send(self, payload: bytes) -> bool:
        """Write or queue the frame, waiting for room (the 1013 rule); False when the socket is gone."""
        return await self.outbox.put(self._head, payload, b"}")

    def offer(self, payload: bytes) -> bool:
        """Write or queue the frame without waiting; False when there is no room or the socket is gone."""
        return self.outbox.offer(self._head, payload, b"}")


# ---------------------------------------------------------------- the operation's side


class SocketGone(Exception):
    """The operation's socket takes no more frames: the subscription ends."""


class FastOperation:
    """Delivers a subscription's events through the shared results and its sink."""

    def __init__(self, executor: EventExecutor, sink: Sink, fresh: Callable[[], None]) -> None:
        self.executor, self.sink, self.fresh = executor, sink, fresh

    async def deliver(self, event: Any) -> bool:
        """Send `event`'s frame; False when it must take Strawberry's path (its result has errors, or it cannot
        be shared). SocketGone when the socket takes nothing more."""
        key = self.executor.sharing_key(event)
        if key is None:
            return False
        shared = self.shared(event, key)
        payload = shared.payload()
        if payload is None:
            if shared.future.done():
                return False  # errors, or a failure outside the fields: Strawberry's path reports them
            with contextlib.suppress(Exception):  # reported by Strawberry's path as it always has
                await asyncio.shield(shared.future)
            if (payload := shared.payload()) is None:
                return False
        if not await self.sink.send(payload):
            raise SocketGone
        return True

    def shared(self, event: Any, key: tuple) -> "Shared":
        """The shared execution of `event` for this operation's group (started by the first to ask)."""
        return SHARED.entry(key, lambda: self._execute(event))

    def _execute(self, event: Any) -> Any:
        self.fresh()  # links read fresh for each event
        return self.executor.execute_event(event)


SINK: ContextVar[Sink | None] = ContextVar("billrun_operation_sink", default=None)
EXECUTOR: ContextVar[EventExecutor | None] = ContextVar("billrun_subscription_executor", default=None)


def fast_operation(fresh: Callable[[], None]) -> FastOperation | None:
    """The running subscription's fast path, when it runs over one of our WebSockets."""
    sink, executor = SINK.get(), EXECUTOR.get()
    if sink is None or executor is None:
        return None
    return FastOperation(executor, sink, fresh)

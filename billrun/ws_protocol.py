"""uvicorn's WebSocket protocol (websockets' sans-I/O one, uvicorn's default), with one addition: an ASGI extension
(`billrun.frames` in the scope's `extensions`) that writes a whole text frame straight to the socket's transport.

A server's frames are unmasked and, without permessage-deflate, a text frame is its header and the text's bytes:
writing it costs one bytes join and one `transport.write`, where ASGI's `websocket.send` costs Starlette's and
uvicorn's message handling and websockets' framing per frame. Subscriptions use it for their events
(billrun/fanout.py). It is offered only on a socket that negotiated no extension (with permessage-deflate each
socket compresses on its own, and frames go through ASGI as before). Back-pressure stays the transport's: a frame
is written only while the transport is below its high-water mark (`writable`), otherwise the caller queues it
and waits (`wait_writable`) — the socket's bounded outbox (billrun/fanout.py) and its 1013 rule are unchanged.
Control frames (pings, the close frame) still go through uvicorn and websockets; a frame is written whole, so
they never interleave inside one.
"""

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

FRAMES = "billrun.frames"
_FIN_TEXT = 0x81  # FIN + opcode 1 (text)


def text_frame_head(size: int) -> bytes:
    """The header of an unmasked, unfragmented text frame of `size` bytes (RFC 6455, 5.2)."""
    if size < 126:
        return bytes((_FIN_TEXT, size))
    if size < 65536:
        return bytes((_FIN_TEXT, 126)) + size.to_bytes(2, "big")
    return bytes((_FIN_TEXT, 127)) + size.to_bytes(8, "big")


class FrameWriter:
    """Writes text frames to one socket's transport (see the module's docstring)."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    @property
    def open(self) -> bool:
        """Frames may still be written: the socket is open and no close frame was sent."""
        protocol = self._protocol
        return (protocol.conn.state is State.OPEN and not protocol.close_sent and not protocol.disconnected
                and not protocol.transport.is_closing())

    @property
    def writable(self) -> bool:
        """The transport is below its high-water mark (or the socket is gone: writing fails at once)."""
        return self._protocol.writable.is_set()

    async def wait_writable(self) -> None:
        await self._protocol.writable.wait()

    def write(self, *parts: bytes) -> bool:
        """One text frame whose UTF-8 text is `parts` joined; False when the socket takes no more frames."""
        return self.write_framed([text_frame(parts)])

    def write_framed(self, chunks: list[bytes]) -> bool:
        """Whole frames (`text_frame`'s), in one write; False when the socket takes no more frames."""
        if not self.open:
            return False
        self._protocol.transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        return True


def text_frame(parts: tuple[bytes, ...] | list[bytes]) -> bytes:
    """The whole frame of the text `parts` joined."""
    size = 0
    for part in parts:
        size += len(part)
    return b"".join((text_frame_head(size), *parts))


class FrameWritingWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's `websockets-sansio` protocol offering the `billrun.frames` extension (`billrun serve`'s `ws`)."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and self.response.status_code == 101 and not self.conn.extensions:
            scope["extensions"][FRAMES] = FrameWriter(self)  # the app's task has not run yet


def frame_writer(scope: Any) -> FrameWriter | None:
    """The socket's frame writer, when its server offers one."""
    extensions = scope.get("extensions") if isinstance(scope, dict) else None
    writer = extensions.get(FRAMES) if isinstance(extensions, dict) else None
    return writer if isinstance(writer, FrameWriter) else None


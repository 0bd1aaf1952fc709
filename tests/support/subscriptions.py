"""A GraphQL subscription client over a real WebSocket (graphql-transport-ws or the legacy graphql-ws), for tests
against `billrun serve` processes."""

import asyncio
import json
from typing import Any

import websockets

TRANSPORT, LEGACY = "graphql-transport-ws", "graphql-ws"
DEADLINE = 60.0  # seconds to wait for something that should come (a wait with a deadline, not a speed check)

EVENT_FIELDS = """id cursor type batch { id } job { id kind }
  payload { __typename ... on JobProgress { done total } ... on JobFinished { jobKind jobStatus }
    ... on BatchStatusChanged { batchStatus } ... on BillingEdited { amount } ... on BatchCreated { name } }"""


class Subscription:
    """One socket running one subscription (operation id "1")."""

    def __init__(self, url: str, token: str, protocol: str = TRANSPORT) -> None:
        self.url, self.token, self.protocol = url, token, protocol
        self.ws: websockets.ClientConnection | None = None
        self.completed = False

    async def open(self, query: str, variables: dict | None = None) -> "Subscription":
        self.ws = await websockets.connect(self.url, subprotocols=[self.protocol], max_size=None)  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}}
        await self.ws.send(json.dumps(init))
        ack = await self._message()
        assert ack["type"] == "connection_ack", ack
        start = "subscribe" if self.protocol == TRANSPORT else "start"
        await self.ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": query,
                                                                            "variables": variables or {}}}))
        return self

    async def _message(self, within: float = DEADLINE) -> dict:
        assert self.ws is not None
        async with asyncio.timeout(within):
            while True:
                message = json.loads(await self.ws.recv())
                if message["type"] not in ("ping", "pong", "ka"):
                    return message

    async def next(self, within: float = DEADLINE) -> dict | None:
        """The next result's data (None once the subscription completed); an error message fails the test."""
        message = await self._message(within)
        if message["type"] == "complete":
            self.completed = True
            return None
        assert message["type"] in ("next", "data"), message
        assert not message["payload"].get("errors"), message
        return message["payload"]["data"]

    async def error(self) -> Any:
        """The error message the subscription was refused with."""
        message = await self._message()
        assert message["type"] == "error", message
        return message["payload"]

    async def events_until(self, done, field: str) -> list[dict]:
        """Events (of root `field`) until `done(event)` holds for one of them (included)."""
        found = []
        while True:
            data = await self.next()
            assert data is not None, f"completed before the awaited event: {[e['type'] for e in found]}"
            found.append(data[field])
            if done(data[field]):
                return found

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def closed_by_server(self, within: float = DEADLINE) -> int:
        """Wait until the server closes the socket; its close code."""
        assert self.ws is not None
        try:
            async with asyncio.timeout(within):
                while True:
                    await self.ws.recv()
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None, "the client closed, not the server"
            return closed.rcvd.code
        raise AssertionError("unreachable")

"""GraphQL over WebSocket (graphql-transport-ws) against a real uvicorn server, token in connection_init."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import websockets

from tests.conftest import make_token
from tests.support.worker import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ, BILLRUN_CORS_ORIGINS="http://spa.example.com")
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "billrun.asgi:app", "--port", str(port),
                             "--log-level", "warning"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"ws://127.0.0.1:{port}/graphql"
    proc.terminate()
    proc.wait(15)


async def _run(url: str, params: dict, query: str, origin: str | None = None) -> list[dict]:
    headers = {"Origin": origin} if origin else None
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": params}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        messages = []
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "ping":
                continue
            messages.append(message)
            if message["type"] in ("complete", "error"):
                return messages


async def test_query_over_websocket_with_token_in_connection_init(server: str) -> None:
    _, token = await make_token("ws@example.com", ["BILLING_ACCESS"])
    messages = await _run(server, {"Authorization": f"Bearer {token}"}, "{ viewer { email } }")
    assert messages[0]["payload"]["data"] == {"viewer": {"email": "ws@example.com"}}


async def test_websocket_without_token_is_refused(server: str) -> None:
    messages = await _run(server, {}, "{ viewer { email } }")
    assert messages[0]["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_websocket_origins_come_from_configuration(server: str) -> None:
    _, token = await make_token("spa@example.com", ["BILLING_ACCESS"])
    messages = await _run(server, {"Authorization": f"Bearer {token}"}, "{ viewer { email } }",
                          origin="http://spa.example.com")
    assert messages[0]["payload"]["data"]["viewer"]["email"] == "spa@example.com"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        await _run(server, {"Authorization": f"Bearer {token}"}, "{ viewer { email } }",
                   origin="http://evil.example.com")


async def test_cors_allows_only_configured_origins(client) -> None:
    """In-process app built without BILLRUN_CORS_ORIGINS: no cross-origin access by default."""
    response = await client.options("/graphql", headers={"Origin": "http://evil.example.com",
                                                          "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in response.headers

"""BILLRUN_LOG_FORMAT=json: a real `billrun serve` prints one JSON object per line, and every line logged while
serving a request (HTTP or WebSocket) carries that request's id."""

import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from tests.support import waiting
from tests.support.live_server import live_server


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_api_lines_are_json_and_each_carries_its_request_id(tmp_path) -> None:
    log = tmp_path / "serve.log"
    with log.open("w") as output, live_server(output=output, BILLRUN_LOG_FORMAT="json",
                                              BILLRUN_LOG_LEVEL="INFO") as port:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz", headers={"X-Request-Id": "ops-health-1"}).status_code == 200
        answer = httpx.post(f"{base}/graphql", json={"query": "{ viewer { id } }"},
                            headers={"X-Request-Id": "ops-graphql-2"})
        assert answer.status_code == 200 and answer.headers["x-request-id"] == "ops-graphql-2"
        with connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"],
                     additional_headers={"X-Request-Id": "ops-socket-3"}) as socket:
            socket.send(json.dumps({"type": "connection_init", "payload": {}}))  # no token: refused
            with pytest.raises(ConnectionClosedError):
                socket.recv(timeout=10)
        waiting.until_sync(lambda: any(line.get("request_id") == "ops-socket-3" for line in _lines(log)),
                           "the refused socket's log line with its request id", 10)

    lines = _lines(log)  # every line parses
    for line in lines:
        assert {"timestamp", "level", "logger", "message", "process"} <= set(line), line
    by_request: dict[str, list[dict]] = {}
    for line in lines:
        if "request_id" in line:
            by_request.setdefault(line["request_id"], []).append(line)
    assert set(by_request) >= {"ops-health-1", "ops-graphql-2", "ops-socket-3"}, lines
    # uvicorn's access line of each request carries its own id, and no other request's.
    assert any("GET /healthz" in line["message"] for line in by_request["ops-health-1"])
    assert all("/graphql" not in line["message"] for line in by_request["ops-health-1"])
    assert any("POST /graphql" in line["message"] for line in by_request["ops-graphql-2"])
    assert all("/healthz" not in line["message"] for line in by_request["ops-graphql-2"])
    assert any("WebSocket /graphql" in line["message"] for line in by_request["ops-socket-3"])
    assert any(line["logger"].startswith("uvicorn") and "request_id" not in line for line in lines)  # start-up

"""GraphQL over WebSocket (graphql-transport-ws and the legacy graphql-ws) against a real server started as
`billrun serve` starts it: the token in connection_init, bounded messages, strict decoding, protocol errors."""

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

import models
from billrun.settings import get_settings
from domain import auth, clock
from tests.conftest import make_token
from tests.support.live_server import live_server

TRANSPORT, LEGACY = "graphql-transport-ws", "graphql-ws"
QUERY = "{ viewer { email } }"
DEADLINE = 10  # seconds to wait for an answer or a close that should come at once


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with live_server(BILLRUN_CORS_ORIGINS="http://spa.example.com") as port:
        yield f"ws://127.0.0.1:{port}/graphql"


def _connect(url: str, protocol: str = TRANSPORT, origin: str | None = None) -> websockets.connect:
    headers = {"Origin": origin} if origin else None
    return websockets.connect(url, subprotocols=[protocol], additional_headers=headers, max_size=None)


async def _receive(ws: websockets.ClientConnection) -> dict:
    """The next message that is not a keep-alive."""
    async with asyncio.timeout(DEADLINE):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] not in ("ping", "ka"):
                return message


async def _closed(ws: websockets.ClientConnection) -> tuple[int, str]:
    """Wait for the server to close the socket (skipping keep-alives); its close code and reason."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(DEADLINE):
            while True:
                message = json.loads(await ws.recv())
                assert message["type"] in ("ping", "ka", "connection_error", "error"), message
    assert closed.value.rcvd is not None, "the client closed, not the server"
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def _run(url: str, params: dict, query: str, origin: str | None = None) -> list[dict]:
    async with _connect(url, origin=origin) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": params}))
        assert (await _receive(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        messages = []
        while True:
            messages.append(message := await _receive(ws))
            if message["type"] in ("complete", "error"):
                return messages


async def _token(email: str = "ws@example.com") -> str:
    """A token of a clerk with this e-mail (created on first use)."""
    user = await models.User.get_or_none(email=email)
    if user is None:
        return (await make_token(email, ["BILLING_ACCESS"]))[1]
    return (await auth.create_api_token(None, user_id=user.id, name="test"))[0]


async def test_query_over_websocket_with_token_in_connection_init(server: str) -> None:
    messages = await _run(server, {"Authorization": f"Bearer {await _token()}"}, QUERY)
    assert messages[0]["payload"]["data"] == {"viewer": {"email": "ws@example.com"}}


async def _legacy_query_refusal(ws: websockets.ClientConnection, operation_id: str) -> None:
    """The legacy protocol carries subscriptions only: a query is refused as the client's mistake, not a bug."""
    await ws.send(json.dumps({"id": operation_id, "type": "start", "payload": {"query": QUERY}}))
    answer = await _receive(ws)
    assert answer["type"] == "error" and answer["id"] == operation_id
    assert answer["payload"]["message"] == "queries are not allowed"


async def test_legacy_protocol_with_token_in_connection_init(server: str) -> None:
    async with _connect(server, LEGACY) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {await _token()}"}}))
        assert (await _receive(ws))["type"] == "connection_ack"
        await _legacy_query_refusal(ws, "1")


async def _revoked() -> str:
    token = await _token()
    await models.AccessToken.filter(token_hash=auth.hash_token(token)).update(revoked_at=clock.now())
    return token


async def _expired() -> str:
    token = (await make_token("late@example.com", ["BILLING_ACCESS"]))[1]
    await models.AccessToken.filter(token_hash=auth.hash_token(token)).update(
        expires_at=clock.now() - timedelta(minutes=1))
    return token


async def _unknown() -> str:
    return "brt_not-a-token-anyone-was-given"


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
@pytest.mark.parametrize("params", [
    None, {}, {"Authorization": ""}, {"Authorization": "Basic abc"}, {"Authorization": 42}, "unknown", "revoked",
    "expired"], ids=["no payload", "empty", "blank", "not bearer", "not a string", "unknown", "revoked", "expired"])
async def test_a_websocket_without_a_valid_token_is_closed_never_acknowledged(server: str, protocol: str,
                                                                            params: object) -> None:
    if isinstance(params, str):
        token = await {"unknown": _unknown, "revoked": _revoked, "expired": _expired}[params]()
        params = {"Authorization": f"Bearer {token}"}
    async with _connect(server, protocol) as ws:
        init = {"type": "connection_init"} if params is None else {"type": "connection_init", "payload": params}
        await ws.send(json.dumps(init))
        if protocol == LEGACY:  # the legacy protocol says why before closing
            assert (await _receive(ws))["type"] == "connection_error"
        code, _ = await _closed(ws)
        assert code == 4403


async def test_a_subscribe_before_connection_init_is_closed(server: str) -> None:
    async with _connect(server) as ws:
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}))
        assert (await _closed(ws))[0] == 4401


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
async def test_a_message_over_the_size_limit_closes_the_socket(server: str, protocol: str) -> None:
    limit = get_settings().max_ws_message_bytes
    async with _connect(server, protocol) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "x" * (limit + 10)}}))
        assert (await _closed(ws))[0] == 1009


def test_serve_gives_uvicorn_the_same_message_limit() -> None:
    from billrun.cli import uvicorn_options

    assert uvicorn_options(get_settings())["ws_max_size"] == get_settings().max_ws_message_bytes


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_a_frame_written_whole_is_the_frame_websockets_would_write(size: int) -> None:
    """The events' frames bypass websockets' framing (billrun/ws_protocol.py): same bytes, every length form."""
    from websockets.frames import Frame, Opcode

    from billrun.ws_protocol import text_frame_head

    text = ("é" * (size // 2) + "a" * (size % 2)).encode()  # `size` bytes of UTF-8
    head, body = text[: size // 3], text[size // 3:]
    assert text_frame_head(len(head) + len(body)) + head + body == Frame(Opcode.TEXT, text).serialize(
        mask=False, extensions=[])


def test_serve_runs_uvicorn_s_websocket_protocol_that_writes_frames_whole() -> None:
    from uvicorn.importer import import_from_string

    from billrun.cli import uvicorn_options
    from billrun.ws_protocol import FrameWritingWebSocketProtocol

    assert import_from_string(uvicorn_options(get_settings())["ws"]) is FrameWritingWebSocketProtocol


MALFORMED = {
    "a string": '"x"',
    "a list": "[]",
    "no type": '{"id": "1"}',
    "NUL in query": '{"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { id } } \\u0000"}}',
    "lone surrogate in variables": '{"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { id } }", '
                                   '"variables": {"x": "\\ud800"}}}',
    "operationName with NUL": '{"id": "1", "type": "subscribe", "payload": {"query": "query Q { viewer { id } }", '
                              '"operationName": "Q\\u0000"}}',
    "deep nesting": '{"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { id } }", "variables": '
                    '{"v": ' + "[" * 100 + "]" * 100 + "}}}",
    "very deep nesting": '{"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { id } }", '
                         '"variables": {"v": ' + "[" * 50_000 + "]" * 50_000 + "}}}",
    "huge integer": '{"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { id } }", '
                    '"variables": {"n": ' + "7" * 5000 + "}}}",
    "NaN": '{"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { id } }", "variables": {"n": NaN}}}',
    "not JSON": "{ viewer { id } }",
    "no id": '{"type": "subscribe", "payload": {"query": "{ viewer { id } }"}}',
    "numeric id": '{"id": 1, "type": "subscribe", "payload": {"query": "{ viewer { id } }"}}',
    "no payload": '{"id": "1", "type": "subscribe"}',
    "query not a string": '{"id": "1", "type": "subscribe", "payload": {"query": ["{ viewer { id } }"]}}',
    "variables a list": '{"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { id } }", '
                        '"variables": [1]}}',
    "complete without id": '{"type": "complete"}',
}


@pytest.mark.parametrize("message", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_message_is_a_protocol_error(server: str, message: str) -> None:
    """graphql-transport-ws: closed with 4400 and the reason; the server itself carries on."""
    async with _connect(server) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {await _token()}"}}))
        assert (await _receive(ws))["type"] == "connection_ack"
        await ws.send(message)
        code, reason = await _closed(ws)
        assert code == 4400 and reason
    assert (await _run(server, {"Authorization": f"Bearer {await _token()}"}, QUERY))[0]["payload"]["data"]


@pytest.mark.parametrize("init", [
    '{"type": "connection_init", "payload": {"Authorization": "Bearer \\u0000"}}',
    '{"type": "connection_init", "payload": {"Authorization": "Bearer x", "n": ' + "1" * 5000 + "}}",
    '{"type": "connection_init", "payload": "Bearer x"}',
], ids=["NUL", "huge integer", "payload not an object"])
@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
async def test_a_malformed_connection_init_is_a_protocol_error(server: str, protocol: str, init: str) -> None:
    async with _connect(server, protocol) as ws:
        await ws.send(init)
        if protocol == LEGACY:
            assert (await _receive(ws))["type"] == "connection_error"
        assert (await _closed(ws))[0] == 4400


@pytest.mark.parametrize("protocol, code", [(TRANSPORT, 4400), (LEGACY, 1002)])
async def test_a_binary_message_is_a_protocol_error(server: str, protocol: str, code: int) -> None:
    async with _connect(server, protocol) as ws:
        await ws.send(b'{"type": "connection_init", "payload": {}}\xff')
        assert (await _closed(ws))[0] == code


async def test_reasons_say_what_is_wrong(server: str) -> None:
    async with _connect(server) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {await _token()}"}}))
        await _receive(ws)
        await ws.send(MALFORMED["NUL in query"])
        assert "strings may not contain NUL or unpaired surrogates" in (await _closed(ws))[1]


@pytest.mark.parametrize("start", [
    '{"id": "1", "type": "start", "payload": {"query": 5}}',
    '{"id": "1", "type": "start", "payload": {"query": "{ viewer { id } }", "variables": [1]}}',
    '{"id": "1", "type": "start"}',
], ids=["query not a string", "variables a list", "no payload"])
async def test_legacy_protocol_answers_a_malformed_start_with_an_error(server: str, start: str) -> None:
    async with _connect(server, LEGACY) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {await _token()}"}}))
        assert (await _receive(ws))["type"] == "connection_ack"
        await ws.send(start)
        error = await _receive(ws)
        assert error["type"] == "error" and error["id"] == "1" and "The operation's" in error["payload"]["message"]
        await _legacy_query_refusal(ws, "2")  # the connection is still usable


@pytest.mark.parametrize("message", [MALFORMED["NUL in query"].replace("subscribe", "start"),
                                     MALFORMED["deep nesting"].replace("subscribe", "start"),
                                     MALFORMED["a list"], MALFORMED["no id"].replace("subscribe", "start")],
                         ids=["NUL", "deep nesting", "a list", "no id"])
async def test_legacy_protocol_closes_on_a_message_it_cannot_read(server: str, message: str) -> None:
    async with _connect(server, LEGACY) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {await _token()}"}}))
        assert (await _receive(ws))["type"] == "connection_ack"
        await ws.send(message)
        code, reason = await _closed(ws)
        assert code == 4400 and reason


async def test_syntax_errors_over_websocket_are_answered(server: str) -> None:
    """Even a document that cannot be parsed reaches the client as a protocol answer, not a server error."""
    async with _connect(server) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {await _token()}"}}))
        await _receive(ws)
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { id "}}))
        code, reason = await _closed(ws)
        assert code == 4400 and "Syntax Error" in reason


async def test_limits_hold_over_websocket(server: str) -> None:
    query = "query { ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30))
    messages = await _run(server, {"Authorization": f"Bearer {await _token()}"},
                          query + " fragment F30 on Query { viewer { id } }")
    assert messages[0]["type"] == "error" and messages[0]["payload"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_websocket_origins_come_from_configuration(server: str) -> None:
    _, token = await make_token("spa@example.com", ["BILLING_ACCESS"])
    messages = await _run(server, {"Authorization": f"Bearer {token}"}, QUERY, origin="http://spa.example.com")
    assert messages[0]["payload"]["data"]["viewer"]["email"] == "spa@example.com"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        await _run(server, {"Authorization": f"Bearer {token}"}, QUERY, origin="http://evil.example.com")


async def test_cors_allows_only_configured_origins(client) -> None:
    """In-process app built without BILLRUN_CORS_ORIGINS: no cross-origin access by default."""
    response = await client.options("/graphql", headers={"Origin": "http://evil.example.com",
                                                          "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in response.headers

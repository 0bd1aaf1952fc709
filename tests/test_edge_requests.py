"""Bounded requests: a body over BILLRUN_MAX_BODY_BYTES is answered 413 before it is read (declared length)
or as soon as it passes the limit (chunked), on /graphql and every other route, in process and on a real
server."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from billrun.settings import get_settings
from tests.support.live_server import live_server

FIFTY_MB = 50 * 1024 * 1024
CHUNK = 64 * 1024


class Upload:
    """A request body produced chunk by chunk, counting how much of it the server pulled."""

    def __init__(self, total: int, chunk: int = CHUNK) -> None:
        self.total, self.chunk, self.pulled = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.total:
            piece = b'{"query": "' if sent == 0 else b" " * min(self.chunk, self.total - sent)
            self.pulled += len(piece)
            sent += len(piece)
            yield piece


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 413
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert str(get_settings().max_body_bytes) in error["message"]
    assert response.headers["connection"] == "close" and response.headers["x-request-id"]


@pytest.mark.parametrize("path", ["/graphql", "/exports/1", "/health"])
async def test_a_declared_body_over_the_limit_is_refused_without_reading_it(client: httpx.AsyncClient,
                                                                           path: str) -> None:
    upload = Upload(FIFTY_MB)
    response = await client.post(path, content=upload, headers={"content-length": str(FIFTY_MB),
                                                                "content-type": "application/json"})
    _refused(response)
    assert upload.pulled == 0


async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(client: httpx.AsyncClient) -> None:
    upload = Upload(FIFTY_MB)  # no Content-Length: sent chunked
    response = await client.post("/graphql", content=upload, headers={"content-type": "application/json"})
    _refused(response)
    assert upload.pulled <= get_settings().max_body_bytes + CHUNK


async def test_a_body_within_the_limit_is_served(client: httpx.AsyncClient) -> None:
    body = json.dumps({"query": "{ viewer { id } }", "variables": {"pad": "x" * (get_settings().max_body_bytes
                                                                                   - 1000)}})
    response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    with live_server() as port:
        yield port


async def test_a_real_server_refuses_50_mb_without_a_token_before_reading(server_port: int) -> None:
    """Only the headers are sent: the answer comes at once, without waiting for a body that never comes."""

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server_port)
        writer.write(b"POST /graphql HTTP/1.1\r\nHost: billrun\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {FIFTY_MB}\r\n\r\n".encode())
        await writer.drain()
        answer = await reader.read()  # to EOF: the server closes the connection after refusing
        writer.close()
        return answer

    answer = await asyncio.wait_for(exchange(), timeout=15)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"

"""Health and readiness: /healthz (and its old name /health) answers while the process lives; /readyz says
whether the database, the broker and Redis answer, and turns unready while Redis is down."""


import httpx

from tests.support import waiting
from tests.support.live_server import live_server
from tests.support.private_redis import PrivateRedis


async def test_healthz_and_its_old_name_answer_without_a_token(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/health"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


async def test_readyz_lists_each_check_when_all_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "broker": "ok", "redis": "ok"}
    assert response.headers["cache-control"] == "no-store"


def _ready(port: int) -> tuple[int, dict]:
    response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
    return response.status_code, response.json()


def _wait_for(port: int, status: int, within: float = 30.0) -> dict:
    def answered() -> dict | None:
        code, body = _ready(port)
        return body if code == status else None

    return waiting.until_sync(answered, f"/readyz to answer {status}", within, every=0.1)


def test_readyz_turns_unready_while_redis_is_down_and_ready_when_it_returns() -> None:
    redis = PrivateRedis().start()
    try:
        with live_server(REDIS_URL=redis.url, BILLRUN_READY_TIMEOUT_SECONDS="1") as port:
            assert _wait_for(port, 200)["status"] == "ready"
            redis.stop()
            down = _wait_for(port, 503)
            assert down["status"] == "unready"
            assert down["checks"]["database"] == "ok"
            assert down["checks"]["redis"] in ("unreachable", "timeout")
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200  # alive, just not ready
            redis.start()
            back = _wait_for(port, 200)
            assert set(back["checks"].values()) == {"ok"}
    finally:
        redis.close()

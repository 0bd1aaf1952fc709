"""Which errors a client sees: bugs masked with a request id (and logged once), authentication errors built
per request, and no field suggestions in production."""

import asyncio
import logging
import re
from collections.abc import Iterator

import pytest

from billrun.settings import reset_settings
from schema.permissions import AUTH_MESSAGE
from tests.support.api import Api

MASKED = "Unexpected error; it has been logged."
HUGE = "hunter2" + "A" * 200_000  # an input value a bug's message quotes


@pytest.fixture
def broken_accounts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real bug in a resolver: it quotes the client's (huge) search text in its message."""
    from resolvers import lists

    async def broken(info: object, filter: object, *args: object) -> None:
        raise RuntimeError(f"cannot search for {filter.search!r}")  # type: ignore[attr-defined]

    monkeypatch.setattr(lists, "accounts", broken)


def _bug_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_bug_is_masked_with_the_request_id_and_logged_once(admin: Api, broken_accounts: None,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    alias = "x" * 5000
    query = f"query($s: String) {{ {alias}: accounts(filter: {{search: $s}}) {{ totalCount }} }}"
    with caplog.at_level(logging.INFO):
        response = await admin.client.post("/graphql", json={"query": query, "variables": {"s": HUGE}},
                                           headers={"Authorization": f"Bearer {admin.token}",
                                                    "X-Request-Id": "req-42.a"})
    assert response.status_code == 200 and response.headers["x-request-id"] == "req-42.a"
    [error] = response.json()["errors"]
    assert error["message"] == MASKED
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "req-42.a"}
    assert "hunter2" not in response.text and "Traceback" not in response.text

    [record] = _bug_records(caplog)  # once: no second record of the same bug anywhere
    logged = logging.Formatter().format(record)
    assert record.exc_info and "Traceback (most recent call last)" in logged and "RuntimeError" in logged
    assert "req-42.a" in record.getMessage() and "hunter2" in logged  # enough to debug by
    assert len(logged) < 10_000  # the 200 kB input and the 5 kB alias are not repeated
    assert HUGE[:1000] not in logged and alias not in logged


async def test_without_an_id_the_server_makes_one_and_says_which(admin: Api, broken_accounts: None,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    for given in (None, "has spaces in it", "x" * 65, "semi;colon"):
        headers = {"Authorization": f"Bearer {admin.token}", **({"X-Request-Id": given} if given else {})}
        with caplog.at_level(logging.INFO):
            response = await admin.client.post("/graphql", json={"query": "{ accounts { totalCount } }"},
                                               headers=headers)
        request_id = response.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id), given
        assert response.json()["errors"][0]["extensions"]["requestId"] == request_id
        assert request_id in _bug_records(caplog)[-1].getMessage()


async def test_every_response_carries_a_request_id(client, admin: Api) -> None:
    for response in (await client.get("/health"), await client.post("/graphql", content=b"[]",
                                                                   headers={"content-type": "application/json"}),
                     await client.post("/graphql", json={"query": "{ viewer { id } }"},
                                       headers={"Authorization": f"Bearer {admin.token}", "X-Request-Id": "r1"})):
        assert response.headers.get("x-request-id")
    assert response.headers["x-request-id"] == "r1"


async def test_the_authentication_error_is_built_per_request(anonymous: Api) -> None:
    """A tokenless client is never told that "its" token was revoked, whoever asked just before."""
    revoked = anonymous.as_("brt_no-such-token")
    tokenless_alone = (await anonymous("{ viewer { id } }")).errors[0]
    assert tokenless_alone["message"] == AUTH_MESSAGE and tokenless_alone["extensions"]["code"] == "UNAUTHENTICATED"
    for _ in range(3):
        bad, none = await revoked("{ viewer { id } }"), await anonymous("{ viewer { id } }")
        assert "unknown, revoked or expired" in bad.errors[0]["message"]
        assert none.errors[0] == tokenless_alone
    results = await asyncio.gather(*(api("{ viewer { id } }") for api in [revoked, anonymous] * 5))
    for i, result in enumerate(results):
        assert ("revoked" in result.errors[0]["message"]) == (i % 2 == 0)


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BILLRUN_ENV", "production")
    reset_settings()
    yield
    monkeypatch.setenv("BILLRUN_ENV", "test")
    reset_settings()


SUGGESTIVE = [  # each answers "Did you mean …" outside production
    ("{ viewr { id } }", None),
    ("{ viewer { emial } }", None),
    ("{ accounts(frist: 1) { totalCount } }", None),
    ("{ accounts(filter: {serach: \"x\"}) { totalCount } }", None),
    ("{ billingBatches(filter: {view: DRAFTT}) { totalCount } }", None),
    ("query($f: AccountFiltr) { accounts(filter: $f) { totalCount } }", None),
    ("query($v: BatchView) { billingBatches(filter: {view: $v}) { totalCount } }", {"v": "DRAFTT"}),
    ("query($f: AccountFilter) { accounts(filter: $f) { totalCount } }", {"f": {"serach": "x"}}),
]


@pytest.mark.parametrize("query, variables", SUGGESTIVE)
async def test_suggestions_outside_production(admin: Api, query: str, variables: dict | None) -> None:
    assert "Did you mean" in (await admin(query, variables)).errors[0]["message"]


@pytest.mark.parametrize("query, variables", SUGGESTIVE)
async def test_production_reveals_no_suggestions(admin: Api, production: None, query: str,
                                                 variables: dict | None) -> None:
    errors = (await admin(query, variables)).errors
    assert errors and not any("Did you mean" in e["message"] for e in errors), errors

"""Automatic persisted queries: a hash instead of the document, over POST and GET, with every limit, the
authentication and the error masking of a document sent in full; cached validation keeps per-request limits."""

import hashlib
import json

import httpx
import pytest

from billrun import persisted_queries
from billrun.settings import get_settings
from tests.conftest import make_token
from tests.support import builders
from tests.support.api import Api

VIEWER = "query Me { viewer { email } }"


def _sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def _ext(document: str, version: int = 1) -> dict:
    return {"persistedQuery": {"version": version, "sha256Hash": _sha(document)}}


@pytest.fixture(autouse=True)
def empty_store() -> None:
    persisted_queries.DOCUMENTS.clear()


async def _post(api: Api, body: dict) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api.token}"} if api.token else {}
    return await api.client.post("/graphql", json=body, headers=headers)


async def test_a_hash_alone_runs_once_the_document_was_sent_with_it(admin: Api) -> None:
    unknown = await _post(admin, {"extensions": _ext(VIEWER)})
    assert unknown.status_code == 200
    assert unknown.json() == {"errors": [{"message": "PersistedQueryNotFound",
                                          "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}
    assert "no-cache" in unknown.headers["cache-control"]
    sent = await _post(admin, {"query": VIEWER, "extensions": _ext(VIEWER)})
    assert sent.json() == {"data": {"viewer": {"email": "admin@example.com"}}}
    again = await _post(admin, {"extensions": _ext(VIEWER), "operationName": "Me"})
    assert again.content == sent.content


async def test_a_hash_alone_over_get(admin: Api) -> None:
    await _post(admin, {"query": VIEWER, "extensions": _ext(VIEWER)})
    response = await admin.client.get("/graphql", params={"extensions": json.dumps(_ext(VIEWER))},
                                      headers={"Authorization": f"Bearer {admin.token}"})
    assert response.json() == {"data": {"viewer": {"email": "admin@example.com"}}}


async def test_a_persisted_mutation_is_still_refused_over_get(admin: Api) -> None:
    mutation = "mutation { logout { ok } }"
    await _post(admin.as_("not-a-token"), {"query": mutation, "extensions": _ext(mutation)})
    response = await admin.client.get("/graphql", params={"extensions": json.dumps(_ext(mutation))},
                                      headers={"Authorization": f"Bearer {admin.token}"})
    assert response.status_code in (400, 405) and "mutation" in response.text.lower()
    assert (await admin.ok(VIEWER))["viewer"]["email"] == "admin@example.com"  # the token still works


async def test_a_hash_that_does_not_match_the_document_is_refused(admin: Api) -> None:
    response = await _post(admin, {"query": VIEWER, "extensions": _ext("{ viewer { id } }")})
    assert response.status_code == 400
    assert response.json()["errors"][0] == {"message": "provided sha does not match query",
                                            "extensions": {"code": "BAD_REQUEST"}}
    # nothing was kept under either hash
    assert (await _post(admin, {"extensions": _ext("{ viewer { id } }")})).json()["errors"][0]["message"] == \
        "PersistedQueryNotFound"


@pytest.mark.parametrize("persisted", [{"version": 2, "sha256Hash": "0" * 64}, {"version": 1},
                                       {"version": 1, "sha256Hash": "xyz"}, "abc", [1]])
async def test_a_malformed_extension_is_a_bad_request(admin: Api, persisted: object) -> None:
    response = await _post(admin, {"query": VIEWER, "extensions": {"persistedQuery": persisted}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


async def test_a_persisted_document_needs_a_token_like_any(admin: Api, anonymous: Api) -> None:
    await _post(admin, {"query": VIEWER, "extensions": _ext(VIEWER)})
    result = (await _post(anonymous, {"extensions": _ext(VIEWER)})).json()
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_limits_apply_to_a_persisted_document_every_time(admin: Api) -> None:
    deep = "{ salesContracts { nodes { " + "account { contracts { " * 6 + "number" + " } }" * 6 + " } } }"
    for body in ({"query": deep, "extensions": _ext(deep)}, {"extensions": _ext(deep)}):
        errors = (await _post(admin, body)).json()["errors"]
        assert errors[0]["extensions"]["code"] == "QUERY_TOO_DEEP"
    aliased = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(get_settings().max_aliases + 1)) + " }"
    for body in ({"query": aliased, "extensions": _ext(aliased)}, {"extensions": _ext(aliased)}):
        errors = (await _post(admin, body)).json()["errors"]
        assert errors[0]["extensions"]["code"] == "TOO_MANY_ALIASES"
    big = "{ viewer { " + " ".join(["id"] * get_settings().max_tokens) + " } }"
    await _post(admin, {"query": big, "extensions": _ext(big)})
    errors = (await _post(admin, {"extensions": _ext(big)})).json()["errors"]
    assert "tokens" in errors[0]["message"]


async def test_cost_still_counts_the_variables_of_a_cached_document(admin: Api) -> None:
    """Validation of a document is kept once it passed; its cost, which depends on the variables, is not."""
    query = """query($n: Int) { accounts(first: $n) { edges { node { id number name
      contracts { id number frequency startDate charges { id description datedPrices { id periodicPrice } } }
      } } } }"""
    first = (await _post(admin, {"query": query, "variables": {"n": 10}, "extensions": _ext(query)})).json()
    assert "errors" not in first
    for body in ({"query": query, "variables": {"n": 500}}, {"variables": {"n": 500}, "extensions": _ext(query)}):
        errors = (await _post(admin, body)).json()["errors"]
        assert errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_a_bug_in_a_persisted_document_is_masked(admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from resolvers import lists

    async def broken(*args: object) -> None:
        raise RuntimeError("database password is hunter2")

    query = "{ taxRates { totalCount } }"
    assert "errors" not in (await _post(admin, {"query": query, "extensions": _ext(query)})).json()
    monkeypatch.setattr(lists, "tax_rates", broken)
    result = (await _post(admin, {"extensions": _ext(query)})).json()
    assert result["errors"][0]["message"] == "Unexpected error; it has been logged."
    assert "hunter2" not in json.dumps(result)


async def test_the_store_is_bounded(admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from billrun.settings import reset_settings

    monkeypatch.setenv("BILLRUN_PERSISTED_QUERIES_MAX", "2")
    reset_settings()
    try:
        documents = [f"query Q{i} {{ viewer {{ email }} }}" for i in range(3)]
        for document in documents:
            await _post(admin, {"query": document, "extensions": _ext(document)})
        oldest = (await _post(admin, {"extensions": _ext(documents[0])})).json()
        assert oldest["errors"][0]["message"] == "PersistedQueryNotFound"
        newest = (await _post(admin, {"extensions": _ext(documents[2])})).json()
        assert newest == {"data": {"viewer": {"email": "admin@example.com"}}}
    finally:
        monkeypatch.delenv("BILLRUN_PERSISTED_QUERIES_MAX")
        reset_settings()


async def test_a_persisted_document_hides_what_the_viewer_may_not_see(admin: Api) -> None:
    """The same persisted document answers each viewer through their own scope: hidden reads as absent."""
    await builders.account(admin, "OPEN-1")
    secret = await builders.account(admin, "SECRET-1")
    await admin.mutate("restrictAccount", """mutation($input: RestrictAccountInput!) { restrictAccount(input: $input)
      { errors { code } } }""", {"input": {"accountId": secret, "restricted": True}})
    query = "{ accounts(first: 10) { totalCount nodes { number } } }"
    seen = (await _post(admin, {"query": query, "extensions": _ext(query)})).json()["data"]["accounts"]
    _, token = await make_token("viewer@example.com", ["BILLING_ACCESS"])
    clerk = Api(admin.client, token)
    hidden = (await _post(clerk, {"extensions": _ext(query)})).json()["data"]["accounts"]
    assert seen["totalCount"] == 2
    assert hidden == {"totalCount": 1, "nodes": [{"number": "OPEN-1"}]}

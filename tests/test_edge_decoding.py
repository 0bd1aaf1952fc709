"""Strict request decoding: whatever bytes a client sends, a malformed request is a 400 with a clear message,
never a 500 (the WebSocket side of the same checks is in tests/test_websocket.py)."""

import json

import httpx
import pytest

from tests.support.api import Api

QUERY = "{ viewer { email } }"
DEEP = 100  # levels of JSON nesting, beyond the limit of 64


def _post(client: httpx.AsyncClient, body: bytes, token: str | None = None) -> object:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return client.post("/graphql", content=body, headers=headers)


def _refusal(response: httpx.Response) -> str:
    """The message of a 400 answer, which is a GraphQL-style JSON error."""
    assert response.status_code == 400, (response.status_code, response.text[:300])
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    return error["message"]


@pytest.mark.parametrize("body", [b'"x"', b"123", b"[]", b"null", b"true", b'[{"query": "{ viewer { id } }"}]'])
async def test_a_body_that_is_not_one_json_object_is_refused(client: httpx.AsyncClient, body: bytes) -> None:
    message = _refusal(await _post(client, body))
    assert "JSON object" in message


@pytest.mark.parametrize("levels", [DEEP, 100_000])
async def test_deeply_nested_json_is_refused(client: httpx.AsyncClient, levels: int) -> None:
    body = '{"query": "{ viewer { id } }", "variables": {"v": ' + "[" * levels + "]" * levels + "}}"
    assert "nested more than 64 levels" in _refusal(await _post(client, body.encode()))


async def test_nesting_up_to_the_limit_is_fine(admin: Api) -> None:
    variables = {"v": json.loads("[" * 60 + "]" * 60)}
    assert (await admin("query { viewer { email } }", variables)).data == {"viewer": {"email": "admin@example.com"}}


async def test_invalid_utf8_is_refused(client: httpx.AsyncClient) -> None:
    assert "UTF-8" in _refusal(await _post(client, b'{"query": "{ viewer { id } } \xff\xfe"}'))


@pytest.mark.parametrize("digits", [120, 5000, 100_000])
async def test_integers_of_many_digits_are_refused(client: httpx.AsyncClient, digits: int) -> None:
    query = "query($n: Int) { accounts(first: $n) { totalCount } }"
    body = '{"query": "' + query + '", "variables": {"n": ' + "9" * digits + "}}"
    assert "digits" in _refusal(await _post(client, body.encode()))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_non_json_constants_are_refused(client: httpx.AsyncClient, constant: str) -> None:
    body = '{"query": "query($n: Float) { viewer { id } }", "variables": {"n": ' + constant + "}}"
    assert constant.lstrip("-") in _refusal(await _post(client, body.encode()))


BAD_STRINGS = {"NUL": "\\u0000", "lone high surrogate": "\\ud800", "lone low surrogate": "\\udfff"}
PLACES = {
    "query": '{{"query": "{{ viewer {{ id }} }} # {s}"}}',
    "variable value": '{{"query": "{{ viewer {{ id }} }}", "variables": {{"x": ["a{s}"]}}}}',
    "variable name": '{{"query": "{{ viewer {{ id }} }}", "variables": {{"x{s}": 1}}}}',
    "operationName": '{{"query": "query Q {{ viewer {{ id }} }}", "operationName": "Q{s}"}}',
    "extensions": '{{"query": "{{ viewer {{ id }} }}", "extensions": {{"x": "{s}"}}}}',
}


@pytest.mark.parametrize("bad", BAD_STRINGS.values(), ids=BAD_STRINGS.keys())
@pytest.mark.parametrize("place", PLACES.values(), ids=PLACES.keys())
async def test_nul_and_lone_surrogates_are_refused_in_every_string(client: httpx.AsyncClient, admin: Api,
                                                                    place: str, bad: str) -> None:
    body = place.format(s=bad).encode()
    assert "strings may not contain NUL or unpaired surrogates" in _refusal(await _post(client, body, admin.token))


async def test_a_surrogate_pair_is_a_character_not_a_lone_surrogate(admin: Api) -> None:
    body = b'{"query": "{ viewer { email } } # \\ud83d\\ude00"}'
    response = await _post(admin.client, body, admin.token)
    assert response.status_code == 200 and response.json()["data"]["viewer"]["email"] == "admin@example.com"


@pytest.mark.parametrize("value", [5, ["Q"], {"name": "Q"}])
async def test_operation_name_must_be_a_string(client: httpx.AsyncClient, value: object) -> None:
    body = json.dumps({"query": "query Q { viewer { id } }", "operationName": value}).encode()
    assert "operationName" in _refusal(await _post(client, body))


@pytest.mark.parametrize("params", [
    {"query": "{ viewer { id } } # \x00"},
    {"query": "query Q { viewer { id } }", "operationName": "Q\x00"},
    {"query": QUERY, "variables": '{"x": "\\u0000"}'},
    {"query": QUERY, "variables": '{"x": "\\udc00"}'},
])
async def test_get_parameters_are_checked_the_same_way(client: httpx.AsyncClient, params: dict) -> None:
    response = await client.get("/graphql", params=params)
    assert "strings may not contain NUL or unpaired surrogates" in _refusal(response)


@pytest.mark.parametrize("variables, expected", [
    ("[" * DEEP + "]" * DEEP, "nested more than 64 levels"),
    ('{"n": ' + "1" * 5000 + "}", "digits"),
    ("not json", "not valid JSON"),
    ("[1, 2]", "`variables` must be an object"),
])
async def test_get_variables_are_decoded_strictly(client: httpx.AsyncClient, variables: str, expected: str) -> None:
    response = await client.get("/graphql", params={"query": QUERY, "variables": variables})
    assert expected in _refusal(response)


async def test_invalid_utf8_in_a_get_query_string_is_no_crash(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql?query=%7B%20viewer%20%7B%20id%20%7D%20%7D%20%23%FF%FE")
    assert response.status_code == 200 and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

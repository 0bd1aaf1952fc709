"""The limits cannot be dodged: fragment fan-out is measured in linear time and refused before anything
costly runs, and page sizes and id lists are priced by the values execution will really use."""

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, Visitor, parse, visit
from strawberry import relay

from billrun.settings import get_settings, reset_settings
from schema import schema
from schema.query_analysis import QueryAnalysis
from tests.support.api import Api
from tests.support.live_server import live_server

LEVELS = 30
BOUND_SECONDS = 10  # generous for a loaded CI machine; the unfixed edge needed minutes for these documents

# Each fragment spreads the next one twice: 31 fragments of text, 2^30 copies once expanded.
FAN_OUT = {
    "spreads": ("Query", lambda n: f"...F{n} ...F{n}", "viewer { id }", "QUERY_TOO_COSTLY"),
    "aliases": ("Query", lambda n: f"a{n}: viewer {{ id }} ...F{n} ...F{n}", "viewer { id }", "TOO_MANY_ALIASES"),
    "inline fragments": ("Query", lambda n: f"... on Query {{ ...F{n} }} ... on Query {{ ...F{n} }}",
                         "viewer { id }", "QUERY_TOO_COSTLY"),
    "fields": ("Query", lambda n: f"viewer {{ id email }} ...F{n} ...F{n}", "viewer { id }", "QUERY_TOO_COSTLY"),
    "nested fields": ("SalesContract", lambda n: f"account {{ contracts {{ ...F{n} }} }} ...F{n}", "id",
                      "QUERY_TOO_DEEP"),
}


def fan_out(kind: str, levels: int = LEVELS) -> str:
    on, spread, leaf, _ = FAN_OUT[kind]
    root = "{ ...F0 }" if on == "Query" else "{ salesContracts(first: 1) { nodes { ...F0 } } }"
    fragments = [f"fragment F{i} on {on} {{ {spread(i + 1)} }}" for i in range(levels)]
    return " ".join([f"query {root}", *fragments, f"fragment F{levels} on {on} {{ {leaf} }}"])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A real server process: a request that held its event loop would still let this test's loop time out."""
    with live_server() as port:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("kind", FAN_OUT)
async def test_fragment_fan_out_is_refused_at_once_even_without_a_token(server: str, kind: str) -> None:
    document = fan_out(kind)
    assert len(document.encode()) < 2500  # small: the abuse is in the expansion, not the size
    async with httpx.AsyncClient(base_url=server) as client:
        response = await asyncio.wait_for(client.post("/graphql", json={"query": document}), timeout=BOUND_SECONDS)
    result = response.json()
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == FAN_OUT[kind][3]
    assert all(e["extensions"]["code"] != "UNAUTHENTICATED" for e in result["errors"])  # refused before auth


def _selections(document: str) -> int:
    count = 0

    class Counter(Visitor):
        def enter(self, node: object, *_: object) -> None:
            nonlocal count
            count += isinstance(node, FieldNode | FragmentSpreadNode | InlineFragmentNode)

    visit(parse(document), Counter())
    return count


@pytest.mark.parametrize("kind", FAN_OUT)
def test_the_analysis_walks_each_fragment_and_each_selection_once(kind: str) -> None:
    """Linear by count, not by clock: 31 fragments are evaluated 31 times, and every selection node of the
    document is visited exactly once, though the expanded query has 2^30 copies of the leaf."""
    document = fan_out(kind)
    analysis = QueryAnalysis(schema._schema, parse(document))
    assert analysis.fragment_evaluations == LEVELS + 1
    assert analysis.selections_visited == _selections(document)
    [(_, measure)] = analysis.operations
    assert measure.cost > 2**LEVELS or measure.depth > 2 * LEVELS


def test_the_measures_match_the_expanded_query() -> None:
    """Memoizing changes the work, not the answer: depth, aliases and cost of a small fan-out equal those of
    the same query written out in full."""
    document = fan_out("aliases", levels=3)
    expanded = "{ " + " ".join(["a1: viewer { id }"] + ["a2: viewer { id }"] * 2 + ["a3: viewer { id }"] * 4
                               + ["viewer { id }"] * 8) + " }"
    [(_, folded)] = QueryAnalysis(schema._schema, parse(document)).operations
    [(_, written)] = QueryAnalysis(schema._schema, parse(expanded)).operations
    assert folded == written and (folded.aliases, folded.depth, folded.cost) == (7, 1, 30)


async def test_a_refused_document_never_reaches_standard_validation(server: str) -> None:
    """The fan-out also queries an unknown field: only the limit's refusal comes back, so graphql-core's
    standard rules (some of them quadratic) never walked it."""
    document = fan_out("spreads").replace("viewer { id }", "viewer { id noSuchField }")
    small = fan_out("spreads", levels=2).replace("viewer { id }", "viewer { id noSuchField }")
    async with httpx.AsyncClient(base_url=server) as client:
        refused = await asyncio.wait_for(client.post("/graphql", json={"query": document}), timeout=BOUND_SECONDS)
        invalid = await client.post("/graphql", json={"query": small})
    assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["QUERY_TOO_COSTLY"]
    assert "Cannot query field 'noSuchField'" in invalid.json()["errors"][0]["message"]


async def test_a_document_over_the_byte_limit_is_refused_before_parsing(anonymous: Api,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    limit = get_settings().max_query_bytes
    document = "{ viewer { id } }" + " " * limit  # whitespace: no token limit would catch it
    [error] = (await anonymous(document)).errors
    assert error["extensions"]["code"] == "QUERY_TOO_LARGE" and f"limit of {limit}" in error["message"]
    # Not even a syntax error is reported for it: the text was never parsed.
    [error] = (await anonymous("{ viewer { id " + " " * limit)).errors
    assert error["extensions"]["code"] == "QUERY_TOO_LARGE"


async def test_syntax_and_token_errors_keep_the_operation_name(anonymous: Api) -> None:
    response = await anonymous.client.post("/graphql", json={"query": "query Q { viewer { id ", "operationName": "Q"})
    assert response.status_code == 200 and "Syntax Error" in response.json()["errors"][0]["message"]


# Costs 1 + 351 per account: within the limit for the default page of 50 (17,551), over it for 500.
HEAVY = "accounts(first: $n) { edges { node { id number name contracts { id number charges { id description } } } } }"


@pytest.mark.parametrize("query, variables", [
    (f"query($n: Int) {{ {HEAVY} }}", {"n": 500}),
    (f"query($n: Int = 500) {{ {HEAVY} }}", {}),
    (f"query($n: Int = 500) {{ {HEAVY} }}", None),
    (f"query($n: Int) {{ {HEAVY} }}", {"n": 500.0}),
    (f"query($n: Int) {{ {HEAVY.replace('first', 'last')} }}", {"n": 500}),
    (f"query {{ {HEAVY.replace('first: $n', 'last: 500')} }}", {}),
    (f"query($n: Int = 10, $m: Int = 500) {{ {HEAVY.replace('first: $n', 'first: $n, last: $m')} }}", {}),
], ids=["variable", "default", "default, no variables", "float", "last", "last literal", "first and last"])
async def test_page_sizes_are_priced_by_their_coerced_values(anonymous: Api, query: str,
                                                            variables: dict | None) -> None:
    response = await anonymous.client.post("/graphql", json={"query": query, "variables": variables})
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_a_small_page_passes(admin: Api) -> None:
    assert (await admin(f"query($n: Int = 10) {{ {HEAVY} }}")).errors == []
    assert (await admin(f"query($n: Int) {{ {HEAVY} }}", {"n": 10.0})).errors == []


@pytest.mark.parametrize("variables, expected", [
    ({"n": "many"}, "Int cannot represent non-integer value"),
    ({"n": 500.5}, "Int cannot represent non-integer value"),
    ({"n": 10**12}, "Int cannot represent non 32-bit signed integer value"),
    ({"n": {"a": 1}}, "Int cannot represent non-integer value"),
])
async def test_variables_that_do_not_coerce_are_reported_by_execution(admin: Api, variables: dict,
                                                                      expected: str) -> None:
    [error] = (await admin(f"query($n: Int = 500) {{ {HEAVY} }}", variables)).errors
    assert expected in error["message"] and error["message"] != "Unexpected error; it has been logged."


def _ids(count: int) -> list[str]:
    return [str(relay.GlobalID("Account", str(i))) for i in range(1, count + 1)]


DEEP_NODE = """... on Account { contracts { id number charges { id description
  datedPrices { id periodicPrice charge { id } } } } }"""


async def test_nodes_are_priced_by_the_real_number_of_ids(admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLRUN_MAX_QUERY_COST", "50000")  # 10 deep nodes cost under it, 100 over
    reset_settings()
    try:
        query = f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ id {DEEP_NODE} }} }}"
        assert (await admin(query, {"ids": _ids(10)})).errors == []
        assert (await admin(query, {"ids": _ids(100)})).errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
        literal = "{ nodes(ids: [" + ", ".join(f'"{i}"' for i in _ids(100)) + f"]) {{ id {DEEP_NODE} }} }}"
        assert (await admin(literal)).errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    finally:
        monkeypatch.delenv("BILLRUN_MAX_QUERY_COST")
        reset_settings()


async def test_nodes_takes_at_most_the_configured_number_of_ids(admin: Api) -> None:
    limit = get_settings().max_nodes
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    assert (await admin(query, {"ids": _ids(limit)})).data == {"nodes": [None] * limit}
    [error] = (await admin(query, {"ids": _ids(limit + 1)})).errors
    assert error["extensions"]["code"] == "TOO_MANY_NODES"
    assert error["message"] == f"`nodes` takes at most {limit} ids (BILLRUN_MAX_NODES); {limit + 1} given."


async def test_malformed_ids_are_reported_not_crashed_on(admin: Api) -> None:
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    for ids in ([123], ["not a global id"], "x", [None]):
        errors = (await admin(query, {"ids": ids})).errors
        assert errors and all(e["message"] != "Unexpected error; it has been logged." for e in errors), ids


async def test_a_field_repeated_in_one_selection_set_is_refused_before_standard_validation(anonymous: Api) -> None:
    """Standard validation compares every two fields sharing a response key (quadratic: 490 times `viewer { id }`
    held a process for 0.7 s without a token): the repeats are refused first, with a code of their own."""
    limit = get_settings().max_field_repeats
    repeated = "{ " + " ".join(["viewer { id }"] * 490) + " }"
    [error] = (await anonymous(repeated)).errors
    assert error["extensions"]["code"] == "TOO_MANY_REPEATS"
    assert f"`viewer` is selected 490 times in one selection set; at most {limit}" in error["message"]
    inline = "{ " + " ".join(["... on Query { viewer { id } }"] * (limit + 1)) + " }"
    assert (await anonymous(inline)).errors[0]["extensions"]["code"] == "TOO_MANY_REPEATS"
    # Within the limit, and composed fragments selecting one key side by side, are fine.
    fragments = " ".join(f"fragment F{i} on Viewer {{ id }}" for i in range(limit + 5))
    composed = "{ viewer { " + " ".join(f"...F{i}" for i in range(limit + 5)) + " } } " + fragments
    assert [e["extensions"]["code"] for e in (await anonymous(composed)).errors] == ["UNAUTHENTICATED"]
    nested = "{ " + " ".join(["viewer { id id }"] * limit) + " }"
    assert [e["extensions"]["code"] for e in (await anonymous(nested)).errors] == ["UNAUTHENTICATED"]

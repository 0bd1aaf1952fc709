"""Compiled plans (schema/compiled_plans.py): a persisted document answers the same bytes with plans on as with
graphql-core alone (BILLRUN_COMPILED_PLANS=false) — data, errors, null relations and hidden accounts alike — for
every query the console persists, the bench's grid and a few documents made to trip the plans."""

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, OperationType, parse

from billrun import persisted_queries
from billrun.settings import get_settings
from schema import compiled_plans
from tests.support import billing
from tests.support.api import Api

ROOT = Path(__file__).resolve().parent.parent
GRID = (ROOT / "bench" / "grid.graphql").read_text(encoding="utf-8")
CONSOLE = json.loads((ROOT / "console" / "src" / "gql" / "persisted-documents.json").read_text(encoding="utf-8"))
EDIT = """mutation($input: UpdatePeriodicBillingInput!) { updatePeriodicBilling(input: $input) { errors { code } } }"""

ADVERSARIAL = {
    "aliases and a field twice": """query($batch: ID!) { b: billingBatch(id: $batch) {
      page: periodicBillings(first: 50) { n: totalCount edges { c: cursor node { key: id id
        amount: periodicBillingAmount periodicBillingAmount
        who: serviceCustomer { n: number number } lines: details { i: id trace { w: why why } } } } } } }""",
    "@skip and @include on variables": """query($batch: ID!, $yes: Boolean!, $no: Boolean!) { billingBatch(id: $batch) {
      periodicBillings(first: 50) { nodes { id internalComment @include(if: $yes) externalComment @skip(if: $yes)
        details @include(if: $no) { id } audits @skip(if: $no) { field after } } } } }""",
    "named and inline fragments, __typename": """query($batch: ID!) { billingBatch(id: $batch) {
      periodicBillings(first: 50) { __typename nodes { ...Billing ... on PeriodicBilling { billingStatus
        salesContract { __typename ...Contract } } } } } }
      fragment Billing on PeriodicBilling { __typename id details { ...Line } serviceCustomer { name } }
      fragment Line on BillingDetail { id kind billingAmount revenueAccount { code } trace { formula } }
      fragment Contract on SalesContract { id number frequency }""",
    "an error in a field": """query($batch: ID!) { billingBatch(id: $batch) { periodicBillings(first: 50) {
      nodes { id details { id trace { why priceRecord { ... on Node { id } } } } } } }
      bad: billingBatch(id: "not a global id") { periodicBillings { nodes { id } } } }""",
    "null relations (lines without a dated price)": """query($batch: ID!) { billingBatch(id: $batch) {
      periodicBillings(first: 50) { nodes { id salesContract { id number } details { revenueAccount { id }
        charge { id description } datedPrice { id } } } } } }""",
}


def _persisted(document: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(document.encode()).hexdigest()}}


async def _send(api: Api, document: str, variables: dict) -> bytes:
    """The document by its hash (sent with it the first time, as the console does), the response's bytes."""
    headers = {"Authorization": f"Bearer {api.token}"}
    body: dict[str, Any] = {"query": document, "variables": variables, "extensions": _persisted(document)}
    response: httpx.Response = await api.client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    del body["query"]
    again = await api.client.post("/graphql", json=body, headers=headers)
    assert again.content == response.content
    return again.content


async def _on_and_off(api: Api, document: str, variables: dict, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The response with plans on, asserted equal byte for byte to the one graphql-core alone answers."""
    monkeypatch.setattr(get_settings(), "compiled_plans", False)
    alone = await _send(api, document, variables)
    monkeypatch.setattr(get_settings(), "compiled_plans", True)
    planned = await _send(api, document, variables)
    assert planned == alone, document
    return planned


@pytest.fixture
async def world(admin: Api) -> dict[str, str]:
    """A processed batch of an open and a restricted account (restricted to nobody) with an edit on each billing."""
    persisted_queries.DOCUMENTS.clear()
    compiled_plans.PLANS.clear()
    batch = await billing.processed_with_a_restricted_account(admin)
    rows = await billing.billings(admin, batch)
    for row in rows:
        await admin.mutate("updatePeriodicBilling", EDIT, {"input": {"id": row["id"], "externalComment": "ok"}})
    return {"batch": batch, "billing": rows[0]["id"]}


def _queries() -> list[tuple[str, str]]:
    """The console's persisted queries, by operation name (subscriptions and mutations are not reads to repeat)."""
    found = []
    for document in CONSOLE.values():
        for definition in parse(document).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.operation == OperationType.QUERY:
                assert definition.name is not None
                found.append((definition.name.value, document))
    return found


@pytest.mark.usefixtures("worker")
async def test_the_grid_answers_the_same_bytes_with_plans_for_an_admin_and_a_clerk_who_cannot_see_an_account(
        admin: Api, clerk: Api, world: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for first in (100, 1):
        shown = await _on_and_off(admin, GRID, {"batch": world["batch"], "first": first}, monkeypatch)
        page = json.loads(shown)["data"]["billingBatch"]["periodicBillings"]
        assert page["totalCount"] == 2 and page["edges"][0]["node"]["details"][0]["trace"]["formula"]
    hidden = await _on_and_off(clerk, GRID, {"batch": world["batch"], "first": 100}, monkeypatch)
    page = json.loads(hidden)["data"]["billingBatch"]["periodicBillings"]
    assert page["totalCount"] == 1 and "SECRET" not in hidden.decode()
    # The plans did answer the page (not graphql-core after a plan gave up): one per selection, compiled once.
    assert compiled_plans.PLANS.compiled("PeriodicBillingConnection") == 1


@pytest.mark.usefixtures("worker")
async def test_every_console_query_answers_the_same_bytes_with_plans(
        admin: Api, clerk: Api, world: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    queries = _queries()
    assert len(queries) >= 8
    variables = {"ConsoleBilling": {"id": world["billing"]}, "ConsoleBillings": {"id": world["batch"], "first": 20},
                 "ConsoleRun": {"id": world["batch"]}, "ConsoleInvoiceToCredit": {"id": world["billing"]}}
    for name, document in queries:
        for api in (admin, clerk):
            await _on_and_off(api, document, variables.get(name, {"first": 20} if "$first" in document else {}),
                              monkeypatch)


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("name", list(ADVERSARIAL))
async def test_documents_made_to_trip_the_plans_answer_the_same_bytes(
        admin: Api, clerk: Api, world: dict[str, str], monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    variables: dict[str, Any] = {"batch": world["batch"]}
    if "$yes" in ADVERSARIAL[name]:
        variables |= {"yes": True, "no": False}
    for api in (admin, clerk):
        shown = json.loads(await _on_and_off(api, ADVERSARIAL[name], variables, monkeypatch))
        batch = next(iter(shown["data"].values()))  # `billingBatch`, or its alias
        assert next(iter(batch.values())), shown
        assert ("errors" in shown) == (name == "an error in a field")

"""Hostile input gets a clear answer, never a bug: ids that name nothing, text longer than its column, numbers
out of range, loose money and dates, naive datetimes, nulls without a meaning, malformed e-mail addresses,
over-long filters and forged cursors. Each answer is a typed payload error or a GraphQL error that says what is
wrong; never HTTP 500 and never the masked "Unexpected error"."""

import base64
import json
import re
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    is_required_input_field,
)
from strawberry.relay import from_base64, to_base64

import models
from billrun.settings import reset_settings
from domain import notifications, validation
from resolvers.inputs import NULL_MEANS, camel
from schema import schema
from tests.support import billing, builders, world
from tests.support.api import Api, GraphQLResult

CORE = schema._schema
MUTATIONS = CORE.mutation_type.fields  # type: ignore[union-attr]

# The node type each id field names: by field name, and for `id` by its input type.
ID_FIELD_TYPES = {"accountId": "Account", "batchId": "BillingBatch", "billingId": "PeriodicBilling",
                  "billingIds": "PeriodicBilling", "chargeId": "RecurringCharge", "contractId": "SalesContract",
                  "invoiceId": "Invoice", "ledgerAccountId": "LedgerAccount", "revenueAccountId": "LedgerAccount",
                  "toBatchId": "BillingBatch", "userId": "User", "userIds": "User", "jobId": "Job",
                  "endpointId": "WebhookEndpoint", "eventId": "Event", "invoiceLineId": "BillingDetail",
                  "teamId": "Team", "teamIds": "Team"}
ID_OF_INPUT = {"UpdateAccountInput": "Account", "UpdateSalesContractInput": "SalesContract",
               "UpdateRecurringChargeInput": "RecurringCharge", "UpdateDatedPriceInput": "DatedPrice",
               "DeleteDatedPriceInput": "DatedPrice", "UpdateLedgerAccountInput": "LedgerAccount",
               "UpdateTaxRateInput": "TaxRate", "UpdateWorkOrderInput": "WorkOrder",
               "UpdateManualChargeInput": "ManualCharge", "UpdateServiceChangeInput": "ServiceChange",
               "ApproveInvoiceAdjustmentInput": "InvoiceAdjustment", "ResolveFindingInput": "Finding",
               "CloseAccountingPeriodInput": "AccountingPeriod", "ReopenAccountingPeriodInput": "AccountingPeriod",
               "UpdateBillingDetailInput": "BillingDetail", "RemoveMiscChargeInput": "BillingDetail",
               "UpdatePeriodicBillingInput": "PeriodicBilling", "DeletePeriodicBillingInput": "PeriodicBilling",
               "ResolveNotificationInput": "Notification", "UpdateUserInput": "User",
               "RevokeApiTokenInput": "ApiToken", "UpdateWebhookEndpointInput": "WebhookEndpoint",
               "DisableWebhookEndpointInput": "WebhookEndpoint", "WebhookEndpointIdInput": "WebhookEndpoint",
               "CreditNoteIdInput": "CreditNote", "UpdateTeamInput": "Team", "DeleteTeamInput": "Team",
               "UpdateApprovalRuleInput": "ApprovalRule", "DeleteApprovalRuleInput": "ApprovalRule",
               "UpdateBillingScheduleInput": "BillingSchedule", "BillingScheduleInput": "BillingSchedule"}

# Node ids billrun never makes: beyond PostgreSQL `integer`, zero, negative, not digits, non-ASCII digits,
# padded, zero-led, decimal, exponent, empty.
BAD_NODE_IDS = [str(2**31), str(2**63), str(10**40), "0", "-1", "abc", "\u0661\u0662", "01", " 1", "1 ", "+1",
                "1.0", "1e3", ""]

DUMMY = {"String": "x", "Int": 1, "Boolean": True, "Decimal": "1.00", "Date": "2026-05-01",
         "DateTime": "2030-01-01T00:00:00Z"}


def _unwrap(graphql_type: Any) -> Any:
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        graphql_type = graphql_type.of_type
    return graphql_type


def _id_type(input_name: str, field: str) -> str:
    return ID_OF_INPUT[input_name] if field == "id" else ID_FIELD_TYPES[field]


def dummy(graphql_type: GraphQLInputType, input_name: str = "", field: str = "") -> Any:
    """A plain valid value of a type: required fields only; ids name record 1 of the right type."""
    is_list = isinstance(graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type,
                         GraphQLList)
    named = _unwrap(graphql_type)
    if isinstance(named, GraphQLInputObjectType):
        value: Any = {name: dummy(f.type, named.name, name) for name, f in named.fields.items()
                      if is_required_input_field(f)}
    elif isinstance(named, GraphQLEnumType):
        value = next(iter(named.values))
    elif isinstance(named, GraphQLScalarType) and named.name == "ID":
        value = to_base64(_id_type(input_name, field), 1)
    else:
        value = DUMMY[named.name]
    return [value] if is_list else value


def id_paths(input_type: GraphQLInputObjectType, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every (path, node type) of an id field inside an input, nested inputs included."""
    found = []
    for name, f in input_type.fields.items():
        named = _unwrap(f.type)
        if isinstance(named, GraphQLScalarType) and named.name == "ID":
            found.append(((*prefix, name), _id_type(input_type.name, name)))
        elif isinstance(named, GraphQLInputObjectType):
            found.extend(id_paths(named, (*prefix, name)))
    return found


def _set_path(data: dict, path: tuple[str, ...], value: Any, input_type: GraphQLInputObjectType) -> dict:
    """A copy of `data` with `value` at `path` (a list field gets a one-item list)."""
    head, *rest = path
    field_type = input_type.fields[head].type
    is_list = isinstance(_strip_non_null(field_type), GraphQLList)
    copy = dict(data)
    if rest:
        inner_type = _unwrap(field_type)
        inner = dummy(inner_type, inner_type.name)
        inner = _set_path(inner, tuple(rest), value, inner_type)
        copy[head] = [inner] if is_list else inner
    else:
        copy[head] = [value] if is_list else value
    return copy


def _strip_non_null(graphql_type: Any) -> Any:
    return graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type


def _input_type(mutation: str) -> GraphQLInputObjectType:
    return _unwrap(MUTATIONS[mutation].args["input"].type)


def _mutation_query(mutation: str) -> str:
    return (f"mutation($input: {_input_type(mutation).name}!) {{ {mutation}(input: $input) "
            "{ errors { code field message } } }")


def no_bug(response_status: int, result: dict) -> None:
    """The answer is a proper one: HTTP 200, and no error is the masked bug."""
    assert response_status == 200, result
    for error in result.get("errors") or []:
        assert (error.get("extensions") or {}).get("code") != "INTERNAL_ERROR", error
        assert not error["message"].startswith("Unexpected error"), error


async def send(api: Api, query: str, variables: dict | None = None) -> GraphQLResult:
    response = await api.raw(query, variables)
    result = GraphQLResult(response.json())
    no_bug(response.status_code, result)
    return result


async def mutate(api: Api, mutation: str, data: dict) -> tuple[GraphQLResult, list[dict]]:
    """Run a mutation with this input; returns the result and its payload errors ([] on a GraphQL error)."""
    result = await send(api, _mutation_query(mutation), {"input": data})
    payload = (result.data or {}).get(mutation) or {}
    return result, payload.get("errors") or []


# ---- ids -------------------------------------------------------------------------------------------------------


async def test_an_id_billrun_never_made_reads_as_not_found_in_every_mutation_input(admin: Api) -> None:
    """Every id field of every mutation input, nested ones included, given a global id of the right type whose
    node id is out of `integer` range, zero, negative or not a canonical integer: a payload NOT_FOUND naming the
    field, before anything reaches the database. An id of another type reads the same."""
    checked, wrong = 0, []
    for mutation in MUTATIONS:
        if "input" not in MUTATIONS[mutation].args:
            continue
        input_type = _input_type(mutation)
        base = dummy(input_type, input_type.name)
        for path, type_name in id_paths(input_type):
            for node_id, named in [(n, type_name) for n in BAD_NODE_IDS] + [("1", "Nonsense")]:
                result, errors = await mutate(admin, mutation, _set_path(base, path, to_base64(named, node_id),
                                                                         input_type))
                checked += 1
                fields = {path[-1], path[0]}
                if result.errors or not any(e["code"] == "NOT_FOUND" and e["field"] in fields for e in errors):
                    wrong.append((mutation, path, node_id, result.errors or errors))
    assert checked > 500
    assert wrong == []


async def test_malformed_global_ids_are_graphql_errors(admin: Api) -> None:
    for value in ("not base64!", "QWNjb3VudA==", 12, "\u00e9t\u00e9"):  # garbage, "Account" without a colon
        result = await send(admin, "query($id: ID!) { node(id: $id) { id } }", {"id": value})
        assert [e["message"].startswith("Value cannot represent a GlobalID") for e in result.errors] == [True], result


LOOKUPS = [("node", "Account"), ("billingBatch", "BillingBatch"), ("periodicBilling", "PeriodicBilling"),
           ("job", "Job"), ("invoice", "Invoice")]


async def test_an_id_billrun_never_made_reads_as_null_in_every_lookup(admin: Api) -> None:
    for node_id in BAD_NODE_IDS:
        for field, type_name in LOOKUPS:
            result = await send(admin, f"query($id: ID!) {{ {field}(id: $id) {{ id }} }}",
                                {"id": to_base64(type_name, node_id)})
            assert result.errors == [] and result.data == {field: None}, (field, node_id, result)
        ids = [to_base64(t, node_id) for t in ("Account", "Audit", "User", "Viewer")]
        result = await send(admin, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
        assert result.errors == [] and result.data == {"nodes": [None] * 4}, (node_id, result)


# Every filter field that takes an id, and a query that filters by it.
FILTER_QUERIES = {
    ("SalesContractFilter", "accountId"): "salesContracts(filter: {accountId: $id}) { totalCount }",
    ("AuditFilter", "entityId"): "audits(filter: {entityId: $id}) { totalCount }",
    ("AuditFilter", "batchId"): "audits(filter: {batchId: $id}) { totalCount }",
    ("AuditFilter", "billingId"): "audits(filter: {billingId: $id}) { totalCount }",
    ("InvoiceFilter", "batchId"): "invoices(filter: {batchId: $id}) { totalCount }",
    ("InvoiceFilter", "accountId"): "invoices(filter: {accountId: $id}) { totalCount }",
    ("NotificationFilter", "batchId"): "notifications(filter: {batchId: $id}) { totalCount }",
    ("PeriodicBillingFilter", "accountId"):
        "billingBatch(id: $batch) { periodicBillings(filter: {accountId: $id}) { totalCount } }",
    ("PeriodicBillingFilter", "contractId"):
        "billingBatch(id: $batch) { periodicBillings(filter: {contractId: $id}) { totalCount } }",
    ("EventFilter", "batchId"): "events(filter: {batchId: $id}) { totalCount }",
    ("EventFilter", "jobId"): "events(filter: {jobId: $id}) { totalCount }",
    ("EventFilter", "billingId"): "events(filter: {billingId: $id}) { totalCount }",
    ("EventFilter", "invoiceId"): "events(filter: {invoiceId: $id}) { totalCount }",
    ("CreditNoteFilter", "invoiceId"): "creditNotes(filter: {invoiceId: $id}) { totalCount }",
    ("CreditNoteFilter", "accountId"): "creditNotes(filter: {accountId: $id}) { totalCount }",
    ("CreditNoteFilter", "batchId"): "creditNotes(filter: {batchId: $id}) { totalCount }",
}


def _batch_var(selection: str) -> str:
    return ", $batch: ID!" if "$batch" in selection else ""


def _nested_inputs(input_type: GraphQLInputObjectType) -> set[str]:
    found = {input_type.name}
    for f in input_type.fields.values():
        if isinstance(named := _unwrap(f.type), GraphQLInputObjectType) and named.name not in found:
            found |= _nested_inputs(named)
    return found


def _filter_id_fields() -> set[tuple[str, str]]:
    """Id fields of the inputs that only queries take (filters)."""
    mutation_inputs = set().union(*(_nested_inputs(_input_type(m)) for m in MUTATIONS if "input" in MUTATIONS[m].args))
    mutation_inputs -= {"PeriodicBillingFilter"}  # also a filter of `periodicBillings`
    found = set()
    for name, graphql_type in CORE.type_map.items():
        if isinstance(graphql_type, GraphQLInputObjectType) and name not in mutation_inputs:
            for field_name, f in graphql_type.fields.items():
                named = _unwrap(f.type)
                if isinstance(named, GraphQLScalarType) and named.name == "ID":
                    found.add((name, field_name))
    return found


async def test_an_id_billrun_never_made_matches_nothing_in_every_filter(admin: Api) -> None:
    """Filters on such an id match nothing (`totalCount: 0`), like a filter on a hidden record."""
    assert set(FILTER_QUERIES) == _filter_id_fields()
    batch = await world.open_batch(admin)
    for (input_name, field), selection in FILTER_QUERIES.items():
        type_name = "Account" if field == "entityId" else ID_FIELD_TYPES[field]
        for node_id in BAD_NODE_IDS:
            result = await send(admin, f"query($id: ID!{_batch_var(selection)}) {{ {selection} }}",
                                {"id": to_base64(type_name, node_id), "batch": batch})
            assert result.errors == [], (input_name, field, node_id, result.errors)
            assert "'totalCount': 0" in str(result.data), (input_name, field, node_id, result.data)
    # Mass updates filter the same way, but a filter id of no record is the caller's mistake: NOT_FOUND.
    _, errors = await mutate(admin, "massUpdateBillingStatus", {
        "batchId": batch, "status": "HOLD", "filter": {"accountId": to_base64("Account", str(2**31))}})
    assert [e["code"] for e in errors] == ["NOT_FOUND"]


async def test_downloads_answer_404_for_an_id_billrun_never_made(admin: Api) -> None:
    headers = {"Authorization": f"Bearer {admin.token}"}
    for node_id in BAD_NODE_IDS:
        urls = [f"/invoices/{to_base64('Invoice', node_id)}.pdf", f"/exports/{to_base64('Export', node_id)}",
                f"/deliveries/{to_base64('Delivery', node_id)}.eml",
                f"/exports/billing-details.csv?batchId={to_base64('BillingBatch', node_id)}",
                f"/exports/billing-details.csv?billingId={to_base64('PeriodicBilling', node_id)}"]
        for url in urls:
            response = await admin.client.get(url.replace("+", "%2B"), headers=headers)
            assert response.status_code == 404, (url, response.text)
            assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    for url in ("/invoices/%FF%FE.pdf", "/exports/billing-details.csv?batchId=%00", "/exports/!!!"):
        assert (await admin.client.get(url, headers=headers)).status_code in (400, 404), url


# ---- cursors ---------------------------------------------------------------------------------------------------


def _cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


async def test_a_forged_cursor_is_a_bad_request(admin: Api) -> None:
    """A cursor is client input: a key value its column cannot hold never reaches the database."""
    await builders.account(admin, "C-1")
    forged = [["C-1", 2**31], ["C-1", "1"], ["C-1", [1]], ["C-1", 1.5], ["C-1", True], [123, 1], ["C\u0000", 1],
              ["x" * 33, 1], ["C-1"], {"a": 1}, "C-1", ["C-1", 10**400]]
    for values in forged:
        result = await send(admin, "query($c: String) { accounts(after: $c) { totalCount } }", {"c": _cursor(values)})
        assert [e["extensions"]["code"] for e in result.errors] == ["BAD_REQUEST"], (values, result)
    for order, values in (("CREATED_AT", ["yesterday", 1]), ("CREATED_AT", [5, 1])):
        result = await send(admin, f"query($c: String) {{ accounts(after: $c, orderBy: {{field: {order}}}) "
                            "{ totalCount } }", {"c": _cursor(values)})
        assert [e["extensions"]["code"] for e in result.errors] == ["BAD_REQUEST"], (values, result)
    for values in (["NaN", 1], ["sNaN", 1], ["12,5", 1], [12.5, 1]):
        result = await send(admin, "query($c: String) { invoices(after: $c, orderBy: {field: AMOUNT}) "
                            "{ totalCount } }", {"c": _cursor(values)})
        assert [e["extensions"]["code"] for e in result.errors] == ["BAD_REQUEST"], (values, result)


# ---- text ------------------------------------------------------------------------------------------------------

TOO_LONG = "x" * 10_001  # beyond every column and BILLRUN_MAX_TEXT_LENGTH
# Strings that no column holds as they are: passwords are hashed, a login's e-mail is looked up, never stored.
UNBOUNDED = {("login", "email"), ("login", "password"), ("createUser", "password"), ("updateUser", "password"),
             ("updateUser", "currentPassword")}


def valid_inputs(ids: dict[str, str]) -> dict[str, dict]:
    """One input each mutation with a text field accepts (nothing else wrong with it)."""
    return {
        "login": {"email": "admin@example.com", "password": "correct horse battery"},
        "createUser": {"email": "new@example.com", "name": "New", "permissions": []},
        "updateUser": {"id": ids["user"]},
        "createApiToken": {"userId": ids["user"], "name": "t"},
        "createAccount": {"number": "N-1", "name": "N", "billGroup": "G1", "division": "D1", "taxLocation": "ZERO",
                          "billingEmail": "n@example.com"},
        "updateAccount": {"id": ids["account"]},
        "createSalesContract": {"accountId": ids["account"], "number": "SC-N", "frequency": "MONTHLY",
                                "startDate": "2026-05-01"},
        "createRecurringCharge": {"contractId": ids["contract"], "description": "d", "periodicPrice": "1.00"},
        "updateRecurringCharge": {"id": ids["charge"]},
        "createLedgerAccount": {"code": "9000", "name": "n", "kind": "REVENUE"},
        "updateLedgerAccount": {"id": ids["revenue"]},
        "createTaxRate": {"location": "NEW", "name": "n", "rate": "0.1"},
        "updateTaxRate": {"id": ids["tax_rate"]},
        "createWorkOrder": {"accountId": ids["account"], "description": "d", "performedOn": "2026-05-03"},
        "updateWorkOrder": {"id": ids["work_order"]},
        "createManualCharge": {"accountId": ids["account"], "description": "d", "chargeDate": "2026-05-03",
                               "amount": "1.00"},
        "updateManualCharge": {"id": ids["manual_charge"]},
        "createServiceChange": {"chargeId": ids["charge"], "effectiveDate": "2026-07-01", "newPrice": "1.00"},
        "updateServiceChange": {"id": ids["service_change"]},
        "createInvoiceAdjustment": {"accountId": ids["account"], "kind": "DEBIT", "description": "d",
                                    "amount": "1.00"},
        "createBillingBatch": {"name": "New run", "invoiceDate": "2026-05-01"},
        "resolveFinding": {"id": ids["finding"], "note": "n"},
        "reopenAccountingPeriod": {"id": ids["closed_period"], "reason": "r"},
        "addMiscCharge": {"billingId": ids["billing"], "description": "d", "amount": "1.00",
                          "revenueAccountId": ids["revenue"]},
        "updatePeriodicBilling": {"id": ids["billing"]},
        "resolveNotification": {"id": ids["notification"], "note": "n"},
        "resendInvoice": {"invoiceId": ids["invoice"]},
        "createTeam": {"name": "T"},
        "updateTeam": {"id": ids["team"], "name": "T2"},
        "createApprovalRule": {"kind": "BILLING_AMOUNT_ABOVE", "threshold": "1.00", "currency": "USD"},
        "createBillingSchedule": {"name": "S", "cadence": "MONTHLY", "day": 1},
        "updateBillingSchedule": {"id": ids["schedule"]},
        "createWebhookEndpoint": {"url": "http://127.0.0.1:9/new"},
        "updateWebhookEndpoint": {"id": ids["webhook"]},
        "disableWebhookEndpoint": {"id": ids["webhook"]},
        "createCreditNote": {"invoiceId": ids["invoice"], "wholeInvoice": True, "reason": "OTHER"},
    }


def _string_fields(mutation: str) -> list[str]:
    """The text fields of a mutation's input (the idempotency key is the request's envelope: bounded by the
    idempotency rules, tests/test_idempotency.py)."""
    return [name for name, f in _input_type(mutation).fields.items()
            if _unwrap(f.type).name == "String" and name != "idempotencyKey"]


@pytest.mark.usefixtures("worker")
async def test_every_text_input_is_bounded_by_its_column(admin: Api) -> None:
    """Every String field of every mutation, given 10,001 characters: INVALID_INPUT naming the field and the
    limit read from the model ("name is at most 200 characters"), for e-mail addresses the validator's
    refusal; nothing written, never a database error."""
    ids = await world.build(admin)
    inputs = valid_inputs(ids)
    assert {m for m in MUTATIONS if "input" in MUTATIONS[m].args and _string_fields(m)} == set(inputs)
    wrong = []
    for mutation, base in inputs.items():
        for field in _string_fields(mutation):
            result, errors = await mutate(admin, mutation, {**base, field: TOO_LONG})
            if (mutation, field) in UNBOUNDED:
                continue
            mine = [e for e in errors if e["field"] == field]
            if result.errors or not mine or not all(e["code"] in ("INVALID_INPUT", "INVALID_CURRENCY") for e in mine):
                wrong.append((mutation, field, result.errors or errors))
            elif "mail" not in field.lower() and field not in ("recipient", "email", "currency") and not any(
                    re.fullmatch(rf"{field} is at most \d+ characters\.", e["message"]) for e in mine):
                wrong.append((mutation, field, mine))
    assert wrong == []
    assert await models.Account.filter(number="N-1").count() == 0


async def test_limits_are_the_columns_and_the_text_setting(admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exactly the limit is fine, one more is refused; free text is bounded by BILLRUN_MAX_TEXT_LENGTH."""
    await billing.books(admin)
    limit = validation.max_length(models.Account, "name")
    assert limit == 200
    data = {"number": "L-1", "name": "n" * (limit + 1), "billGroup": "G1", "division": "D1", "taxLocation": "ZERO",
            "billingEmail": "l@example.com"}
    _, errors = await mutate(admin, "createAccount", data)
    assert errors == [{"code": "INVALID_INPUT", "field": "name", "message": "name is at most 200 characters."}]
    account = await builders.account(admin, "L-1", name="n" * limit)
    _, errors = await mutate(admin, "createSalesContract", {"accountId": account, "number": "S" * 33,
                                                            "frequency": "MONTHLY", "startDate": "2026-05-01"})
    assert errors == [{"code": "INVALID_INPUT", "field": "number", "message": "number is at most 32 characters."}]

    batch = await world.open_batch(admin)
    await notifications.raise_once(int(from_base64(batch)[1]), "TEST", "m", "limit")
    notification = to_base64("Notification", (await models.Notification.get(dedupe_key="limit")).id)
    monkeypatch.setenv("BILLRUN_MAX_TEXT_LENGTH", "20")
    reset_settings()
    try:
        _, errors = await mutate(admin, "resolveNotification", {"id": notification, "note": "n" * 21})
        assert errors == [{"code": "INVALID_INPUT", "field": "note", "message": "note is at most 20 characters."}]
        _, errors = await mutate(admin, "resolveNotification", {"id": notification, "note": "n" * 20})
        assert errors == []
    finally:
        monkeypatch.delenv("BILLRUN_MAX_TEXT_LENGTH")
        reset_settings()


SEARCHES = ["accounts(filter: {search: $s}) { totalCount }", "salesContracts(filter: {search: $s}) { totalCount }",
            "billingBatches(filter: {search: $s}) { totalCount }", "invoices(filter: {search: $s}) { totalCount }",
            "billingBatch(id: $batch) { periodicBillings(filter: {search: $s}) { totalCount } }"]
EXACT = [("accounts(filter: {billGroup: $s}) { totalCount }", 64), ("accounts(filter: {currency: $s}) { totalCount }",
                                                                    3),
         ("billingBatches(filter: {division: $s}) { totalCount }", 64), ("audits(filter: {entity: $s}) { totalCount }",
                                                                         32),
         ("audits(filter: {field: $s}) { totalCount }", 64), ("audits(filter: {operation: $s}) { totalCount }", 32)]


async def test_filter_strings_are_bounded(admin: Api) -> None:
    """A search longer than 200 characters, or an exact value longer than its column, is a GraphQL error
    (BAD_REQUEST) naming the filter field; at the limit it simply matches nothing."""
    batch = await world.open_batch(admin)
    cases = [(s, validation.SEARCH_MAX_LENGTH) for s in SEARCHES] + EXACT
    for selection, limit in cases:
        query = f"query($s: String{_batch_var(selection)}) {{ {selection} }}"
        result = await send(admin, query, {"s": "%" * limit, "batch": batch})
        assert result.errors == [], (selection, result.errors)
        result = await send(admin, query, {"s": "%" * (limit + 1), "batch": batch})
        assert [e["extensions"]["code"] for e in result.errors] == ["BAD_REQUEST"], (selection, result)
        assert f"is at most {limit} characters" in result.errors[0]["message"]
    result, _ = await mutate(admin, "massUpdateBillingStatus", {"batchId": batch, "status": "HOLD",
                                                                "filter": {"search": "s" * 201}})
    assert [e["extensions"]["code"] for e in result.errors] == ["BAD_REQUEST"]


async def test_nul_in_a_string_literal_is_refused(admin: Api) -> None:
    """Variables with NUL are refused at the edge; a `\\u0000` escape in the document is refused the same."""
    for query in ('{ accounts(filter: {search: "a\\u0000b"}) { totalCount } }',
                  'mutation { login(input: {email: "a\\u0000@example.com", password: "p"}) { token } }',
                  'mutation { createLedgerAccount(input: {code: "\\u0000", name: "n", kind: REVENUE}) { errors '
                  '{ code } } }', 'query { accounts(filter: {search: """a\u0000"""}) { totalCount } }'):
        response = await admin.raw(query)
        assert response.status_code in (200, 400), response.text
        errors = response.json()["errors"]
        assert errors and "NUL" in errors[0]["message"], errors
    assert await models.LedgerAccount.all().count() == 0


async def test_an_over_long_sign_in_email_is_wrong_credentials(anonymous: Api) -> None:
    result = await send(anonymous, "mutation($e: String!) { login(input: {email: $e, password: \"p\"}) { errors "
                        "{ code field } } }", {"e": "a" * 10_000 + "@example.com"})
    assert result.data["login"]["errors"] == [{"code": "INVALID_CREDENTIALS", "field": "password"}]


# ---- nulls -----------------------------------------------------------------------------------------------------


def _nullable_by_omission(input_type: GraphQLInputObjectType) -> list[str]:
    """Fields that may be left out and have no default of their own (null is not their default)."""
    from graphql.pyutils import Undefined

    return [name for name, f in input_type.fields.items()
            if not isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined]


def test_null_meanings_name_real_fields() -> None:
    """NULL_MEANS (the one place that says where null means something) names only fields that may be left out."""
    inputs = {_input_type(m).name: _input_type(m) for m in MUTATIONS if "input" in MUTATIONS[m].args}
    for input_name, fields in NULL_MEANS.items():
        assert {camel(f) for f in fields} <= set(_nullable_by_omission(inputs[input_name])), input_name


async def test_null_is_refused_where_it_means_nothing(admin: Api) -> None:
    """Every field that may be left out but has no meaning for null, given null: INVALID_INPUT "… must not be
    null" naming it, before anything is looked up or written."""
    checked, wrong = 0, []
    for mutation in MUTATIONS:
        if "input" not in MUTATIONS[mutation].args:
            continue
        input_type = _input_type(mutation)
        meaningful = {camel(f) for f in NULL_MEANS.get(input_type.name, {})}
        for field in _nullable_by_omission(input_type):
            if field in meaningful:
                continue
            result, errors = await mutate(admin, mutation, {**dummy(input_type, input_type.name), field: None})
            checked += 1
            if result.errors or errors[:1] != [{"code": "INVALID_INPUT", "field": field,
                                                "message": f"{field} must not be null."}]:
                wrong.append((mutation, field, result.errors or errors))
    assert checked > 40
    assert wrong == []


async def test_null_keeps_its_meaning_where_it_has_one(admin: Api) -> None:
    accounts = await billing.books(admin)
    account = await builders.account(admin, "N-1", paymentMethodToken="tok_ok")
    contract = await builders.contract(admin, account, "SC-N-1", endDate="2026-12-31")
    charge = await builders.charge(admin, contract, "10.00", accounts["revenue"])
    _, errors = await mutate(admin, "createAccount", {"number": "N-2", "name": "n", "billGroup": "G1",
                                                      "division": "D1", "taxLocation": "ZERO",
                                                      "billingEmail": "n2@example.com", "paymentTermsDays": None})
    assert errors == [{"code": "INVALID_INPUT", "field": "paymentTermsDays",
                       "message": "paymentTermsDays must not be null."}]
    for mutation, data in (("updateAccount", {"id": account, "name": None}),
                           ("updateRecurringCharge", {"id": charge, "periodicPrice": None})):
        _, errors = await mutate(admin, mutation, data)
        assert [e["code"] for e in errors] == ["INVALID_INPUT"], errors
    # Null as "open-ended", "no revenue account", "no token":
    for mutation, data in (("updateSalesContract", {"id": contract, "endDate": None}),
                           ("updateRecurringCharge", {"id": charge, "revenueAccountId": None}),
                           ("updateAccount", {"id": account, "paymentMethodToken": None})):
        _, errors = await mutate(admin, mutation, data)
        assert errors == [], (mutation, errors)
    contract_row = await models.SalesContract.get(number="SC-N-1")
    charge_row = await models.RecurringCharge.get(contract_id=contract_row.id)
    assert contract_row.end_date is None and charge_row.revenue_account_id is None
    assert (await models.Account.get(number="N-1")).payment_method_token is None


# ---- numbers ---------------------------------------------------------------------------------------------------


async def test_numbers_out_of_range_are_refused_naming_the_field(admin: Api) -> None:
    accounts = await billing.books(admin)
    account = await builders.account(admin, "R-1")
    contract = await builders.contract(admin, account, "SC-R-1")
    charge = await builders.charge(admin, contract, "10.00", accounts["revenue"])
    base = {"number": "R-2", "name": "n", "billGroup": "G1", "division": "D1", "taxLocation": "ZERO",
            "billingEmail": "r2@example.com"}
    cases = [
        ("createAccount", {**base, "paymentTermsDays": -1}, "paymentTermsDays"),
        ("createAccount", {**base, "paymentTermsDays": 366}, "paymentTermsDays"),
        ("updateAccount", {"id": account, "paymentTermsDays": 2**31 - 1}, "paymentTermsDays"),
        ("updateRecurringCharge", {"id": charge, "quantity": "10000000000"}, "quantity"),  # NUMERIC(14,4)
        ("updateRecurringCharge", {"id": charge, "quantity": "1.00001"}, "quantity"),
        ("updateRecurringCharge", {"id": charge, "quantity": "0"}, "quantity"),
        ("updateRecurringCharge", {"id": charge, "quantity": "-1"}, "quantity"),
        ("createRecurringCharge", {"contractId": contract, "description": "d", "periodicPrice": "1.00",
                                   "quantity": "99999999999999"}, "quantity"),
        ("createWorkOrder", {"accountId": account, "description": "d", "performedOn": "2026-05-01",
                             "quantity": "10000000000"}, "quantity"),
        ("updateRecurringCharge", {"id": charge, "periodicPrice": "1000000000000.00"}, "periodicPrice"),
        ("createManualCharge", {"accountId": account, "description": "d", "chargeDate": "2026-05-01",
                                "amount": "-1000000000000"}, "amount"),
        ("createManualCharge", {"accountId": account, "description": "d", "chargeDate": "2026-05-01",
                                "amount": "0.001"}, "amount"),
        ("createTaxRate", {"location": "L", "name": "n", "rate": "1"}, "rate"),
        ("createTaxRate", {"location": "L", "name": "n", "rate": "0.000001"}, "rate"),
        ("createTaxRate", {"location": "L", "name": "n", "rate": "-0.1"}, "rate"),
        ("updateBillingStatus", {"billingId": to_base64("PeriodicBilling", 1), "status": "HOLD",
                                 "expectedVersion": 0}, "expectedVersion"),
        ("updateBillingStatus", {"billingId": to_base64("PeriodicBilling", 1), "status": "HOLD",
                                 "expectedVersion": 2**31 - 1}, "expectedVersion"),
    ]
    for mutation, data, field in cases:
        result, errors = await mutate(admin, mutation, data)
        assert result.errors == [] and [e["field"] for e in errors] == [field], (mutation, data, result)
        assert errors[0]["code"] == "INVALID_INPUT" and field in errors[0]["message"], errors
    assert await models.Account.filter(number="R-2").count() == 0
    # GraphQL's Int is 32-bit: beyond it is a GraphQL error, whatever the field.
    result, _ = await mutate(admin, "updateAccount", {"id": account, "paymentTermsDays": 2**31})
    assert result.errors and "Int cannot represent" in result.errors[0]["message"]
    for first in (-1, 501, 2**31 - 1):
        result = await send(admin, "query($n: Int) { accounts(first: $n) { totalCount } }", {"n": first})
        assert [e["extensions"]["code"] for e in result.errors] in (["BAD_REQUEST"], ["QUERY_TOO_COSTLY"]), result


@pytest.mark.usefixtures("worker")
async def test_days_billed_are_bounded(admin: Api) -> None:
    ids = await world.build(admin, post=False)
    for days in (-1, 32, 2**31 - 1):
        _, errors = await mutate(admin, "updateBillingDetail", {"id": ids["detail"], "daysBilled": days})
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", "daysBilled")], (days, errors)
    _, errors = await mutate(admin, "updateBillingDetail", {"id": ids["detail"], "revenueAccountId": None})
    assert errors == [{"code": "INVALID_INPUT", "field": "revenueAccountId",
                       "message": "revenueAccountId must not be null."}]
    _, errors = await mutate(admin, "updatePeriodicBilling", {"id": ids["billing"], "internalComment": None})
    assert errors == []  # null clears a comment


# ---- money, dates and datetimes --------------------------------------------------------------------------------

PRICE = """mutation($id: ID!, $p: Decimal) { updateRecurringCharge(input: {id: $id, periodicPrice: $p}) {
  recurringCharge { periodicPrice } errors { code field message } } }"""
LOOSE_DECIMALS = ["1_000", "\u0661\u0662\u0663", "\uff11\uff12", " 12", "12 ", "\t12", "12\n", "1e2", "1E2",
                  "NaN", "nan", "Infinity", "-Infinity", "sNaN", "+12", ".5", "5.", "0x10", "1,5", "", "-", "1.2.3",
                  "1" * 33, 1e20, 1.0e-7, 0.1 + 0.2, True, False, [], {}, "12.50 USD"]


async def _charge(admin: Api) -> str:
    accounts = await billing.books(admin)
    account = await builders.account(admin, "M-1")
    contract = await builders.contract(admin, account, "SC-M-1")
    return await builders.charge(admin, contract, "10.00", accounts["revenue"])


async def test_money_is_a_plain_decimal(admin: Api) -> None:
    """No digit grouping, non-ASCII digits, padding, exponent, NaN/Infinity, sign other than a leading minus,
    or more than 32 characters; a JSON number only when a float holds it exactly (at most 15 digits)."""
    charge = await _charge(admin)
    for value in LOOSE_DECIMALS:
        result = await send(admin, PRICE, {"id": charge, "p": value})
        assert result.data is None and "Decimal must be a plain decimal number" in result.errors[0]["message"], \
            (value, result)
    for literal in ("1e2", "1E+2", "0.5e1", '"1_000"', '"NaN"', "true", "[1]", "{a: 1}", "ENUM"):
        result = await send(admin, f"mutation($id: ID!) {{ updateRecurringCharge(input: {{id: $id, periodicPrice: "
                            f"{literal}}}) {{ errors {{ code }} }} }}", {"id": charge})
        assert result.data is None and result.errors, (literal, result)
    assert (await models.RecurringCharge.get()).periodic_price == 10
    for value, stored in (("12.50", "12.50"), (12.5, "12.50"), (12, "12.00"), ("0012.5", "12.50")):
        result = await send(admin, PRICE, {"id": charge, "p": value})
        assert result.data["updateRecurringCharge"]["errors"] == [], (value, result)
        assert str((await models.RecurringCharge.get()).periodic_price) == stored, value
    for literal, stored in (("13.25", "13.25"), ("14", "14.00"), ('"15.75"', "15.75")):
        result = await send(admin, f"mutation($id: ID!) {{ updateRecurringCharge(input: {{id: $id, periodicPrice: "
                            f"{literal}}}) {{ errors {{ code }} }} }}", {"id": charge})
        assert result.data["updateRecurringCharge"]["errors"] == [], (literal, result)
        assert str((await models.RecurringCharge.get()).periodic_price) == stored, literal
    result = await send(admin, PRICE, {"id": charge, "p": "-0.01"})  # well formed: a business refusal
    assert result.data["updateRecurringCharge"]["errors"][0]["code"] == "INVALID_INPUT"


CONTRACT_END = """mutation($id: ID!, $d: Date) { updateSalesContract(input: {id: $id, endDate: $d}) {
  salesContract { endDate } errors { code field message } } }"""


async def test_dates_are_iso_calendar_dates_in_a_sane_range(admin: Api) -> None:
    """YYYY-MM-DD with ASCII digits from 1900-01-01 to 2999-12-31: no basic or week format, no time, no padding,
    no year 1 (which PostgreSQL would store as -infinity)."""
    await billing.books(admin)
    account = await builders.account(admin, "D-1")
    contract = await builders.contract(admin, account, "SC-D-1", start="1900-01-01")
    for value in ("20270101", "2027-W01-1", "2027-001", "2027-1-1", "2027-01-01T00:00:00", "2027-01-01 ",
                  " 2027-01-01", "\uff12\uff10\uff12\uff17-01-01", "2027-02-30", "0001-01-01", "1899-12-31",
                  "3000-01-01", "9999-12-31", "+2027-01-01", 20270101, "", "2027-13-01"):
        result = await send(admin, CONTRACT_END, {"id": contract, "d": value})
        assert result.data is None and "Date must be an ISO date YYYY-MM-DD" in result.errors[0]["message"], \
            (value, result)
    result = await send(admin, 'query { invoices(filter: {invoiceDateFrom: "2026-W01-1"}) { totalCount } }')
    assert result.data is None and "Date must be" in result.errors[0]["message"]
    for value in ("2999-12-31", "1900-01-01"):
        result = await send(admin, CONTRACT_END, {"id": contract, "d": value})
        assert result.data["updateSalesContract"]["salesContract"]["endDate"] == value, result


TOKEN = """mutation($user: ID!, $at: DateTime) { createApiToken(input: {userId: $user, name: "t", expiresAt: $at}) {
  apiToken { expiresAt } errors { code field message } } }"""


async def test_a_datetime_needs_an_offset(admin: Api) -> None:
    user = (await admin.ok("{ viewer { user { id } } }"))["viewer"]["user"]["id"]
    result = await send(admin, 'mutation($user: ID!) { createApiToken(input: {userId: $user, name: "t", '
                        'expiresAt: "2027-01-01T00:00:00"}) { errors { code } } }', {"user": user})
    assert result.data is None and "DateTime needs a UTC offset" in result.errors[0]["message"], result
    for value in ("2027-01-01T00:00:00", "2027-01-01", "2027-01-01 00:00:00Z", "2027-01-01t00:00:00z",
                  "20270101T000000Z", "2027-01-01T00:00:00+0100", "0001-01-01T00:00:00Z", "3000-01-01T00:00:00Z",
                  "2027-01-01T25:00:00Z", "2027-01-01T00:00:00+24:00", 1798761600, ""):
        result = await send(admin, TOKEN, {"user": user, "at": value})
        assert result.data is None and "DateTime" in result.errors[0]["message"], (value, result)
    for value in ("2027-01-01T00:00:00Z", "2027-01-01T01:00:00+01:00", "2027-01-01T00:00:00.5-05:30"):
        result = await send(admin, TOKEN, {"user": user, "at": value})
        assert result.data["createApiToken"]["errors"] == [], (value, result)


# ---- e-mail addresses ------------------------------------------------------------------------------------------

BAD_EMAILS = ["a@b.co\r\nBcc: x@example.com", "a@b.co\nx", "a\tb@b.co", "a b@b.co", "no-at-sign", "a@", "@b.co",
              "A <a@b.co>", "a@localhost", "a@host.local", "a@x.invalid", "a@[127.0.0.1]", '"a b"@b.co',
              "\u00fc@b.co", "a@b..co", "a@" + "b" * 250 + ".co", "a@b.co,c@d.co"]


@pytest.mark.usefixtures("worker")
async def test_email_addresses_are_validated_everywhere(admin: Api) -> None:
    """Billing e-mails, user e-mails and resend recipients: email-validator's syntax, no DNS look-up."""
    ids = await world.build(admin)
    for value in BAD_EMAILS:
        for mutation, data, field in (
                ("createAccount", {**valid_inputs(ids)["createAccount"], "billingEmail": value}, "billingEmail"),
                ("updateAccount", {"id": ids["account"], "billingEmail": value}, "billingEmail"),
                ("createUser", {"email": value.strip(), "name": "n", "permissions": []}, "email"),  # sign-in names
                # are trimmed and lower-cased, here as at sign-in
                ("resendInvoice", {"invoiceId": ids["invoice"], "recipient": value}, "recipient")):
            _, errors = await mutate(admin, mutation, data)
            assert {(e["code"], e["field"]) for e in errors} == {("INVALID_INPUT", field)}, (mutation, value, errors)
            assert "is not an e-mail address" in errors[0]["message"]
    assert await models.Account.filter(number="N-1").count() == 0
    _, errors = await mutate(admin, "updateAccount", {"id": ids["account"], "billingEmail": " a@b.co"})
    assert [e["field"] for e in errors] == ["billingEmail"]  # an invoice address is taken as given, not trimmed
    _, errors = await mutate(admin, "updateAccount", {"id": ids["account"], "billingEmail": "Billing@Example.COM"})
    assert errors == []
    assert (await models.Account.get(number="W-1")).billing_email == "Billing@example.com"  # the domain normalized

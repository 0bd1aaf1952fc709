"""The graph speaks Relay everywhere: every id it shows is a global id (or a link to a node), including the
records named by audits, findings, billing lines and their traces; filters take global ids, and one that names
a record of another type simply matches nothing."""

import pytest
from graphql import GraphQLList, GraphQLNonNull, get_named_type
from strawberry.relay import from_base64

from schema import schema
from tests.support import billing, builders, posting
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
DETAILS = """query($id: ID!) { periodicBilling(id: $id) { id details { id kind sourceType sourceId
  """ + billing.TRACE + """ charge { id } datedPrice { id } revenueAccount { id } } } }"""
AUDITS = """query($filter: AuditFilter) { audits(filter: $filter, first: 100) { totalCount
  nodes { entity entityId field operation batch { id } billing { id } } } }"""
VALUES = """query($filter: AuditFilter) { audits(filter: $filter) { nodes { field before after } } }"""


def _unwrap(graphql_type):
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        graphql_type = graphql_type.of_type
    return graphql_type


def test_every_id_field_of_the_schema_is_a_global_id() -> None:
    """No type or input of the graph carries a raw database id: `id`, `…Id` and `…Ids` are all `ID`."""
    raw = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__"):
            continue
        for field_name, found in (getattr(graphql_type, "fields", None) or {}).items():
            if (field_name == "id" or field_name.endswith(("Id", "Ids"))) and \
                    get_named_type(_unwrap(found.type)).name != "ID":
                raw.append(f"{name}.{field_name}")
    assert raw == ["Delivery.messageId"]  # the e-mail's Message-ID header, not a record of billrun
    assert "path" not in schema._schema.type_map["Delivery"].fields


async def _processed(admin: Api) -> dict:
    accounts = await billing.books(admin)
    contract = await billing.vector_contract(admin, accounts)
    account = (await admin.ok("query($id: ID!) { node(id: $id) { ... on SalesContract { account { id } } } }",
                              {"id": contract}))["node"]["account"]["id"]
    manual = (await admin.mutate("createManualCharge", """mutation($input: CreateManualChargeInput!) {
      createManualCharge(input: $input) { manualCharge { id } errors { code } } }""", {"input": {
        "accountId": account, "description": "Setup", "chargeDate": "2026-05-01", "amount": "15.00",
        "revenueAccountId": accounts["revenue"]}}))["manualCharge"]["id"]
    open_order = (await admin.mutate("createWorkOrder", """mutation($input: CreateWorkOrderInput!) {
      createWorkOrder(input: $input) { workOrder { id } errors { code } } }""", {"input": {
        "accountId": account, "description": "Still running", "performedOn": "2026-05-01",
        "status": "OPEN"}}))["workOrder"]["id"]
    batch = await billing.batch(admin)
    findings = (await admin.ok(billing.ANALYZE, {"id": batch}))["analyzeBillingBatch"]["findings"]
    await billing.process(admin, batch)
    rows = await billing.billings(admin, batch)
    return {"accounts": accounts, "batch": batch, "manual": manual, "open_order": open_order,
            "findings": findings, "rows": rows}


async def test_findings_lines_and_traces_name_records_by_global_id(admin: Api) -> None:
    world = await _processed(admin)
    [finding] = world["findings"]
    assert (finding["kind"], finding["subjectType"], finding["subjectId"]) == (
        "WORK_ORDER_OPEN", "WorkOrder", world["open_order"])

    one_off = next(r for r in world["rows"] if r["salesContract"] is None)
    [line] = (await admin.ok(DETAILS, {"id": one_off["id"]}))["periodicBilling"]["details"]
    assert (line["kind"], line["sourceType"], line["sourceId"]) == ("MANUAL", "ManualCharge", world["manual"])
    assert line["trace"]["priceRecord"] == {"__typename": "ManualCharge", "id": world["manual"]}
    assert line["trace"]["distribution"] == [{"amount": "15.00", "percent": "100.00", "revenueAccount": {
        "id": world["accounts"]["revenue"], "code": "4000"}}]

    by_start = {r["billingStartingDate"]: r for r in world["rows"] if r["salesContract"] is not None}
    for start, record_type in (("2026-02-01", "DatedPrice"), ("2026-04-01", "RecurringCharge")):
        for detail in (await admin.ok(DETAILS, {"id": by_start[start]["id"]}))["periodicBilling"]["details"]:
            trace = detail["trace"]
            if detail["kind"] == "TAX":
                assert trace["priceRecord"]["__typename"] == "TaxRate"
                continue
            assert trace["priceRecord"]["__typename"] == record_type and detail["sourceId"] is None
            expected = detail["datedPrice"]["id"] if record_type == "DatedPrice" else detail["charge"]["id"]
            assert trace["priceRecord"]["id"] == expected
            assert trace["distribution"][0]["revenueAccount"]["id"] == detail["revenueAccount"]["id"]
            gid = trace["priceRecord"]["id"]
            assert (await admin.ok(NODE, {"id": gid}))["node"]["id"] == gid


async def test_audits_name_their_record_and_link_batch_and_billing(admin: Api) -> None:
    world = await _processed(admin)
    batch, accounts = world["batch"], world["accounts"]
    target = next(r for r in world["rows"] if r["billingStartingDate"] == "2026-05-01" and r["salesContract"])
    detail = (await admin.ok(DETAILS, {"id": target["id"]}))["periodicBilling"]["details"][0]
    other_revenue = await builders.revenue_account(admin, "4100")
    await admin.mutate("updateBillingDetail", """mutation($input: UpdateBillingDetailInput!) {
      updateBillingDetail(input: $input) { billingDetail { id } errors { code } } }""", {"input": {
        "id": detail["id"], "distributions": [
            {"revenueAccountId": accounts["revenue"], "amount": "40.00"},
            {"revenueAccountId": other_revenue, "amount": "10.00"}]}})
    await admin.mutate("updateBillingStatus", """mutation($id: ID!) { updateBillingStatus(input: {billingId: $id,
      status: CANCELLED}) { periodicBilling { id } errors { code } } }""", {"id": target["id"]})

    status = (await admin.ok(AUDITS, {"filter": {"entityId": target["id"], "field": "status"}}))["audits"]
    assert status["nodes"] == [{"entity": "PeriodicBilling", "entityId": target["id"], "field": "status",
                                "operation": "DISPOSITION", "batch": {"id": batch}, "billing": {"id": target["id"]}}]
    # A line's distributions are audited on the line: both kinds of rows answer to the line's global id.
    on_line = (await admin.ok(AUDITS, {"filter": {"entityId": detail["id"]}}))["audits"]["nodes"]
    assert {(a["entity"], a["entityId"]) for a in on_line} == {("RevenueDistribution", detail["id"])}
    # Ids inside audited values are global ids too: a line's revenue accounts, the batches a billing moved between.
    [split] = (await admin.ok(VALUES, {"filter": {"entityId": detail["id"]}}))["audits"]["nodes"]
    assert split == {"field": "distributions", "before": f"{accounts['revenue']}:50.00",
                     "after": f"{accounts['revenue']}:40.00, {other_revenue}:10.00"}
    second = await billing.batch(admin, "Second")
    one_off = next(r for r in world["rows"] if r["salesContract"] is None)
    await admin.mutate("moveBillings", """mutation($ids: [ID!]!, $to: ID!) { moveBillings(input: {billingIds: $ids,
      toBatchId: $to}) { movedCount errors { code } } }""", {"ids": [one_off["id"]], "to": second})
    moved = (await admin.ok(VALUES, {"filter": {"billingId": one_off["id"], "operation": "MOVE"}}))["audits"]
    assert moved["nodes"] == [{"field": "batch_id", "before": batch, "after": second}]
    batch_rows = (await admin.ok(AUDITS, {"filter": {"entityId": batch}}))["audits"]["nodes"]
    assert {(a["entity"], a["field"], a["billing"]) for a in batch_rows} == {("BillingBatch", "status", None)}
    assert all(a["batch"] == {"id": batch} for a in batch_rows)

    # A deleted billing: its audit rows still name it, the link reads null like any absent record.
    await admin.mutate("deletePeriodicBilling", """mutation($id: ID!) { deletePeriodicBilling(input: {id: $id}) {
      deletedId errors { code } } }""", {"id": target["id"]})
    deleted = (await admin.ok(AUDITS, {"filter": {"billingId": target["id"], "operation": "DELETE"}}))["audits"]
    assert [(a["entityId"], a["billing"]) for a in deleted["nodes"]] == [(target["id"], None)]
    assert from_base64(deleted["nodes"][0]["entityId"]) == ("PeriodicBilling", str(posting.db_id(target["id"])))


async def test_a_filter_on_an_id_of_another_type_matches_nothing(admin: Api) -> None:
    world = await _processed(admin)
    batch, account = world["batch"], world["accounts"]["revenue"]  # a LedgerAccount id where others are wanted
    odd = "TGVkZ2VyQWNjb3VudDp4eXo="  # "LedgerAccount:xyz": not even a number
    queries = [
        ("query($v: ID!) { audits(filter: {billingId: $v}) { totalCount } }", "audits"),
        ("query($v: ID!) { audits(filter: {batchId: $v}) { totalCount } }", "audits"),
        ("query($v: ID!) { audits(filter: {entityId: $v}) { totalCount } }", "audits"),
        ("query($v: ID!) { invoices(filter: {batchId: $v}) { totalCount } }", "invoices"),
        ("query($v: ID!) { invoices(filter: {accountId: $v}) { totalCount } }", "invoices"),
        ("query($v: ID!) { salesContracts(filter: {accountId: $v}) { totalCount } }", "salesContracts"),
        ("query($v: ID!) { notifications(filter: {batchId: $v}) { totalCount } }", "notifications"),
    ]
    for value in (account, odd):
        for query, root in queries:
            assert (await admin.ok(query, {"v": value}))[root] == {"totalCount": 0}, (query, value)
        nested = await admin.ok("""query($b: ID!, $v: ID!) { billingBatch(id: $b) {
          periodicBillings(filter: {accountId: $v}) { totalCount } } }""", {"b": batch, "v": value})
        assert nested["billingBatch"]["periodicBillings"] == {"totalCount": 0}
    assert (await admin.ok("query($v: ID!) { audits(filter: {batchId: $v}) { totalCount } }", {"v": batch}))[
        "audits"]["totalCount"] > 0


async def test_a_page_of_audits_with_their_links_costs_a_fixed_number_of_queries(admin: Api) -> None:
    from tests.support.queries import count_queries

    world = await _processed(admin)
    for row in world["rows"]:
        await admin.mutate("updateBillingStatus", """mutation($id: ID!) { updateBillingStatus(input: {billingId: $id,
          status: HOLD}) { periodicBilling { id } errors { code } } }""", {"id": row["id"]})
    page = """query($first: Int!) { audits(first: $first, filter: {operation: "DISPOSITION"}) { nodes { entityId
      before after batch { id code } billing { id billingStatus } } } }"""
    counts = {}
    for size in (2, len(world["rows"])):
        with count_queries() as log:
            nodes = (await admin.ok(page, {"first": size}))["audits"]["nodes"]
        assert len(nodes) == size and all(n["billing"] and n["batch"] for n in nodes)
        counts[size] = log.count
    assert counts[2] == counts[len(world["rows"])], counts

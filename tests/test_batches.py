"""Batches, accounting periods and billable items through the API."""

from datetime import UTC, datetime

import pytest

from domain import clock
from tests.conftest import make_token
from tests.support import billing, builders
from tests.support.api import Api
from tests.support.queries import count_queries

LIST = """query($filter: BillingBatchFilter) { billingBatches(filter: $filter) { totalCount
  nodes { code name status createdBy { name email } summary { billingCount totalAmount invoiceCount totalAmountDue
  amountAwaitingPayment amountPaid hiddenInvoiceCount } } } }"""


async def test_create_batch_with_defaults_and_unique_name(admin: Api) -> None:
    await billing.books(admin, month="2026-11-01")
    with clock.frozen_at(datetime(2026, 11, 23, 15, tzinfo=UTC)):
        payload = await admin.mutate("createBillingBatch", billing.CREATE_BATCH, {"input": {
            "name": "November", "billGroup": "ALL", "division": "D1"}})
    batch = payload["billingBatch"]
    assert batch == {"id": batch["id"], "code": "BB-000001", "name": "November", "status": "NOT_STARTED",
                     "invoiceDate": "2026-11-23", "asOfDate": "2026-11-23", "billGroup": None, "division": "D1"}
    again = (await admin.ok(billing.CREATE_BATCH, {"input": {"name": "November", "invoiceDate": "2026-11-02"}}))
    assert again["createBillingBatch"]["errors"] == [{"code": "DUPLICATE", "field": "name",
                                                      "message": "A batch named 'November' exists."}]


async def test_invoice_date_outside_an_open_period_is_refused(admin: Api) -> None:
    await billing.books(admin, month="2026-05-01")
    payload = (await admin.ok(billing.CREATE_BATCH, {"input": {"name": "June", "invoiceDate": "2026-06-01"}}))
    assert payload["createBillingBatch"]["errors"][0]["code"] == "PERIOD_CLOSED"
    assert (await admin.ok(LIST))["billingBatches"]["totalCount"] == 0


@pytest.mark.usefixtures("worker")
async def test_views_and_summary(admin: Api, client) -> None:
    accounts = await billing.books(admin)
    await billing.vector_contract(admin, accounts)
    hidden = await builders.account(admin, "H-1", taxLocation="ZERO")
    await builders.charge(admin, await builders.contract(admin, hidden, "SC-H", start="2026-05-01"), "9.00",
                          accounts["revenue"])
    await admin.mutate("restrictAccount", """mutation($id: ID!) { restrictAccount(input: {accountId: $id,
      restricted: true}) { account { id } errors { code } } }""", {"id": hidden})
    batch = await billing.batch(admin)
    await billing.batch(admin, "Second")
    await billing.process(admin, batch)
    _, token = await make_token("viewer@example.com", ["BILLING_ACCESS"])
    clerk = Api(client, token)
    data = (await clerk.ok(LIST, {"filter": {"view": "DRAFT", "search": "may"}}))["billingBatches"]
    [row] = data["nodes"]
    # Figures over what the viewer may see; the hidden NEW billing only as an invoice the draft would post.
    assert row["summary"] == {"billingCount": 5, "totalAmount": "1260.00", "invoiceCount": 0,
                              "totalAmountDue": "0.00", "amountAwaitingPayment": "0.00", "amountPaid": "0.00",
                              "hiddenInvoiceCount": 1}
    assert row["createdBy"] == {"name": "Ada Admin", "email": None}  # a colleague: a name, not the e-mail
    hidden_count = await clerk.ok("query($id: ID!) { billingBatch(id: $id) { summary { hiddenBillingCount } "
                                  "periodicBillings { totalCount } } }", {"id": batch})
    assert hidden_count["billingBatch"] == {"summary": {"hiddenBillingCount": 1},
                                            "periodicBillings": {"totalCount": 5}}
    assert (await clerk.ok(LIST, {"filter": {"view": "POSTED"}}))["billingBatches"]["totalCount"] == 0
    assert (await clerk.ok(LIST, {"filter": {"view": "ALL"}}))["billingBatches"]["totalCount"] == 2


@pytest.mark.usefixtures("worker")
async def test_billing_page_costs_a_fixed_number_of_queries(admin: Api) -> None:
    accounts = await billing.books(admin)
    for i in range(6):
        await billing.vector_contract(admin, accounts, f"V-{i}")
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    counts = {}
    for size in (12, 30):  # both pages hold lines priced by dated prices and by contract prices
        with count_queries() as log:
            rows = await billing.billings(admin, batch, first=size)
        assert len(rows) == size
        counts[size] = log.count
    assert counts[12] == counts[30], counts


async def test_close_and_reopen_accounting_periods(admin: Api, clerk: Api) -> None:
    await billing.books(admin)
    period = (await admin.ok("{ accountingPeriods { nodes { id } } }"))["accountingPeriods"]["nodes"][0]["id"]
    await billing.batch(admin)
    close = """mutation($id: ID!) { closeAccountingPeriod(input: {id: $id}) { accountingPeriod { status }
      errors { code message } } }"""
    refused = (await admin.ok(close, {"id": period}))["closeAccountingPeriod"]
    assert refused["errors"][0]["code"] == "INVALID_STATUS" and "BB-000001" in refused["errors"][0]["message"]
    import models

    await models.BillingBatch.all().update(status="POSTED")
    assert (await clerk.ok(close, {"id": period}))["closeAccountingPeriod"]["errors"][0]["code"] == \
        "PERMISSION_DENIED"
    assert (await admin.mutate("closeAccountingPeriod", close, {"id": period}))["accountingPeriod"] == {
        "status": "CLOSED"}
    late = (await admin.ok(billing.CREATE_BATCH, {"input": {"name": "Late", "invoiceDate": "2026-05-20"}}))
    assert late["createBillingBatch"]["errors"][0]["code"] == "PERIOD_CLOSED"
    reopen = """mutation($id: ID!, $reason: String!) { reopenAccountingPeriod(input: {id: $id, reason: $reason}) {
      accountingPeriod { status } errors { code field } } }"""
    assert (await admin.ok(reopen, {"id": period, "reason": " "}))["reopenAccountingPeriod"]["errors"] == [
        {"code": "INVALID_INPUT", "field": "reason"}]
    await admin.mutate("reopenAccountingPeriod", reopen, {"id": period, "reason": "Late credit note"})
    audits = await models.Audit.filter(entity="AccountingPeriod").values_list("operation", "field", "after")
    assert ("REOPEN", "reopen_reason", "Late credit note") in audits and ("CLOSE", "status", "CLOSED") in audits


async def test_billable_items_and_adjustment_approval(admin: Api, clerk: Api) -> None:
    accounts = await billing.books(admin)
    account = await builders.account(clerk, "I-1")
    created = await clerk.mutate("createInvoiceAdjustment", """mutation($input: CreateInvoiceAdjustmentInput!) {
      createInvoiceAdjustment(input: $input) { invoiceAdjustment { id approved } errors { code } } }""", {"input": {
        "accountId": account, "kind": "DEBIT", "description": "Late fee", "amount": "12.00",
        "revenueAccountId": accounts["revenue"]}})
    approve = """mutation($id: ID!) { approveInvoiceAdjustment(input: {id: $id}) {
      invoiceAdjustment { approved } errors { code } } }"""
    adjustment = created["invoiceAdjustment"]["id"]
    assert (await clerk.ok(approve, {"id": adjustment}))["approveInvoiceAdjustment"]["errors"] == [
        {"code": "PERMISSION_DENIED"}]
    assert (await admin.mutate("approveInvoiceAdjustment", approve, {"id": adjustment}))["invoiceAdjustment"] == {
        "approved": True}
    bad = await clerk.ok("""mutation($input: CreateInvoiceAdjustmentInput!) { createInvoiceAdjustment(input:
      $input) { invoiceAdjustment { id } errors { code field } } }""", {"input": {
        "accountId": account, "kind": "CREDIT", "description": "x", "amount": "-1.00"}})
    assert bad["createInvoiceAdjustment"]["errors"] == [{"code": "INVALID_INPUT", "field": "amount"}]
    work_order = (await clerk.mutate("createWorkOrder", """mutation($input: CreateWorkOrderInput!) {
      createWorkOrder(input: $input) { workOrder { id status } errors { code } } }""", {"input": {
        "accountId": account, "description": "Bulk pickup", "performedOn": "2026-04-02", "quantity": "2",
        "rate": "40.00"}}))["workOrder"]
    done = await clerk.mutate("updateWorkOrder", """mutation($input: UpdateWorkOrderInput!) { updateWorkOrder(
      input: $input) { workOrder { status rate billed } errors { code } } }""", {"input": {
        "id": work_order["id"], "status": "COMPLETED", "revenueAccountId": accounts["revenue"]}})
    assert done["workOrder"] == {"status": "COMPLETED", "rate": "40.00", "billed": False}
    tree = await clerk.ok("""query($id: ID!) { node(id: $id) { ... on Account { workOrders { description }
      invoiceAdjustments { kind approved } manualCharges { id } } } }""", {"id": account})
    assert tree["node"] == {"workOrders": [{"description": "Bulk pickup"}],
                            "invoiceAdjustments": [{"kind": "DEBIT", "approved": True}], "manualCharges": []}


UPDATE_MANUAL = """mutation($input: UpdateManualChargeInput!) { updateManualCharge(input: $input) {
  manualCharge { description chargeDate amount billed revenueAccount { code } } errors { code field message } } }"""
UPDATE_CHANGE = """mutation($input: UpdateServiceChangeInput!) { updateServiceChange(input: $input) {
  serviceChange { effectiveDate newPrice note billed } errors { code field message } } }"""
ITEMS = """query($id: ID!) { node(id: $id) { ... on Account { manualCharges { description amount billed }
  contracts { charges { serviceChanges { effectiveDate newPrice note billed } } } } } }"""


@pytest.mark.usefixtures("worker")
async def test_corrected_items_are_billed_as_corrected_and_frozen_once_billed(admin: Api, clerk: Api) -> None:
    accounts = await billing.books(admin)
    account = await builders.account(clerk, "I-1", taxLocation="ZERO")
    charge = await builders.charge(clerk, await builders.contract(clerk, account, "SC-I-1", start="2026-05-01"),
                                   "100.00", accounts["revenue"])
    manual = (await clerk.mutate("createManualCharge", """mutation($input: CreateManualChargeInput!) {
      createManualCharge(input: $input) { manualCharge { id } errors { code } } }""", {"input": {
        "accountId": account, "description": "Setup", "chargeDate": "2026-05-02", "amount": "10.00"}}))[
        "manualCharge"]["id"]
    change = (await clerk.mutate("createServiceChange", """mutation($input: CreateServiceChangeInput!) {
      createServiceChange(input: $input) { serviceChange { id } errors { code } } }""", {"input": {
        "chargeId": charge, "effectiveDate": "2026-05-20", "newPrice": "150.00", "note": "Upgrade"}}))[
        "serviceChange"]["id"]
    fixed = await clerk.mutate("updateManualCharge", UPDATE_MANUAL, {"input": {
        "id": manual, "description": "Setup fee", "chargeDate": "2026-04-30", "amount": "25.00",
        "revenueAccountId": accounts["revenue"]}})
    assert fixed["manualCharge"] == {"description": "Setup fee", "chargeDate": "2026-04-30", "amount": "25.00",
                                     "billed": False, "revenueAccount": {"code": "4000"}}
    fixed = await clerk.mutate("updateServiceChange", UPDATE_CHANGE, {"input": {
        "id": change, "effectiveDate": "2026-05-16", "newPrice": "130.00", "note": "Upgrade, corrected"}})
    assert fixed["serviceChange"] == {"effectiveDate": "2026-05-16", "newPrice": "130.00",
                                      "note": "Upgrade, corrected", "billed": False}
    batch = await billing.batch(clerk)
    await billing.process(clerk, batch)
    lines = {(d["kind"], d["billingAmount"], d["daysBilled"]) for row in await billing.billings(clerk, batch)
             for d in row["details"] if d["kind"] != "TAX"}
    # (130 - 100) * 16/31 days from May 16th; the manual charge at its corrected amount, dated in time for the
    # batch's as-of date (May 1st) now.
    assert lines == {("RECURRING", "100.00", 31), ("SERVICE_CHANGE", "15.48", 16), ("MANUAL", "25.00", None)}
    items = (await clerk.ok(ITEMS, {"id": account}))["node"]
    assert items["manualCharges"] == [{"description": "Setup fee", "amount": "25.00", "billed": True}]
    assert items["contracts"][0]["charges"][0]["serviceChanges"] == [
        {"effectiveDate": "2026-05-16", "newPrice": "130.00", "note": "Upgrade, corrected", "billed": True}]
    for query, name, item in ((UPDATE_MANUAL, "updateManualCharge", {"id": manual, "amount": "30.00"}),
                              (UPDATE_CHANGE, "updateServiceChange", {"id": change, "newPrice": "140.00"})):
        payload = (await clerk.ok(query, {"input": item}))[name]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_STATUS", "id")], name
    assert (await clerk.ok(ITEMS, {"id": account}))["node"] == items

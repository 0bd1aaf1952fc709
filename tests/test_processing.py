"""Processing batches through the API with a real Dramatiq worker."""

import pytest

from tests.support import billing, builders
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")


async def test_004_vector_is_billed_120_230_340_120_450(admin: Api) -> None:
    accounts = await billing.books(admin)
    await billing.vector_contract(admin, accounts)
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    rows = await billing.billings(admin, batch)
    assert [r["periodicBillingAmount"] for r in rows] == ["120.00", "230.00", "340.00", "120.00", "450.00"]
    assert [r["billingStartingDate"] for r in rows] == [f"2026-0{m}-01" for m in range(1, 6)]
    assert [r["billingEndingDate"] for r in rows][:2] == ["2026-01-31", "2026-02-28"]
    sources = [[d["priceSource"] for d in r["details"]] for r in rows]
    assert sources == [["CONTRACT_CHARGE"] * 2, ["DATED_PRICE"] * 2, ["DATED_PRICE"] * 2,
                       ["CONTRACT_CHARGE"] * 2, ["DATED_PRICE"] * 2]
    feb = rows[1]["details"][0]
    assert feb["datedPrice"]["periodicPrice"] == "30.00" and feb["trace"]["priceSource"] == "DATED_PRICE"
    assert feb["daysBilled"] == feb["daysInPeriod"] == 28
    assert "2026-02-01" in feb["trace"]["why"] and feb["trace"]["formula"].endswith("30.00")
    assert feb["distributions"] == [{"amount": "30.00", "revenueAccount": {"code": "4000"}}]
    assert rows[0]["previousBilling"] is None and rows[0]["change"] is None
    assert rows[1]["previousBilling"]["periodicBillingAmount"] == "120.00"
    assert rows[1]["change"] == {"amount": "110.00", "percent": "91.67"}
    assert rows[3]["change"] == {"amount": "-220.00", "percent": "-64.71"}
    history = await admin.ok("""query($id: ID!) { node(id: $id) { ... on SalesContract {
      billings { periodicBillingAmount billingStatus } } } }""", {"id": rows[0]["salesContract"] and
                                                                   (await _contract_id(admin))})
    assert [b["periodicBillingAmount"] for b in history["node"]["billings"]] == [
        "120.00", "230.00", "340.00", "120.00", "450.00"]


async def _contract_id(api: Api) -> str:
    return (await api.ok("{ salesContracts { nodes { id } } }"))["salesContracts"]["nodes"][0]["id"]


async def test_tax_proration_and_one_offs(admin: Api) -> None:
    accounts = await billing.books(admin)
    account = await builders.account(admin, "T-1")  # TX-AUSTIN, 8.25 %
    contract = await builders.contract(admin, account, "SC-T1", start="2026-04-16", billingAnchor="2026-04-01")
    await builders.charge(admin, contract, "30.00", accounts["revenue"])
    await admin.mutate("createManualCharge", """mutation($input: CreateManualChargeInput!) {
      createManualCharge(input: $input) { manualCharge { id } errors { code } } }""", {"input": {
        "accountId": account, "description": "Extra pickup", "chargeDate": "2026-04-20", "amount": "15.00",
        "revenueAccountId": accounts["revenue"]}})
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    rows = await billing.billings(admin, batch)
    recurring = [r for r in rows if r["salesContract"]]
    # April 16-30 is 15 of 30 days: 15.00, tax 1.24; May is whole: 30.00, tax 2.48
    assert [[(d["kind"], d["billingAmount"], d["daysBilled"]) for d in r["details"]] for r in recurring] == [
        [("RECURRING", "15.00", 15), ("TAX", "1.24", None)], [("RECURRING", "30.00", 31), ("TAX", "2.48", None)]]
    [one_off] = [r for r in rows if not r["salesContract"]]
    assert [(d["kind"], d["billingAmount"]) for d in one_off["details"]] == [("MANUAL", "15.00"), ("TAX", "1.24")]
    assert one_off["periodicBillingAmount"] == "16.24"


async def test_preview_is_what_processing_creates(admin: Api) -> None:
    accounts = await billing.books(admin)
    await billing.vector_contract(admin, accounts, "V-1")
    for i in range(3):
        account = await builders.account(admin, f"P-{i}")
        contract = await builders.contract(admin, account, f"SC-P{i}", start=f"2026-0{i + 2}-10",
                                           frequency="QUARTERLY" if i == 1 else "MONTHLY")
        await builders.charge(admin, contract, f"{10 + i}.99", accounts["revenue"])
    batch = await billing.batch(admin)
    analysis = (await admin.ok(billing.ANALYZE, {"id": batch}))["analyzeBillingBatch"]
    preview = analysis["preview"]
    await billing.process(admin, batch)
    summary = (await admin.ok(billing.BATCH, {"id": batch}))["billingBatch"]["summary"]
    rows = await billing.billings(admin, batch)
    assert preview["billingCount"] == summary["billingCount"] == len(rows) > 5
    assert preview["amount"] == summary["totalAmount"]
    by_account: dict[str, list] = {}
    for row in rows:
        by_account.setdefault(row["serviceCustomer"]["number"], []).append(row["periodicBillingAmount"])
    assert {a["account"]["number"]: a["billingCount"] for a in preview["accounts"]} == {
        k: len(v) for k, v in by_account.items()}
    again = (await admin.ok(billing.ANALYZE, {"id": batch}))["analyzeBillingBatch"]["preview"]
    assert again["billingCount"] == 0  # everything due is billed now


async def test_error_findings_block_processing_until_resolved(admin: Api) -> None:
    accounts = await billing.books(admin)
    account = await builders.account(admin, "F-1", taxLocation="ZERO")
    await builders.charge(admin, await builders.contract(admin, account, "SC-F1", start="2026-05-01"), "10.00",
                          accounts["revenue"])
    await admin.mutate("createWorkOrder", """mutation($input: CreateWorkOrderInput!) { createWorkOrder(input:
      $input) { workOrder { id } errors { code } } }""", {"input": {
        "accountId": account, "description": "Bulk pickup", "performedOn": "2026-04-28", "status": "COMPLETED"}})
    await admin.mutate("createInvoiceAdjustment", """mutation($input: CreateInvoiceAdjustmentInput!) {
      createInvoiceAdjustment(input: $input) { invoiceAdjustment { id } errors { code } } }""", {"input": {
        "accountId": account, "kind": "CREDIT", "description": "Goodwill", "amount": "5.00"}})
    batch = await billing.batch(admin)
    findings = (await admin.ok(billing.ANALYZE, {"id": batch}))["analyzeBillingBatch"]["findings"]
    assert sorted((f["kind"], f["severity"]) for f in findings) == [
        ("UNAPPROVED_ADJUSTMENT", "WARNING"), ("WORK_ORDER_NO_RATE", "ERROR")]
    refused = (await admin.ok(billing.PROCESS, {"id": batch}))["processBillingBatch"]
    assert refused["job"] is None and refused["errors"][0]["code"] == "UNRESOLVED_FINDINGS"
    assert (await admin.ok(billing.BATCH, {"id": batch}))["billingBatch"]["status"] == "NOT_STARTED"
    error = next(f for f in findings if f["severity"] == "ERROR")
    resolved = await admin.mutate("resolveFinding", """mutation($id: ID!) { resolveFinding(input: {id: $id,
      note: "Rate to be entered next month"}) { finding { resolvedAt resolutionNote resolvedBy { email } }
      errors { code } } }""", {"id": error["id"]})
    assert resolved["finding"]["resolvedBy"]["email"] == "admin@example.com"
    await billing.process(admin, batch)  # analysis runs again and keeps the resolved finding resolved
    rows = await billing.billings(admin, batch)
    assert [r["periodicBillingAmount"] for r in rows] == ["10.00"]


async def test_unbillable_contract_is_rejected_with_errors_and_the_rest_goes_on(admin: Api) -> None:
    accounts = await billing.books(admin)
    good = await builders.contract(admin, await builders.account(admin, "G-1", taxLocation="ZERO"), "SC-G",
                                   start="2026-05-01")
    await builders.charge(admin, good, "10.00", accounts["revenue"])
    no_revenue = await builders.contract(admin, await builders.account(admin, "G-2", taxLocation="ZERO"), "SC-N",
                                         start="2026-05-01")
    await builders.charge(admin, no_revenue, "10.00", None)
    no_tax = await builders.contract(admin, await builders.account(admin, "G-3", taxLocation="NOWHERE"), "SC-X",
                                     start="2026-05-01")
    await builders.charge(admin, no_tax, "10.00", accounts["revenue"])
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    rows = {r["salesContract"]["number"]: r for r in await billing.billings(admin, batch)}
    assert rows["SC-G"]["billingStatus"] == "NEW" and rows["SC-G"]["findings"] == []
    assert rows["SC-N"]["billingStatus"] == "REJECTED_WITH_ERRORS"
    assert rows["SC-N"]["findings"] == [{"kind": "NO_REVENUE_ACCOUNT", "severity": "ERROR"}]
    assert rows["SC-X"]["findings"] == [{"kind": "NO_TAX_RATE", "severity": "ERROR"}]
    summary = (await admin.ok(billing.BATCH, {"id": batch}))["billingBatch"]
    assert summary["status"] == "PROCESSED"
    assert {c["status"]: c["count"] for c in summary["summary"]["billingCounts"]} == {
        "NEW": 1, "REJECTED_WITH_ERRORS": 2}


async def test_reverse_removes_everything_and_processing_again_gives_the_same(admin: Api) -> None:
    accounts = await billing.books(admin)
    await billing.vector_contract(admin, accounts)
    account = await builders.account(admin, "R-1", taxLocation="ZERO")
    await admin.mutate("createManualCharge", """mutation($input: CreateManualChargeInput!) {
      createManualCharge(input: $input) { manualCharge { id } errors { code } } }""", {"input": {
        "accountId": account, "description": "Fee", "chargeDate": "2026-04-01", "amount": "7.50",
        "revenueAccountId": accounts["revenue"]}})
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    first = [(r["billingStartingDate"], r["periodicBillingAmount"]) for r in await billing.billings(admin, batch)]
    assert len(first) == 6
    job = (await admin.ok(billing.REVERSE, {"id": batch}))["reverseBillingBatch"]["job"]
    assert (await billing.wait_for_job(admin, job["id"]))["status"] == "SUCCEEDED"
    state = (await admin.ok(billing.BATCH, {"id": batch}))["billingBatch"]
    assert state["status"] == "NOT_STARTED" and state["summary"]["billingCount"] == 0
    charges = await admin.ok("query($id: ID!) { node(id: $id) { ... on Account { manualCharges { billed } } } }",
                             {"id": account})
    assert charges["node"]["manualCharges"] == [{"billed": False}]
    audits = await _audits(batch)
    assert audits["PeriodicBilling"] == 6 and audits["BillingBatch"] >= 3
    await billing.process(admin, batch)
    again = [(r["billingStartingDate"], r["periodicBillingAmount"]) for r in await billing.billings(admin, batch)]
    assert sorted(again) == sorted(first)


async def _audits(batch_gid: str) -> dict[str, int]:
    from strawberry.relay import from_base64

    import models

    rows = await models.Audit.filter(batch_id=int(from_base64(batch_gid)[1])).values_list("entity", flat=True)
    return {entity: rows.count(entity) for entity in set(rows)}


async def test_later_batch_bills_only_new_periods(admin: Api) -> None:
    accounts = await billing.books(admin)
    await admin.mutate("createAccountingPeriod", """mutation { createAccountingPeriod(input: {month: "2026-07-01"})
      { accountingPeriod { id } errors { code } } }""")
    await billing.vector_contract(admin, accounts)
    first = await billing.batch(admin, "May")
    await billing.process(admin, first)
    second = await billing.batch(admin, "July", invoice_date="2026-07-01")
    await billing.process(admin, second)
    rows = await billing.billings(admin, second)
    assert [(r["billingStartingDate"], r["periodicBillingAmount"]) for r in rows] == [
        ("2026-06-01", "450.00"), ("2026-07-01", "450.00")]


async def test_batch_states_refuse_wrong_moves(admin: Api) -> None:
    await billing.books(admin)
    batch = await billing.batch(admin)
    refused = (await admin.ok(billing.REVERSE, {"id": batch}))["reverseBillingBatch"]
    assert refused["errors"][0]["code"] == "INVALID_STATUS"
    await billing.process(admin, batch)
    refused = (await admin.ok(billing.PROCESS, {"id": batch}))["processBillingBatch"]
    assert refused["errors"][0]["code"] == "INVALID_STATUS"


async def test_a_chunk_that_keeps_failing_fails_the_batch_with_a_notification(admin: Api) -> None:
    accounts = await billing.books(admin)
    ok = await builders.contract(admin, await builders.account(admin, "OK-1", taxLocation="ZERO"), "SC-OK",
                                 start="2026-05-01")
    await builders.charge(admin, ok, "10.00", accounts["revenue"])
    await billing.unwritable_contract(admin, accounts)  # its processing fails on every delivery
    batch = await billing.batch(admin)
    payload = await admin.mutate("processBillingBatch", billing.PROCESS, {"id": batch})
    job = await billing.wait_for_job(admin, payload["job"]["id"])
    assert job["status"] == "FAILED" and "overflow" in job["error"].lower()
    state = await admin.ok("""query($id: ID!) { billingBatch(id: $id) { status
      notifications { kind status message } } }""", {"id": batch})
    assert state["billingBatch"]["status"] == "FAILED"
    [note] = state["billingBatch"]["notifications"]
    assert note["kind"] == "PROCESS_FAILED" and note["status"] == "OPEN"
    reverse = (await admin.ok(billing.REVERSE, {"id": batch}))["reverseBillingBatch"]
    assert (await billing.wait_for_job(admin, reverse["job"]["id"]))["status"] == "SUCCEEDED"
    assert (await admin.ok(billing.BATCH, {"id": batch}))["billingBatch"]["status"] == "NOT_STARTED"


async def test_analysis_reports_every_kind_of_item_problem(admin: Api) -> None:
    accounts = await billing.books(admin)
    account = await builders.account(admin, "AN-1", taxLocation="ZERO")
    contract = await builders.contract(admin, account, "SC-AN", start="2026-05-01")
    charge = await builders.charge(admin, contract, "40.00", accounts["revenue"])
    work_order = """mutation($input: CreateWorkOrderInput!) { createWorkOrder(input: $input) { workOrder { id }
      errors { code } } }"""
    await admin.mutate("createWorkOrder", work_order, {"input": {
        "accountId": account, "description": "Open job", "performedOn": "2026-04-20"}})
    await admin.mutate("createWorkOrder", work_order, {"input": {
        "accountId": account, "description": "Odd rate", "performedOn": "2026-04-21", "status": "COMPLETED",
        "rate": "55.00", "chargeId": charge}})
    manual = """mutation($input: CreateManualChargeInput!) { createManualCharge(input: $input) {
      manualCharge { id } errors { code } } }"""
    for amount in ("0.00", "-3.00", "12.00", "12.00"):
        await admin.mutate("createManualCharge", manual, {"input": {
            "accountId": account, "description": "Fee", "chargeDate": "2026-04-02", "amount": amount,
            "revenueAccountId": accounts["revenue"]}})
    change = """mutation($input: CreateServiceChangeInput!) { createServiceChange(input: $input) {
      serviceChange { id } errors { code } } }"""
    for price in ("0.00", "40.00", "95.00"):
        await admin.mutate("createServiceChange", change, {"input": {
            "chargeId": charge, "effectiveDate": "2026-04-15", "newPrice": price}})
    batch = await billing.batch(admin)
    findings = (await admin.ok(billing.ANALYZE, {"id": batch}))["analyzeBillingBatch"]["findings"]
    assert sorted((f["kind"], f["severity"]) for f in findings) == [
        ("MANUAL_CHARGE_DUPLICATE", "WARNING"), ("MANUAL_CHARGE_NEGATIVE", "ERROR"), ("MANUAL_CHARGE_ZERO", "ERROR"),
        ("SERVICE_CHANGE_IMPLAUSIBLE", "WARNING"), ("SERVICE_CHANGE_MISSING_AMOUNT", "ERROR"),
        ("SERVICE_CHANGE_NO_CHANGE", "WARNING"), ("WORK_ORDER_OPEN", "WARNING"),
        ("WORK_ORDER_RATE_DIFFERS", "WARNING")]

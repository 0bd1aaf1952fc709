"""A small world with one record of (nearly) every kind, built through the API, for tests that feed hostile input
to every mutation: each needs a real record to get past its lookups to the value under test."""

from strawberry.relay import to_base64

import models
from domain import notifications
from models.enums import Severity
from tests.support import billing, builders, posting
from tests.support.api import Api

MUTATE = "mutation($input: {type}!) {{ {name}(input: $input) {{ errors {{ code field message }} {select} }} }}"


async def create(api: Api, name: str, input_type: str, select: str, data: dict) -> dict:
    """Run one create mutation that must succeed; returns its payload."""
    query = MUTATE.format(type=input_type, name=name, select=select)
    return await api.mutate(name, query, {"input": data})


async def build(admin: Api, *, post: bool = True) -> dict[str, str]:
    """Global ids of: ledger accounts, a tax rate, an open and a closed period, accounts, a contract, a charge, a
    dated price, a processed batch with an editable billing and a line, a finding, a notification, billable items
    (unbilled), another user and their API token, and (`post=True`, which needs the worker) a posted batch with
    an invoice."""
    ids = dict(await posting.company(admin))
    taxes = await admin.ok("{ taxRates { nodes { id location } } }")
    ids["tax_rate"] = next(t["id"] for t in taxes["taxRates"]["nodes"] if t["location"] == "TX-AUSTIN")
    ids["account"] = await posting.customer(admin, ids, "W-1")
    ids["account2"] = await posting.customer(admin, ids, "W-2", billGroup="G2")
    found = await admin.ok("""query($id: ID!) { node(id: $id) { ... on Account { contracts { id
      charges { id } } } } }""", {"id": ids["account"]})
    ids["contract"] = found["node"]["contracts"][0]["id"]
    ids["charge"] = found["node"]["contracts"][0]["charges"][0]["id"]
    ids["dated_price"] = await builders.dated_price(admin, ids["charge"], "2027-01-01", None, "120.00")

    if post:
        ids["posted_batch"] = await posting.processed(admin, "Posted run", billGroup="G1")
        await posting.approve_all(admin, ids["posted_batch"])
        await posting.post(admin, ids["posted_batch"], mode="EXPORT")
        invoices = await admin.ok(posting.INVOICES, {"id": ids["posted_batch"]})
        ids["invoice"] = invoices["billingBatch"]["invoices"]["nodes"][0]["id"]
    ids["batch"] = await posting.processed(admin, "Open run", billGroup="G2")
    rows = await admin.ok("""query($id: ID!) { billingBatch(id: $id) { periodicBillings { nodes { id
      details { id kind } } } } }""", {"id": ids["batch"]})
    first = rows["billingBatch"]["periodicBillings"]["nodes"][0]
    ids["billing"] = first["id"]
    ids["detail"] = next(d["id"] for d in first["details"] if d["kind"] == "RECURRING")
    batch_pk = posting.db_id(ids["batch"])
    finding = await models.Finding.create(batch_id=batch_pk, kind="TEST", severity=Severity.WARNING, message="m")
    ids["finding"] = to_base64("Finding", finding.id)
    await notifications.raise_once(batch_pk, "TEST", "Something to look at.", "world-test")
    ids["notification"] = to_base64("Notification", (await models.Notification.get(dedupe_key="world-test")).id)

    closed = await create(admin, "createAccountingPeriod", "CreateAccountingPeriodInput", "accountingPeriod { id }",
                          {"month": "2026-01-01"})
    ids["closed_period"] = closed["accountingPeriod"]["id"]
    await admin.mutate("closeAccountingPeriod", """mutation($id: ID!) { closeAccountingPeriod(input: {id: $id}) {
      errors { code field message } } }""", {"id": ids["closed_period"]})

    # A webhook endpoint, disabled at once so nothing is sent to its closed port meanwhile.
    ids["webhook"] = (await create(admin, "createWebhookEndpoint", "CreateWebhookEndpointInput",
                                   "webhookEndpoint { id }", {"url": "http://127.0.0.1:9/world"}))["webhookEndpoint"]["id"]
    await admin.mutate("disableWebhookEndpoint", """mutation($id: ID!) { disableWebhookEndpoint(input: {id: $id}) {
      errors { code field message } } }""", {"id": ids["webhook"]})

    # Billable items after processing, so they are still unbilled (editable).
    ids["work_order"] = (await create(admin, "createWorkOrder", "CreateWorkOrderInput", "workOrder { id }", {
        "accountId": ids["account"], "description": "Install", "performedOn": "2026-05-03"}))["workOrder"]["id"]
    ids["manual_charge"] = (await create(admin, "createManualCharge", "CreateManualChargeInput", "manualCharge { id }",
                                         {"accountId": ids["account"], "description": "Setup",
                                          "chargeDate": "2026-05-03", "amount": "15.00"}))["manualCharge"]["id"]
    ids["service_change"] = (await create(admin, "createServiceChange", "CreateServiceChangeInput",
                                          "serviceChange { id }", {"chargeId": ids["charge"],
                                                                   "effectiveDate": "2026-06-15",
                                                                   "newPrice": "110.00"}))["serviceChange"]["id"]
    ids["adjustment"] = (await create(admin, "createInvoiceAdjustment", "CreateInvoiceAdjustmentInput",
                                      "invoiceAdjustment { id }", {"accountId": ids["account"], "kind": "CREDIT",
                                                                   "description": "Goodwill",
                                                                   "amount": "5.00"}))["invoiceAdjustment"]["id"]
    user = await create(admin, "createUser", "CreateUserInput", "user { id }", {
        "email": "other@example.com", "name": "Otto Other", "permissions": ["BILLING_ACCESS"]})
    ids["user"] = user["user"]["id"]
    token = await create(admin, "createApiToken", "CreateApiTokenInput", "apiToken { id }", {
        "userId": ids["user"], "name": "partner"})
    ids["api_token"] = token["apiToken"]["id"]
    ids["team"] = (await create(admin, "createTeam", "CreateTeamInput", "team { id }", {"name": "World team"}))[
        "team"]["id"]
    ids["schedule"] = (await create(admin, "createBillingSchedule", "CreateBillingScheduleInput",
                                    "billingSchedule { id }", {"name": "World schedule", "cadence": "MONTHLY",
                                                               "day": 1, "startsOn": "2099-01-01"}))[
        "billingSchedule"]["id"]
    return ids


async def open_batch(admin: Api, name: str = "Draft run") -> str:
    """A NOT_STARTED batch in May 2026 (no worker needed); opens the period when it is not open yet."""
    await admin.ok("""mutation { createAccountingPeriod(input: {month: "2026-05-01"}) { errors { code } } }""")
    return await billing.batch(admin, name)

"""Four-eyes approval rules: a billing over a rule's amount (or changed too much from the previous billing of its
contract) is approved only by a user other than its last editor; a batch whose total is above a rule's is posted
only when a second user confirms. `allowedTransitions` says the same for each viewer, and mass updates report
each billing a rule refuses, with its code, applying the rest."""

import pytest

from tests.conftest import make_token
from tests.support import billing, posting
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")

PEOPLE = ["BILLING_ACCESS", "BILLING_APPROVE", "BILLING_SEND_EXPORT"]
RULE = """mutation($input: CreateApprovalRuleInput!) { createApprovalRule(input: $input) {
  approvalRule { id kind threshold currency } errors { code field message } } }"""
UPDATE_RULE = """mutation($input: UpdateApprovalRuleInput!) { updateApprovalRule(input: $input) {
  approvalRule { id threshold } errors { code field message } } }"""
DELETE_RULE = """mutation($input: DeleteApprovalRuleInput!) { deleteApprovalRule(input: $input) {
  deletedId errors { code field message } } }"""
GRID = """query($id: ID!) { billingBatch(id: $id) { periodicBillings(first: 50) { nodes { id billingStatus version
  allowedTransitions serviceCustomer { number } billingStartingDate } } } }"""
COMMENT = """mutation($id: ID!, $text: String!) { updatePeriodicBilling(input: {id: $id, internalComment: $text}) {
  periodicBilling { id } errors { code } } }"""
EDIT_LINE = """mutation($id: ID!, $amount: Decimal!) { updateBillingDetail(input: {id: $id, billingAmount: $amount}) {
  periodicBilling { periodicBillingAmount } errors { code } } }"""
DETAILS = "query($id: ID!) { periodicBilling(id: $id) { details { id kind } } }"
STATUS = """mutation($id: ID!, $status: BillingStatus!) { updateBillingStatus(input: {billingId: $id,
  status: $status}) { periodicBilling { billingStatus } errors { code field message } } }"""
MASS = """mutation($batch: ID!, $status: BillingStatus!) { massUpdateBillingStatus(input: {batchId: $batch,
  status: $status}) { changedCount refusedCount refusals { code billingId } errors { code } } }"""
POST = """mutation($id: ID!) { postBillingBatch(input: {batchId: $id, mode: EXPORT}) { job { id } confirmationRequired
  billingBatch { status postRequest { mode requestedBy { name } } } errors { code field message } } }"""
CONFIRM = """mutation($id: ID!) { confirmPostBillingBatch(input: {batchId: $id}) { job { id } confirmationRequired
  billingBatch { status postRequest { mode } } errors { code field message } } }"""


async def _people(client) -> tuple[Api, Api]:
    _, a = await make_token("anna@example.com", PEOPLE, "Anna")
    _, b = await make_token("ben@example.com", PEOPLE, "Ben")
    return Api(client, a), Api(client, b)


async def _grid(api: Api, batch: str) -> dict[str, dict]:
    rows = (await api.ok(GRID, {"id": batch}))["billingBatch"]["periodicBillings"]["nodes"]
    return {f"{r['serviceCustomer']['number']} {r['billingStartingDate']}": r for r in rows}


async def test_a_billing_over_the_amount_edited_by_a_is_approved_by_b_only(admin: Api, client) -> None:
    accounts = await posting.company(admin)
    for number, price in (("BIG-1", "500.00"), ("BIG-2", "450.00"), ("SMALL-1", "100.00"), ("QUIET-1", "900.00")):
        await posting.customer(admin, accounts, number, price, taxLocation="ZERO")
    rule = await admin.mutate("createApprovalRule", RULE, {"input": {
        "kind": "BILLING_AMOUNT_ABOVE", "threshold": "400.00", "currency": "USD"}})
    assert rule["approvalRule"]["threshold"] == "400.00"
    anna, ben = await _people(client)
    batch = await posting.processed(admin)
    rows = await _grid(admin, batch)
    big, big2, small = (rows[f"{n} 2026-05-01"]["id"] for n in ("BIG-1", "BIG-2", "SMALL-1"))
    for gid in (big, big2, small):
        await anna.mutate("updatePeriodicBilling", COMMENT, {"id": gid, "text": "Checked by Anna"})

    # allowedTransitions, per viewer: Anna last edited the big ones, so APPROVED is not hers to give.
    for_anna, for_ben = await _grid(anna, batch), await _grid(ben, batch)
    approvable = {name: ("APPROVED" in for_anna[name]["allowedTransitions"],
                         "APPROVED" in for_ben[name]["allowedTransitions"]) for name in for_anna}
    assert approvable == {"BIG-1 2026-05-01": (False, True), "BIG-2 2026-05-01": (False, True),
                          "SMALL-1 2026-05-01": (True, True),  # under the threshold: no second pair of eyes
                          "QUIET-1 2026-05-01": (True, True)}  # edited by nobody: any approver is the second
    assert set(for_anna["BIG-1 2026-05-01"]["allowedTransitions"]) == {"CANCELLED", "HOLD", "REJECTED",
                                                                       "APPROVAL_IN_PROCESS"}

    # The server agrees: Anna is refused with the code, nothing changes; Ben approves.
    refused = (await anna.ok(STATUS, {"id": big, "status": "APPROVED"}))["updateBillingStatus"]
    assert refused["periodicBilling"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("FOUR_EYES_REQUIRED", "status")]
    after = await _grid(admin, batch)
    assert after["BIG-1 2026-05-01"]["billingStatus"] == "NEW"
    assert after["BIG-1 2026-05-01"]["version"] == rows["BIG-1 2026-05-01"]["version"] + 1  # Anna's comment only
    approved = await ben.mutate("updateBillingStatus", STATUS, {"id": big, "status": "APPROVED"})
    assert approved["periodicBilling"]["billingStatus"] == "APPROVED"

    # A status change counts as an edit too: Ben sends BIG-2 for approval, so now only Anna may approve it...
    await ben.mutate("updateBillingStatus", STATUS, {"id": big2, "status": "APPROVAL_IN_PROCESS"})
    assert "APPROVED" not in (await _grid(ben, batch))["BIG-2 2026-05-01"]["allowedTransitions"]
    assert "APPROVED" in (await _grid(anna, batch))["BIG-2 2026-05-01"]["allowedTransitions"]
    # ...and Ben's mass approval reports BIG-2 with its code and applies the rest.
    mass = (await ben.ok(MASS, {"batch": batch, "status": "APPROVED"}))["massUpdateBillingStatus"]
    assert (mass["changedCount"], mass["refusedCount"], mass["errors"]) == (2, 1, [])
    assert [(r["code"], r["billingId"]) for r in mass["refusals"]] == [("FOUR_EYES_REQUIRED", big2)]
    statuses = {name: r["billingStatus"] for name, r in (await _grid(admin, batch)).items()}
    assert statuses == {"BIG-1 2026-05-01": "APPROVED", "BIG-2 2026-05-01": "APPROVAL_IN_PROCESS",
                        "SMALL-1 2026-05-01": "APPROVED", "QUIET-1 2026-05-01": "APPROVED"}
    mass = (await anna.ok(MASS, {"batch": batch, "status": "APPROVED"}))["massUpdateBillingStatus"]
    assert (mass["changedCount"], mass["refusals"]) == (1, [])

    # Raising the threshold lifts the rule; deleting it too. Both audited.
    await admin.mutate("updateApprovalRule", UPDATE_RULE, {"input": {"id": rule["approvalRule"]["id"],
                                                                     "threshold": "1000.00"}})
    await admin.mutate("deleteApprovalRule", DELETE_RULE, {"input": {"id": rule["approvalRule"]["id"]}})
    assert (await admin.ok("{ approvalRules { totalCount } }"))["approvalRules"]["totalCount"] == 0
    audits = (await admin.ok("""{ audits(filter: {entity: "ApprovalRule"}, first: 20) { nodes { operation field
      before after } } }"""))["audits"]["nodes"]
    assert {(a["operation"], a["field"], a["after"]) for a in audits} >= {
        ("CREATE", "threshold", "400.00"), ("UPDATE", "threshold", "1000.00"), ("DELETE", "threshold", None)}


async def test_a_change_above_the_percentage_from_the_previous_billing_needs_a_second_user(admin: Api,
                                                                                         client) -> None:
    accounts = await posting.company(admin)
    await posting.customer(admin, accounts, "GROW-1", "100.00", start="2026-04-01", taxLocation="ZERO")
    await admin.mutate("createApprovalRule", RULE, {"input": {"kind": "CHANGE_FROM_PREVIOUS_ABOVE_PERCENT",
                                                              "threshold": "20"}})
    anna, ben = await _people(client)
    batch = await posting.processed(admin)
    rows = await _grid(admin, batch)
    april, may = rows["GROW-1 2026-04-01"]["id"], rows["GROW-1 2026-05-01"]["id"]
    line = next(d["id"] for d in (await admin.ok(DETAILS, {"id": may}))["periodicBilling"]["details"]
                if d["kind"] == "RECURRING")
    await anna.mutate("updateBillingDetail", EDIT_LINE, {"id": line, "amount": "119.00"})  # +19 %: within
    assert "APPROVED" in (await _grid(anna, batch))["GROW-1 2026-05-01"]["allowedTransitions"]
    await anna.mutate("updateBillingDetail", EDIT_LINE, {"id": line, "amount": "121.00"})  # +21 %: four eyes
    grid = await _grid(anna, batch)
    assert "APPROVED" not in grid["GROW-1 2026-05-01"]["allowedTransitions"]
    assert "APPROVED" in grid["GROW-1 2026-04-01"]["allowedTransitions"]  # no previous billing: no change
    refused = (await anna.ok(STATUS, {"id": may, "status": "APPROVED"}))["updateBillingStatus"]
    assert [e["code"] for e in refused["errors"]] == ["FOUR_EYES_REQUIRED"]
    await anna.mutate("updateBillingStatus", STATUS, {"id": april, "status": "APPROVED"})
    await ben.mutate("updateBillingStatus", STATUS, {"id": may, "status": "APPROVED"})


async def test_a_batch_over_the_total_is_posted_when_a_second_user_confirms(admin: Api, client) -> None:
    accounts = await posting.company(admin)
    for number in ("T-1", "T-2"):
        await posting.customer(admin, accounts, number, "200.00", taxLocation="ZERO")
    await admin.mutate("createApprovalRule", RULE, {"input": {"kind": "BATCH_TOTAL_ABOVE", "threshold": "300.00",
                                                              "currency": "USD"}})
    anna, ben = await _people(client)
    _, clerk_token = await make_token("clerk2@example.com", ["BILLING_ACCESS"])
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)

    asked = (await anna.ok(POST, {"id": batch}))["postBillingBatch"]
    assert asked == {"job": None, "confirmationRequired": True, "errors": [], "billingBatch": {
        "status": "PROCESSED", "postRequest": {"mode": "EXPORT", "requestedBy": {"name": "Anna"}}}}
    own = (await anna.ok(CONFIRM, {"id": batch}))["confirmPostBillingBatch"]
    assert own["job"] is None and [(e["code"], e["field"]) for e in own["errors"]] == [
        ("FOUR_EYES_REQUIRED", "batchId")]
    denied = (await Api(client, clerk_token).ok(CONFIRM, {"id": batch}))["confirmPostBillingBatch"]
    assert [e["code"] for e in denied["errors"]] == ["PERMISSION_DENIED"]
    assert (await admin.ok(posting.BATCH, {"id": batch}))["billingBatch"]["status"] == "PROCESSED"

    confirmed = (await ben.ok(CONFIRM, {"id": batch}))["confirmPostBillingBatch"]
    assert confirmed["errors"] == [] and confirmed["confirmationRequired"] is False
    assert confirmed["billingBatch"] == {"status": "POSTING", "postRequest": None}
    job = await billing.wait_for_job(admin, confirmed["job"]["id"])
    assert job["status"] == "SUCCEEDED", job
    done = await posting.follow_ups_done(admin, batch)
    assert done["status"] == "POSTED" and done["postMode"] == "EXPORT"
    assert done["summary"]["invoiceCount"] == 2
    again = (await ben.ok(CONFIRM, {"id": batch}))["confirmPostBillingBatch"]
    assert [e["code"] for e in again["errors"]] == ["INVALID_STATUS"]
    events = (await admin.ok("""query($id: ID!) { billingBatch(id: $id) { events(types: [BATCH_POST_REQUESTED,
      BATCH_STATUS_CHANGED]) { nodes { type payload { ... on BatchPostRequested { mode totalAmount actor } } } } } }""",
                             {"id": batch}))["billingBatch"]["events"]["nodes"]
    requested = [e["payload"] for e in events if e["type"] == "BATCH_POST_REQUESTED"]
    assert requested == [{"mode": "EXPORT", "totalAmount": "400.00", "actor": "Anna"}]


async def test_rules_are_checked(admin: Api) -> None:
    for data, code, field in (
            ({"kind": "BILLING_AMOUNT_ABOVE", "threshold": "10.00"}, "INVALID_INPUT", "currency"),
            ({"kind": "BILLING_AMOUNT_ABOVE", "threshold": "-1.00", "currency": "USD"}, "INVALID_INPUT",
             "threshold"),
            ({"kind": "BATCH_TOTAL_ABOVE", "threshold": "10.00", "currency": "XYZ"}, "INVALID_CURRENCY",
             "currency"),
            ({"kind": "CHANGE_FROM_PREVIOUS_ABOVE_PERCENT", "threshold": "10", "currency": "USD"}, "INVALID_INPUT",
             "currency"),
            ({"kind": "CHANGE_FROM_PREVIOUS_ABOVE_PERCENT", "threshold": "100001"}, "INVALID_INPUT", "threshold")):
        payload = (await admin.ok(RULE, {"input": data}))["createApprovalRule"]
        assert payload["approvalRule"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], (data, payload)
    assert (await admin.ok("{ approvalRules { totalCount } }"))["approvalRules"]["totalCount"] == 0


async def test_a_request_whose_total_fell_under_the_rule_is_posted_by_anyone_as_usual(admin: Api, client) -> None:
    accounts = await posting.company(admin)
    for number in ("U-1", "U-2"):
        await posting.customer(admin, accounts, number, "200.00", taxLocation="ZERO")
    await admin.mutate("createApprovalRule", RULE, {"input": {"kind": "BATCH_TOTAL_ABOVE", "threshold": "300.00",
                                                              "currency": "USD"}})
    anna, ben = await _people(client)
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    assert (await anna.ok(POST, {"id": batch}))["postBillingBatch"]["confirmationRequired"] is True
    # Ben holds one billing back: 200.00 is under the rule, so Anna's own post now simply posts.
    held = (await _grid(admin, batch))["U-2 2026-05-01"]["id"]
    await ben.mutate("updateBillingStatus", STATUS, {"id": held, "status": "HOLD"})
    posted = (await anna.ok(POST, {"id": batch}))["postBillingBatch"]
    assert posted["errors"] == [] and posted["job"] is not None and posted["billingBatch"]["postRequest"] is None
    assert (await billing.wait_for_job(admin, posted["job"]["id"]))["status"] == "SUCCEEDED"
    done = await posting.follow_ups_done(admin, batch)
    assert done["status"] == "POSTED" and done["summary"]["invoiceCount"] == 1

"""The event log over HTTP: every state change of a run reports its typed event, catching up after a gap by cursor,
filters and order, hidden ≡ absent, retention."""

import asyncio
from datetime import timedelta

import pytest

import models
from domain import clock, housekeeping
from tests.conftest import make_token
from tests.support import billing, builders, posting
from tests.support.api import Api
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.usefixtures("worker")

PAYLOAD = """payload { __typename
  ... on BatchCreated { code name batchStatus }
  ... on BatchStatusChanged { previousBatchStatus batchStatus error }
  ... on BatchAnalyzed { findingCount blockingCount }
  ... on JobQueued { jobKind }
  ... on JobProgress { jobKind done total percent }
  ... on JobFinished { jobKind jobStatus error }
  ... on BillingDispositioned { previousBillingStatus billingStatus actor }
  ... on BillingsMassDispositioned { billingStatus changedCount refusedCount actor }
  ... on BillingEdited { edit amount actor }
  ... on BillingDeleted { billingId billingStatus actor }
  ... on BillingsMoved { count actor fromBatch { name } toBatch { name } }
  ... on FindingResolved { findingKind actor finding { id resolutionNote } }
  ... on NotificationOpened { notificationKind message notification { id status } }
  ... on NotificationResolved { notificationKind note actor notification { status } }
  ... on InvoicesPosted { count firstNumber lastNumber }
  ... on PaymentSettled { paymentStatus amount currency invoiceNumber error payment { status } }
  ... on InvoiceDelivered { channel invoiceNumber delivery { status } }
  ... on InvoiceDeliveryFailed { error invoiceNumber delivery { status } }
  ... on ExportCreated { format filename export { format } }
  ... on AccountingPeriodChanged { month periodStatus reason actor period { month } } }"""
LOG = """query($after: String, $filter: EventFilter, $order: EventOrder, $first: Int) {
  events(after: $after, filter: $filter, order: $order, first: $first) { totalCount
    edges { cursor node { id cursor type createdAt batch { name } job { kind } billing { id } invoice { number }
      PAYLOAD } }
    pageInfo { endCursor hasNextPage } } }""".replace("PAYLOAD", PAYLOAD)
EDIT = """mutation($id: ID!) { updatePeriodicBilling(input: {id: $id, internalComment: "checked"}) {
  periodicBilling { id } errors { code message } } }"""
DISPOSE = """mutation($id: ID!, $status: BillingStatus!) {
  updateBillingStatus(input: {billingId: $id, status: $status}) { periodicBilling { id } errors { code message } } }"""
DELETE = """mutation($id: ID!) { deletePeriodicBilling(input: {id: $id}) { errors { code message } } }"""
MOVE = """mutation($ids: [ID!]!, $to: ID!) { moveBillings(input: {billingIds: $ids, toBatchId: $to}) {
  errors { code message } } }"""
ADJUSTMENT = """mutation($input: CreateInvoiceAdjustmentInput!) { createInvoiceAdjustment(input: $input) {
  errors { code message } } }"""
RESTRICT = """mutation($input: RestrictAccountInput!) { restrictAccount(input: $input) { errors { code } } }"""
RESOLVE_FINDING = """mutation($id: ID!) { resolveFinding(input: {id: $id, note: "known"}) { errors { code } } }"""


async def log(api: Api, **variables: object) -> list[dict]:
    """Every event of the log the viewer may see (paged by cursor), with its payload."""
    found, after = [], None
    while True:
        page = (await api.ok(LOG, {"first": 100, "after": after, **variables}))["events"]
        found += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


async def _until(api: Api, predicate, within: float = 60.0) -> list[dict]:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate(found := await log(api)):
        assert asyncio.get_running_loop().time() < deadline, types(found)
        await asyncio.sleep(0.2)
    return found


async def test_a_whole_run_reports_every_state_change_with_a_typed_payload(admin: Api, smtp_server: Mailbox) -> None:
    accounts = await posting.company(admin)
    payer = await posting.customer(admin, accounts, "PAYER", "50.00", taxLocation="ZERO", autopayEnabled=True,
                                   paymentMethodToken="tok_ok")
    await posting.customer(admin, accounts, "DECLINER", "40.00", taxLocation="ZERO", autopayEnabled=True,
                           paymentMethodToken="tok_decline")
    await posting.customer(admin, accounts, "BOUNCER", "30.00", taxLocation="ZERO",
                           billingEmail="bounce@example.com")
    await posting.customer(admin, accounts, "DROPPED", "20.00", taxLocation="ZERO")
    await posting.customer(admin, accounts, "MOVED", "10.00", taxLocation="ZERO")
    await admin.mutate("createInvoiceAdjustment", ADJUSTMENT, {"input": {
        "accountId": payer, "kind": "CREDIT", "description": "Goodwill", "amount": "5.00"}})
    batch = await billing.batch(admin)
    analysis = (await admin.ok(billing.ANALYZE, {"id": batch}))["analyzeBillingBatch"]
    [finding] = [f for f in analysis["findings"] if f["kind"] == "UNAPPROVED_ADJUSTMENT"]
    await admin.mutate("resolveFinding", RESOLVE_FINDING, {"id": finding["id"]})
    await billing.process(admin, batch)
    rows = {r["serviceCustomer"]["number"]: r["id"] for r in await billing.billings(admin, batch)}
    await admin.mutate("updatePeriodicBilling", EDIT, {"id": rows["PAYER"]})
    await admin.mutate("updateBillingStatus", DISPOSE, {"id": rows["PAYER"], "status": "APPROVED"})
    await admin.mutate("deletePeriodicBilling", DELETE, {"id": rows["DROPPED"]})
    other = await billing.batch(admin, "June run")
    await admin.mutate("moveBillings", MOVE, {"ids": [rows["MOVED"]], "to": other})
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "SEND")
    found = await _until(admin, lambda found: types(found).count("PAYMENT_SETTLED") == 2)
    declined = next(e for e in found if e["type"] == "NOTIFICATION_OPENED" and e["payload"]["notificationKind"] ==
                    "PAYMENT_DECLINED")
    bounced = next(e for e in found if e["type"] == "NOTIFICATION_OPENED" and e["payload"]["notificationKind"] ==
                   "DELIVERY_FAILED")
    for notification in (declined, bounced):
        await admin.mutate("resolveNotification", posting.RESOLVE, {"id": notification["payload"]["notification"]["id"],
                                                                    "note": "called the customer"})
    await admin.mutate("exportBillingBatch", posting.EXPORT, {"id": batch, "format": "INVOICES_CSV"})
    await admin.mutate("completeBillingBatch", posting.COMPLETE, {"id": batch})

    found = await log(admin)
    by_type: dict[str, list[dict]] = {}
    for event in found:
        by_type.setdefault(event["type"], []).append(event)
        assert event["payload"]["__typename"] == "".join(w.title() for w in event["type"].split("_")) or \
            event["type"] in ("BILLINGS_MASS_DISPOSITIONED", "BILLINGS_MOVED", "INVOICES_POSTED")
    assert set(by_type) == {
        "ACCOUNTING_PERIOD_CHANGED", "BATCH_CREATED", "BATCH_ANALYZED", "FINDING_RESOLVED", "JOB_QUEUED",
        "BATCH_STATUS_CHANGED", "JOB_PROGRESS", "JOB_FINISHED", "BILLING_EDITED", "BILLING_DISPOSITIONED",
        "BILLING_DELETED", "BILLINGS_MOVED", "BILLINGS_MASS_DISPOSITIONED", "INVOICES_POSTED", "INVOICE_DELIVERED",
        "INVOICE_DELIVERY_FAILED", "PAYMENT_SETTLED", "NOTIFICATION_OPENED", "NOTIFICATION_RESOLVED",
        "EXPORT_CREATED"}
    statuses = [(e["payload"]["previousBatchStatus"], e["payload"]["batchStatus"])
                for e in by_type["BATCH_STATUS_CHANGED"] if e["batch"]["name"] == "May run"]
    assert statuses == [("NOT_STARTED", "PROCESSING"), ("PROCESSING", "PROCESSED"), ("PROCESSED", "POSTING"),
                        ("POSTING", "POSTED"), ("POSTED", "COMPLETED")]
    assert [e["payload"]["jobKind"] for e in by_type["JOB_FINISHED"]].count("PROCESS") == 1
    assert {e["payload"]["jobKind"] for e in by_type["JOB_QUEUED"]} == {"PROCESS", "ANALYZE", "POST", "SEND",
                                                                      "AUTO_PAY"}
    assert by_type["FINDING_RESOLVED"][0]["payload"]["finding"]["resolutionNote"] == "known"
    edited = by_type["BILLING_EDITED"][0]
    assert edited["payload"] == {"__typename": "BillingEdited", "edit": "BILLING_CHANGED", "amount": "50.00",
                                 "actor": "Ada Admin"} and edited["billing"]["id"] == rows["PAYER"]
    assert by_type["BILLING_DISPOSITIONED"][0]["payload"]["billingStatus"] == "APPROVED"
    deleted = by_type["BILLING_DELETED"][0]
    assert deleted["payload"]["billingId"] == rows["DROPPED"] and deleted["billing"] is None
    moves = by_type["BILLINGS_MOVED"]
    assert {e["batch"]["name"] for e in moves} == {"May run", "June run"}
    assert all(e["payload"] | {"actor": None} == {"__typename": "BillingsMoved", "count": 1, "actor": None,
                                                  "fromBatch": {"name": "May run"}, "toBatch": {"name": "June run"}}
               for e in moves)
    [mass] = by_type["BILLINGS_MASS_DISPOSITIONED"]
    assert mass["payload"]["changedCount"] == 2 and mass["payload"]["billingStatus"] == "APPROVED"  # DECLINER, BOUNCER
    [posted] = by_type["INVOICES_POSTED"]
    assert posted["payload"] == {"__typename": "InvoicesPosted", "count": 3, "firstNumber": "INV-00000001",
                                 "lastNumber": "INV-00000003"} and posted["job"]["kind"] == "POST"
    assert len(by_type["INVOICE_DELIVERED"]) == 2 and by_type["INVOICE_DELIVERED"][0]["payload"]["channel"] == "SMTP"
    assert by_type["INVOICE_DELIVERY_FAILED"][0]["payload"]["delivery"]["status"] == "FAILED"
    settled = sorted((e["payload"]["paymentStatus"], e["payload"]["amount"], e["invoice"]["number"] is not None)
                     for e in by_type["PAYMENT_SETTLED"])
    assert settled == [("DECLINED", "40.00", True), ("SUCCEEDED", "50.00", True)]
    assert [e["payload"]["notification"]["status"] for e in by_type["NOTIFICATION_RESOLVED"]] == ["RESOLVED"] * 2
    assert by_type["EXPORT_CREATED"][0]["payload"]["export"] == {"format": "INVOICES_CSV"}
    assert by_type["ACCOUNTING_PERIOD_CHANGED"][0]["payload"]["periodStatus"] == "OPEN"
    cursors = [int(e["cursor"]) for e in found]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)


async def test_catching_up_after_a_gap_reads_exactly_what_came_since(admin: Api) -> None:
    await billing.books(admin)
    first = await log(admin)
    last = first[-1]["cursor"]
    for n in range(3):
        await billing.batch(admin, f"Run {n}")
    since = await log(admin, after=last)
    assert [(e["type"], e["payload"]["name"]) for e in since] == [("BATCH_CREATED", f"Run {n}") for n in range(3)]
    assert await log(admin, after=since[-1]["cursor"]) == []
    newest = (await admin.ok(LOG, {"order": "NEWEST_FIRST", "first": 2}))["events"]
    assert [e["node"]["payload"]["name"] for e in newest["edges"]] == ["Run 2", "Run 1"]
    older = (await admin.ok(LOG, {"order": "NEWEST_FIRST", "after": newest["pageInfo"]["endCursor"],
                                  "first": 1}))["events"]
    assert [e["node"]["payload"]["name"] for e in older["edges"]] == ["Run 0"]


async def test_filters_by_batch_job_type_and_time_and_the_batch_connection(admin: Api) -> None:
    await billing.books(admin)
    await builders.account(admin, "F-1")
    one = await billing.batch(admin, "One")
    await billing.batch(admin, "Two")
    await billing.process(admin, one)
    of_one = await log(admin, filter={"batchId": one})
    assert {e["batch"]["name"] for e in of_one} == {"One"} and "BATCH_CREATED" in types(of_one)
    [job] = [e["job"] for e in of_one if e["type"] == "JOB_QUEUED" and e["job"]["kind"] == "PROCESS"]
    job_id = next(e for e in (await admin.ok("""query($id: ID!) { billingBatch(id: $id) { jobs { id kind } } }""",
                                             {"id": one}))["billingBatch"]["jobs"] if e["kind"] == "PROCESS")["id"]
    of_job = await log(admin, filter={"jobId": job_id, "types": ["JOB_QUEUED", "JOB_FINISHED"]})
    assert types(of_job) == ["JOB_QUEUED", "JOB_FINISHED"] and job == {"kind": "PROCESS"}
    now = clock.now()
    assert await log(admin, filter={"createdFrom": (now + timedelta(minutes=1)).isoformat()}) == []
    assert len(await log(admin, filter={"createdTo": now.isoformat()})) == len(await log(admin))
    assert await log(admin, filter={"batchId": job_id}) == []  # an id of another type matches nothing
    connection = (await admin.ok("""query($id: ID!) { billingBatch(id: $id) { events(types: [BATCH_CREATED,
      BATCH_STATUS_CHANGED], order: NEWEST_FIRST, first: 10) { totalCount nodes { type cursor } } } }""",
                                 {"id": one}))["billingBatch"]["events"]
    assert [n["type"] for n in connection["nodes"]] == ["BATCH_STATUS_CHANGED", "BATCH_STATUS_CHANGED",
                                                        "BATCH_CREATED"] and connection["totalCount"] == 3
    node = (await admin.ok("""query($id: ID!) { node(id: $id) { ... on Event { type cursor } } }""",
                           {"id": of_one[0]["id"]}))["node"]
    assert node == {"type": of_one[0]["type"], "cursor": of_one[0]["cursor"]}


@pytest.mark.parametrize("cursor", ["abc", "-1", "1.5", "", "9" * 40, " 1"])
async def test_a_malformed_cursor_is_a_clear_error(admin: Api, cursor: str) -> None:
    result = await admin(LOG, {"after": cursor})
    assert result.errors[0]["extensions"]["code"] == "BAD_REQUEST" and "cursor" in result.errors[0]["message"]


async def test_events_about_a_hidden_account_are_absent(admin: Api, client) -> None:
    accounts = await billing.books(admin)
    for number, restricted in (("OPEN-1", False), ("SECRET-1", True)):
        account = await builders.account(admin, number, taxLocation="ZERO")
        if restricted:
            await admin.mutate("restrictAccount", RESTRICT, {"input": {"accountId": account, "restricted": True,
                                                                        "userIds": []}})
        contract = await builders.contract(admin, account, f"SC-{number}")
        await builders.charge(admin, contract, "10.00", accounts["revenue"])
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    for row in await billing.billings(admin, batch):
        await admin.mutate("updatePeriodicBilling", EDIT, {"id": row["id"]})
    _, token = await make_token("outsider@example.com", ["BILLING_ACCESS"])
    outsider = Api(client, token)
    everything, seen = await log(admin), await log(outsider)
    secret = [e for e in everything if e["type"] == "BILLING_EDITED" and e["billing"] is not None
              and e not in seen]
    assert len([e for e in everything if e["type"] == "BILLING_EDITED"]) == 10  # 5 months, 2 accounts
    assert len([e for e in seen if e["type"] == "BILLING_EDITED"]) == 5 and len(secret) == 5
    assert (await outsider.ok(LOG, {}))["events"]["totalCount"] == len(everything) - 5
    hidden = await outsider.ok("query($id: ID!) { node(id: $id) { id } }", {"id": secret[0]["id"]})
    assert hidden["node"] is None
    assert await log(outsider, filter={"billingId": secret[0]["billing"]["id"]}) == []
    _, no_access = await make_token("nobody@example.com", [])
    assert (await Api(client, no_access).ok(LOG, {}))["events"]["totalCount"] == 0


async def test_retention_purges_old_events(admin: Api) -> None:
    await billing.books(admin)
    await billing.batch(admin, "Old")
    await billing.batch(admin, "Recent")
    old = await models.Event.filter(type="BATCH_CREATED").order_by("id").first()
    await models.Event.filter(id__lte=old.id).update(created_at=clock.now() - timedelta(days=31))
    purged = await housekeeping.purge_expired()
    assert purged["events"] == 2  # the period's event and the old batch's
    assert [e["payload"].get("name") for e in await log(admin)] == ["Recent"]

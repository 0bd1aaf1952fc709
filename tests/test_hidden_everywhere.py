"""Hidden means hidden everywhere: a user not granted a restricted account reads nothing about it, through any
path of the graph or of the downloads, exactly as if it did not exist; the granted user and an admin see it all.

The world: one open account (OPEN-1, 100.00 a month) and one restricted account (SECRET-1: 777.77 a month, a
manual charge "Retainer for the Acme merger" of 333.33 and an open work order "Site visit for the Acme merger"),
each with findings; the granted user edits the restricted billing (an internal comment about the CEO, a misc
charge "Acme success fee" of 44.44); posting makes notifications about it (a bounced e-mail, a declined card).
`other` holds every billing permission but no grant; every telling word and amount above must never reach it.
"""

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from strawberry.relay import to_base64

import models
from tests.conftest import make_token
from tests.support import billing, posting
from tests.support.api import Api
from tests.support.mailbox import Mailbox

PERMISSIONS = ["BILLING_ACCESS", "BILLING_SEND_EXPORT", "BILLING_APPROVE"]
# Words and amounts that only the restricted account's records carry.
MARKERS = ("SECRET", "Acme", "CEO", "777.77", "333.33", "44.44", "822.21", "1155.54", "1255.54", "922.21")

RESTRICT = """mutation($input: RestrictAccountInput!) { restrictAccount(input: $input) {
  account { id } errors { code } } }"""
WORK_ORDER = """mutation($input: CreateWorkOrderInput!) { createWorkOrder(input: $input) {
  workOrder { id } errors { code field message } } }"""
MANUAL_CHARGE = """mutation($input: CreateManualChargeInput!) { createManualCharge(input: $input) {
  manualCharge { id } errors { code field message } } }"""
ANALYZE = """mutation($id: ID!) { analyzeBillingBatch(input: {batchId: $id}) {
  findings { id kind message subjectType subjectId account { number } }
  preview { billingCount amount rejectedCount hiddenBillingCount accounts { billingCount amount account { number } } }
  errors { code } } }"""
EDIT_BILLING = """mutation($input: UpdatePeriodicBillingInput!) { updatePeriodicBilling(input: $input) {
  periodicBilling { id internalComment } errors { code field message } } }"""
MISC = """mutation($input: AddMiscChargeInput!) { addMiscCharge(input: $input) {
  billingDetail { id } errors { code field message } } }"""
STATUS = """mutation($id: ID!, $status: BillingStatus!) { updateBillingStatus(input: {billingId: $id, status: $status})
  { periodicBilling { billingStatus } errors { code } } }"""
SUMMARY = """query($id: ID!) { billingBatch(id: $id) { summary { billingCount totalAmount invoiceCount totalAmountDue
  amountAwaitingPayment amountPaid hiddenBillingCount hiddenInvoiceCount billingCounts { status count } } } }"""
AUDITS = """query($filter: AuditFilter) { audits(filter: $filter, first: 100) { totalCount
  nodes { id entity entityId field before after operation batch { id } billing { id } } } }"""
# Everything a batch and the root offer, in one read: what `other` sees of it must carry no marker.
EVERYTHING = """query($batch: ID!) {
  billingBatch(id: $batch) {
    summary { billingCount totalAmount invoiceCount totalAmountDue amountAwaitingPayment amountPaid
      hiddenBillingCount hiddenInvoiceCount billingCounts { status count } }
    findings { id kind message subjectType subjectId account { number } }
    periodicBillings { totalCount nodes { id internalComment externalComment periodicBillingAmount
      serviceCustomer { number } details { id description billingAmount sourceType sourceId
        trace { why priceRecord { ... on Node { id } } } }
      findings { id message } audits { id entityId before after } } }
    invoices { totalCount nodes { id number amount account { number } billing { id }
      journalEntry { id memo lines { debit credit } } payments { amount error }
      deliveries { recipient error downloadUrl } } }
    notifications { id kind message account { number } }
    audits(first: 100) { totalCount nodes { id entity entityId field before after } }
    exports { id filename downloadUrl }
    jobs { id kind error progressTotal }
    completion { ready blockers { kind message subjectId } }
  }
  audits(first: 100) { totalCount nodes { id entity entityId field before after } }
  notifications { totalCount nodes { id kind message } }
  invoices { totalCount nodes { number amount } }
  accounts { totalCount nodes { number } }
  salesContracts { totalCount nodes { number } }
  trialBalance { totalDebit totalCredit rows { debit credit ledgerAccount { code } } }
  ledgerAccounts { nodes { code balance debitTotal creditTotal } }
}"""


@dataclass
class World:
    admin: Api
    granted: Api
    other: Api
    accounts: dict[str, str]
    open_account: str
    secret: str
    batch: str = ""
    ids: dict[str, Any] = field(default_factory=dict)


def assert_no_trace(data: Any, *hidden_ids: str) -> None:
    """Nothing of the restricted account in `data`: none of its words, amounts or global ids."""
    text = json.dumps(data)
    for marker in (*MARKERS, *hidden_ids):
        assert marker not in text, f"{marker!r} leaked: {text}"


async def _world(admin: Api, client) -> World:
    accounts = await posting.company(admin)
    open_account = await posting.customer(admin, accounts, "OPEN-1", "100.00", taxLocation="ZERO")
    secret = await posting.customer(admin, accounts, "SECRET-1", "777.77", taxLocation="ZERO",
                                    billingEmail="bounce-secret@example.com", autopayEnabled=True,
                                    paymentMethodToken="tok_decline")
    await admin.mutate("createManualCharge", MANUAL_CHARGE, {"input": {
        "accountId": secret, "description": "Retainer for the Acme merger", "chargeDate": "2026-05-01",
        "amount": "333.33", "revenueAccountId": accounts["revenue"]}})
    for account, description in ((secret, "Site visit for the Acme merger"), (open_account, "Routine check")):
        await admin.mutate("createWorkOrder", WORK_ORDER, {"input": {
            "accountId": account, "description": description, "performedOn": "2026-05-01", "status": "OPEN"}})
    granted_user, granted_token = await make_token("granted@example.com", PERMISSIONS)
    _, other_token = await make_token("other@example.com", PERMISSIONS)
    await admin.mutate("restrictAccount", RESTRICT, {"input": {
        "accountId": secret, "restricted": True, "userIds": [to_base64("User", granted_user.id)]}})
    world = World(admin, Api(client, granted_token), Api(client, other_token), accounts, open_account, secret)
    world.batch = await billing.batch(admin)
    return world


async def _draft(admin: Api, client) -> World:
    """The world processed, reviewed and edited: the restricted contract billing carries a comment and a misc
    charge, its one-off billing is on HOLD, the open billing is approved."""
    world = await _world(admin, client)
    await billing.process(admin, world.batch)
    rows = {(b["serviceCustomer"]["number"], b["salesContract"] is not None): b
            for b in await billing.billings(world.granted, world.batch)}
    secret_contract, secret_one_off = rows[("SECRET-1", True)]["id"], rows[("SECRET-1", False)]["id"]
    open_billing = rows[("OPEN-1", True)]["id"]
    await world.granted.mutate("updatePeriodicBilling", EDIT_BILLING, {"input": {
        "id": secret_contract, "internalComment": "CEO discount agreed"}})
    misc = await world.granted.mutate("addMiscCharge", MISC, {"input": {
        "billingId": secret_contract, "description": "Acme success fee", "amount": "44.44",
        "revenueAccountId": world.accounts["revenue"]}})
    await world.other.mutate("updatePeriodicBilling", EDIT_BILLING, {"input": {
        "id": open_billing, "internalComment": "Called the customer"}})
    await posting.approve_all(admin, world.batch)
    await world.granted.mutate("updateBillingStatus", STATUS, {"id": secret_one_off, "status": "HOLD"})
    secret_audits = (await admin.ok(AUDITS, {"filter": {"billingId": secret_contract}}))["audits"]["nodes"]
    world.ids = {"secret_contract": secret_contract, "secret_one_off": secret_one_off, "open": open_billing,
                 "misc": misc["billingDetail"]["id"], "secret_audits": [a["id"] for a in secret_audits]}
    return world


async def test_analysis_payload_shows_only_visible_findings_and_preview(admin: Api, client) -> None:
    world = await _world(admin, client)
    seen = (await world.other.ok(ANALYZE, {"id": world.batch}))["analyzeBillingBatch"]
    assert [(f["kind"], f["account"]["number"]) for f in seen["findings"]] == [("WORK_ORDER_OPEN", "OPEN-1")]
    assert seen["preview"] == {"billingCount": 1, "amount": "100.00", "rejectedCount": 0, "hiddenBillingCount": 2,
                               "accounts": [{"billingCount": 1, "amount": "100.00", "account": {"number": "OPEN-1"}}]}
    assert_no_trace(seen)
    for insider in (world.granted, admin):
        full = (await insider.ok(ANALYZE, {"id": world.batch}))["analyzeBillingBatch"]
        assert sorted(f["account"]["number"] for f in full["findings"]) == ["OPEN-1", "SECRET-1"]
        assert full["preview"]["billingCount"] == 3 and full["preview"]["amount"] == "1211.10"
        assert full["preview"]["hiddenBillingCount"] == 0 and len(full["preview"]["accounts"]) == 2
    # The hidden finding itself reads as absent.
    hidden = [f["id"] for f in full["findings"] if f["account"]["number"] == "SECRET-1"]
    assert (await world.other.ok("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": hidden}))["nodes"] == [
        None]
    batch_findings = (await world.other.ok("query($id: ID!) { billingBatch(id: $id) { findings { id } } }",
                                           {"id": world.batch}))["billingBatch"]["findings"]
    assert [f["id"] for f in batch_findings] == [f["id"] for f in seen["findings"]]


@pytest.mark.usefixtures("worker")
async def test_draft_run_hides_audits_totals_and_refuses_reversal(admin: Api, client) -> None:
    world = await _draft(admin, client)
    other, granted = world.other, world.granted
    hidden_billings = [world.ids["secret_contract"], world.ids["secret_one_off"]]

    # Totals over what the viewer may see; the rest only as hidden counts. In a draft, the hidden invoices are
    # the hidden billings posting would invoice (APPROVED here; the HOLD one leaves the batch instead).
    summary = (await other.ok(SUMMARY, {"id": world.batch}))["billingBatch"]["summary"]
    assert summary == {"billingCount": 1, "totalAmount": "100.00", "invoiceCount": 0, "totalAmountDue": "0.00",
                       "amountAwaitingPayment": "0.00", "amountPaid": "0.00", "hiddenBillingCount": 2,
                       "hiddenInvoiceCount": 1, "billingCounts": [{"status": "APPROVED", "count": 1}]}
    full = (await granted.ok(SUMMARY, {"id": world.batch}))["billingBatch"]["summary"]
    assert full["billingCount"] == 3 and full["totalAmount"] == "1255.54"
    assert (full["hiddenBillingCount"], full["hiddenInvoiceCount"]) == (0, 0)
    assert full["billingCounts"] == [{"status": "HOLD", "count": 1}, {"status": "APPROVED", "count": 2}]
    assert (await admin.ok(SUMMARY, {"id": world.batch}))["billingBatch"]["summary"] == full

    # Audits: the root list, filters on hidden ids (counted 0), node(id), the batch's and the billing's trails.
    mine = (await other.ok(AUDITS))["audits"]
    assert all(a["billing"] is None or a["billing"]["id"] == world.ids["open"] for a in mine["nodes"])
    assert {a["operation"] for a in mine["nodes"]} >= {"EDIT", "MASS_DISPOSITION", "PROCESS"}
    everyone = (await admin.ok(AUDITS))["audits"]
    assert mine["totalCount"] < everyone["totalCount"] == (await granted.ok(AUDITS))["audits"]["totalCount"]
    for gid in hidden_billings:
        for flt in ({"billingId": gid}, {"entityId": gid}, {"entity": "PeriodicBilling", "entityId": gid}):
            assert (await other.ok(AUDITS, {"filter": flt}))["audits"]["totalCount"] == 0, flt
            assert (await granted.ok(AUDITS, {"filter": flt}))["audits"]["totalCount"] > 0, flt
    assert (await other.ok(AUDITS, {"filter": {"entityId": world.ids["misc"]}}))["audits"]["totalCount"] == 0
    assert (await granted.ok(AUDITS, {"filter": {"entityId": world.ids["misc"]}}))["audits"]["totalCount"] == 2
    nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    assert (await other.ok(nodes, {"ids": world.ids["secret_audits"]}))["nodes"] == [None] * len(
        world.ids["secret_audits"])
    assert None not in (await granted.ok(nodes, {"ids": world.ids["secret_audits"]}))["nodes"]
    seen = await other.ok(EVERYTHING, {"batch": world.batch})
    assert seen["billingBatch"]["audits"]["totalCount"] == len([
        a for a in mine["nodes"] if a["batch"] and a["batch"]["id"] == world.batch])
    assert_no_trace(seen, world.secret, *hidden_billings, *world.ids["secret_audits"])
    insider = json.dumps(await granted.ok(EVERYTHING, {"batch": world.batch}))
    assert all(marker in insider for marker in ("SECRET-1", "Acme success fee", "CEO discount agreed", "822.21"))
    for gid in hidden_billings:
        assert (await other.ok("query($id: ID!) { periodicBilling(id: $id) { id } }", {"id": gid}))[
            "periodicBilling"] is None

    # Reversal deletes every billing of the batch: only for a viewer who can see them all.
    refused = (await other.ok(billing.REVERSE, {"id": world.batch}))["reverseBillingBatch"]
    assert refused["job"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("HIDDEN_BILLINGS", "batchId")]
    assert "SECRET" not in refused["errors"][0]["message"]
    assert (await other.ok(SUMMARY, {"id": world.batch}))["billingBatch"]["summary"]["hiddenBillingCount"] == 2


@pytest.mark.usefixtures("worker")
async def test_reversal_by_a_granted_user_keeps_its_audit_rows_hidden(admin: Api, client) -> None:
    world = await _draft(admin, client)
    payload = await world.granted.mutate("reverseBillingBatch", billing.REVERSE, {"id": world.batch})
    assert (await billing.wait_for_job(world.granted, payload["job"]["id"]))["status"] == "SUCCEEDED"
    reversed_rows = {"filter": {"operation": "REVERSE", "entity": "PeriodicBilling"}}
    assert (await world.granted.ok(AUDITS, reversed_rows))["audits"]["totalCount"] == 3
    seen = (await world.other.ok(AUDITS, reversed_rows))["audits"]
    assert seen["totalCount"] == 1 and seen["nodes"][0]["entityId"] == world.ids["open"]
    assert_no_trace(await world.other.ok(AUDITS), world.ids["secret_contract"], world.ids["secret_one_off"])
    summary = (await world.other.ok(SUMMARY, {"id": world.batch}))["billingBatch"]["summary"]
    assert (summary["billingCount"], summary["hiddenBillingCount"], summary["hiddenInvoiceCount"]) == (0, 0, 0)


@pytest.mark.usefixtures("worker")
async def test_posted_run_hides_totals_ledger_exports_notifications_and_blockers(
        admin: Api, client, smtp_server: Mailbox) -> None:
    world = await _draft(admin, client)
    other, granted = world.other, world.granted
    await posting.post(admin, world.batch, "SEND")
    export = (await admin.mutate("exportBillingBatch", posting.EXPORT, {"id": world.batch,
                                                                        "format": "INVOICES_CSV"}))["export"]
    found = await posting.follow_ups_done(admin, world.batch)
    secret_notes = [n["id"] for n in found["notifications"]]
    assert sorted(n["kind"] for n in found["notifications"]) == ["DELIVERY_FAILED", "PAYMENT_DECLINED"]
    invoices = (await admin.ok(posting.INVOICES, {"id": world.batch}))["billingBatch"]["invoices"]["nodes"]
    [secret_invoice] = [i for i in invoices if i["account"]["number"] == "SECRET-1"]
    secret_entry = (await admin.ok("query($id: ID!) { invoice(id: $id) { journalEntry { id } } }",
                                   {"id": secret_invoice["id"]}))["invoice"]["journalEntry"]["id"]
    # The held billing waits for the account's next batch, which adopts it (audited, hidden like the rest).
    late = await posting.processed(admin, "Late May run", invoiceDate="2026-05-20")

    summary = (await other.ok(SUMMARY, {"id": world.batch}))["billingBatch"]["summary"]
    assert summary == {"billingCount": 1, "totalAmount": "100.00", "invoiceCount": 1, "totalAmountDue": "100.00",
                       "amountAwaitingPayment": "100.00", "amountPaid": "0.00", "hiddenBillingCount": 1,
                       "hiddenInvoiceCount": 1, "billingCounts": [{"status": "INVOICED", "count": 1}]}
    full = (await granted.ok(SUMMARY, {"id": world.batch}))["billingBatch"]["summary"]
    assert (full["invoiceCount"], full["totalAmountDue"], full["hiddenInvoiceCount"]) == (2, "922.21", 0)

    # The ledger as each viewer may see it: scoped, and still balanced; an admin sees the company's books.
    ledger = "{ trialBalance { totalDebit totalCredit balanced rows { debit credit ledgerAccount { code } } } " \
             "ledgerAccounts { nodes { code balance debitTotal creditTotal } } }"
    scoped = await other.ok(ledger)
    assert scoped["trialBalance"]["totalDebit"] == scoped["trialBalance"]["totalCredit"] == "100.00"
    assert scoped["trialBalance"]["balanced"] is True
    balances = {n["code"]: n for n in scoped["ledgerAccounts"]["nodes"]}
    assert (balances["1200"]["balance"], balances["4000"]["creditTotal"]) == ("100.00", "100.00")
    for insider in (granted, admin):
        books = await insider.ok(ledger)
        assert books["trialBalance"]["totalDebit"] == books["trialBalance"]["totalCredit"] == "922.21"
        assert {n["code"]: n["balance"] for n in books["ledgerAccounts"]["nodes"]}["1200"] == "922.21"

    # Exports of a batch with invoices hidden from the viewer are hidden like their downloads.
    assert (await other.ok("query($id: ID!) { node(id: $id) { id } }", {"id": export["id"]}))["node"] is None
    assert (await client.get(export["downloadUrl"], headers={"Authorization": f"Bearer {other.token}"})
            ).status_code == 404
    assert (await client.get(export["downloadUrl"], headers={"Authorization": f"Bearer {granted.token}"})
            ).status_code == 200
    assert (await granted.ok("query($id: ID!) { node(id: $id) { id } }", {"id": export["id"]}))["node"] == {
        "id": export["id"]}

    # Notifications and completion: none named, counted as hidden blockers only.
    seen = (await other.ok(EVERYTHING, {"batch": world.batch}))
    batch = seen["billingBatch"]
    assert batch["notifications"] == [] and seen["notifications"]["totalCount"] == 0
    assert batch["exports"] == [] and batch["invoices"]["totalCount"] == 1
    assert batch["completion"] == {"ready": False, "blockers": [{
        "kind": "OPEN_NOTIFICATION", "message": "2 open notification(s) about accounts hidden from you.",
        "subjectId": None}]}
    for flt in ({"batchId": world.batch}, {"batchId": world.batch, "status": "OPEN"}):
        assert (await other.ok("query($f: NotificationFilter) { notifications(filter: $f) { totalCount } }",
                               {"f": flt}))["notifications"]["totalCount"] == 0
    nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    hidden_nodes = [*secret_notes, secret_invoice["id"], secret_entry, export["id"], world.secret,
                    world.ids["secret_contract"], world.ids["misc"]]
    assert (await other.ok(nodes, {"ids": hidden_nodes}))["nodes"] == [None] * len(hidden_nodes)
    assert None not in (await granted.ok(nodes, {"ids": hidden_nodes}))["nodes"]
    count_of = """query($a: ID!) { invoices(filter: {accountId: $a}) { totalCount }
      salesContracts(filter: {accountId: $a}) { totalCount } }"""
    assert (await other.ok(count_of, {"a": world.secret})) == {"invoices": {"totalCount": 0},
                                                               "salesContracts": {"totalCount": 0}}
    assert (await granted.ok(count_of, {"a": world.secret})) == {"invoices": {"totalCount": 1},
                                                                 "salesContracts": {"totalCount": 1}}
    billings_of = """query($b: ID!, $a: ID!) { billingBatch(id: $b) { periodicBillings(filter: {accountId: $a}) {
      totalCount } } }"""
    assert (await other.ok(billings_of, {"b": late, "a": world.secret}))["billingBatch"]["periodicBillings"][
        "totalCount"] == 0
    assert (await granted.ok(billings_of, {"b": late, "a": world.secret}))["billingBatch"]["periodicBillings"][
        "totalCount"] == 1
    for flt, counts in (({"operation": "HOLD_LEFT_BATCH"}, (0, 1)), ({"operation": "ADOPT"}, (0, 1)),
                        ({"operation": "POST", "entity": "PeriodicBilling"}, (1, 2))):
        rows = (await other.ok(AUDITS, {"filter": flt}))["audits"]
        assert (rows["totalCount"], (await granted.ok(AUDITS, {"filter": flt}))["audits"]["totalCount"]) == counts
        assert_no_trace(rows, world.ids["secret_contract"], world.ids["secret_one_off"])
    assert_no_trace(seen, world.secret, *hidden_nodes)
    assert_no_trace(await other.ok(EVERYTHING, {"batch": late}), world.secret, world.ids["secret_one_off"])
    late_summary = (await other.ok(SUMMARY, {"id": late}))["billingBatch"]["summary"]
    assert (late_summary["billingCount"], late_summary["hiddenBillingCount"]) == (0, 1)

    # The granted user resolves the hidden notifications; the audit rows of that stay hidden too.
    for note in secret_notes:
        await granted.mutate("resolveNotification", posting.RESOLVE, {"id": note, "note": "Acme paid by wire"})
    for flt, count in (({"operation": "RESOLVE"}, 2), ({"entityId": secret_notes[0]}, 1),
                       ({"entity": "Notification", "entityId": secret_notes[1]}, 1)):
        assert (await other.ok(AUDITS, {"filter": flt}))["audits"]["totalCount"] == 0, flt
        assert (await granted.ok(AUDITS, {"filter": flt}))["audits"]["totalCount"] == count, flt
    done = (await other.ok(EVERYTHING, {"batch": world.batch}))["billingBatch"]["completion"]
    assert done == {"ready": True, "blockers": []}
    assert Decimal((await admin.ok(SUMMARY, {"id": world.batch}))["billingBatch"]["summary"][
        "totalAmountDue"]) == Decimal("922.21")


async def test_hidden_error_findings_block_processing_counted_never_described(admin: Api, client) -> None:
    world = await _world(admin, client)
    await admin.mutate("createWorkOrder", WORK_ORDER, {"input": {
        "accountId": world.secret, "description": "Acme overtime", "performedOn": "2026-04-28",
        "status": "COMPLETED"}})  # completed without a rate: an ERROR finding about the restricted account
    refused = (await world.other.ok(billing.PROCESS, {"id": world.batch}))["processBillingBatch"]
    assert refused["job"] is None
    assert refused["errors"] == [{"code": "UNRESOLVED_FINDINGS", "field": "batchId", "message": (
        "1 ERROR finding(s) must be resolved before processing (1 of them about accounts hidden from you).")}]
    insider = (await world.granted.ok(billing.PROCESS, {"id": world.batch}))["processBillingBatch"]
    assert insider["errors"][0]["message"] == "1 ERROR finding(s) must be resolved before processing."


@pytest.mark.usefixtures("worker")
async def test_reversal_job_rechecks_what_its_user_may_see_when_it_runs(admin: Api, client) -> None:
    """Billings moved into the batch between asking for the reversal and the job running: the job refuses to
    delete billings its user may not see, and nothing is reversed."""
    from domain import auth, jobs, reversal
    from models.enums import JobKind

    world = await _world(admin, client)
    await admin.mutate("updateAccount", """mutation($id: ID!) { updateAccount(input: {id: $id, billGroup: "G2"}) {
      account { id } errors { code } } }""", {"id": world.secret})
    await admin.mutate("createBillingBatch", billing.CREATE_BATCH, {"input": {
        "name": "G1 run", "invoiceDate": "2026-05-01", "billGroup": "G1"}})
    first = (await admin.ok("{ billingBatches(filter: {search: \"G1 run\"}) { nodes { id } } }"))[
        "billingBatches"]["nodes"][0]["id"]
    await billing.process(admin, first)
    await billing.process(admin, world.batch)  # "May run", every bill group: the restricted account's billings
    viewer = await auth.authenticate(world.other.token)  # type: ignore[arg-type]
    assert viewer is not None
    # As `reverseBillingBatch` queues it (the job's message is not sent yet).
    job = await jobs.create(JobKind.REVERSE, batch_id=posting.db_id(first), created_by=viewer.user_id,
                            **reversal.job_params(viewer))
    moved = [b["id"] for b in await billing.billings(world.granted, world.batch)
             if b["serviceCustomer"]["number"] == "SECRET-1"]
    await world.granted.mutate("moveBillings", """mutation($ids: [ID!]!, $to: ID!) { moveBillings(input:
      {billingIds: $ids, toBatchId: $to}) { movedCount errors { code } } }""", {"ids": moved, "to": first})
    await reversal.reverse(job.id)
    failed = (await world.other.ok(billing.JOB, {"id": to_base64("Job", job.id)}))["job"]
    assert failed["status"] == "FAILED"
    assert failed["error"] == ("2 billing(s) of accounts hidden from the user who asked are in the batch now; "
                               "nothing was reversed")
    summary = (await world.granted.ok(SUMMARY, {"id": first}))["billingBatch"]["summary"]
    assert summary["billingCount"] == 3
    assert (await admin.ok(billing.BATCH, {"id": first}))["billingBatch"]["status"] == "PROCESSED"


TEAM = """mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } errors { code } } }"""
MEMBER = """mutation($input: TeamMemberInput!) { %s(input: $input) { team { id } errors { code } } }"""


async def test_a_team_grant_shows_everything_to_members_and_leaving_the_team_hides_it_all_again(
        admin: Api, client) -> None:
    world = await _draft(admin, client)
    hidden_billings = [world.ids["secret_contract"], world.ids["secret_one_off"]]
    team = (await admin.mutate("createTeam", TEAM, {"input": {"name": "Merger desk"}}))["team"]["id"]
    granted_user = await models.User.get(email="granted@example.com")
    other_user = await models.User.get(email="other@example.com")
    await admin.mutate("restrictAccount", RESTRICT, {"input": {
        "accountId": world.secret, "restricted": True, "userIds": [to_base64("User", granted_user.id)],
        "teamIds": [team]}})
    member = {"teamId": team, "userId": to_base64("User", other_user.id)}
    await admin.mutate("addTeamMember", MEMBER % "addTeamMember", {"input": member})
    # A member sees what the granted user sees: every figure, every record.
    inside = await world.other.ok(EVERYTHING, {"batch": world.batch})
    assert inside["billingBatch"]["summary"] == (await world.granted.ok(SUMMARY, {"id": world.batch}))[
        "billingBatch"]["summary"]
    assert all(marker in json.dumps(inside) for marker in ("SECRET-1", "Acme success fee", "CEO discount agreed"))
    await admin.mutate("removeTeamMember", MEMBER % "removeTeamMember", {"input": member})
    # Out of the team: nothing of it, at once, exactly as before.
    assert_no_trace(await world.other.ok(EVERYTHING, {"batch": world.batch}), world.secret, *hidden_billings,
                    *world.ids["secret_audits"])
    summary = (await world.other.ok(SUMMARY, {"id": world.batch}))["billingBatch"]["summary"]
    assert (summary["hiddenBillingCount"], summary["billingCount"], summary["totalAmount"]) == (2, 1, "100.00")

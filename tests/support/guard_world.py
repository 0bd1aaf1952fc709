"""The records the mutation guard walk acts on: one of every kind a mutation takes, built by an admin through
the API, so a refusal is about permission, never about a missing record.

Everything that belongs to an account exists twice: on an open account (`world.visible`) and on a restricted
account granted to nobody (`world.hidden`, same shape). `world.absent` names ids of the same types that do not
exist. A snapshot of every table tells whether a refused call wrote anything.
"""

import dataclasses
from dataclasses import dataclass

from strawberry.relay import from_base64, to_base64
from tortoise import Tortoise

from billrun import db
from tests.support import billing, builders, posting, waiting
from tests.support.api import Api


@dataclass(frozen=True)
class Owned:
    """One record of each account-owned kind a mutation names, all under one account (global ids)."""

    account: str
    contract: str
    charge: str
    dated_price: str
    work_order: str
    manual_charge: str
    service_change: str
    adjustment: str
    finding: str
    billing: str
    detail: str
    misc_charge: str
    invoice: str
    notification: str
    credit_note: str  # a DRAFT credit note of the invoice

    def absent(self) -> "Owned":
        """The same kinds of id, pointing at nothing."""
        return Owned(**{name: to_base64(from_base64(gid)[0], 999_999)
                        for name, gid in dataclasses.asdict(self).items()})


@dataclass(frozen=True)
class Records:
    """What one call of the walk may name: company-wide records (never hidden) and one account's records."""

    other_user: str  # a user other than the caller
    other_token: str  # an API token of that user
    revenue: str  # a revenue ledger account
    tax_rate: str
    open_period: str  # an open month with no batch in it (closable)
    closed_period: str  # a closed month (reopenable)
    draft_batch: str  # NOT_STARTED, analyzed (findings)
    review_batch: str  # PROCESSED, billings NEW, each with a misc charge
    ready_batch: str  # PROCESSED, every billing APPROVED (postable)
    posted_batch: str  # POSTED in EXPORT mode, an auto-pay declined (an open notification)
    webhook: str  # a disabled webhook endpoint (nothing is sent while the walk compares)
    webhook_enabled: str  # an enabled one, caught up with the stream and pointing at a closed port
    event: str  # an event of the log
    team: str  # a team with `other_user` in it
    approval_rule: str  # a rule no billing of the world meets
    schedule: str  # a billing schedule first due years ahead (no scheduler creates anything meanwhile)
    owned: Owned


@dataclass(frozen=True)
class World:
    visible: Records
    hidden: Records
    absent: Records


DRAFT, REVIEW, READY, POSTED = "DRAFT", "REVIEW", "READY", "POSTED"  # bill groups, one per batch

BATCH_CONTENT = """query($id: ID!) { billingBatch(id: $id) {
  findings { id kind account { number } }
  periodicBillings { nodes { id serviceCustomer { number } details { id kind } } }
  invoices { nodes { id account { number } payments { status } } }
  notifications { id kind status account { number } } } }"""


async def _create(admin: Api, name: str, input_type: str, payload_field: str, data: dict) -> str:
    query = (f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {payload_field} {{ id }} "
             "errors { code field message } } }")
    return (await admin.mutate(name, query, {"input": data}))[payload_field]["id"]


async def _draft_items(admin: Api, side: str, revenue: str) -> dict[str, str]:
    """An account billed by the draft batch, with a contract, a charge, a dated price and an item of each kind."""
    account = await builders.account(admin, f"{side}-{DRAFT}", billGroup=DRAFT, taxLocation="ZERO")
    contract = await builders.contract(admin, account, f"SC-{side}-{DRAFT}", start="2026-05-01")
    charge = await builders.charge(admin, contract, "20.00", revenue)
    return {
        "account": account, "contract": contract, "charge": charge,
        "dated_price": await builders.dated_price(admin, charge, "2026-08-01", "2026-08-31", "25.00"),
        "work_order": await _create(admin, "createWorkOrder", "CreateWorkOrderInput", "workOrder", {
            "accountId": account, "description": "Repair", "performedOn": "2026-04-20"}),
        "manual_charge": await _create(admin, "createManualCharge", "CreateManualChargeInput", "manualCharge", {
            "accountId": account, "description": "Setup", "chargeDate": "2026-04-20", "amount": "10.00"}),
        "service_change": await _create(admin, "createServiceChange", "CreateServiceChangeInput", "serviceChange", {
            "chargeId": charge, "effectiveDate": "2026-06-15", "newPrice": "30.00"}),
        "adjustment": await _create(admin, "createInvoiceAdjustment", "CreateInvoiceAdjustmentInput",
                                    "invoiceAdjustment", {"accountId": account, "kind": "CREDIT",
                                                          "description": "Goodwill", "amount": "5.00"}),
    }


async def _settled(admin: Api, batch: str, within: float = 60) -> dict:
    """The posted batch once its declined auto-pays have opened their notifications."""
    async def declined() -> dict | None:
        content = (await admin.ok(BATCH_CONTENT, {"id": batch}))["billingBatch"]
        return content if len([n for n in content["notifications"] if n["kind"] == "PAYMENT_DECLINED"]) == 2 else None

    found: dict = await waiting.until(declined, f"batch {batch}'s two PAYMENT_DECLINED notifications", within,
                                      every=0.1)
    return found


def _of(rows: list[dict], number: str, path: str = "account") -> dict:
    [row] = [r for r in rows if r[path]["number"] == number]
    return row


async def _webhooks(admin: Api) -> tuple[str, str]:
    """A disabled endpoint, and an enabled one only for a type no event of the walk has (nothing to send)."""
    ids = []
    for types in ([], ["WEBHOOK_ENDPOINT_DISABLED"]):
        ids.append(await _create(admin, "createWebhookEndpoint", "CreateWebhookEndpointInput", "webhookEndpoint",
                                 {"url": "http://127.0.0.1:9/hook", "eventTypes": types}))
    await admin.mutate("disableWebhookEndpoint", """mutation($id: ID!) { disableWebhookEndpoint(input: {id: $id}) {
      webhookEndpoint { id } errors { code field message } } }""", {"id": ids[0]})
    return ids[0], ids[1]


async def build(admin: Api) -> World:
    """The whole world (about ten seconds: three batches processed, one posted by the worker)."""
    accounts = await posting.company(admin)
    revenue = accounts["revenue"]
    periods = {}
    for month in ("2026-04-01", "2026-06-01"):
        periods[month] = await _create(admin, "createAccountingPeriod", "CreateAccountingPeriodInput",
                                       "accountingPeriod", {"month": month})
    await admin.mutate("closeAccountingPeriod", """mutation($id: ID!) { closeAccountingPeriod(input: {id: $id}) {
      accountingPeriod { id } errors { code field message } } }""", {"id": periods["2026-04-01"]})
    other_user = await _create(admin, "createUser", "CreateUserInput", "user", {
        "email": "other@example.com", "name": "Otto Other", "permissions": ["BILLING_ACCESS"],
        "password": "correct horse battery"})
    other_token = (await admin.mutate("createApiToken", """mutation($input: CreateApiTokenInput!) {
      createApiToken(input: $input) { apiToken { id } errors { code field message } } }""", {"input": {
        "userId": other_user, "name": "crm"}}))["apiToken"]["id"]
    rates = (await admin.ok("{ taxRates { nodes { id location } } }"))["taxRates"]["nodes"]
    tax_rate = next(r["id"] for r in rates if r["location"] == "ZERO")

    sides = ("V", "H")
    items = {side: await _draft_items(admin, side, revenue) for side in sides}
    restricted = [items["H"]["account"]]
    for side in sides:
        review_account = await posting.customer(admin, accounts, f"{side}-{REVIEW}", "40.00", billGroup=REVIEW,
                                                taxLocation="ZERO")
        posted_account = await posting.customer(admin, accounts, f"{side}-{POSTED}", "60.00", billGroup=POSTED,
                                                taxLocation="ZERO", autopayEnabled=True,
                                                paymentMethodToken="tok_decline")
        if side == "H":
            restricted += [review_account, posted_account]
    await posting.customer(admin, accounts, f"V-{READY}", "50.00", billGroup=READY, taxLocation="ZERO")

    draft = await billing.batch(admin, "Draft run", billGroup=DRAFT)
    await admin.mutate("analyzeBillingBatch", billing.ANALYZE, {"id": draft})
    review = await posting.processed(admin, "Review run", billGroup=REVIEW)
    ready = await posting.processed(admin, "Ready run", billGroup=READY)
    await posting.approve_all(admin, ready)
    posted = await posting.processed(admin, "Posted run", billGroup=POSTED)
    await posting.approve_all(admin, posted)
    await posting.post(admin, posted, "EXPORT")

    draft_content = (await admin.ok(BATCH_CONTENT, {"id": draft}))["billingBatch"]
    review_content = (await admin.ok(BATCH_CONTENT, {"id": review}))["billingBatch"]
    posted_content = await _settled(admin, posted)
    owned = {}
    for side in sides:
        finding = _of([f for f in draft_content["findings"] if f["kind"] == "UNAPPROVED_ADJUSTMENT"],
                      f"{side}-{DRAFT}")
        bill = _of(review_content["periodicBillings"]["nodes"], f"{side}-{REVIEW}", "serviceCustomer")
        misc = await admin.mutate("addMiscCharge", """mutation($input: AddMiscChargeInput!) { addMiscCharge(
          input: $input) { billingDetail { id } errors { code field message } } }""", {"input": {
            "billingId": bill["id"], "description": "Courier", "amount": "7.00", "revenueAccountId": revenue}})
        invoice = _of(posted_content["invoices"]["nodes"], f"{side}-{POSTED}")
        assert [p["status"] for p in invoice["payments"]] == ["DECLINED"], invoice
        notification = _of([n for n in posted_content["notifications"] if n["kind"] == "PAYMENT_DECLINED"],
                           f"{side}-{POSTED}")
        credit_note = await _create(admin, "createCreditNote", "CreateCreditNoteInput", "creditNote", {
            "invoiceId": invoice["id"], "wholeInvoice": True, "reason": "OTHER", "creditDate": "2026-05-20"})
        owned[side] = Owned(**items[side], finding=finding["id"], billing=bill["id"],
                            detail=next(d["id"] for d in bill["details"] if d["kind"] == "RECURRING"),
                            misc_charge=misc["billingDetail"]["id"], invoice=invoice["id"],
                            notification=notification["id"], credit_note=credit_note)
    for account in restricted:  # granted to nobody: only admins see them
        await admin.mutate("restrictAccount", """mutation($input: RestrictAccountInput!) { restrictAccount(
          input: $input) { account { id } errors { code field message } } }""", {"input": {
            "accountId": account, "restricted": True, "userIds": []}})
    team = await _create(admin, "createTeam", "CreateTeamInput", "team", {"name": "Guards"})
    await admin.mutate("addTeamMember", """mutation($input: TeamMemberInput!) { addTeamMember(input: $input) {
      team { id } errors { code field message } } }""", {"input": {"teamId": team, "userId": other_user}})
    rule = await _create(admin, "createApprovalRule", "CreateApprovalRuleInput", "approvalRule", {
        "kind": "CHANGE_FROM_PREVIOUS_ABOVE_PERCENT", "threshold": "99999"})
    schedule = await _create(admin, "createBillingSchedule", "CreateBillingScheduleInput", "billingSchedule", {
        "name": "Guarded", "cadence": "MONTHLY", "day": 1, "startsOn": "2099-01-01"})
    for batch in (draft, review, ready, posted):  # no background work left to write while the walk compares
        await posting.follow_ups_done(admin, batch)
    webhook, webhook_enabled = await _webhooks(admin)
    event = (await admin.ok("{ events(last: 1) { nodes { id } } }"))["events"]["nodes"][0]["id"]
    visible = Records(other_user=other_user, other_token=other_token, revenue=revenue, tax_rate=tax_rate,
                      open_period=periods["2026-06-01"], closed_period=periods["2026-04-01"], draft_batch=draft,
                      review_batch=review, ready_batch=ready, posted_batch=posted, webhook=webhook,
                      webhook_enabled=webhook_enabled, event=event, team=team, approval_rule=rule,
                      schedule=schedule, owned=owned["V"])
    return World(visible=visible, hidden=dataclasses.replace(visible, owned=owned["H"]),
                 absent=dataclasses.replace(visible, owned=owned["V"].absent()))


# Columns every authenticated request may touch (the token's last use, kept to the minute).
VOLATILE = {"access_token": {"last_used_at"}}


async def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table (volatile columns left out), to tell whether a call wrote anything."""
    tables: dict[str, list[tuple]] = {}
    for model in Tortoise.apps[db.APP_LABEL].values():
        table = model._meta.db_table
        skip = VOLATILE.get(table, set())
        rows = await model.all().order_by(model._meta.pk_attr).values()
        tables[table] = [tuple((k, v) for k, v in row.items() if k not in skip) for row in rows]
    return tables


def changed_tables(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> list[str]:
    return sorted(table for table in before if before[table] != after[table])


"""Every mutation of the schema is guarded: no token, no permission or a hidden record is refused, and nothing
is written. The mutation list is read from the schema, so a new mutation without an entry in `GUARDS`
fails here; another test fails when a mutation is performed by no behavioural test.

One world of real records (tests/support/guard_world.py) serves every call, so each refusal is about the
caller, never about a missing record; a snapshot of every table before and after each call proves nothing was
written.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from graphql import build_schema

from domain.access import REQUIRES
from models.enums import Permission
from schema import schema
from tests.conftest import make_token
from tests.support import guard_world
from tests.support.api import Api, GraphQLResult
from tests.support.guard_world import Records, World

pytestmark = pytest.mark.usefixtures("worker")

MUTATIONS = build_schema(schema.as_str()).mutation_type.fields  # type: ignore[union-attr]
ALL = frozenset(Permission)

BA, SEND, APPROVE, ADMIN = (Permission.BILLING_ACCESS, Permission.BILLING_SEND_EXPORT, Permission.BILLING_APPROVE,
                            Permission.ADMIN)


@dataclass(frozen=True)
class Case:
    """One way to call a mutation: the permission it needs (None: any signed-in caller) and a minimal valid
    input naming real records. A caller lacking the permission gets `refused_with` in the payload's errors."""

    permission: Permission | None
    input: Callable[[Records], dict] | None = None
    refused_with: str = "PERMISSION_DENIED"
    # massUpdateBillingStatus answers a missing BILLING_APPROVE per billing (`refusals`, nothing changed) until
    # the change that refuses it once in `errors` is merged; then drop this flag.
    or_refused_per_billing: bool = False


# Every mutation of the schema, with what it needs. `[]`: public (signing in is how a token is obtained).
GUARDS: dict[str, list[Case]] = {
    # Access
    "login": [],
    "logout": [Case(None)],
    "createUser": [Case(ADMIN, lambda r: {"email": "new@example.com", "name": "New",
                                          "permissions": ["BILLING_ACCESS"]})],
    "updateUser": [Case(ADMIN, lambda r: {"id": r.other_user, "name": "Renamed"})],
    "createApiToken": [Case(ADMIN, lambda r: {"userId": r.other_user, "name": "erp"})],
    # A user may revoke their own tokens only: another user's token is hidden from them.
    "revokeApiToken": [Case(ADMIN, lambda r: {"id": r.other_token}, refused_with="NOT_FOUND")],
    # Master data
    "createAccount": [Case(BA, lambda r: {"number": "NEW-1", "name": "New", "billGroup": "G", "division": "D",
                                          "taxLocation": "ZERO", "billingEmail": "new@example.com"})],
    "updateAccount": [Case(BA, lambda r: {"id": r.owned.account, "name": "Renamed"})],
    "restrictAccount": [Case(ADMIN, lambda r: {"accountId": r.owned.account, "restricted": True, "userIds": []})],
    "createSalesContract": [Case(BA, lambda r: {"accountId": r.owned.account, "number": "SC-NEW",
                                                "frequency": "MONTHLY", "startDate": "2026-05-01"})],
    "updateSalesContract": [Case(BA, lambda r: {"id": r.owned.contract, "endDate": "2026-12-31"})],
    "createRecurringCharge": [Case(BA, lambda r: {"contractId": r.owned.contract, "description": "Extra",
                                                  "periodicPrice": "5.00"})],
    "updateRecurringCharge": [Case(BA, lambda r: {"id": r.owned.charge, "description": "Renamed"})],
    "createDatedPrice": [Case(BA, lambda r: {"chargeId": r.owned.charge, "firstEffectiveDate": "2027-01-01",
                                             "periodicPrice": "9.00"})],
    "updateDatedPrice": [Case(BA, lambda r: {"id": r.owned.dated_price, "periodicPrice": "11.00"})],
    "deleteDatedPrice": [Case(BA, lambda r: {"id": r.owned.dated_price})],
    # Books
    "createLedgerAccount": [Case(ADMIN, lambda r: {"code": "4100", "name": "Other revenue", "kind": "REVENUE"})],
    "updateLedgerAccount": [Case(ADMIN, lambda r: {"id": r.revenue, "name": "Sales"})],
    "createTaxRate": [Case(ADMIN, lambda r: {"location": "NEW-LOC", "name": "New", "rate": "0.05"})],
    "updateTaxRate": [Case(ADMIN, lambda r: {"id": r.tax_rate, "rate": "0.01"})],
    "createAccountingPeriod": [Case(ADMIN, lambda r: {"month": "2026-09-01"})],
    "closeAccountingPeriod": [Case(ADMIN, lambda r: {"id": r.open_period})],
    "reopenAccountingPeriod": [Case(ADMIN, lambda r: {"id": r.closed_period, "reason": "Late credit note"})],
    # Billable items
    "createWorkOrder": [Case(BA, lambda r: {"accountId": r.owned.account, "description": "Repair",
                                            "performedOn": "2026-05-10"})],
    "updateWorkOrder": [Case(BA, lambda r: {"id": r.owned.work_order, "description": "Repaired"})],
    "createManualCharge": [Case(BA, lambda r: {"accountId": r.owned.account, "description": "Setup",
                                               "chargeDate": "2026-05-02", "amount": "10.00"})],
    "updateManualCharge": [Case(BA, lambda r: {"id": r.owned.manual_charge, "amount": "12.00"})],
    "createServiceChange": [Case(BA, lambda r: {"chargeId": r.owned.charge, "effectiveDate": "2026-07-01",
                                                "newPrice": "35.00"})],
    "updateServiceChange": [Case(BA, lambda r: {"id": r.owned.service_change, "note": "Corrected"})],
    "createInvoiceAdjustment": [Case(BA, lambda r: {"accountId": r.owned.account, "kind": "DEBIT",
                                                    "description": "Late fee", "amount": "3.00"})],
    "approveInvoiceAdjustment": [Case(APPROVE, lambda r: {"id": r.owned.adjustment})],
    # The billing run
    "createBillingBatch": [Case(BA, lambda r: {"name": "New run", "invoiceDate": "2026-05-01"})],
    "analyzeBillingBatch": [Case(BA, lambda r: {"batchId": r.draft_batch})],
    "resolveFinding": [Case(BA, lambda r: {"id": r.owned.finding, "note": "Checked"})],
    "processBillingBatch": [Case(BA, lambda r: {"batchId": r.draft_batch})],
    "reverseBillingBatch": [Case(BA, lambda r: {"batchId": r.review_batch})],
    # Review
    "updateBillingDetail": [Case(BA, lambda r: {"id": r.owned.detail, "billingAmount": "45.00"})],
    "addMiscCharge": [Case(BA, lambda r: {"billingId": r.owned.billing, "description": "Freight", "amount": "5.00",
                                          "revenueAccountId": r.revenue})],
    "removeMiscCharge": [Case(BA, lambda r: {"id": r.owned.misc_charge})],
    "updatePeriodicBilling": [Case(BA, lambda r: {"id": r.owned.billing, "internalComment": "Checked"})],
    "updateBillingStatus": [Case(BA, lambda r: {"billingId": r.owned.billing, "status": "HOLD"}),
                            Case(APPROVE, lambda r: {"billingId": r.owned.billing, "status": "APPROVED"})],
    "massUpdateBillingStatus": [Case(BA, lambda r: {"batchId": r.review_batch, "status": "HOLD"}),
                                Case(APPROVE, lambda r: {"batchId": r.review_batch, "status": "APPROVED"},
                                     or_refused_per_billing=True)],
    "deletePeriodicBilling": [Case(BA, lambda r: {"id": r.owned.billing})],
    "moveBillings": [Case(BA, lambda r: {"billingIds": [r.owned.billing], "toBatchId": r.draft_batch})],
    # Posting and after
    "postBillingBatch": [Case(SEND, lambda r: {"batchId": r.ready_batch, "mode": "EXPORT"})],
    "exportBillingBatch": [Case(SEND, lambda r: {"batchId": r.posted_batch, "format": "INVOICES_CSV"})],
    "resolveNotification": [Case(BA, lambda r: {"id": r.owned.notification, "note": "Called the customer"})],
    "resendInvoice": [Case(SEND, lambda r: {"invoiceId": r.owned.invoice})],
    "retryPayment": [Case(SEND, lambda r: {"invoiceId": r.owned.invoice})],
    "completeBillingBatch": [Case(SEND, lambda r: {"batchId": r.posted_batch})],
    # Webhooks
    "createWebhookEndpoint": [Case(ADMIN, lambda r: {"url": "http://127.0.0.1:9/new"})],
    "updateWebhookEndpoint": [Case(ADMIN, lambda r: {"id": r.webhook, "description": "Renamed"})],
    "disableWebhookEndpoint": [Case(ADMIN, lambda r: {"id": r.webhook_enabled})],
    "enableWebhookEndpoint": [Case(ADMIN, lambda r: {"id": r.webhook})],
    "rotateWebhookEndpointSecret": [Case(ADMIN, lambda r: {"id": r.webhook})],
    "redeliverWebhookEvent": [Case(ADMIN, lambda r: {"endpointId": r.webhook, "eventId": r.event})],
    # Credit notes
    "createCreditNote": [Case(SEND, lambda r: {"invoiceId": r.owned.invoice, "wholeInvoice": True, "reason": "OTHER",
                                               "creditDate": "2026-05-20"})],
    "issueCreditNote": [Case(SEND, lambda r: {"id": r.owned.credit_note})],
    "voidCreditNote": [Case(SEND, lambda r: {"id": r.owned.credit_note})],
    "confirmPostBillingBatch": [Case(SEND, lambda r: {"batchId": r.ready_batch})],
    # Teams, approval rules, schedules
    "createTeam": [Case(ADMIN, lambda r: {"name": "New team"})],
    "updateTeam": [Case(ADMIN, lambda r: {"id": r.team, "name": "Renamed"})],
    "deleteTeam": [Case(ADMIN, lambda r: {"id": r.team})],
    "addTeamMember": [Case(ADMIN, lambda r: {"teamId": r.team, "userId": r.other_user})],
    "removeTeamMember": [Case(ADMIN, lambda r: {"teamId": r.team, "userId": r.other_user})],
    "createApprovalRule": [Case(ADMIN, lambda r: {"kind": "BILLING_AMOUNT_ABOVE", "threshold": "100.00",
                                                  "currency": "USD"})],
    "updateApprovalRule": [Case(ADMIN, lambda r: {"id": r.approval_rule, "threshold": "50"})],
    "deleteApprovalRule": [Case(ADMIN, lambda r: {"id": r.approval_rule})],
    "createBillingSchedule": [Case(SEND, lambda r: {"name": "New schedule", "cadence": "WEEKLY", "day": 1})],
    "updateBillingSchedule": [Case(SEND, lambda r: {"id": r.schedule, "name": "Renamed"})],
    "pauseBillingSchedule": [Case(SEND, lambda r: {"id": r.schedule})],
    "resumeBillingSchedule": [Case(SEND, lambda r: {"id": r.schedule})],
    "deleteBillingSchedule": [Case(SEND, lambda r: {"id": r.schedule})],
}

# What every payload answers, and what the mass update answers besides.
SELECTION = "errors { code field message }"
EXTRA_SELECTION = {"massUpdateBillingStatus": "changedCount refusals { code }"}


def document(name: str) -> str:
    """`mutation($input: XInput!) { name(input: $input) { errors … } }`, typed from the schema itself."""
    selection = f"{SELECTION} {EXTRA_SELECTION.get(name, '')}"
    if "input" in MUTATIONS[name].args:
        return f"mutation($input: {MUTATIONS[name].args['input'].type}) {{ {name}(input: $input) {{ {selection} }} }}"
    return f"mutation {{ {name} {{ {selection} }} }}"


def variables(case: Case, records: Records) -> dict:
    return {"input": case.input(records)} if case.input is not None else {}


def lacking(permission: Permission | None) -> list[frozenset[Permission]]:
    """Permission sets without `permission`: none at all, and every other one a user can hold without it
    (BILLING_SEND_EXPORT cannot be granted without BILLING_ACCESS). None needs no permission: no sets."""
    if permission is None:
        return []
    dependent = {p for p, needed in REQUIRES.items() if needed == permission}
    return [frozenset(), ALL - {permission} - dependent]


def refused(case: Case, payload: dict) -> bool:
    codes = [e["code"] for e in payload["errors"]]
    if codes == [case.refused_with]:
        return True
    return case.or_refused_per_billing and codes == [] and payload["changedCount"] == 0 and bool(
        payload["refusals"]) and all(r["code"] == case.refused_with for r in payload["refusals"])


class Walk:
    """Calls mutations and records, instead of stopping at, each one that was not refused or wrote something."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.before: dict = {}

    async def start(self) -> "Walk":
        self.before = await guard_world.snapshot()
        return self

    async def call(self, api: Api, name: str, case: Case, records: Records) -> GraphQLResult:
        """Call `name` as `api` with the case's input over `records`; a write is recorded as a failure."""
        result = await api(document(name), variables(case, records))
        after = await guard_world.snapshot()
        if written := guard_world.changed_tables(self.before, after):
            self.failures.append(f"{name}: wrote to {written}")
            self.before = after
        return result

    def fail(self, message: str) -> None:
        self.failures.append(message)


@pytest.fixture
async def world(admin: Api) -> World:
    return await guard_world.build(admin)


def test_every_mutation_of_the_schema_has_a_guard_entry() -> None:
    assert sorted(set(MUTATIONS) - set(GUARDS)) == [], "add these mutations to GUARDS"
    assert sorted(set(GUARDS) - set(MUTATIONS)) == [], "these GUARDS entries name no mutation of the schema"


async def test_without_a_valid_token_every_mutation_is_refused_and_writes_nothing(world: World,
                                                                                   anonymous: Api) -> None:
    await make_token("signed-out@example.com", sorted(ALL))
    signed_in = (await anonymous.ok("""mutation { login(input: {email: "signed-out@example.com",
      password: "correct horse battery"}) { token } }"""))["login"]["token"]
    revoked = anonymous.as_(signed_in)  # a session of a user holding every permission, then signed out
    assert (await revoked.ok("mutation { logout { ok } }"))["logout"]["ok"] is True
    walk = await Walk().start()
    for name, cases in GUARDS.items():
        if not cases:
            continue  # public
        for api, who in ((anonymous, "no token"), (revoked, "revoked token")):
            result = await walk.call(api, name, cases[0], world.visible)
            codes = [e.get("extensions", {}).get("code") for e in result.errors]
            if result.data is not None or codes != ["UNAUTHENTICATED"]:
                walk.fail(f"{name} ({who}): {result}")
    assert walk.failures == [], "\n".join(walk.failures)


async def test_without_the_permission_every_mutation_is_refused_and_writes_nothing(world: World, client) -> None:
    apis: dict[frozenset[Permission], Api] = {}
    for cases in GUARDS.values():
        for case in cases:
            for permissions in lacking(case.permission):
                if permissions not in apis:
                    _, token = await make_token(f"lacks-{len(apis)}@example.com", sorted(permissions))
                    apis[permissions] = Api(client, token)
    walk = await Walk().start()
    for name, cases in GUARDS.items():
        for case in cases:
            for permissions in lacking(case.permission):
                result = await walk.call(apis[permissions], name, case, world.visible)
                payload = (result.data or {}).get(name)
                if result.errors or payload is None or not refused(case, payload):
                    walk.fail(f"{name} ({case.permission} missing, holding {sorted(permissions)}): {result}")
    assert walk.failures == [], "\n".join(walk.failures)


def takes_a_hidden_record(case: Case, world: World) -> bool:
    """The input names a record of an account (it differs between the open and the restricted account), and
    the permission can be held without seeing every account (admins see restricted accounts)."""
    return (case.input is not None and case.permission not in (None, ADMIN)
            and case.input(world.visible) != case.input(world.hidden))


async def test_a_hidden_record_is_not_found_exactly_like_an_absent_one(world: World, client, admin: Api) -> None:
    _, token = await make_token("sees-no-restricted@example.com", sorted(ALL - {ADMIN}))
    viewer = Api(client, token)
    # The ids are real: the viewer sees the open account's records, an admin the restricted one's, and the
    # viewer not those.
    nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    for api, owned, seen in ((viewer, world.visible.owned, True), (admin, world.hidden.owned, True),
                             (viewer, world.hidden.owned, False)):
        ids = list(vars(owned).values())
        assert (await api.ok(nodes, {"ids": ids}))["nodes"] == ([{"id": i} for i in ids] if seen else
                                                                [None] * len(ids))
    walk = await Walk().start()
    named: set[str] = set()  # the kinds of account record the walk has named
    for name, cases in GUARDS.items():
        for case in (c for c in cases if takes_a_hidden_record(c, world)):
            named |= {kind for kind, gid in vars(world.hidden.owned).items() if gid in str(case.input(world.hidden))}
            hidden = await walk.call(viewer, name, case, world.hidden)
            absent = await walk.call(viewer, name, case, world.absent)
            payload = (hidden.data or {}).get(name) or {"errors": []}
            if hidden != absent or [e["code"] for e in payload["errors"]] != ["NOT_FOUND"]:
                walk.fail(f"{name} ({case.permission}): hidden {hidden} vs absent {absent}")
    assert walk.failures == [], "\n".join(walk.failures)
    assert named == set(vars(world.hidden.owned)), "a kind of account record no mutation was tried on"


TESTS = Path(__file__).parent


def test_every_mutation_is_performed_by_a_behavioural_test() -> None:
    """Each mutation's name appears in a test module besides this walk (where its behaviour is tested)."""
    sources = "\n".join(p.read_text() for p in sorted(TESTS.rglob("test_*.py")) if p != Path(__file__))
    assert [name for name in MUTATIONS if not re.search(rf"\b{name}\b", sources)] == []

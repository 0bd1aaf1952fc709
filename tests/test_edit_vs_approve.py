"""An edit of a billing and its approval, sent at the same moment, serialize: the edit locks the billing and checks
it again in its transaction, so an approved billing never changes and an approval never misses an edit."""

import asyncio

import pytest
from strawberry.relay import from_base64

import models
from tests.support import billing, builders
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")

ROUNDS = 30
BILLING = """query($id: ID!) { periodicBilling(id: $id) { billingStatus version periodicBillingAmount
  details { id kind } } }"""
EDIT_LINE = """mutation($id: ID!, $amount: Decimal!) { updateBillingDetail(input: {id: $id, billingAmount: $amount}) {
  periodicBilling { version periodicBillingAmount } errors { code } } }"""
ADD_MISC = """mutation($id: ID!, $amount: Decimal!, $revenue: ID!) { addMiscCharge(input: {billingId: $id,
  description: "Extra", amount: $amount, revenueAccountId: $revenue}) {
  periodicBilling { version periodicBillingAmount } errors { code } } }"""
COMMENT = """mutation($id: ID!, $text: String!) { updatePeriodicBilling(input: {id: $id, externalComment: $text}) {
  periodicBilling { version periodicBillingAmount } errors { code } } }"""
STATUS = """mutation($id: ID!, $status: BillingStatus!, $version: Int) { updateBillingStatus(input: {billingId: $id,
  status: $status, expectedVersion: $version}) { periodicBilling { billingStatus version periodicBillingAmount }
  errors { code } } }"""
EDITS = ("EDIT", "RECALCULATE", "ADD_MISC", "REMOVE_MISC")


def _payload(data: dict) -> dict:
    [payload] = data.values()
    return payload


async def test_edits_and_approvals_of_one_billing_serialize(admin: Api) -> None:
    accounts = await billing.books(admin)
    account = await builders.account(admin, "RACE-1")  # TX-AUSTIN: every edit recalculates a tax line
    await builders.charge(admin, await builders.contract(admin, account, "SC-RACE", start="2026-05-01"), "30.00",
                          accounts["revenue"])
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    [row] = await billing.billings(admin, batch)
    gid, billing_id = row["id"], int(from_base64(row["id"])[1])
    start = (await admin.ok(BILLING, {"id": gid}))["periodicBilling"]
    line = next(d["id"] for d in start["details"] if d["kind"] == "RECURRING")
    version, approved_amounts = start["version"], []
    for n in range(ROUNDS):
        edit = admin(*((EDIT_LINE, {"id": line, "amount": f"{31 + n}.00"}),
                       (ADD_MISC, {"id": gid, "amount": "1.00", "revenue": accounts["revenue"]}),
                       (COMMENT, {"id": gid, "text": f"round {n}"}))[n % 3])
        # Half the approvals name the version read before the round, half leave it to the server.
        approve = admin(STATUS, {"id": gid, "status": "APPROVED", "version": version if n % 2 else None})
        results = [_payload(r.data) for r in await asyncio.gather(edit, approve)]
        done = [r for r in results if r["errors"] == []]
        assert done, results  # one of the two always gets through
        for refused in (r for r in results if r["errors"]):
            assert refused["errors"][0]["code"] in ("INVALID_STATUS", "CONCURRENT_UPDATE"), refused
        # Every change bumps the version once: the ones that got through hold distinct, newer versions.
        seen = sorted(r["periodicBilling"]["version"] for r in done)
        assert seen == list(range(version + 1, version + 1 + len(done)))
        now = (await admin.ok(BILLING, {"id": gid}))["periodicBilling"]
        assert now["version"] == seen[-1]
        version = now["version"]
        if now["billingStatus"] == "APPROVED":
            approved = results[1]["periodicBilling"]
            assert approved["periodicBillingAmount"] == now["periodicBillingAmount"]  # nothing changed it since
            approved_amounts.append(now["periodicBillingAmount"])
            reset = _payload((await admin(STATUS, {"id": gid, "status": "NEW"})).data)
            assert reset["errors"] == [] and reset["periodicBilling"]["version"] == version + 1
            version += 1
    assert approved_amounts, "no round approved the billing"

    # The audit trail, in order: no edit while the billing is APPROVED, and each approval kept the amount the
    # billing had when it was approved.
    status, amount, amounts_at_approval = "NEW", row["periodicBillingAmount"], []
    for operation, field, after in await models.Audit.filter(billing_id=billing_id).order_by("id").values_list(
            "operation", "field", "after"):
        if operation == "DISPOSITION":
            status = after
            if after == "APPROVED":
                amounts_at_approval.append(amount)
        elif operation in EDITS:
            assert status != "APPROVED", f"{operation} of {field} after the billing was approved"
            if operation == "RECALCULATE":
                amount = after
    assert amounts_at_approval == approved_amounts

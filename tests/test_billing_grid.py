"""Detail maintenance (the grid): edits recalculate the billing, distributions sum to their line, all audited."""

import pytest

import models
from tests.support import billing, builders
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")

LINES = """query($id: ID!) { periodicBilling(id: $id) { periodicBillingAmount version externalComment
  invoiceDateOverride details { id kind billingAmount distributions { amount revenueAccount { code } } } } }"""
EDIT = """mutation($input: UpdateBillingDetailInput!) { updateBillingDetail(input: $input) {
  billingDetail { billingAmount } periodicBilling { periodicBillingAmount } errors { code field message } } }"""


async def _billing(admin: Api) -> tuple[dict, str]:
    accounts = await billing.books(admin)
    accounts["other"] = await builders.revenue_account(admin, "4100")
    account = await builders.account(admin, "GR-1")  # TX-AUSTIN, 8.25 %
    await builders.charge(admin, await builders.contract(admin, account, "SC-GR", start="2026-05-01"), "30.00",
                          accounts["revenue"])
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    [row] = await billing.billings(admin, batch)
    return accounts, row["id"]


async def test_editing_a_line_recalculates_tax_and_amount(admin: Api) -> None:
    _accounts, gid = await _billing(admin)
    lines = (await admin.ok(LINES, {"id": gid}))["periodicBilling"]
    assert lines["periodicBillingAmount"] == "32.48"
    recurring = lines["details"][0]["id"]
    payload = await admin.mutate("updateBillingDetail", EDIT, {"input": {"id": recurring, "billingAmount": "40.00"}})
    assert payload["periodicBilling"]["periodicBillingAmount"] == "43.30"  # 40.00 + 3.30 tax
    after = (await admin.ok(LINES, {"id": gid}))["periodicBilling"]
    assert [d["billingAmount"] for d in after["details"]] == ["40.00", "3.30"]
    assert after["details"][0]["distributions"] == [{"amount": "40.00", "revenueAccount": {"code": "4000"}}]
    assert after["version"] > lines["version"]
    trail = await models.Audit.filter(operation__in=["EDIT", "RECALCULATE"]).values_list("entity", "field", "before",
                                                                                        "after")
    assert ("BillingDetail", "amount", "30.00", "40.00") in trail
    assert ("PeriodicBilling", "amount", "32.48", "43.30") in trail
    assert await models.Event.filter(type="BILLING_EDITED").exists()


async def test_distributions_must_sum_to_their_line(admin: Api) -> None:
    accounts, gid = await _billing(admin)
    recurring = (await admin.ok(LINES, {"id": gid}))["periodicBilling"]["details"][0]["id"]
    split = {"id": recurring, "distributions": [{"revenueAccountId": accounts["revenue"], "amount": "20.00"},
                                                {"revenueAccountId": accounts["other"], "amount": "5.00"}]}
    refused = (await admin.ok(EDIT, {"input": split}))["updateBillingDetail"]["errors"]
    assert [(e["code"], e["field"]) for e in refused] == [("INVALID_INPUT", "distributions")]
    split["distributions"][1]["amount"] = "10.00"
    await admin.mutate("updateBillingDetail", EDIT, {"input": split})
    lines = (await admin.ok(LINES, {"id": gid}))["periodicBilling"]["details"]
    assert lines[0]["distributions"] == [{"amount": "20.00", "revenueAccount": {"code": "4000"}},
                                         {"amount": "10.00", "revenueAccount": {"code": "4100"}}]
    # a split line changes amount only with its new split
    refused = (await admin.ok(EDIT, {"input": {"id": recurring, "billingAmount": "33.00"}}))
    assert refused["updateBillingDetail"]["errors"][0]["field"] == "distributions"


async def test_misc_charges_comments_and_invoice_date_override(admin: Api) -> None:
    accounts, gid = await _billing(admin)
    added = await admin.mutate("addMiscCharge", """mutation($input: AddMiscChargeInput!) { addMiscCharge(input:
      $input) { billingDetail { id kind } periodicBilling { periodicBillingAmount } errors { code } } }""",
                               {"input": {"billingId": gid, "description": "Lock fee", "amount": "10.00",
                                          "revenueAccountId": accounts["other"]}})
    assert added["periodicBilling"]["periodicBillingAmount"] == "43.30"  # 30 + 10 + 3.30 tax
    kinds = [d["kind"] for d in (await admin.ok(LINES, {"id": gid}))["periodicBilling"]["details"]]
    assert kinds == ["RECURRING", "MISC", "TAX"]
    removed = await admin.mutate("removeMiscCharge", """mutation($id: ID!) { removeMiscCharge(input: {id: $id}) {
      deletedId periodicBilling { periodicBillingAmount } errors { code } } }""",
                                 {"id": added["billingDetail"]["id"]})
    assert removed["periodicBilling"]["periodicBillingAmount"] == "32.48"
    update = """mutation($input: UpdatePeriodicBillingInput!) { updatePeriodicBilling(input: $input) {
      periodicBilling { externalComment internalComment invoiceDateOverride } errors { code field } } }"""
    closed = (await admin.ok(update, {"input": {"id": gid, "invoiceDateOverride": "2026-09-15"}}))
    assert closed["updatePeriodicBilling"]["errors"] == [{"code": "PERIOD_CLOSED", "field": "invoiceDateOverride"}]
    done = await admin.mutate("updatePeriodicBilling", update, {"input": {
        "id": gid, "externalComment": "Thank you!", "internalComment": "Called on 5/2",
        "invoiceDateOverride": "2026-05-20"}})
    assert done["periodicBilling"] == {"externalComment": "Thank you!", "internalComment": "Called on 5/2",
                                       "invoiceDateOverride": "2026-05-20"}


async def test_approved_billings_are_no_longer_editable(admin: Api) -> None:
    _, gid = await _billing(admin)
    await admin.mutate("updateBillingStatus", """mutation($id: ID!) { updateBillingStatus(input: {billingId: $id,
      status: APPROVED}) { periodicBilling { billingStatus } errors { code } } }""", {"id": gid})
    recurring = (await admin.ok(LINES, {"id": gid}))["periodicBilling"]["details"][0]["id"]
    refused = (await admin.ok(EDIT, {"input": {"id": recurring, "billingAmount": "1.00"}}))
    assert refused["updateBillingDetail"]["errors"][0]["code"] == "INVALID_STATUS"
    assert (await admin.ok(LINES, {"id": gid}))["periodicBilling"]["periodicBillingAmount"] == "32.48"


async def test_a_line_keeps_a_revenue_account(admin: Api) -> None:
    """An explicit null revenue account is refused as data (it used to fail with an unexpected error)."""
    _, gid = await _billing(admin)
    recurring = (await admin.ok(LINES, {"id": gid}))["periodicBilling"]["details"][0]["id"]
    refused = (await admin.ok(EDIT, {"input": {"id": recurring, "revenueAccountId": None}}))["updateBillingDetail"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", "revenueAccountId")]
    lines = (await admin.ok(LINES, {"id": gid}))["periodicBilling"]["details"]
    assert lines[0]["distributions"] == [{"amount": "30.00", "revenueAccount": {"code": "4000"}}]

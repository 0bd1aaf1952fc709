"""A mass update the caller may not do at all is refused once, as one PERMISSION_DENIED in the payload's errors,
not once per billing in `refusals`; nothing changes."""

import pytest

import models
from tests.conftest import make_token
from tests.support import billing, builders
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")

MASS = """mutation($batch: ID!, $status: BillingStatus!) { massUpdateBillingStatus(input: {batchId: $batch,
  status: $status}) { changedCount refusedCount refusals { code } errors { code field } } }"""
REFUSED_ONCE = {"changedCount": 0, "refusedCount": 0, "refusals": [], "errors": [{"code": "PERMISSION_DENIED",
                                                                                  "field": None}]}


async def test_a_mass_update_without_the_permission_is_refused_once(admin: Api, client) -> None:
    accounts = await billing.books(admin)
    for n in range(3):
        account = await builders.account(admin, f"MP-{n}", taxLocation="ZERO")
        await builders.charge(admin, await builders.contract(admin, account, f"SC-MP{n}", start="2026-05-01"),
                              "10.00", accounts["revenue"])
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    _, clerk_token = await make_token("clerk2@example.com", ["BILLING_ACCESS"])
    _, outsider_token = await make_token("outsider@example.com", ["BILLING_APPROVE"])
    clerk, outsider = Api(client, clerk_token), Api(client, outsider_token)

    # APPROVED needs BILLING_APPROVE; any target needs BILLING_ACCESS.
    assert (await clerk.ok(MASS, {"batch": batch, "status": "APPROVED"}))["massUpdateBillingStatus"] == REFUSED_ONCE
    for status in ("APPROVED", "HOLD"):
        assert (await outsider.ok(MASS, {"batch": batch, "status": status}))["massUpdateBillingStatus"] == (
            REFUSED_ONCE)
    assert await models.PeriodicBilling.filter(status="NEW").count() == 3
    assert not await models.Audit.filter(operation="MASS_DISPOSITION").exists()

    # What the clerk may do goes through, billing by billing.
    held = (await clerk.ok(MASS, {"batch": batch, "status": "HOLD"}))["massUpdateBillingStatus"]
    assert held == {"changedCount": 3, "refusedCount": 0, "refusals": [], "errors": []}

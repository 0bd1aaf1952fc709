"""Billing details as CSV over HTTP: a whole batch parses back to exactly the details in the database."""

import csv
import io
from decimal import Decimal

import pytest
from strawberry.relay import from_base64, to_base64

import models
from tests.conftest import make_token
from tests.support import billing
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")


async def test_batch_csv_of_a_thousand_billings_parses_back_to_the_details(admin: Api, client) -> None:
    await billing.bulk_contracts(admin, 500)  # March, April and May: 1,500 billings, 1,500 lines
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    response = await client.get("/exports/billing-details.csv", params={"batchId": batch},
                                headers={"Authorization": f"Bearer {admin.token}"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    details = await models.BillingDetail.filter(billing__batch_id=int(from_base64(batch)[1])).order_by("id").values(
        "id", "billing_id", "kind", "amount", "days_billed", "billing__period_start", "revenue_account__code")
    assert len(rows) == len(details) >= 1000
    assert [(int(r["detail_id"]), int(r["billing_id"]), r["kind"], Decimal(r["billing_amount"]),
             int(r["days_billed"]), r["billing_starting_date"], r["revenue_account"]) for r in rows] == [
        (d["id"], d["billing_id"], d["kind"].value, d["amount"], d["days_billed"],
         d["billing__period_start"].isoformat(), d["revenue_account__code"]) for d in details]
    assert rows[0]["distributions"] == "4000:25.00" and "billing starting date" in rows[0]["why"]


async def test_csv_needs_a_token_and_a_visible_record(client, admin: Api) -> None:
    assert (await client.get("/exports/billing-details.csv", params={"batchId": "x"})).status_code == 401
    missing = await client.get("/exports/billing-details.csv", params={"billingId": to_base64("PeriodicBilling", 1)},
                               headers={"Authorization": f"Bearer {admin.token}"})
    assert missing.status_code == 404 and missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    _, token = await make_token("nobilling@example.com", [])
    refused = await client.get("/exports/billing-details.csv", params={"batchId": to_base64("BillingBatch", 1)},
                               headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 404


async def test_one_billing_as_csv(admin: Api, client) -> None:
    accounts = await billing.books(admin)
    await billing.vector_contract(admin, accounts)
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    may = (await billing.billings(admin, batch))[-1]
    response = await client.get("/exports/billing-details.csv", params={"billingId": may["id"]},
                                headers={"Authorization": f"Bearer {admin.token}"})
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["description"], r["billing_amount"], r["price_source"]) for r in rows] == [
        ("A", "50.00", "DATED_PRICE"), ("B", "400.00", "DATED_PRICE")]

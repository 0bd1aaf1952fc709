"""Money by currency over the API: a yen account bills whole yen from processing to the posted invoice, inputs are
checked against the account's currency, and a currency storage cannot hold exactly is refused where it enters."""

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from domain.currencies import MINOR_UNITS, currency_problem, is_currency, minor_unit
from domain.invoice_pdf import format_money
from domain.money import is_money, to_money
from tests.support import billing, builders, posting
from tests.support.api import Api
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.usefixtures("worker")

D = Decimal
LINES = """query($id: ID!) { periodicBilling(id: $id) { periodicBillingAmount
  details { id kind billingAmount daysBilled daysInPeriod """ + billing.TRACE + """ } } }"""
EDIT = """mutation($input: UpdateBillingDetailInput!) { updateBillingDetail(input: $input) {
  billingDetail { billingAmount } errors { code field message } } }"""
MISC = """mutation($input: AddMiscChargeInput!) { addMiscCharge(input: $input) {
  billingDetail { billingAmount } errors { code field message } } }"""
UPDATE_ACCOUNT = """mutation($input: UpdateAccountInput!) { updateAccount(input: $input) {
  account { currency } errors { code field message } } }"""


def whole(amount: str) -> bool:
    return D(amount) == D(amount).to_integral_value()


async def _yen_customer(admin: Api, accounts: dict[str, str], number: str = "YEN-1") -> tuple[str, str, str]:
    """A JPY account on the 8.25 % location, a monthly contract from 2026-05-16 anchored on the 1st, 10,000 yen a
    month. Returns (account, contract, charge)."""
    account = await builders.account(admin, number, currency="JPY")
    contract = await builders.contract(admin, account, f"SC-{number}", start="2026-05-16", billingAnchor="2026-05-01")
    charge = await builders.charge(admin, contract, "10000", accounts["revenue"])
    return account, contract, charge


async def test_a_yen_account_bills_whole_yen_through_processing_and_its_invoice(admin: Api,
                                                                               smtp_server: Mailbox) -> None:
    accounts = await posting.company(admin)
    await _yen_customer(admin, accounts)
    batch = await posting.processed(admin, "Yen run", currency="JPY", asOfDate="2026-05-16")
    [row] = await billing.billings(admin, batch)
    recurring, tax = row["details"]
    # 10,000 * 16/31 = 5,161.29 → 5,161 yen; tax 5,161 * 0.0825 = 425.78 → 426 yen; total 5,587 yen.
    assert (recurring["kind"], recurring["daysBilled"], recurring["daysInPeriod"]) == ("RECURRING", 16, 31)
    assert D(recurring["billingAmount"]) == D("5161") and whole(recurring["billingAmount"])
    assert tax["kind"] == "TAX" and D(tax["billingAmount"]) == D("426")
    assert D(row["periodicBillingAmount"]) == D("5587")
    assert recurring["trace"]["formula"] == "10000 \u00d7 1 \u00d7 16/31 = 5161"
    assert all(whole(d["amount"]) for line in row["details"] for d in line["distributions"])

    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "SEND")
    [invoice] = (await admin.ok(posting.INVOICES, {"id": batch}))["billingBatch"]["invoices"]["nodes"]
    assert invoice["currency"] == "JPY"
    assert (D(invoice["amount"]), D(invoice["taxAmount"])) == (D("5587"), D("426"))
    assert all(whole(line["debit"]) and whole(line["credit"]) for line in invoice["journalEntry"]["lines"])
    [message] = smtp_server.to("yen-1@example.com")
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Total: 5,587 JPY" in body and "2026-05-16 to 2026-05-31" in body
    [attachment] = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(attachment.get_content())).pages)
    assert "5,161 JPY" in text and "426 JPY" in text and "5,587 JPY" in text and ".00 JPY" not in text
    assert "Billing period: 2026-05-16 to 2026-05-31" in text


async def test_a_yen_price_with_decimals_is_refused_naming_the_field_and_the_decimals(admin: Api) -> None:
    accounts = await billing.books(admin)
    account, contract, charge = await _yen_customer(admin, accounts)
    decimals = "JPY amounts have no decimals"
    attempts = {
        ("createRecurringCharge", "periodicPrice"): (builders.CREATE_CHARGE, {"input": {
            "contractId": contract, "description": "Extra", "periodicPrice": "100.50"}}),
        ("updateRecurringCharge", "periodicPrice"): ("""mutation($input: UpdateRecurringChargeInput!) {
            updateRecurringCharge(input: $input) { errors { code field message } } }""",
                                                    {"input": {"id": charge, "periodicPrice": "100.50"}}),
        ("createDatedPrice", "periodicPrice"): (builders.CREATE_DATED_PRICE, {"input": {
            "chargeId": charge, "firstEffectiveDate": "2026-07-01", "lastEffectiveDate": None,
            "periodicPrice": "9000.5"}}),
        ("createManualCharge", "amount"): ("""mutation($input: CreateManualChargeInput!) {
            createManualCharge(input: $input) { errors { code field message } } }""", {"input": {
            "accountId": account, "description": "Setup", "chargeDate": "2026-05-02", "amount": "1500.25"}}),
        ("createWorkOrder", "rate"): ("""mutation($input: CreateWorkOrderInput!) {
            createWorkOrder(input: $input) { errors { code field message } } }""", {"input": {
            "accountId": account, "description": "Repair", "performedOn": "2026-05-02", "rate": "99.9"}}),
        ("createServiceChange", "newPrice"): ("""mutation($input: CreateServiceChangeInput!) {
            createServiceChange(input: $input) { errors { code field message } } }""", {"input": {
            "chargeId": charge, "effectiveDate": "2026-06-10", "newPrice": "12000.01"}}),
        ("createInvoiceAdjustment", "amount"): ("""mutation($input: CreateInvoiceAdjustmentInput!) {
            createInvoiceAdjustment(input: $input) { errors { code field message } } }""", {"input": {
            "accountId": account, "kind": "CREDIT", "description": "Goodwill", "amount": "0.5"}}),
    }
    for (name, field), (query, variables) in attempts.items():
        [error] = (await admin.ok(query, variables))[name]["errors"]
        assert (error["code"], error["field"]) == ("INVALID_INPUT", field), name
        assert field in error["message"] and decimals in error["message"], error["message"]
    # Whole yen is fine, and so are corrections of what exists, as long as they stay whole.
    dated = (await admin.mutate("createDatedPrice", builders.CREATE_DATED_PRICE, {"input": {
        "chargeId": charge, "firstEffectiveDate": "2026-07-01", "lastEffectiveDate": None,
        "periodicPrice": "9000"}}))["datedPrice"]["id"]
    manual = (await admin.mutate("createManualCharge", """mutation($input: CreateManualChargeInput!) {
        createManualCharge(input: $input) { manualCharge { id } errors { code field message } } }""", {"input": {
        "accountId": account, "description": "Setup", "chargeDate": "2026-05-02", "amount": "1500"}}))[
        "manualCharge"]["id"]
    change = (await admin.mutate("createServiceChange", """mutation($input: CreateServiceChangeInput!) {
        createServiceChange(input: $input) { serviceChange { id } errors { code field message } } }""", {"input": {
        "chargeId": charge, "effectiveDate": "2026-06-10", "newPrice": "12000"}}))["serviceChange"]["id"]
    corrections = {
        ("updateDatedPrice", "periodicPrice"): ("""mutation($input: UpdateDatedPriceInput!) {
            updateDatedPrice(input: $input) { errors { code field message } } }""",
                                                {"input": {"id": dated, "periodicPrice": "9000.10"}}),
        ("updateManualCharge", "amount"): ("""mutation($input: UpdateManualChargeInput!) {
            updateManualCharge(input: $input) { errors { code field message } } }""",
                                           {"input": {"id": manual, "amount": "1500.5"}}),
        ("updateServiceChange", "newPrice"): ("""mutation($input: UpdateServiceChangeInput!) {
            updateServiceChange(input: $input) { errors { code field message } } }""",
                                              {"input": {"id": change, "newPrice": "0.99"}}),
    }
    for (name, field), (query, variables) in corrections.items():
        [error] = (await admin.ok(query, variables))[name]["errors"]
        assert (error["code"], error["field"]) == ("INVALID_INPUT", field), name
        assert decimals in error["message"], error["message"]
    dollars = await builders.contract(admin, await builders.account(admin, "USD-1"), "SC-USD-1")
    await builders.charge(admin, dollars, "100.50", accounts["revenue"])


async def test_yen_billing_edits_are_checked_and_the_tax_recalculated_in_whole_yen(admin: Api) -> None:
    accounts = await billing.books(admin)
    await _yen_customer(admin, accounts)
    batch = await billing.batch(admin, "Yen run", currency="JPY", asOfDate="2026-05-16")
    await billing.process(admin, batch)
    [row] = await billing.billings(admin, batch)
    recurring = (await admin.ok(LINES, {"id": row["id"]}))["periodicBilling"]["details"][0]["id"]
    refused = (await admin.ok(EDIT, {"input": {"id": recurring, "billingAmount": "5000.50"}}))["updateBillingDetail"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", "billingAmount")]
    assert "JPY amounts have no decimals" in refused["errors"][0]["message"]
    split = {"id": recurring, "distributions": [{"revenueAccountId": accounts["revenue"], "amount": "5160.5"},
                                                {"revenueAccountId": accounts["revenue"], "amount": "0.5"}]}
    refused = (await admin.ok(EDIT, {"input": split}))["updateBillingDetail"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", "distributions")]
    misc = {"billingId": row["id"], "description": "Courier", "amount": "100.5",
            "revenueAccountId": accounts["revenue"]}
    refused = (await admin.ok(MISC, {"input": misc}))["addMiscCharge"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", "amount")]

    await admin.mutate("updateBillingDetail", EDIT, {"input": {"id": recurring, "billingAmount": "5001"}})
    lines = (await admin.ok(LINES, {"id": row["id"]}))["periodicBilling"]
    assert [D(d["billingAmount"]) for d in lines["details"]] == [D("5001"), D("413")]  # 412.58 → 413
    assert D(lines["periodicBillingAmount"]) == D("5414")
    assert lines["details"][1]["trace"]["formula"].endswith("= 413")


async def test_a_currency_storage_cannot_hold_is_refused_for_accounts_and_batches(admin: Api) -> None:
    await billing.books(admin)
    for code, why in (("BHD", "stored with 2 decimals"), ("KWD", "stored with 2 decimals"),
                      ("XAU", "not an ISO 4217 currency in circulation"),
                      ("BGN", "not an ISO 4217 currency in circulation"), ("usd", "not an ISO 4217")):
        payload = (await admin.ok(builders.CREATE_ACCOUNT, {"input": {
            "number": f"C-{code}", "name": "x", "billGroup": "G1", "division": "D1", "taxLocation": "ZERO",
            "billingEmail": "x@example.com", "currency": code}}))["createAccount"]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_CURRENCY", "currency")], code
        assert why in payload["errors"][0]["message"], payload["errors"]
    dollars = await builders.account(admin, "USD-2")
    payload = (await admin.ok(UPDATE_ACCOUNT, {"input": {"id": dollars, "currency": "BHD"}}))["updateAccount"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_CURRENCY", "currency")]
    assert "BHD amounts have 3 decimals" in payload["errors"][0]["message"]
    payload = (await admin.ok(billing.CREATE_BATCH, {"input": {"name": "Dinar run", "invoiceDate": "2026-05-01",
                                                               "currency": "BHD"}}))["createBillingBatch"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_CURRENCY", "currency")]
    assert "cannot be billed exactly" in payload["errors"][0]["message"]
    await billing.batch(admin, "Yen run", currency="JPY")  # a whole-unit currency is fine


async def test_an_account_moves_to_a_currency_only_when_its_prices_fit(admin: Api) -> None:
    accounts = await billing.books(admin)
    account = await builders.account(admin, "MOVES")
    charge = await builders.charge(admin, await builders.contract(admin, account, "SC-MOVES"), "100.50",
                                   accounts["revenue"])
    payload = (await admin.ok(UPDATE_ACCOUNT, {"input": {"id": account, "currency": "JPY"}}))["updateAccount"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_CURRENCY", "currency")]
    assert "100.50" in payload["errors"][0]["message"] and "JPY amounts have no decimals" in payload["errors"][0][
        "message"]
    await admin.mutate("updateRecurringCharge", """mutation($input: UpdateRecurringChargeInput!) {
      updateRecurringCharge(input: $input) { errors { code field message } } }""",
                       {"input": {"id": charge, "periodicPrice": "100"}})
    payload = await admin.mutate("updateAccount", UPDATE_ACCOUNT, {"input": {"id": account, "currency": "JPY"}})
    assert payload["account"]["currency"] == "JPY"


def test_minor_units_come_from_iso_4217() -> None:
    assert (minor_unit("USD"), minor_unit("JPY"), minor_unit("BHD"), minor_unit("EUR")) == (2, 0, 3, 2)
    assert is_currency("XCG") and not is_currency("ANG")  # the Caribbean guilder replaced the Antillean one
    assert not any(is_currency(fund) for fund in ("BOV", "CLF", "USN", "XAU", "XDR", "XXX", "XTS"))
    assert len(MINOR_UNITS) > 150
    assert currency_problem("JPY") is None and currency_problem("KWD") is not None
    assert (to_money(D("1234.5"), "JPY"), to_money(D("12.345"), "USD"), to_money(D("-0.5"), "JPY")) == (
        D("1235"), D("12.35"), D("-1"))
    assert is_money(D("100"), "JPY") and not is_money(D("100.50"), "JPY") and is_money(D("100.50"), "USD")
    assert not is_money(D("NaN"), "USD") and not is_money(D("1E+13"), "JPY")


def test_invoice_money_prints_the_currency_s_decimals() -> None:
    assert format_money(D("1234.5"), "USD") == "1,234.50 USD"
    assert format_money(D("123457.00"), "JPY") == "123,457 JPY"
    assert format_money(D("12.30"), "ZZZ") == "12.30 ZZZ"  # a code no longer in circulation prints as stored

"""Credit notes on the embedded default (SQLite, the in-process worker): a line of a posted invoice credited
through the API — numbered, journaled and balanced, the invoice's balance reduced, its PDF downloadable."""

import io

import httpx
from pypdf import PdfReader

from tests.support import posting
from tests.support.api import Api

CREATE = """mutation($input: CreateCreditNoteInput!) { createCreditNote(input: $input) {
  creditNote { id number status amount taxAmount lines { amount kind } } errors { code field message } } }"""
ISSUE = """mutation($id: ID!) { issueCreditNote(input: {id: $id}) {
  creditNote { id number status amount creditAmount refundAmount downloadUrl
    journalEntry { lines { debit credit ledgerAccount { code } } } }
  errors { code field message } } }"""
INVOICE = """query($id: ID!) { invoice(id: $id) { id number amount amountCredited balance
  billing { details { id kind } } creditNotes { number status }
  account { creditBalance } } }"""
NOTE = """query($id: ID!) { creditNote(id: $id) { number status audits { operation field after } } }"""


async def test_crediting_a_line_of_a_posted_invoice_on_sqlite(admin: Api, client: httpx.AsyncClient) -> None:
    from workers.embedded import in_process_worker

    accounts = await posting.company(admin)
    await posting.customer(admin, accounts, "TAXED", "100.00")
    async with in_process_worker():
        batch = await posting.processed(admin)
        await posting.approve_all(admin, batch)
        await posting.post(admin, batch, "EXPORT")
        [node] = (await admin.ok(posting.INVOICES, {"id": batch}))["billingBatch"]["invoices"]["nodes"]
        invoice = (await admin.ok(INVOICE, {"id": node["id"]}))["invoice"]
        assert (invoice["amount"], invoice["balance"]) == ("108.25", "108.25")
        line = next(d for d in invoice["billing"]["details"] if d["kind"] == "RECURRING")

        over = await admin(CREATE, {"input": {"invoiceId": invoice["id"], "reason": "OTHER", "creditDate": "2026-05-20",
                                              "lines": [{"invoiceLineId": line["id"], "amount": "100.01"}]}})
        assert [e["code"] for e in over.data["createCreditNote"]["errors"]] == ["CREDIT_EXCEEDS_OPEN_AMOUNT"]
        draft = (await admin.mutate("createCreditNote", CREATE, {"input": {
            "invoiceId": invoice["id"], "reason": "PRODUCT_UNSATISFACTORY", "creditDate": "2026-05-20",
            "description": "Outage on the 3rd", "lines": [{"invoiceLineId": line["id"], "amount": "30.00"}]}}))[
            "creditNote"]
        assert (draft["status"], draft["number"], draft["amount"], draft["lines"]) == (
            "DRAFT", None, "30.00", [{"amount": "30.00", "kind": "RECURRING"}])
        issued = (await admin.mutate("issueCreditNote", ISSUE, {"id": draft["id"]}))["creditNote"]
        await posting.follow_ups_done(admin, batch)

    assert (issued["number"], issued["status"], issued["creditAmount"], issued["refundAmount"]) == (
        "CN-00000001", "ISSUED", "0.00", "0.00")
    assert sorted((ln["ledgerAccount"]["code"], ln["debit"], ln["credit"]) for ln in issued["journalEntry"][
        "lines"]) == [("1200", "0.00", "30.00"), ("4000", "30.00", "0.00")]
    after = (await admin.ok(INVOICE, {"id": invoice["id"]}))["invoice"]
    assert (after["amountCredited"], after["balance"]) == ("30.00", "78.25")
    assert after["creditNotes"] == [{"number": "CN-00000001", "status": "ISSUED"}]
    books = (await admin.ok("{ trialBalance { balanced totalDebit totalCredit } }"))["trialBalance"]
    assert books["balanced"] and books["totalDebit"] == books["totalCredit"]
    audits = (await admin.ok(NOTE, {"id": draft["id"]}))["creditNote"]["audits"]
    assert {(a["operation"], a["field"], a["after"]) for a in audits} >= {
        ("CREATE", "status", "DRAFT"), ("ISSUE", "status", "ISSUED"), ("ISSUE", "number", "CN-00000001")}

    pdf = await client.get(issued["downloadUrl"], headers={"Authorization": f"Bearer {admin.token}"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "CN-00000001" in text and f"Credits invoice {invoice['number']}" in text and "30.00" in text
    assert (await client.get(issued["downloadUrl"])).status_code in (401, 404)  # no token, no document

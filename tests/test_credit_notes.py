"""Credit notes through the API with real workers (docs/CREDIT_NOTES.md): numbering, the mirror journal entry,
balances, account credit and refunds exactly once, the PDF, the export, hidden invoices, drafts, and the whole
correction "credit, reject, re-run"."""

import asyncio
import csv
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader
from strawberry.relay import to_base64

import models
from domain import credit_notes, jobs
from tests.conftest import make_token
from tests.support import billing, builders, posting
from tests.support.api import Api
from tests.support.mailbox import Mailbox
from tests.support.queries import count_queries

pytestmark = pytest.mark.usefixtures("worker")

CREATE = """mutation($input: CreateCreditNoteInput!) { createCreditNote(input: $input) {
  creditNote { id number status amount taxAmount creditAmount refundAmount lines { amount kind } }
  errors { code field message } } }"""
ISSUE = """mutation($id: ID!) { issueCreditNote(input: {id: $id}) {
  creditNote { id number status amount creditAmount refundAmount creditStatus refundStatus downloadUrl
    journalEntry { lines { debit credit memo ledgerAccount { code } } } }
  errors { code field message } } }"""
VOID = """mutation($id: ID!) { voidCreditNote(input: {id: $id}) { creditNote { id status creditStatus }
  errors { code field message } } }"""
NOTE = """query($id: ID!) { creditNote(id: $id) { id number status refundStatus creditStatus creditRemaining
  refundError deliveries { status } audits { operation field before after } account { creditBalance }
  invoice { number balance amountCredited } } }"""
INVOICE = """query($id: ID!) { invoice(id: $id) { id number amount amountPaid amountCredited creditApplied balance
  status billing { id details { id kind billingAmount } } creditNotes { number status }
  account { creditBalance } } }"""
BOOKS = """{ trialBalance { totalDebit totalCredit balanced rows { balance ledgerAccount { code } } } }"""
STATUS = """mutation($id: ID!, $status: BillingStatus!) { updateBillingStatus(input: {billingId: $id, status: $status})
  { periodicBilling { id billingStatus allowedTransitions } errors { code field message } } }"""


async def _invoices(api: Api, batch: str) -> dict[str, dict]:
    """Invoices of the batch by account number, once no payment is unsettled."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        nodes = (await api.ok(posting.INVOICES, {"id": batch}))["billingBatch"]["invoices"]["nodes"]
        if all(p["status"] not in ("PENDING", "UNKNOWN") for n in nodes for p in n["payments"]):
            found = {n["account"]["number"]: n for n in nodes}
            return {k: (await api.ok(INVOICE, {"id": v["id"]}))["invoice"] | {"journal": v} for k, v in found.items()}
        assert asyncio.get_running_loop().time() < deadline, nodes
        await asyncio.sleep(0.1)


def _line(invoice: dict, kind: str = "RECURRING") -> dict:
    return next(d for d in invoice["billing"]["details"] if d["kind"] == kind)


async def _draft(api: Api, invoice: dict, lines: list[tuple[dict, str | None]] | None = None, **fields: object) -> dict:
    data: dict = {"invoiceId": invoice["id"], "reason": "PRODUCT_UNSATISFACTORY", "creditDate": "2026-05-20",
                  "description": "Service outage on the 3rd", **fields}
    if lines is None:
        data["wholeInvoice"] = True
    else:
        data["lines"] = [{"invoiceLineId": d["id"], "amount": a} for d, a in lines]
    return (await api.mutate("createCreditNote", CREATE, {"input": data}))["creditNote"]


async def _settled_notes(api: Api) -> list[dict]:
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        found = (await api.ok("""{ creditNotes(filter: {status: [ISSUED]}) { totalCount nodes { id number
          refundStatus deliveries { status } } } }"""))["creditNotes"]["nodes"]
        if all(n["refundStatus"] not in ("PENDING", "UNKNOWN") and n["deliveries"]
               and all(d["status"] != "SENDING" for d in n["deliveries"]) for n in found):
            return found
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.1)


async def _receivables_match_open_balances(api: Api) -> None:
    """Receivables equal the open invoice balances, less the customers' money not yet given back (account
    credit available, refunds not made)."""
    books = (await api.ok(BOOKS))["trialBalance"]
    assert books["balanced"] and books["totalDebit"] == books["totalCredit"]
    receivable = next(Decimal(r["balance"]) for r in books["rows"] if r["ledgerAccount"]["code"] == "1200")
    invoices = await models.Invoice.all()
    notes = await models.CreditNote.filter(status="ISSUED")
    owed_back = sum((n.credit_remaining for n in notes if n.credit_status == "AVAILABLE"), Decimal("0.00")) + sum(
        (n.refund_amount for n in notes if n.refund_status not in (None, "SUCCEEDED")), Decimal("0.00"))
    assert receivable == sum((credit_notes.balance(i) for i in invoices), Decimal("0.00")) - owed_back


async def test_crediting_a_paid_auto_pay_invoice(admin: Api, client, smtp_server: Mailbox) -> None:
    accounts = await posting.company(admin)
    await posting.customer(admin, accounts, "TAXED", "100.00", autopayEnabled=True, paymentMethodToken="tok_ok")
    await posting.customer(admin, accounts, "PLAIN", "50.00", taxLocation="ZERO", autopayEnabled=True,
                           paymentMethodToken="tok_ok")
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "SEND")
    invoices = await _invoices(admin, batch)
    taxed, plain = invoices["TAXED"], invoices["PLAIN"]
    assert taxed["status"] == "PAID" and taxed["amount"] == "108.25" and taxed["balance"] == "0.00"

    # Over-credit is refused with a code, and writes nothing.
    over = await admin(CREATE, {"input": {"invoiceId": taxed["id"], "reason": "OTHER", "creditDate": "2026-05-20",
                                          "lines": [{"invoiceLineId": _line(taxed)["id"], "amount": "100.01"}]}})
    assert [e["code"] for e in over.data["createCreditNote"]["errors"]] == ["CREDIT_EXCEEDS_OPEN_AMOUNT"]
    bad_refund = await admin(CREATE, {"input": {"invoiceId": plain["id"], "reason": "OTHER", "wholeInvoice": True,
                                                "creditDate": "2026-05-20", "refundAmount": "50.01"}})
    assert [e["code"] for e in bad_refund.data["createCreditNote"]["errors"]] == ["INVALID_INPUT"]
    assert await models.CreditNote.all().count() == 0

    # Drafts: a refund of 30 of the recurring line, its tax as account credit, part of the other invoice, and
    # two drafts that each fit the other invoice's line alone but not together.
    refund = await _draft(admin, taxed, [(_line(taxed), "30.00")], refundAmount="30.00")
    tax = await _draft(admin, taxed, [(_line(taxed, "TAX"), "8.25")], reason="OTHER")
    part = await _draft(admin, plain, [(_line(plain), "10.00")])
    rival_a = await _draft(admin, plain, [(_line(plain), "25.00")])
    rival_b = await _draft(admin, plain, [(_line(plain), "25.00")])
    assert (refund["status"], refund["number"], refund["refundAmount"], refund["creditAmount"]) == (
        "DRAFT", None, "30.00", "0.00")
    assert tax["creditAmount"] == "8.25" and tax["taxAmount"] == "8.25"

    # Issued at once, concurrently: numbered gap-free, each rival checked against the other under the lock.
    issued = await asyncio.gather(*(admin(ISSUE, {"id": n["id"]}) for n in (refund, tax, part, rival_a, rival_b)))
    payloads = [r.data["issueCreditNote"] for r in issued]
    numbers = sorted(p["creditNote"]["number"] for p in payloads if p["creditNote"])
    assert numbers == [f"CN-0000000{n}" for n in range(1, 5)]
    refused = [p["errors"] for p in payloads if not p["creditNote"]]
    assert [[e["code"] for e in errors] for errors in refused] == [["CREDIT_EXCEEDS_OPEN_AMOUNT"]]

    first = payloads[0]["creditNote"]
    # The mirror of the invoice's entry for 30.00: Dr revenue, Cr receivables.
    assert sorted((ln["ledgerAccount"]["code"], ln["debit"], ln["credit"]) for ln in first["journalEntry"][
        "lines"]) == [("1200", "0.00", "30.00"), ("4000", "30.00", "0.00")]
    assert (first["refundStatus"], first["creditStatus"]) == ("PENDING", None)
    second = payloads[1]["creditNote"]
    assert sorted((ln["ledgerAccount"]["code"], ln["debit"], ln["credit"]) for ln in second["journalEntry"][
        "lines"]) == [("1200", "0.00", "8.25"), ("2200", "8.25", "0.00")]

    notes = await _settled_notes(admin)
    assert len(notes) == 4
    refunded = (await admin.ok(NOTE, {"id": refund["id"]}))["creditNote"]
    assert refunded["refundStatus"] == "SUCCEEDED" and refunded["invoice"]["amountCredited"] == "38.25"

    # The refund message delivered twice (and once more): refunded once, journaled once.
    note = await models.CreditNote.get(id=posting.db_id(refund["id"]))
    for _ in range(2):
        jobs.send_chunk(credit_notes.JOB, note.job_id, credit_notes.REFUND_CHUNK)
    await jobs.run_chunk(credit_notes.JOB, note.job_id, credit_notes.REFUND_CHUNK)  # and handled here, again
    await credit_notes.refund(note.id)
    deadline = asyncio.get_running_loop().time() + 2  # the worker handles the two redelivered messages meanwhile
    while asyncio.get_running_loop().time() < deadline:
        assert await models.SandboxCharge.filter(idempotency_key=note.refund_key).values_list("amount", "calls") == [
            (Decimal("-30.00"), 1)]
        assert await models.JournalEntry.filter(refund_of_id=note.id).count() == 1
        await asyncio.sleep(0.1)
    await posting.follow_ups_done(admin, batch)
    await _receivables_match_open_balances(admin)

    # The account credit of the tax line and of the other invoice waits for each account's next invoice.
    # (Which rival lost the race is up to the lock: the credit is what the two winners credited.)
    credit = sum((Decimal(p["creditNote"]["amount"]) for p in payloads[2:] if p["creditNote"]), Decimal("0.00"))
    assert credit in (Decimal("35.00"), Decimal("50.00"))
    account = (await admin.ok(INVOICE, {"id": plain["id"]}))["invoice"]
    assert account["account"]["creditBalance"] == str(credit) and account["balance"] == "0.00"
    assert sorted(n["number"] for n in account["creditNotes"] if n["number"]) == sorted(
        p["creditNote"]["number"] for p in payloads[2:] if p["creditNote"])

    # Sent like an invoice, and its PDF reads back.
    messages = [r.message for r in smtp_server.messages if "Credit note" in str(r.message["Subject"])]
    assert sorted(str(m["Subject"]).split()[2] for m in messages) == numbers
    pdf = await client.get(first["downloadUrl"], headers={"Authorization": f"Bearer {admin.token}"})
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert first["number"] in text and f"Credits invoice {taxed['number']}" in text and "30.00" in text
    assert "Service outage on the 3rd" in text

    # In the accounting export: its lines (negative) and its journal entry.
    export = (await admin.mutate("exportBillingBatch", posting.EXPORT, {"id": batch, "format": "INVOICES_CSV"}))[
        "export"]
    rows = list(csv.DictReader(io.StringIO((await client.get(export["downloadUrl"], headers={
        "Authorization": f"Bearer {admin.token}"})).text)))
    assert [(r["InvoiceNumber"], r["UnitAmount"]) for r in rows if r["InvoiceNumber"] == first["number"]] == [
        (first["number"], "-30.00")]
    journal = (await admin.mutate("exportBillingBatch", posting.EXPORT, {"id": batch, "format": "JOURNAL_CSV"}))[
        "export"]
    lines = (await client.get(journal["downloadUrl"], headers={"Authorization": f"Bearer {admin.token}"})).text
    assert f"Credit note {first['number']}" in lines and "Refund" not in lines

    # Events on the stream, one per credit note issued.
    events = (await admin.ok("""{ events(filter: {types: [CREDIT_NOTE_ISSUED, REFUND_SETTLED]}) { nodes {
      type payload { ... on CreditNoteChanged { number creditNote { id } } ... on RefundSettled { creditNoteNumber
      refundStatus } } } } }"""))["events"]["nodes"]
    assert sorted(e["type"] for e in events) == ["CREDIT_NOTE_ISSUED"] * 4 + ["REFUND_SETTLED"]
    assert sorted(e["payload"]["number"] for e in events if e["type"] == "CREDIT_NOTE_ISSUED") == numbers
    assert [e["payload"]["refundStatus"] for e in events if e["type"] == "REFUND_SETTLED"] == ["SUCCEEDED"]

    # The next invoice of the account is settled by its account credit, once.
    await admin.mutate("createAccountingPeriod", """mutation { createAccountingPeriod(input: {month: "2026-06-01"})
      { accountingPeriod { id } errors { code field message } } }""")
    june = await posting.processed(admin, "June run", invoiceDate="2026-06-01", asOfDate="2026-06-30")
    await posting.approve_all(admin, june)
    await posting.post(admin, june, "EXPORT")
    next_plain = (await _invoices(admin, june))["PLAIN"]
    assert (next_plain["creditApplied"], next_plain["amountPaid"], next_plain["balance"]) == (
        str(credit), str(Decimal("50.00") - credit), "0.00")
    assert next_plain["account"]["creditBalance"] == "0.00"
    assert await models.CreditNote.filter(credit_status="CONSUMED").count() == 3  # the tax line's credit too
    assert await models.JournalEntry.filter(credit_note_id__not_isnull=True, invoice_id=posting.db_id(
        next_plain["id"])).count() == 2
    await _receivables_match_open_balances(admin)


async def test_drafts_void_and_hidden_invoices(admin: Api, client) -> None:
    accounts = await posting.company(admin)
    account = await posting.customer(admin, accounts, "SECRET", "40.00", taxLocation="ZERO")
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "EXPORT")
    invoice = (await _invoices(admin, batch))["SECRET"]
    draft = await _draft(admin, invoice, [(_line(invoice), "10.00")])
    voided = (await admin.mutate("voidCreditNote", VOID, {"id": draft["id"]}))["creditNote"]
    assert voided["status"] == "VOIDED"
    again = await admin(ISSUE, {"id": draft["id"]})
    assert [e["code"] for e in again.data["issueCreditNote"]["errors"]] == ["INVALID_STATUS"]
    kept = await _draft(admin, invoice, [(_line(invoice), "10.00")])
    issued = (await admin.mutate("issueCreditNote", ISSUE, {"id": kept["id"]}))["creditNote"]
    assert issued["number"] == "CN-00000001" and issued["creditStatus"] is None  # unpaid: the balance went down
    late = await admin(VOID, {"id": kept["id"]})
    assert [e["code"] for e in late.data["voidCreditNote"]["errors"]] == ["INVALID_STATUS"]
    assert (await admin.ok(INVOICE, {"id": invoice["id"]}))["invoice"]["balance"] == "30.00"

    # Restricted to nobody: for a user with every permission but ADMIN it reads exactly like an absent one.
    await admin.mutate("restrictAccount", """mutation($id: ID!) { restrictAccount(input: {accountId: $id,
      restricted: true, userIds: []}) { account { id } errors { code field message } } }""", {"id": account})
    _, token = await make_token("outsider@example.com", ["BILLING_ACCESS", "BILLING_SEND_EXPORT", "BILLING_APPROVE"])
    outsider = admin.as_(token)
    absent_invoice = to_base64("Invoice", 999_999)
    answers = []
    for invoice_id in (invoice["id"], absent_invoice):
        result = await outsider(CREATE, {"input": {"invoiceId": invoice_id, "reason": "OTHER", "wholeInvoice": True,
                                                   "creditDate": "2026-05-20"}})
        answers.append(result.data["createCreditNote"])
    assert answers[0] == answers[1] and [e["code"] for e in answers[0]["errors"]] == ["NOT_FOUND"]
    assert (await outsider.ok(NOTE, {"id": kept["id"]}))["creditNote"] is None
    assert (await outsider.ok("{ creditNotes { totalCount } }"))["creditNotes"]["totalCount"] == 0
    assert (await client.get(issued["downloadUrl"], headers={"Authorization": f"Bearer {token}"})).status_code == 404


async def test_credit_reject_rerun_bills_the_period_again(admin: Api) -> None:
    accounts = await posting.company(admin)
    account = await builders.account(admin, "FIXME", taxLocation="ZERO")
    contract = await builders.contract(admin, account, "SC-FIXME", start="2026-05-01")
    charge = await builders.charge(admin, contract, "40.00", accounts["revenue"])
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "EXPORT")
    invoice = (await _invoices(admin, batch))["FIXME"]
    billing_id = invoice["billing"]["id"]

    # Rejecting a posted billing needs its invoice fully credited first.
    early = await admin(STATUS, {"id": billing_id, "status": "REJECTED"})
    assert [e["code"] for e in early.data["updateBillingStatus"]["errors"]] == ["INVOICE_NOT_CREDITED"]
    note = await _draft(admin, invoice, reason="ORDER_CHANGE")
    await admin.mutate("issueCreditNote", ISSUE, {"id": note["id"]})
    billing_now = (await admin.ok("""query($id: ID!) { periodicBilling(id: $id) { allowedTransitions } }""",
                                  {"id": billing_id}))["periodicBilling"]
    assert billing_now["allowedTransitions"] == ["REJECTED"]
    rejected = (await admin.mutate("updateBillingStatus", STATUS, {"id": billing_id, "status": "REJECTED"}))[
        "periodicBilling"]
    assert rejected["billingStatus"] == "REJECTED"

    # The price corrected, the next processing bills May again, at the corrected amount.
    await admin.mutate("updateRecurringCharge", """mutation($id: ID!) { updateRecurringCharge(input: {id: $id,
      periodicPrice: "30.00"}) { recurringCharge { id } errors { code field message } } }""", {"id": charge})
    rerun = await posting.processed(admin, "May re-run")
    [rebilled] = await billing.billings(admin, rerun)
    assert (rebilled["billingStartingDate"], rebilled["periodicBillingAmount"]) == ("2026-05-01", "30.00")
    await posting.approve_all(admin, rerun)
    await posting.post(admin, rerun, "EXPORT")
    corrected = (await _invoices(admin, rerun))["FIXME"]
    assert corrected["amount"] == "30.00" and corrected["number"] != invoice["number"]

    # The history of all three documents is in the audits.
    trail = """query($id: ID!) { audits(filter: {billingId: $id}) { nodes { operation field before after } } }"""
    first = (await admin.ok(trail, {"id": billing_id}))["audits"]["nodes"]
    assert {"operation": "DISPOSITION", "field": "status", "before": "INVOICED", "after": "REJECTED"} in first
    assert {"operation": "POST", "field": "status", "before": "APPROVED", "after": "INVOICED"} in first
    credit = (await admin.ok(NOTE, {"id": note["id"]}))["creditNote"]
    assert {(a["operation"], a["field"], a["after"]) for a in credit["audits"]} >= {
        ("CREATE", "status", "DRAFT"), ("ISSUE", "status", "ISSUED"), ("ISSUE", "number", "CN-00000001")}
    second = (await admin.ok(trail, {"id": rebilled["id"]}))["audits"]["nodes"]
    assert {"operation": "POST", "field": "status", "before": "APPROVED", "after": "INVOICED"} in second
    await _receivables_match_open_balances(admin)


async def test_a_credit_note_costs_the_same_statements_for_3_or_30_lines(admin: Api) -> None:
    """Set-based: creating and issuing a credit note sends a fixed number of SQL statements, whatever the number
    of lines it credits (lines, journal lines and audits are written in bulk, one query per level)."""
    accounts = await posting.company(admin)
    for number, charges in (("WARM", 1), ("SMALL", 3), ("LARGE", 30)):
        account = await builders.account(admin, number, taxLocation="ZERO")
        contract = await builders.contract(admin, account, f"SC-{number}", start="2026-05-01")
        for n in range(charges):
            await builders.charge(admin, contract, f"{n + 1}.00", accounts["revenue"], f"Charge {n + 1}")
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "EXPORT")
    invoices = await _invoices(admin, batch)
    counts = {}
    for number in ("WARM", "SMALL", "LARGE"):  # the first one creates the credit note sequence: not counted
        lines = [(d, None) for d in invoices[number]["billing"]["details"]]
        with count_queries() as log:
            draft = await _draft(admin, invoices[number], lines)
            issued = await admin.mutate("issueCreditNote", ISSUE, {"id": draft["id"]})
        assert issued["creditNote"]["amount"] == invoices[number]["amount"]
        assert len(draft["lines"]) == len(invoices[number]["billing"]["details"])
        counts[number] = log.count
    assert len(invoices["LARGE"]["billing"]["details"]) == 30
    assert counts["SMALL"] == counts["LARGE"], counts
    assert counts["LARGE"] <= 32, counts  # create 10, issue 18, and the two payloads read back

    # A page of credit notes with their audits and deliveries: one query per level, not one per credit note.
    page = """query($first: Int!) { creditNotes(first: $first) { nodes { number audits { operation field after }
      deliveries { status } } } }"""
    pages = {}
    for size in (1, 3):
        with count_queries() as log:
            nodes = (await admin.ok(page, {"first": size}))["creditNotes"]["nodes"]
        assert len(nodes) == size and all({"ISSUE", "CREATE"} <= {a["operation"] for a in n["audits"]} for n in nodes)
        assert all(("ISSUE", "number", n["number"]) in {(a["operation"], a["field"], a["after"]) for a in n["audits"]}
                   for n in nodes)
        pages[size] = log.count
    assert pages[1] == pages[3], pages
    await _receivables_match_open_balances(admin)

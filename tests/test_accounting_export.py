"""Accounting export and the Karbon views of posted batches: same batch and format, same bytes;
downloads with the bearer token; DRAFT/POSTED tabs with their figures; the invoices connection and its filters."""

import csv
import io
from decimal import Decimal

import pytest

from tests.conftest import make_token
from tests.support import posting
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")

VIEWS = """query($view: BatchView) { billingBatches(filter: {view: $view}) { totalCount nodes { code status createdAt
  postedAt summary { invoiceCount totalAmountDue amountAwaitingPayment amountPaid hiddenInvoiceCount } } } }"""
INVOICES = """query($filter: InvoiceFilter, $order: InvoiceOrder) { invoices(filter: $filter, orderBy: $order,
  first: 10) { totalCount nodes { number amount account { number } } } }"""


async def _posted(admin: Api, mode: str = "EXPORT") -> str:
    accounts = await posting.company(admin)
    await posting.customer(admin, accounts, "EX-1", "100.00")
    await posting.customer(admin, accounts, "EX-2", "30.00", taxLocation="ZERO")
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, mode)
    return batch


async def test_export_mode_posting_produces_both_files_and_exports_repeat_byte_for_byte(admin: Api, client) -> None:
    batch = await _posted(admin, "EXPORT")
    found = (await admin.ok(posting.BATCH, {"id": batch}))["billingBatch"]
    assert sorted(e["format"] for e in found["exports"]) == ["INVOICES_CSV", "JOURNAL_CSV"]
    auth = {"Authorization": f"Bearer {admin.token}"}
    for fmt in ("INVOICES_CSV", "JOURNAL_CSV"):
        [automatic] = [e for e in found["exports"] if e["format"] == fmt]
        again = (await admin.mutate("exportBillingBatch", posting.EXPORT, {"id": batch, "format": fmt}))["export"]
        assert again["sha256"] == automatic["sha256"] and again["id"] != automatic["id"]
        first = await client.get(automatic["downloadUrl"], headers=auth)
        second = await client.get(again["downloadUrl"], headers=auth)
        assert first.status_code == second.status_code == 200 and first.content == second.content
        assert first.headers["content-type"].startswith("text/csv")
        assert len(first.content) == automatic["size"]
    journal = list(csv.DictReader(io.StringIO((await client.get(automatic["downloadUrl"], headers=auth)).text)))
    assert list(journal[0]) == ["Narration", "Date", "Description", "AccountCode", "TaxRate", "Amount"]
    assert sum(Decimal(r["Amount"]) for r in journal) == 0  # debits positive, credits negative: they cancel
    assert {r["AccountCode"] for r in journal} == {"1200", "4000", "2200"}
    [invoices_export] = [e for e in found["exports"] if e["format"] == "INVOICES_CSV"]
    rows = list(csv.DictReader(io.StringIO((await client.get(invoices_export["downloadUrl"], headers=auth)).text)))
    assert {r["InvoiceNumber"] for r in rows} == {"INV-00000001", "INV-00000002"}
    assert sum(Decimal(r["UnitAmount"]) for r in rows) == Decimal("138.25")
    assert {r["ContactName"] for r in rows} == {"Customer EX-1", "Customer EX-2"}

    # Without the bearer token, or without BILLING_SEND_EXPORT: no file.
    assert (await client.get(invoices_export["downloadUrl"])).status_code == 401
    _, clerk = await make_token("clerk3@example.com", ["BILLING_ACCESS"])
    assert (await client.get(invoices_export["downloadUrl"], headers={"Authorization": f"Bearer {clerk}"})
            ).status_code == 403
    refused = (await Api(client, clerk).ok(posting.EXPORT, {"id": batch, "format": "JOURNAL_CSV"}))
    assert [e["code"] for e in refused["exportBillingBatch"]["errors"]] == ["PERMISSION_DENIED"]


async def test_export_needs_a_posted_batch(admin: Api) -> None:
    accounts = await posting.company(admin)
    await posting.customer(admin, accounts, "EARLY")
    batch = await posting.processed(admin)
    refused = (await admin.ok(posting.EXPORT, {"id": batch, "format": "INVOICES_CSV"}))["exportBillingBatch"]
    assert [e["code"] for e in refused["errors"]] == ["INVALID_STATUS"]


async def test_karbon_views_and_invoice_filters(admin: Api, smtp_server) -> None:
    posted = await _posted(admin, "SEND")
    draft = await posting.processed(admin, "Draft run", invoiceDate="2026-05-20")
    drafts = (await admin.ok(VIEWS, {"view": "DRAFT"}))["billingBatches"]
    assert [b["status"] for b in drafts["nodes"]] == ["PROCESSED"]
    posted_view = (await admin.ok(VIEWS, {"view": "POSTED"}))["billingBatches"]["nodes"]
    assert len(posted_view) == 1 and posted_view[0]["postedAt"] and posted_view[0]["createdAt"]
    assert posted_view[0]["summary"] == {"invoiceCount": 2, "totalAmountDue": "138.25",
                                         "amountAwaitingPayment": "138.25", "amountPaid": "0.00",
                                         "hiddenInvoiceCount": 0}
    assert (await admin.ok(VIEWS, {"view": "ALL"}))["billingBatches"]["totalCount"] == 2
    assert draft and posted

    everything = (await admin.ok(INVOICES, {}))["invoices"]
    assert everything["totalCount"] == 2
    by_search = (await admin.ok(INVOICES, {"filter": {"search": "EX-2"}}))["invoices"]["nodes"]
    assert [i["account"]["number"] for i in by_search] == ["EX-2"]
    by_amount = (await admin.ok(INVOICES, {"order": {"field": "AMOUNT", "direction": "DESC"}}))["invoices"]["nodes"]
    assert [i["amount"] for i in by_amount] == ["108.25", "30.00"]
    assert (await admin.ok(INVOICES, {"filter": {"unpaid": False}}))["invoices"]["totalCount"] == 0
    assert (await admin.ok(INVOICES, {"filter": {"batchId": posted, "status": ["OPEN"],
                                                 "invoiceDateFrom": "2026-05-01", "dueDateTo": "2026-06-30"}})
            )["invoices"]["totalCount"] == 2


async def test_a_page_of_invoices_costs_a_fixed_number_of_queries(admin: Api, smtp_server) -> None:
    from tests.support.queries import count_queries

    accounts = await posting.company(admin)
    for n in range(8):
        await posting.customer(admin, accounts, f"Q-{n}", "10.00", autopayEnabled=True, paymentMethodToken="tok_ok")
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "SEND")
    page = """query($first: Int!) { invoices(first: $first) { nodes { number account { number }
      batch { code } billing { billingStatus } journalEntry { lines { debit ledgerAccount { code } } }
      payments { status } deliveries { status } } } }"""
    counts = {}
    for size in (2, 8):
        with count_queries() as log:
            nodes = (await admin.ok(page, {"first": size}))["invoices"]["nodes"]
        assert len(nodes) == size and all(n["payments"] and n["deliveries"] for n in nodes)
        counts[size] = log.count
    assert counts[2] == counts[8], counts

"""Accounting export (docs/POSTING.md): a posted batch as files an accounting system imports.

Two formats (docs/ACCOUNTING_EXPORT.md):
- INVOICES_CSV — one row per invoice line, the columns of Xero's sales-invoice import template;
- JOURNAL_CSV — one row per journal line of the batch's posting entries, the columns of Xero's manual-journal
  import (Amount: debits positive, credits negative).

Only what posting fixed goes in (no payments, no timestamps), in a fixed order, so the same batch and format
always give the same bytes; each export is stored with its SHA-256 and downloaded over HTTP with the bearer
token. Exporting needs BILLING_SEND_EXPORT and sight of every invoice of the batch.
"""

import hashlib
import io
from collections import defaultdict

from tortoise.backends.base.client import BaseDBAsyncClient

import models
from domain import audit, clock, events, jobs, spreadsheet_csv
from domain.access import Viewer, account_visibility, get_visible, require, sees_all_accounts
from domain.errors import DomainError, ErrorCode
from domain.transactions import in_transaction
from models.enums import BatchStatus, CreditNoteStatus, ExportFormat, JobKind, Permission

EXPORTABLE = (BatchStatus.POSTED, BatchStatus.COMPLETED)
INVOICE_COLUMNS = ("ContactName", "EmailAddress", "InvoiceNumber", "Reference", "InvoiceDate", "DueDate",
                   "Description", "Quantity", "UnitAmount", "AccountCode", "TaxType", "Currency")
JOURNAL_COLUMNS = ("Narration", "Date", "Description", "AccountCode", "TaxRate", "Amount")
PAGE = 2000
ENTRY_PAGE = 500  # a posting entry has a handful of lines
# billrun computes tax as lines of their own (coded to the tax-payable account), so no line carries tax again.
TAX_TYPE = "No Tax"


async def export_batch(viewer: Viewer, batch_id: int, fmt: ExportFormat) -> models.Export:
    """Produce one export file of a posted batch (repeatable: each call stores a new, identical file)."""
    require(viewer, Permission.BILLING_ACCESS)
    batch = await get_visible(viewer, models.BillingBatch, batch_id, "Billing batch", "batchId")
    require(viewer, Permission.BILLING_SEND_EXPORT)
    if batch.status not in EXPORTABLE:
        raise DomainError(ErrorCode.INVALID_STATUS,
                          f"Only a POSTED or COMPLETED batch can be exported; this one is {batch.status.value}.",
                          "batchId")
    if await hidden_invoices(viewer, batch.id):
        raise DomainError(ErrorCode.HIDDEN_INVOICES, "This batch has invoices of accounts hidden from you; only a "
                          "user who can see them all may export it.", "batchId")
    return await write_export(batch, fmt, viewer)


async def hidden_invoices(viewer: Viewer, batch_id: int) -> int:
    if sees_all_accounts(viewer):
        return 0
    return await models.Invoice.filter(batch_id=batch_id).exclude(account_visibility(viewer, "account")).count()


async def write_export(batch: models.BillingBatch, fmt: ExportFormat, viewer: Viewer | None,
                       created_by: int | None = None, job_id: int | None = None) -> models.Export:
    content = await render(batch.id, fmt)
    async with in_transaction():
        export = await models.Export.create(
            batch_id=batch.id, format=fmt, filename=f"{batch.code}-{fmt.value.lower().replace('_', '.')}",
            content_type="text/csv; charset=utf-8", content=content, sha256=hashlib.sha256(content).hexdigest(),
            created_by_id=viewer.user_id if viewer else created_by)
        await models.BillingBatch.filter(id=batch.id).update(exported_at=clock.now())
        await audit.record(viewer, "BillingBatch", batch.id, {"export": (None, export.filename)}, "EXPORT",
                           batch_id=batch.id)
        await events.export_created(export, job_id)
    return export


async def render(batch_id: int, fmt: ExportFormat) -> bytes:
    buffer = io.StringIO()
    writer = spreadsheet_csv.writer(buffer)
    if fmt == ExportFormat.INVOICES_CSV:
        writer.writerow(INVOICE_COLUMNS)
        await _invoice_rows(batch_id, writer)
    else:
        writer.writerow(JOURNAL_COLUMNS)
        await _journal_rows(batch_id, writer)
    return buffer.getvalue().encode("utf-8")


async def _invoice_rows(batch_id: int, writer: spreadsheet_csv.SafeWriter) -> None:
    invoices = models.Invoice.filter(batch_id=batch_id)
    last = ""
    while page := await invoices.filter(number__gt=last).order_by("number").limit(PAGE).values(
            "number", "billing_id", "invoice_date", "due_date", "currency", "bill_to_name", "bill_to_email",
            "account__number"):
        details: dict[int, list[dict]] = defaultdict(list)
        for detail in await models.BillingDetail.filter(billing_id__in=[i["billing_id"] for i in page]).order_by(
                "billing_id", "position", "id").values("billing_id", "description", "amount",
                                                       "revenue_account__code"):
            details[detail["billing_id"]].append(detail)
        for invoice in page:
            for detail in details[invoice["billing_id"]]:
                writer.writerow([invoice["bill_to_name"], invoice["bill_to_email"], invoice["number"],
                                 invoice["account__number"], invoice["invoice_date"].isoformat(),
                                 invoice["due_date"].isoformat(), detail["description"], "1", str(detail["amount"]),
                                 detail["revenue_account__code"] or "", TAX_TYPE, invoice["currency"]])
        last = page[-1]["number"]
    await _credit_note_rows(batch_id, writer)


async def _credit_note_rows(batch_id: int, writer: spreadsheet_csv.SafeWriter) -> None:
    """Issued credit notes of the batch's invoices, after the invoices, by number: one row per credited line,
    amounts negative (Xero imports a negative invoice as a credit note), dated on their credit date."""
    notes = models.CreditNote.filter(batch_id=batch_id, status=CreditNoteStatus.ISSUED)
    last = ""
    while page := await notes.filter(number__gt=last).order_by("number").limit(PAGE).values(
            "id", "number", "credit_date", "currency", "invoice__bill_to_name", "invoice__bill_to_email",
            "account__number"):
        lines: dict[int, list[dict]] = defaultdict(list)
        for line in await models.CreditNoteLine.filter(credit_note_id__in=[n["id"] for n in page]).order_by(
                "credit_note_id", "position", "id").values("credit_note_id", "description", "amount",
                                                           "detail__revenue_account__code"):
            lines[line["credit_note_id"]].append(line)
        for note in page:
            day = note["credit_date"].isoformat()
            for line in lines[note["id"]]:
                writer.writerow([note["invoice__bill_to_name"], note["invoice__bill_to_email"], note["number"],
                                 note["account__number"], day, day, line["description"], "1",
                                 str(-line["amount"]), line["detail__revenue_account__code"] or "", TAX_TYPE,
                                 note["currency"]])
        last = page[-1]["number"]


async def _journal_rows(batch_id: int, writer: spreadsheet_csv.SafeWriter) -> None:
    # Posting entries and credit notes' (receipts, refunds and credit applications carry no batch). Paged by
    # entry on the (batch_id, id) index, then each page's lines: a page costs its own rows, whatever the size of
    # the batch (paging the lines by id with the entry's batch as a join filter re-read the batch's entries on
    # every page: a 1,000,000-invoice export took over an hour).
    entries = models.JournalEntry.filter(batch_id=batch_id, payment_id=None)
    last = 0
    while page := await entries.filter(id__gt=last).order_by("id").limit(ENTRY_PAGE).values(
            "id", "memo", "entry_date"):
        memo_date = {e["id"]: (e["memo"], e["entry_date"].isoformat()) for e in page}
        for line in await models.JournalLine.filter(entry_id__in=list(memo_date)).order_by("entry_id", "id").values(
                "entry_id", "memo", "ledger_account__code", "debit", "credit"):
            memo, day = memo_date[line["entry_id"]]
            writer.writerow([memo, day, line["memo"], line["ledger_account__code"], "No Tax",
                             str(line["debit"] - line["credit"])])
        last = page[-1]["id"]


async def _chunks(job: models.Job) -> list[jobs.Chunk]:
    """EXPORT-mode posting: a chunk per format."""
    return [jobs.Chunk(1, {"format": fmt.value}) for fmt in ExportFormat]


async def _export_chunk(tx: BaseDBAsyncClient, job: models.Job, chunk: models.JobChunk) -> None:
    """The work of one chunk, inside its transaction: one file, written once (a redelivered chunk is done)."""
    await write_export(jobs.batch_of(job), ExportFormat(chunk.params["format"]), None, created_by=job.created_by_id,
                       job_id=job.id)


JOB = jobs.Chunked(JobKind.EXPORT, jobs.EXPORT_FILE, chunks=_chunks, work=_export_chunk)

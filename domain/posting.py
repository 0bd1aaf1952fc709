"""Posting a batch (docs/POSTING.md): every APPROVED billing becomes a numbered invoice with its journal entry.

`start_posting` checks every guard before anything is written and reports them all at once. The work is a
chunked job (`domain.jobs`), a chunk being a range of billing ids. A chunk, in its transaction:
reads its billings and their distributions, builds each invoice's journal lines with `domain.ledger`, marks
the billings INVOICED with their audit rows, writes the journal lines with COPY, then takes as many invoice
numbers as it has billings from the `invoice` sequence (an UPDATE that row-locks the counter until commit, so
chunks and batches posting at once serialize there and the numbers have neither gaps nor duplicates) and
writes the invoices and entries, which hold the numbers, with COPY, and counts the chunk done. A redelivered
chunk finds itself done; one that died rolled back whole, its numbers with it; one invoice per billing is a
unique key besides.

The last chunk also finishes the posting in its transaction: HOLD billings leave the batch, the batch is
POSTED (locked), and the follow-up jobs are queued: sending (SEND), the accounting export (EXPORT) and
auto-pay, sent to the broker after commit (a job whose message was lost is sent again by the sweeper).
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import cast

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Subquery

import models
from billrun.settings import get_settings
from domain import approvals, audit, clock, credit_notes, events, jobs, ledger, periods, sequences
from domain.access import Viewer, account_visibility, get_visible, require, sees_all_accounts
from domain.errors import DomainError, ErrorCode, Problem, raise_if
from domain.transactions import in_transaction
from models import sql
from models.bulk import allocate_ids, insert_rows
from models.enums import (
    BatchStatus,
    BillingStatus,
    DetailKind,
    InvoiceStatus,
    JobKind,
    JobStatus,
    PaymentStatus,
    Permission,
    PostMode,
)

INVOICE_SEQUENCE = "invoice"
UNDECIDED = (BillingStatus.NEW, BillingStatus.APPROVAL_IN_PROCESS)
# Billings posting touches: invoiced (APPROVED) or taken out of the batch (HOLD). A viewer must see them all.
POSTED_BY_POSTING = (BillingStatus.APPROVED, BillingStatus.HOLD)


def invoice_number(n: int) -> str:
    return f"INV-{n:08d}"


# ---------------------------------------------------------------- starting, from the API


async def start_posting(viewer: Viewer, batch_id: int, mode: PostMode) -> models.Job | None:
    """Refuse with every failed guard at once, or move the batch to POSTING and queue the job. A batch left
    POSTING by a failed job is resumed the same way (chunks already posted are not posted again).

    When the batch's APPROVED total is above a BATCH_TOTAL_ABOVE rule of its currency, nothing is posted: the
    request is recorded on the batch (who, which mode) and None returned; another user confirms it
    (`confirm_posting`)."""
    require(viewer, Permission.BILLING_ACCESS)
    batch = await get_visible(viewer, models.BillingBatch, batch_id, "Billing batch", "batchId")
    require(viewer, Permission.BILLING_SEND_EXPORT)
    if batch.status == BatchStatus.PROCESSED and (total := await total_needing_confirmation(batch)) is not None:
        raise_if(await _guard_problems(viewer, batch))
        async with in_transaction():
            updated = await models.BillingBatch.filter(id=batch.id, status=BatchStatus.PROCESSED).update(
                post_requested_by_id=viewer.user_id, post_requested_mode=mode, post_requested_at=clock.now())
            if not updated:
                raise DomainError(ErrorCode.CONCURRENT_UPDATE, "The batch changed meanwhile; reload it.", "batchId")
            await audit.record(viewer, "BillingBatch", batch.id, {"post_requested_by": (
                batch.post_requested_by_id, viewer.user_id), "post_requested_mode": (batch.post_requested_mode, mode)},
                "POST_REQUEST", batch_id=batch.id)
            await events.batch_post_requested(batch.id, mode, total, viewer)
        return None
    return await _start(viewer, batch, mode)


async def confirm_posting(viewer: Viewer, batch_id: int) -> models.Job:
    """Post a batch whose posting another user asked for (four eyes on a total above the rule). The guards are
    checked again, for the confirming user, on the batch as it is now."""
    require(viewer, Permission.BILLING_ACCESS)
    batch = await get_visible(viewer, models.BillingBatch, batch_id, "Billing batch", "batchId")
    require(viewer, Permission.BILLING_SEND_EXPORT)
    if batch.status != BatchStatus.PROCESSED or batch.post_requested_by_id is None \
            or batch.post_requested_mode is None:
        raise DomainError(ErrorCode.INVALID_STATUS, "No posting of this batch waits for confirmation.", "batchId")
    if batch.post_requested_by_id == viewer.user_id:
        raise DomainError(ErrorCode.FOUR_EYES_REQUIRED, "The user who asked to post this batch cannot confirm it: "
                          "another user with BILLING_SEND_EXPORT must.", "batchId")
    return await _start(viewer, batch, batch.post_requested_mode, requested_by=batch.post_requested_by_id)


async def total_needing_confirmation(batch: models.BillingBatch) -> Decimal | None:
    """The APPROVED total of the batch (what posting would invoice) when a rule wants it confirmed, else None."""
    limit = (await approvals.load()).batch_limit(batch.currency)
    if limit is None:
        return None
    amounts = await models.PeriodicBilling.filter(batch_id=batch.id, status=BillingStatus.APPROVED).values_list(
        "amount", flat=True)
    total = sum((Decimal(str(a)) for a in amounts), Decimal("0.00"))
    return total if total > limit else None


async def _start(viewer: Viewer, batch: models.BillingBatch, mode: PostMode,
                 requested_by: int | None = None) -> models.Job:
    resuming = batch.status == BatchStatus.POSTING
    if resuming and await models.Job.exists(batch_id=batch.id, kind=JobKind.POST,
                                            status__in=[JobStatus.QUEUED, JobStatus.RUNNING]):
        raise DomainError(ErrorCode.INVALID_STATUS, "This batch is being posted now.", "batchId")
    if not resuming and batch.status != BatchStatus.PROCESSED:
        raise DomainError(ErrorCode.INVALID_STATUS,
                          f"Only a PROCESSED batch can be posted; this one is {batch.status.value}.", "batchId")
    raise_if(await _guard_problems(viewer, batch))
    await ledger.posting_accounts()
    await sequences.ensure(INVOICE_SEQUENCE)
    async with in_transaction():
        if not resuming:
            # A confirmation posts only the request it confirms (not one made again meanwhile by someone else).
            confirming = {"post_requested_by_id": requested_by} if requested_by is not None else {}
            updated = await models.BillingBatch.filter(id=batch.id, status=BatchStatus.PROCESSED, **confirming).update(
                status=BatchStatus.POSTING, post_mode=mode, version=batch.version + 1, post_requested_by_id=None,
                post_requested_mode=None, post_requested_at=None)
            if not updated:
                raise DomainError(ErrorCode.CONCURRENT_UPDATE, "The batch changed meanwhile; reload it.", "batchId")
            # Dispositions share-lock the batch row (batches.hold_open): those that got in before this update
            # have committed now, and later ones will be refused. So the guards are checked again, for good.
            raise_if(await _guard_problems(viewer, batch))
            if requested_by is None and await total_needing_confirmation(batch) is not None:
                # Dispositions that got in meanwhile lifted the total above a rule: ask for confirmation instead.
                raise DomainError(ErrorCode.CONCURRENT_UPDATE, "The batch changed meanwhile; reload it.", "batchId")
            await audit.record(viewer, "BillingBatch", batch.id, {"status": (batch.status, BatchStatus.POSTING),
                                                                  "post_mode": (None, mode),
                                                                  "post_requested_by": (requested_by, None)},
                               "POST", batch_id=batch.id)
        job = await jobs.create(JobKind.POST, batch_id=batch.id, created_by=viewer.user_id, actor=viewer.user_id,
                                actor_label=viewer.label)
        if not resuming:
            await events.batch_status_changed(batch.id, batch.status, BatchStatus.POSTING, job_id=job.id)
    jobs.start(job)
    return job


async def _guard_problems(viewer: Viewer, batch: models.BillingBatch) -> list[Problem]:
    """The guards of posting: every billing dispositioned, the invoice dates in open periods, every posted billing
    visible to the viewer."""
    problems = []
    billings = models.PeriodicBilling.filter(batch_id=batch.id)
    undecided = await billings.filter(status__in=UNDECIDED).count()
    if undecided:
        problems.append(Problem(ErrorCode.BILLINGS_NOT_DISPOSITIONED,
                                f"{undecided} billing(s) are still NEW or APPROVAL_IN_PROCESS: disposition every "
                                "billing before posting.", "batchId"))
    dates = {batch.invoice_date} | set(cast(list[date], await billings.filter(status=BillingStatus.APPROVED).exclude(
        invoice_date_override=None).distinct().values_list("invoice_date_override", flat=True)))
    closed = sorted([d for d in dates if not await periods.is_open(d)])
    if closed:
        problems.append(Problem(ErrorCode.PERIOD_CLOSED, "Invoice date(s) " + ", ".join(map(str, closed))
                                + " are not in an open accounting period.", "batchId"))
    if not sees_all_accounts(viewer):
        hidden = await billings.filter(status__in=POSTED_BY_POSTING).exclude(
            account_visibility(viewer, "account")).count()
        if hidden:
            problems.append(Problem(ErrorCode.HIDDEN_INVOICES,
                                    f"{hidden} billing(s) of this batch belong to accounts hidden from you; only a "
                                    "user who can see every invoice may post it.", "batchId"))
    return problems


# ---------------------------------------------------------------- the job: its chunks, in a worker


async def _chunks(job: models.Job) -> list[jobs.Chunk]:
    """The APPROVED billings, in id ranges of BILLRUN_CHUNK_SIZE (a resumed posting finds only those left)."""
    size = get_settings().chunk_size
    ids = await models.PeriodicBilling.filter(batch_id=job.batch_id, status=BillingStatus.APPROVED).order_by(
        "id").values_list("id", flat=True)
    return [jobs.Chunk(len(part), {"first_id": part[0], "last_id": part[-1]})
            for part in (ids[i:i + size] for i in range(0, len(ids), size))]


# ---------------------------------------------------------------- one chunk, in a worker

INVOICE_COLUMNS = ("id", "number", "billing_id", "account_id", "bill_to_name", "bill_to_email", "bill_to_address",
                   "batch_id", "currency", "invoice_date", "due_date", "amount", "tax_amount", "amount_paid",
                   "credit_applied", "status", "created_at")
ENTRY_COLUMNS = ("id", "entry_date", "memo", "invoice_id", "payment_id", "batch_id", "created_at")
LINE_COLUMNS = ("id", "entry_id", "ledger_account_id", "debit", "credit", "memo")
AUDIT_COLUMNS = ("entity", "entity_id", "field", "before", "after", "operation", "actor_id", "actor_label",
                 "batch_id", "billing_id", "account_id", "at")


async def _invoice_chunk(tx: BaseDBAsyncClient, job: models.Job, chunk: models.JobChunk) -> None:
    """The work of one chunk, inside its transaction: invoice its range of billings."""
    await write_invoices(tx, job, chunk.params["first_id"], chunk.params["last_id"])


async def write_invoices(tx: BaseDBAsyncClient, job: models.Job, first_id: int, last_id: int) -> int:
    """Invoices, journal entries and lines for the APPROVED billings of the batch in [first_id, last_id]."""
    batch = jobs.batch_of(job)
    in_range = models.PeriodicBilling.filter(batch_id=batch.id, status=BillingStatus.APPROVED, id__gte=first_id,
                                             id__lte=last_id)
    billings = await in_range.order_by("id").values_list("id", "account_id", "amount", "invoice_date_override",
                                                         "account__payment_terms_days", "account__name",
                                                         "account__billing_email", "account__billing_address")
    if not billings:
        return 0
    revenue: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    tax: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for billing_id, kind, account_id, amount in await models.RevenueDistribution.filter(
            detail__billing_id__in=Subquery(in_range.values("id"))).values_list(
            "detail__billing_id", "detail__kind", "revenue_account_id", "amount"):
        (tax if kind == DetailKind.TAX else revenue)[billing_id].append((account_id, amount))
    accounts = await ledger.posting_accounts()
    now = clock.now()
    invoice_ids = await allocate_ids(tx, "invoice", len(billings))
    entry_ids = await allocate_ids(tx, "journal_entry", len(billings))
    lines = [(entry_id, line) for entry_id, (billing_id, _, amount, *_) in zip(entry_ids, billings, strict=True)
             for line in ledger.invoice_lines(accounts.receivable_id, amount, revenue[billing_id], tax[billing_id])]
    line_ids = await allocate_ids(tx, "journal_line", len(lines))
    actor, label = job.params.get("actor"), job.params.get("actor_label", "system")
    await insert_rows(tx, "audit", AUDIT_COLUMNS, [
        ("PeriodicBilling", b[0], "status", BillingStatus.APPROVED.value, BillingStatus.INVOICED.value, "POST",
         actor, label, batch.id, b[0], b[1], now) for b in billings])
    # Invoice exactly the billings this statement turns INVOICED (the batch is locked, so all of them).
    flipped = await sql.invoice_approved_billings(tx, batch.id, first_id, last_id)
    if len(flipped) != len(billings):
        raise RuntimeError("billings of a POSTING batch changed under the posting; retrying the chunk")
    # The journal lines next, before the numbers (they hold none): their entries follow under the counter's lock,
    # the lines' reference to them checked at commit, and the balance trigger checks each entry's lines now.
    await sql.defer_journal_line_entry_check(tx)
    await insert_rows(tx, "journal_line", LINE_COLUMNS, [
        (line_id, entry_id, line.ledger_account_id, line.debit, line.credit, line.memo)
        for line_id, (entry_id, line) in zip(line_ids, lines, strict=True)])
    # Numbers last: the counter stays row-locked from here to commit (posting chunks take it one at a time), so
    # only what holds a number follows: the invoices, their entries (the memo), the event.
    first = await sequences.advance(tx, INVOICE_SEQUENCE, len(billings)) - len(billings) + 1
    invoices, entries = [], []
    for n, (invoice_id, entry_id, billing) in enumerate(zip(invoice_ids, entry_ids, billings, strict=True)):
        billing_id, account_id, amount, override, terms, name, email, address = billing
        number = invoice_number(first + n)
        invoice_date = override or batch.invoice_date
        tax_amount = sum((a for _, a in tax[billing_id]), Decimal("0.00"))
        invoices.append([invoice_id, number, billing_id, account_id, name, email, address, batch.id, batch.currency,
                         invoice_date, invoice_date + timedelta(days=terms), amount, tax_amount, Decimal("0.00"),
                         Decimal("0.00"), InvoiceStatus.OPEN.value, now])
        entries.append((entry_id, invoice_date, f"Invoice {number}", invoice_id, None, batch.id, now))
    await insert_rows(tx, "invoice", INVOICE_COLUMNS, invoices)
    await insert_rows(tx, "journal_entry", ENTRY_COLUMNS, entries)
    # Account credit left by credit notes settles the new invoices of its account (docs/CREDIT_NOTES.md).
    applied = await credit_notes.apply_available_credit(tx, [
        {"id": i[0], "number": i[1], "account_id": i[3], "amount": i[11], "invoice_date": i[9], "batch_id": batch.id}
        for i in invoices], batch.currency, accounts.receivable_id)
    for invoice_id, amount in applied.items():
        await models.Invoice.filter(id=invoice_id).update(credit_applied=amount)
    await events.invoices_posted(batch.id, job.id, len(billings), invoice_number(first),
                                 invoice_number(first + len(billings) - 1))
    return len(billings)


# ---------------------------------------------------------------- finishing, in the last chunk's transaction


async def _posted(tx: BaseDBAsyncClient, job: models.Job) -> list[models.Job]:
    """HOLD billings leave, the batch is POSTED, the follow-up jobs are queued (and returned, to be sent after
    commit)."""
    batch = jobs.batch_of(job)
    now = clock.now()
    posted = await models.BillingBatch.filter(id=batch.id, status=BatchStatus.POSTING).update(
        status=BatchStatus.POSTED, posted_at=now, version=F("version") + 1)
    if not posted:  # not POSTING any more: nothing to finish here
        return []
    actor, label = job.params.get("actor"), job.params.get("actor_label", "system")
    held = models.PeriodicBilling.filter(batch_id=batch.id, status=BillingStatus.HOLD)
    await insert_rows(tx, "audit", AUDIT_COLUMNS, [
        ("PeriodicBilling", bid, "batch_id", str(batch.id), None, "HOLD_LEFT_BATCH", actor, label, batch.id, bid,
         account_id, now) for bid, account_id in await held.values_list("id", "account_id")])
    leaving = await held.count()
    await held.update(batch_id=None, held_from_batch_id=batch.id)
    if leaving:
        await events.billings_moved(leaving, batch.id, None, None)
    await audit.record(None, "BillingBatch", batch.id, {"status": (BatchStatus.POSTING, BatchStatus.POSTED)},
                       "POST", batch_id=batch.id)
    await events.batch_status_changed(batch.id, BatchStatus.POSTING, BatchStatus.POSTED, job_id=job.id)
    return await _follow_ups(job)


async def _follow_ups(job: models.Job) -> list[models.Job]:
    """Sending (SEND) or the accounting export (EXPORT), and auto-pay: a PENDING payment per payable invoice of
    an auto-pay account, charged by an AUTO_PAY job."""
    batch = jobs.batch_of(job)
    invoice_count = await models.Invoice.filter(batch_id=batch.id).count()
    queued = []
    if batch.post_mode == PostMode.SEND and invoice_count:
        queued.append(await jobs.follow_up(JobKind.SEND, batch_id=batch.id, created_by=job.created_by_id))
    if batch.post_mode == PostMode.EXPORT:
        queued.append(await jobs.follow_up(JobKind.EXPORT, batch_id=batch.id, created_by=job.created_by_id))
    # Amounts compared in Python: SQLite keeps money as text, where '0.00' > 0.
    rows = [(invoice_id, amount - applied) for invoice_id, amount, applied in await models.Invoice.filter(
        batch_id=batch.id, account__autopay_enabled=True).exclude(account__payment_method_token=None).values_list(
        "id", "amount", "credit_applied") if amount - applied > 0]
    if rows:
        await models.Payment.bulk_create([
            models.Payment(invoice_id=invoice_id, idempotency_key=f"autopay-invoice-{invoice_id}", amount=amount,
                           status=PaymentStatus.PENDING) for invoice_id, amount in rows])
        # The batch's first payments: the id range of its payments is exactly these.
        ids = await models.Payment.filter(invoice__batch_id=batch.id).order_by("id").values_list("id", flat=True)
        queued.append(await jobs.follow_up(JobKind.AUTO_PAY, batch_id=batch.id, created_by=job.created_by_id,
                                           first_payment_id=ids[0], last_payment_id=ids[-1]))
    return queued


JOB = jobs.Chunked(JobKind.POST, jobs.POST_CHUNK, chunks=_chunks, work=_invoice_chunk, finish=_posted,
                   batch_status=BatchStatus.POSTING)

"""Credit notes (docs/CREDIT_NOTES.md): the correction of a posted invoice.

A credit note is created as a DRAFT (`create`: which lines of the invoice, how much of each, why), which has no
effect and may be voided; issuing it (`issue`) is final and does everything in one transaction: it takes its
number from the `credit_note` sequence (gap-free, like invoice numbers), writes its journal entry as the mirror
of the invoice's (Dr revenue per distribution, Dr tax payable, Cr receivables), reduces the invoice's open
balance, and — for what was already paid — records account credit (applied to the account's next posted invoice,
`apply_available_credit`) and/or a refund, and queues a CREDIT_NOTE job (a chunked job, `domain.jobs`) that
e-mails it and refunds through the payment gateway, idempotent per credit note like a charge.

Amounts: a line is never credited beyond its open amount (its amount less what issued credit notes credited),
nor the invoice beyond its amount (CREDIT_EXCEEDS_OPEN_AMOUNT); a refund never beyond what was paid and not yet
refunded (REFUND_EXCEEDS_PAID).
"""

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import cast

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

import models
from billrun.settings import get_settings
from domain import audit, clock, events, faults, jobs, ledger, notifications, periods, sending, sequences
from domain.access import Viewer, get_visible, require
from domain.errors import DomainError, ErrorCode, Problem, raise_if
from domain.gateway import GatewayTimeout, TransientGatewayError, get_gateway
from domain.invoice_pdf import InvoiceDocument, InvoiceLine, address_lines, printed_line, render_invoice_pdf
from domain.ledger import open_balance as balance
from domain.money import is_money, to_money
from domain.transactions import in_transaction
from models import locks
from models.bulk import allocate_ids, insert_rows, money_sums
from models.enums import (
    CreditNoteReason,
    CreditNoteStatus,
    CreditStatus,
    DetailKind,
    EventType,
    JobKind,
    PaymentStatus,
    Permission,
    RefundStatus,
)

log = logging.getLogger("billrun.credit_notes")

SEQUENCE = "credit_note"
ZERO = Decimal("0.00")
DESCRIPTION_MAX = 2000
SEND_CHUNK, REFUND_CHUNK = 0, 1  # the chunks of a CREDIT_NOTE job
UNSETTLED_PAYMENTS = (PaymentStatus.PENDING, PaymentStatus.UNKNOWN)
ENTRY_COLUMNS = ("id", "entry_date", "memo", "invoice_id", "payment_id", "batch_id", "credit_note_id",
                 "refund_of_id", "created_at")
LINE_COLUMNS = ("id", "entry_id", "ledger_account_id", "debit", "credit", "memo")
NOTE_LINE_COLUMNS = ("credit_note_id", "detail_id", "position", "description", "kind", "amount")


def credit_note_number(n: int) -> str:
    return f"CN-{n:08d}"


@dataclass(frozen=True)
class LineRequest:
    """One line asked for: an invoice line (a billing detail) and how much of it (None: all that is open)."""

    detail_id: int
    amount: Decimal | None = None


@dataclass(frozen=True)
class PlannedLine:
    detail_id: int
    position: int
    description: str
    kind: str
    amount: Decimal


# ---------------------------------------------------------------- planning the amounts


async def _open_amounts(invoice: models.Invoice, excluding: int | None = None) -> dict[int, tuple]:
    """Per line of the invoice: (position, description, kind, amount, open amount)."""
    details = await models.BillingDetail.filter(billing_id=invoice.billing_id).order_by("position", "id").values_list(
        "id", "position", "description", "kind", "amount")
    credited: dict[int, Decimal] = defaultdict(lambda: ZERO)
    issued = models.CreditNoteLine.filter(credit_note__invoice_id=invoice.id,
                                          credit_note__status=CreditNoteStatus.ISSUED)
    if excluding is not None:
        issued = issued.exclude(credit_note_id=excluding)
    for detail_id, (_, amount) in (await money_sums(issued, "detail_id", "amount")).items():
        credited[detail_id] += amount
    return {d: (pos, text, kind.value if hasattr(kind, "value") else kind, amount, amount - credited[d])
            for d, pos, text, kind, amount in details}


def _plan(invoice: models.Invoice, lines: dict[int, tuple], wanted: list[LineRequest] | None) -> list[PlannedLine]:
    """The lines to credit, each within its open amount, the total within the invoice's."""
    problems: list[Problem] = []
    planned = []
    if wanted is None:  # the whole invoice: every line's open amount
        planned = [PlannedLine(d, pos, text, kind, open_) for d, (pos, text, kind, _, open_) in lines.items()
                   if open_ != 0]
    else:
        seen: set[int] = set()
        for n, line in enumerate(wanted):
            field = f"lines[{n}]"
            if line.detail_id not in lines:
                problems.append(Problem(ErrorCode.NOT_FOUND, "Invoice line not found on this invoice.",
                                        f"{field}.invoiceLineId"))
                continue
            if line.detail_id in seen:
                problems.append(Problem(ErrorCode.INVALID_INPUT, "Each invoice line may be named once.",
                                        f"{field}.invoiceLineId"))
                continue
            seen.add(line.detail_id)
            pos, text, kind, amount, open_ = lines[line.detail_id]
            value = open_ if line.amount is None else line.amount
            if line.amount is not None and (not is_money(value, invoice.currency) or value == 0):
                problems.append(Problem(ErrorCode.INVALID_INPUT, f"amount must be a non-zero {invoice.currency} "
                                        "amount.", f"{field}.amount"))
            elif open_ == 0 or (value > 0) != (open_ > 0) or abs(value) > abs(open_):
                problems.append(Problem(ErrorCode.CREDIT_EXCEEDS_OPEN_AMOUNT,
                                        f"At most {open_} of this line ({amount}) is open to credit.",
                                        f"{field}.amount"))
            else:
                planned.append(PlannedLine(line.detail_id, pos, text, kind, value))
    raise_if(problems)
    total = sum((p.amount for p in planned), ZERO)
    if not planned or total <= 0:
        raise DomainError(ErrorCode.CREDIT_EXCEEDS_OPEN_AMOUNT, f"Nothing of invoice {invoice.number} is open to "
                          "credit (a credit note credits a positive total).", "lines" if wanted else "wholeInvoice")
    if total > invoice.amount - invoice.amount_credited:
        raise DomainError(ErrorCode.CREDIT_EXCEEDS_OPEN_AMOUNT,
                          f"At most {invoice.amount - invoice.amount_credited} of invoice {invoice.number} is open "
                          f"to credit; these lines come to {total}.", "lines")
    return planned


@dataclass(frozen=True)
class Split:
    """Where a credit note's total goes: the invoice's open balance first; the rest was paid already and goes
    back to the customer, as account credit and/or a refund."""

    credit: Decimal
    refund: Decimal


async def _split(invoice: models.Invoice, total: Decimal, refund: Decimal | None, credit: Decimal | None,
                 excluding: int | None = None) -> Split:
    returned = max(ZERO, total - balance(invoice))
    problems = []
    for name, value in (("refundAmount", refund), ("creditAmount", credit)):
        if value is not None and (not is_money(value, invoice.currency) or value < 0):
            problems.append(Problem(ErrorCode.INVALID_INPUT, f"{name} must be a non-negative {invoice.currency} "
                                    "amount.", name))
    raise_if(problems)
    if refund is None and credit is None:
        refund, credit = ZERO, returned  # by default what was paid becomes account credit
    elif refund is None:
        refund = returned - cast(Decimal, credit)
    elif credit is None:
        credit = returned - refund
    credit = cast(Decimal, credit)
    if refund < 0 or credit < 0 or refund + credit != returned:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{returned} of this credit note was paid already: the refund "
                          f"and the account credit must add up to it.", "refundAmount")
    if refund > 0:
        others = models.CreditNote.filter(invoice_id=invoice.id, status=CreditNoteStatus.ISSUED)
        if excluding is not None:
            others = others.exclude(id=excluding)
        refunded = sum(cast(list[Decimal], await others.values_list("refund_amount", flat=True)), ZERO)
        if refund > invoice.amount_paid - refunded:
            raise DomainError(ErrorCode.REFUND_EXCEEDS_PAID, f"At most {invoice.amount_paid - refunded} of invoice "
                              f"{invoice.number} was paid and not refunded yet.", "refundAmount")
        account = await models.Account.get(id=invoice.account_id)
        if not account.payment_method_token:
            raise DomainError(ErrorCode.INVALID_STATUS, f"Account {account.number} has no payment method to refund "
                              "to: give the amount as account credit.", "refundAmount")
    return Split(credit, refund)


# ---------------------------------------------------------------- create, void, issue: from the API


async def _invoice_for(viewer: Viewer, invoice_id: int) -> models.Invoice:
    require(viewer, Permission.BILLING_ACCESS)
    invoice = await get_visible(viewer, models.Invoice, invoice_id, "Invoice", "invoiceId")
    require(viewer, Permission.BILLING_SEND_EXPORT)
    await _no_payment_under_way(invoice)
    return invoice


async def _no_payment_under_way(invoice: models.Invoice) -> None:
    if await models.Payment.exists(invoice_id=invoice.id, status__in=list(UNSETTLED_PAYMENTS)):
        raise DomainError(ErrorCode.INVALID_STATUS, f"Invoice {invoice.number} has a payment under way: credit it "
                          "once the payment is settled.", "invoiceId")


async def _credit_date(day: date | None, invoice: models.Invoice) -> date:
    day = day or clock.today()
    if day < invoice.invoice_date:
        raise DomainError(ErrorCode.INVALID_INPUT, f"A credit note is dated on or after its invoice "
                          f"({invoice.invoice_date}).", "creditDate")
    if not await periods.is_open(day):
        raise DomainError(ErrorCode.PERIOD_CLOSED, f"{day} is not in an open accounting period.", "creditDate")
    return day


async def create(viewer: Viewer, invoice_id: int, *, lines: list[LineRequest] | None, whole_invoice: bool,
                 reason: CreditNoteReason, description: str = "", refund_amount: Decimal | None = None,
                 credit_amount: Decimal | None = None, credit_date: date | None = None) -> models.CreditNote:
    """A DRAFT credit note of a posted invoice: its lines and amounts checked against what is open now (and
    again at issue)."""
    invoice = await _invoice_for(viewer, invoice_id)
    if whole_invoice == (lines is not None):
        raise DomainError(ErrorCode.INVALID_INPUT, "Give either the lines to credit or wholeInvoice: true.",
                          "lines")
    if len(description) > DESCRIPTION_MAX:
        raise DomainError(ErrorCode.INVALID_INPUT, f"description is at most {DESCRIPTION_MAX} characters.",
                          "description")
    day = await _credit_date(credit_date, invoice)
    planned = _plan(invoice, await _open_amounts(invoice), lines)
    total = sum((p.amount for p in planned), ZERO)
    split = await _split(invoice, total, refund_amount, credit_amount)
    tax = sum((p.amount for p in planned if p.kind == DetailKind.TAX.value), ZERO)
    async with in_transaction() as tx:
        note = await models.CreditNote.create(
            invoice_id=invoice.id, account_id=invoice.account_id, batch_id=invoice.batch_id, reason=reason,
            description=description, currency=invoice.currency, amount=total, tax_amount=tax,
            credit_amount=split.credit, refund_amount=split.refund, credit_date=day, created_by_id=viewer.user_id)
        await insert_rows(tx, "credit_note_line", NOTE_LINE_COLUMNS, [
            (note.id, p.detail_id, n, p.description[:200], p.kind, p.amount) for n, p in enumerate(planned)])
        await _audit(viewer, note, {"status": (None, CreditNoteStatus.DRAFT), "amount": (None, total),
                                    "reason": (None, reason)}, "CREATE")
        await events.credit_note_changed(EventType.CREDIT_NOTE_CREATED, note, invoice, viewer)
    return note


async def _audit(viewer: Viewer | None, note: models.CreditNote, changes: dict, operation: str) -> None:
    await audit.record(viewer, "CreditNote", note.id, changes, operation, batch_id=note.batch_id,
                       account_id=note.account_id)


async def _draft(viewer: Viewer, credit_note_id: int) -> models.CreditNote:
    require(viewer, Permission.BILLING_ACCESS)
    note = await get_visible(viewer, models.CreditNote, credit_note_id, "Credit note", "id")
    require(viewer, Permission.BILLING_SEND_EXPORT)
    if note.status != CreditNoteStatus.DRAFT:
        raise DomainError(ErrorCode.INVALID_STATUS, f"Only a DRAFT credit note can change; this one is "
                          f"{note.status.value}.", "id")
    return note


async def void(viewer: Viewer, credit_note_id: int) -> models.CreditNote:
    """Drop a DRAFT credit note (it never had an effect); an issued one is final."""
    note = await _draft(viewer, credit_note_id)
    async with in_transaction():
        if not await models.CreditNote.filter(id=note.id, status=CreditNoteStatus.DRAFT).update(
                status=CreditNoteStatus.VOIDED, voided_at=clock.now(),
                credit_status=CreditStatus.VOIDED if note.credit_amount > 0 else None):
            raise DomainError(ErrorCode.CONCURRENT_UPDATE, "The credit note changed meanwhile; reload it.", "id")
        await _audit(viewer, note, {"status": (CreditNoteStatus.DRAFT, CreditNoteStatus.VOIDED)}, "VOID")
        invoice = await models.Invoice.get(id=note.invoice_id)
        await events.credit_note_changed(EventType.CREDIT_NOTE_VOIDED, note, invoice, viewer)
    return await models.CreditNote.get(id=note.id)


async def issue(viewer: Viewer, credit_note_id: int) -> models.CreditNote:
    """Number, journal and apply a DRAFT credit note, in one transaction; its e-mail and refund follow in a
    CREDIT_NOTE job, sent after commit."""
    note = await _draft(viewer, credit_note_id)  # visible to the viewer, so is its invoice (the same account)
    accounts = await ledger.posting_accounts()
    async with in_transaction() as tx:
        invoice = await locks.invoice(tx, note.invoice_id)  # one credit note of an invoice at a time
        assert invoice is not None  # a credit note's invoice is never deleted (RESTRICT)
        await _no_payment_under_way(invoice)
        await _credit_date(note.credit_date, invoice)
        lines = list(await models.CreditNoteLine.filter(credit_note_id=note.id).order_by("position"))
        open_now = await _open_amounts(invoice, excluding=note.id)
        _plan(invoice, open_now, [LineRequest(line.detail_id, line.amount) for line in lines])
        split = await _split(invoice, note.amount, note.refund_amount, note.credit_amount, excluding=note.id)
        entry = await _entry_lines(accounts.receivable_id, note.amount, lines, open_now, invoice.currency)
        # Numbers last: the counter stays row-locked from here to commit.
        number = credit_note_number(await sequences.take(tx, SEQUENCE, 1))
        day = cast(date, note.credit_date)
        await _write_entry(tx, day, f"Credit note {number}", invoice, entry, batch_id=invoice.batch_id,
                           credit_note_id=note.id)
        await models.Invoice.filter(id=invoice.id).update(amount_credited=F("amount_credited") + note.amount)
        job = await jobs.follow_up(JobKind.CREDIT_NOTE, batch_id=invoice.batch_id, created_by=viewer.user_id,
                                   credit_note_id=note.id)
        issued = {"status": CreditNoteStatus.ISSUED, "number": number, "issued_at": clock.now(), "job_id": job.id,
                  "credit_amount": split.credit, "credit_remaining": split.credit, "refund_amount": split.refund,
                  "credit_status": CreditStatus.AVAILABLE if split.credit > 0 else None,
                  "refund_status": RefundStatus.PENDING if split.refund > 0 else None,
                  "refund_key": f"refund-credit-note-{note.id}" if split.refund > 0 else None}
        issued["refund_updated_at"] = issued["issued_at"]
        # Still a draft? A rival issue queued behind the invoice lock, or a void, got there first: roll back.
        if not await models.CreditNote.filter(id=note.id, status=CreditNoteStatus.DRAFT).update(**issued):
            raise DomainError(ErrorCode.CONCURRENT_UPDATE, "The credit note changed meanwhile; reload it.", "id")
        for name, value in issued.items():
            setattr(note, name, value)
        await _audit(viewer, note, {"status": (CreditNoteStatus.DRAFT, CreditNoteStatus.ISSUED),
                                    "number": (None, number)}, "ISSUE")
        await events.credit_note_changed(EventType.CREDIT_NOTE_ISSUED, note, invoice, viewer)
    jobs.start(job)
    return note


async def _entry_lines(receivable_id: int, total: Decimal, lines: list[models.CreditNoteLine],
                       details: dict[int, tuple], currency: str) -> list[ledger.Line]:
    """The mirror of the invoice's entry for the credited amounts: each line's credit spread over its revenue
    distributions in proportion (half-up to the currency's minor unit, the last one taking the remainder)."""
    revenue: list[tuple[int, Decimal]] = []
    tax: list[tuple[int, Decimal]] = []
    splits: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for detail_id, account_id, amount in await models.RevenueDistribution.filter(
            detail_id__in=[line.detail_id for line in lines]).order_by("id").values_list(
            "detail_id", "revenue_account_id", "amount"):
        splits[detail_id].append((account_id, amount))
    for line in lines:
        line_amount = details[line.detail_id][3]
        parts = splits[line.detail_id]
        if not parts:
            raise ledger.UnbalancedEntry(f"invoice line {line.detail_id} has no revenue distribution")
        target = tax if line.kind == DetailKind.TAX.value else revenue
        left = line.amount
        for n, (account_id, amount) in enumerate(parts):
            share = left if n == len(parts) - 1 else to_money(line.amount * amount / line_amount, currency)
            target.append((account_id, share))
            left -= share
    return ledger.credit_note_lines(receivable_id, total, revenue, tax)


async def _write_entry(tx: BaseDBAsyncClient, day: date, memo: str, invoice: models.Invoice,
                       lines: list[ledger.Line], *, batch_id: int | None, credit_note_id: int | None,
                       refund_of_id: int | None = None) -> None:
    entry = await models.JournalEntry.create(
        using_db=tx, entry_date=day, memo=memo[:200], invoice_id=invoice.id, batch_id=batch_id,
        credit_note_id=credit_note_id, refund_of_id=refund_of_id, created_at=clock.now())
    await insert_rows(tx, "journal_line", LINE_COLUMNS[1:], [  # ids from the table's own sequence
        (entry.id, ln.ledger_account_id, ln.debit, ln.credit, ln.memo) for ln in lines])


# ---------------------------------------------------------------- account credit, applied at posting


async def apply_available_credit(tx: BaseDBAsyncClient, invoices: list[dict], currency: str,
                                 receivable_id: int) -> dict[int, Decimal]:
    """Inside a posting chunk's transaction, before its invoices are written: the account credit still
    AVAILABLE on their accounts settles them, oldest credit first, each invoice up to its amount. Returns the
    credit applied per invoice id; writes each application's entry (receivables moved from the credit note to
    the invoice) and the credit notes' remainders. `invoices`: dicts of id, number, account_id, amount,
    invoice_date, batch_id."""
    account_ids = sorted({i["account_id"] for i in invoices if i["amount"] > 0})
    if not account_ids or not await models.CreditNote.exists(account_id__in=account_ids, currency=currency,
                                                             credit_status=CreditStatus.AVAILABLE):
        return {}
    credits = await locks.available_credit(tx, account_ids, currency)
    by_account: dict[int, list[models.CreditNote]] = defaultdict(list)
    for note in credits:
        by_account[note.account_id].append(note)
    applied: dict[int, Decimal] = {}
    rows, lines = [], []
    entry_ids = await allocate_ids(tx, "journal_entry", sum(1 for _ in credits) + len(invoices))
    next_entry = iter(entry_ids)
    now = clock.now()
    for invoice in invoices:
        due = invoice["amount"]
        for note in by_account.get(invoice["account_id"], []):
            if due <= 0 or note.credit_remaining <= 0:
                continue
            used = min(due, note.credit_remaining)
            note.credit_remaining -= used
            due -= used
            applied[invoice["id"]] = applied.get(invoice["id"], ZERO) + used
            entry_id = next(next_entry)
            rows.append((entry_id, invoice["invoice_date"], f"Credit {note.number} applied to {invoice['number']}",
                         invoice["id"], None, None, note.id, None, now))
            lines += [(entry_id, ln) for ln in ledger.entry_lines([(receivable_id, used, "Account credit"),
                                                                    (receivable_id, -used, "Receivable")])]
            await events.credit_applied(note, invoice, used)
    if not rows:
        return {}
    return await _write_applications(tx, rows, lines, credits, applied)


async def _write_applications(tx: BaseDBAsyncClient, rows: list, lines: list, credits: list[models.CreditNote],
                              applied: dict[int, Decimal]) -> dict[int, Decimal]:
    line_ids = await allocate_ids(tx, "journal_line", len(lines))
    await insert_rows(tx, "journal_entry", ENTRY_COLUMNS, rows)
    await insert_rows(tx, "journal_line", LINE_COLUMNS, [
        (line_id, entry_id, ln.ledger_account_id, ln.debit, ln.credit, ln.memo)
        for line_id, (entry_id, ln) in zip(line_ids, lines, strict=True)])
    for note in credits:
        await models.CreditNote.filter(id=note.id).update(
            credit_remaining=note.credit_remaining,
            credit_status=CreditStatus.AVAILABLE if note.credit_remaining > 0 else CreditStatus.CONSUMED)
    return applied


# ---------------------------------------------------------------- the job: send it, refund it


async def _chunks(job: models.Job) -> list[jobs.Chunk]:
    note = await models.CreditNote.get(id=job.params["credit_note_id"])
    chunks = [jobs.Chunk(1, {"task": "send"}, number=SEND_CHUNK)]
    if note.refund_amount > 0:
        chunks.append(jobs.Chunk(1, {"task": "refund"}, number=REFUND_CHUNK))
    return chunks


async def _task(job: models.Job, chunk: models.JobChunk) -> bool:
    """The work of one chunk, outside any transaction: e-mail the credit note (claimed by its delivery row,
    once), or refund it (once per credit note by its idempotency key). Done once settled."""
    note_id = job.params["credit_note_id"]
    if chunk.params["task"] == "send":
        if not await models.Delivery.exists(credit_note_id=note_id):
            [outgoing] = await outgoing_documents([note_id])
            await sending.deliver(job.batch_id, outgoing)
        return not await models.Delivery.exists(credit_note_id=note_id, status="SENDING")
    status = await refund(note_id)
    return status not in (RefundStatus.PENDING, RefundStatus.UNKNOWN)


async def refund(credit_note_id: int) -> RefundStatus | None:
    """One gateway attempt at a credit note's refund; a transient error is retried by the broker (as a charge
    is), a lost answer leaves it UNKNOWN for the sweeper."""
    note = await models.CreditNote.get_or_none(id=credit_note_id).select_related("invoice__account")
    if note is None or note.refund_status != RefundStatus.PENDING or note.refund_key is None:
        return note.refund_status if note else None
    await models.CreditNote.filter(id=note.id).update(refund_attempts=F("refund_attempts") + 1,
                                                      refund_updated_at=clock.now())
    attempts = note.refund_attempts + 1
    token = note.invoice.account.payment_method_token or ""
    try:
        result = await get_gateway().refund(note.refund_key, token, note.refund_amount, note.currency)
    except TransientGatewayError as error:
        if attempts >= get_settings().payment_max_attempts:
            await record_refund(note.id, RefundStatus.FAILED, None, f"{error} — gave up after {attempts} attempts")
            return RefundStatus.FAILED
        await models.CreditNote.filter(id=note.id).update(refund_error=str(error))
        log.warning("refund of credit note %s, attempt %s: %s; retrying later", note.number, attempts, error)
        raise jobs.retry_later(str(error)) from None
    except GatewayTimeout as error:
        await models.CreditNote.filter(id=note.id, refund_status=RefundStatus.PENDING).update(
            refund_status=RefundStatus.UNKNOWN, refund_error=str(error), refund_updated_at=clock.now())
        return RefundStatus.UNKNOWN
    faults.checkpoint("credit_note.refunded")  # the gateway answered; the refund still says PENDING
    succeeded = result.status == PaymentStatus.SUCCEEDED
    for _ in range(1 + result.repeated):  # every answer the gateway gave is recorded: the first settles it
        await record_refund(note.id, RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED,
                            result.reference, None if succeeded else result.message)
    return RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED


async def record_refund(credit_note_id: int, status: RefundStatus, reference: str | None,
                        error: str | None) -> None:
    """Settle a refund: a success posts Dr receivables / Cr cash (one refund entry per credit note, a unique
    key); a failure opens a notification. A refund settled already is left alone."""
    accounts = await ledger.posting_accounts()
    async with in_transaction() as tx:
        note = await locks.credit_note(tx, credit_note_id)
        if note is None or note.refund_status not in (RefundStatus.PENDING, RefundStatus.UNKNOWN):
            return
        invoice = note.invoice
        await models.CreditNote.filter(id=note.id).update(refund_status=status, refund_reference=reference,
                                                          refund_error=error, refund_updated_at=clock.now())
        if status == RefundStatus.SUCCEEDED:
            await _write_entry(tx, clock.today(), f"Refund of credit note {note.number}", invoice,
                               ledger.refund_lines(accounts.cash_id, accounts.receivable_id, note.refund_amount),
                               batch_id=None, credit_note_id=None, refund_of_id=note.id)
        else:
            await notifications.raise_once(
                note.batch_id, "REFUND_FAILED", f"The refund of credit note {note.number} ({note.refund_amount} "
                f"{note.currency}) failed: {error}.", f"refund-failed:{note.id}", account_id=note.account_id)
        await events.refund_settled(note, invoice, status, error)


async def settle_unknown(older_than: timedelta | None = None) -> int:
    """The sweeper's part: ask the gateway about every UNKNOWN refund; settle it and complete its chunk, or
    put it back to PENDING and refund again with the same key (never twice) when the gateway never saw it."""
    grace = older_than if older_than is not None else timedelta(seconds=get_settings().payment_settle_after_seconds)
    unknown = await models.CreditNote.filter(refund_status=RefundStatus.UNKNOWN,
                                             refund_updated_at__lte=clock.now() - grace)
    gateway = get_gateway()
    for note in unknown:
        result = await gateway.lookup(cast(str, note.refund_key))
        if result is not None:
            succeeded = result.status == PaymentStatus.SUCCEEDED
            await record_refund(note.id, RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED,
                                result.reference, None if succeeded else result.message)
            if note.job_id is not None:
                await jobs.complete_chunk(JOB, note.job_id, REFUND_CHUNK)
        elif await models.CreditNote.filter(id=note.id, refund_status=RefundStatus.UNKNOWN).update(
                refund_status=RefundStatus.PENDING, refund_updated_at=clock.now()) and note.job_id is not None:
            jobs.send_chunk(JOB, note.job_id, REFUND_CHUNK)
    return len(unknown)


JOB = jobs.Chunked(JobKind.CREDIT_NOTE, jobs.CREDIT_NOTE_TASK, chunks=_chunks, outside_work=_task)


# ---------------------------------------------------------------- the document


async def outgoing_documents(credit_note_ids: list[int]) -> list[sending.Outgoing]:
    """The printable documents of these credit notes, sent like invoices (to the invoice's bill-to)."""
    notes = await models.CreditNote.filter(id__in=credit_note_ids).order_by("id").select_related(
        "invoice__billing", "account")
    credited = await models.CreditNoteLine.filter(credit_note_id__in=credit_note_ids).order_by(
        "credit_note_id", "position").values_list("credit_note_id", "detail_id", "description", "amount", "kind")
    details = {d.id: d for d in await sending.traced_details(id__in={row[1] for row in credited})}
    lines: dict[int, list[InvoiceLine]] = defaultdict(list)
    for note_id, detail_id, description, amount, kind in credited:
        detail = details.get(detail_id)
        lines[note_id].append(printed_line(description, amount, kind, None if detail is None else detail.trace,
                                           whole=detail is not None and detail.amount == amount))
    issuer = sending.issuer()
    found = []
    for note in notes:
        invoice, billing = note.invoice, note.invoice.billing
        day = note.credit_date or invoice.invoice_date
        doc = InvoiceDocument(
            number=note.number or "DRAFT", invoice_date=day, due_date=day, currency=note.currency, issuer=issuer,
            account_number=note.account.number, account_name=invoice.bill_to_name,
            billing_email=invoice.bill_to_email, bill_to_address=address_lines(invoice.bill_to_address),
            period_start=billing.billing_start, period_end=billing.billing_end,
            lines=tuple(lines[note.id]), tax_amount=note.tax_amount, total=note.amount,
            external_comment=note.description, title="Credit note",
            references=(f"Credits invoice {invoice.number} of {invoice.invoice_date.isoformat()}",
                        f"Reason: {note.reason.value.replace('_', ' ').lower()}"),
            settlement=((f"Applied to invoice {invoice.number}", note.amount - note.credit_amount - note.refund_amount),
                        ("Account credit", note.credit_amount), ("Refund", note.refund_amount)))
        found.append(sending.Outgoing(invoice.id, note.account_id, invoice.bill_to_email, doc,
                                      credit_note_id=note.id))
    return found


async def render(credit_note_id: int) -> tuple[str, bytes] | None:
    """One credit note's PDF (file name, bytes), for download."""
    found = await outgoing_documents([credit_note_id])
    if not found:
        return None
    doc = found[0].doc
    return f"{doc.number}.pdf", await asyncio.to_thread(render_invoice_pdf, doc)


async def credit_balances(account_ids: list[int]) -> dict[int, Decimal]:
    """The account credit still available per account (issued credit notes' remainders)."""
    found: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for account_id, remaining in await models.CreditNote.filter(
            account_id__in=account_ids, credit_status=CreditStatus.AVAILABLE).values_list(
            "account_id", "credit_remaining"):
        found[account_id] += remaining
    return dict(found)

"""Sending a posted batch's invoices (docs/POSTING.md): each rendered to PDF and e-mailed to its
account's billing address over SMTP, or written to the outbox folder as an `.eml` (with the PDF beside it)
when no SMTP is configured, as on the embedded default.

A SEND job is a chunked job (`domain.jobs`), a chunk being a few invoices. Each invoice is sent on its own,
outside any transaction (e-mail cannot roll back): first claimed by a SENDING `Delivery` row (one in flight or
sent per invoice, a unique index), then SENT, or FAILED with a notification on the batch. So a redelivered
chunk, even running beside the first, never sends an invoice twice; the chunk is marked done once every
invoice of it is settled. A worker dying mid-send leaves the claim SENDING; the sweeper turns it into FAILED
with a notification for a person to check, rather than risk a second e-mail (docs/POSTING.md).
"""

import asyncio
import dataclasses
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from tortoise.exceptions import IntegrityError

import models
from billrun.settings import get_settings
from domain import clock, events, faults, jobs, mailer, notifications, validation
from domain.access import Viewer, get_visible, require
from domain.errors import DomainError, ErrorCode
from domain.invoice_pdf import InvoiceDocument, InvoiceLine, Issuer, address_lines, printed_line, render_invoice_pdf
from domain.ledger import open_balance
from domain.trace import BILLING_FIELDS, LINE_FIELDS, BillingRow, LineRow, Trace, compose
from domain.transactions import in_transaction
from models.enums import DeliveryChannel, DeliveryStatus, JobKind, Permission


async def _chunks(job: models.Job) -> list[jobs.Chunk]:
    """The batch's invoices, BILLRUN_SEND_CHUNK_SIZE at a time."""
    size = get_settings().send_chunk_size
    ids = await models.Invoice.filter(batch_id=job.batch_id).order_by("id").values_list("id", flat=True)
    return [jobs.Chunk(len(part), {"invoice_ids": part})
            for part in (ids[i:i + size] for i in range(0, len(ids), size))]


async def _send_chunk(job: models.Job, chunk: models.JobChunk) -> bool:
    """The work of one chunk, outside any transaction: every invoice of it with no delivery yet is claimed and
    sent. Done when each has a settled delivery (SENT or FAILED); one still SENDING (another worker at it, or
    one that died mid-send, which the sweeper reports) leaves the chunk open."""
    invoice_ids = chunk.params["invoice_ids"]
    invoices = models.Delivery.filter(invoice_id__in=invoice_ids, credit_note_id=None)  # not their credit notes
    attempted = set(await invoices.values_list("invoice_id", flat=True))
    for outgoing in await documents([i for i in invoice_ids if i not in attempted]):
        await deliver(job.batch_id, outgoing)
    return not await invoices.filter(status=DeliveryStatus.SENDING).exists()


@dataclass(frozen=True)
class Outgoing:
    """One invoice to send: its document and where it goes."""

    invoice_id: int
    account_id: int
    recipient: str
    doc: InvoiceDocument
    credit_note_id: int | None = None  # a credit note of the invoice, sent the same way


async def deliver(batch_id: int | None, outgoing: Outgoing) -> None:
    """Claim, render, send and record one invoice. The claim is a SENDING delivery row under a unique index:
    whoever inserts it sends; anyone else (a redelivered message) skips the invoice."""
    invoice_id, doc, recipient = outgoing.invoice_id, outgoing.doc, outgoing.recipient
    settings = get_settings()
    try:
        claim = await models.Delivery.create(invoice_id=invoice_id, credit_note_id=outgoing.credit_note_id,
                                             channel=_channel(), recipient=recipient, status=DeliveryStatus.SENDING)
    except IntegrityError:
        return  # being sent by another worker, or sent already
    pdf = await asyncio.to_thread(render_invoice_pdf, doc)
    try:
        message = mailer.invoice_message(doc, pdf, sender=settings.mail_from)
        sent = await mailer.send(message, smtp_url=settings.smtp_url, outbox_dir=settings.outbox_dir)
    except (mailer.DeliveryFailed, ValueError) as error:  # ValueError: no usable billing address
        async with in_transaction():
            await models.Delivery.filter(id=claim.id).update(status=DeliveryStatus.FAILED, error=str(error)[:2000])
            await events.invoice_delivery_failed(batch_id, invoice_id, outgoing.account_id, doc.number, claim.id,
                                                 str(error))
            await notifications.raise_once(batch_id, "DELIVERY_FAILED",
                                           f"{doc.title} {doc.number} could not be sent to {recipient}: {error}",
                                           _failure_key(outgoing), account_id=outgoing.account_id)
        return
    faults.checkpoint("send.mailed")  # the e-mail left; its delivery still says SENDING
    if sent.channel == DeliveryChannel.OUTBOX_FILE.value and sent.path:
        _write_pdf_beside(Path(sent.path), pdf)
    async with in_transaction():
        await models.Delivery.filter(id=claim.id).update(
            status=DeliveryStatus.SENT, channel=DeliveryChannel(sent.channel), message_id=sent.message_id,
            path=sent.path)
        await events.invoice_delivered(batch_id, invoice_id, outgoing.account_id, doc.number, claim.id,
                                       sent.channel)


def _failure_key(outgoing: Outgoing) -> str:
    if outgoing.credit_note_id is not None:
        return f"delivery-failed:credit-note:{outgoing.credit_note_id}"
    return f"delivery-failed:{outgoing.invoice_id}"


async def settle_stuck(older_than: timedelta | None = None) -> int:
    """Deliveries left SENDING (the worker died mid-send) longer than `older_than` (default
    BILLRUN_DELIVERY_STUCK_AFTER_SECONDS): whether the e-mail left is unknown, so they are FAILED with a
    notification asking a person to check, never sent again blindly (the sweeper's part)."""
    if older_than is None:
        older_than = timedelta(seconds=get_settings().delivery_stuck_after_seconds)
    stuck = await models.Delivery.filter(status=DeliveryStatus.SENDING,
                                         created_at__lte=clock.now() - older_than).select_related("invoice")
    error = "outcome unknown: the worker stopped while sending"
    for delivery in stuck:
        async with in_transaction():
            if not await models.Delivery.filter(id=delivery.id, status=DeliveryStatus.SENDING).update(
                    status=DeliveryStatus.FAILED, error=error):
                continue
            invoice = delivery.invoice
            await events.invoice_delivery_failed(invoice.batch_id, invoice.id, invoice.account_id, invoice.number,
                                                 delivery.id, error)
            await notifications.raise_once(
                invoice.batch_id, "DELIVERY_UNKNOWN",
                f"Invoice {invoice.number} may or may not have reached {delivery.recipient}: the worker stopped "
                "while sending it. Check with the customer before sending it again.",
                f"delivery-unknown:{delivery.id}", account_id=invoice.account_id)
    return len(stuck)


def _channel() -> DeliveryChannel:
    return DeliveryChannel.SMTP if get_settings().smtp_url else DeliveryChannel.OUTBOX_FILE


def _write_pdf_beside(eml: Path, pdf: bytes) -> None:
    target = eml.with_suffix(".pdf")
    temporary = target.with_suffix(".pdf.tmp")
    temporary.write_bytes(pdf)
    os.replace(temporary, target)


def issuer() -> Issuer:
    """The issuer printed on invoices and credit notes (BILLRUN_ISSUER_*)."""
    settings = get_settings()
    return Issuer(settings.issuer_name.strip(), address_lines(settings.issuer_address),
                  settings.issuer_tax_id.strip(), settings.issuer_contact.strip())


DETAIL_FIELDS = ("id", "billing_id", "description", *LINE_FIELDS, *(f"billing__{f}" for f in BILLING_FIELDS))


@dataclass(frozen=True)
class TracedDetail:
    """A billing detail line with its composed trace (what its printed period, quantity and unit price say)."""

    id: int
    billing_id: int
    description: str
    kind: str
    amount: Decimal
    trace: Trace


async def traced_details(**filters: object) -> list[TracedDetail]:
    """The detail lines matching `filters`, in billing and line order, each with its trace: one query."""
    found = []
    for row in await models.BillingDetail.filter(**filters).order_by("billing_id", "position", "id").values(
            *DETAIL_FIELDS):
        trace = compose(LineRow(**{f: row[f] for f in LINE_FIELDS}),
                        BillingRow(**{f: row[f"billing__{f}"] for f in BILLING_FIELDS}))
        kind = row["kind"]
        found.append(TracedDetail(row["id"], row["billing_id"], row["description"],
                                  kind.value if hasattr(kind, "value") else kind, row["amount"], trace))
    return found


async def documents(invoice_ids: list[int]) -> list[Outgoing]:
    """The printable documents of these invoices, with their recipients, in two queries."""
    invoices = await models.Invoice.filter(id__in=invoice_ids).order_by("id").select_related("account", "billing")
    lines: dict[int, list[InvoiceLine]] = defaultdict(list)
    for detail in await traced_details(billing_id__in=[i.billing_id for i in invoices]):
        lines[detail.billing_id].append(printed_line(detail.description, detail.amount, detail.kind, detail.trace))
    sender = issuer()
    found = []
    for invoice in invoices:
        billing, account = invoice.billing, invoice.account
        credited = (("Credited", invoice.amount_credited),) if invoice.amount_credited else ()
        doc = InvoiceDocument(
            number=invoice.number, invoice_date=invoice.invoice_date, due_date=invoice.due_date,
            currency=invoice.currency, issuer=sender, account_number=account.number,
            account_name=invoice.bill_to_name, billing_email=invoice.bill_to_email,
            bill_to_address=address_lines(invoice.bill_to_address),
            period_start=billing.billing_start, period_end=billing.billing_end,  # the days billed
            lines=tuple(lines[billing.id]), tax_amount=invoice.tax_amount, total=invoice.amount,
            settlement=(("Amount paid", invoice.amount_paid + invoice.credit_applied), *credited,
                        ("Amount due", open_balance(invoice))),
            payment_terms_days=(invoice.due_date - invoice.invoice_date).days,
            autopay=account.autopay_enabled and bool(account.payment_method_token),
            external_comment=billing.external_comment)  # the internal comment never leaves the house
        found.append(Outgoing(invoice.id, account.id, invoice.bill_to_email, doc))
    return found


async def resend(viewer: Viewer, invoice_id: int, recipient: str | None = None) -> models.Delivery:
    """Send one invoice again after its delivery failed, to its bill-to address or to `recipient` (a corrected
    address). Refused while it is being sent, or once it was sent. Returns the new delivery (SENT or FAILED)."""
    require(viewer, Permission.BILLING_ACCESS)
    invoice = await get_visible(viewer, models.Invoice, invoice_id, "Invoice", "invoiceId")
    require(viewer, Permission.BILLING_SEND_EXPORT)
    recipient = validation.email_address(recipient, "recipient") if recipient is not None else None
    if await models.Delivery.exists(invoice_id=invoice.id, credit_note_id=None,
                                    status__in=[DeliveryStatus.SENDING, DeliveryStatus.SENT]):
        raise DomainError(ErrorCode.INVALID_STATUS, f"Invoice {invoice.number} is sent or being sent.", "invoiceId")
    [outgoing] = await documents([invoice.id])
    if recipient is not None:
        address = recipient
        outgoing = Outgoing(outgoing.invoice_id, outgoing.account_id, address,
                            dataclasses.replace(outgoing.doc, billing_email=address))
    await deliver(invoice.batch_id, outgoing)
    delivery = await models.Delivery.filter(invoice_id=invoice.id, credit_note_id=None).order_by("-id").first()
    if delivery is None:  # `deliver` records every attempt, sent or failed
        raise RuntimeError(f"Invoice {invoice.number} was delivered without a delivery row")
    return delivery


JOB = jobs.Chunked(JobKind.SEND, jobs.SEND_CHUNK, chunks=_chunks, outside_work=_send_chunk)


async def render(invoice_id: int) -> tuple[str, bytes] | None:
    """One invoice's PDF (file name, bytes), for download."""
    found = await documents([invoice_id])
    if not found:
        return None
    doc = found[0].doc
    return f"{doc.number}.pdf", await asyncio.to_thread(render_invoice_pdf, doc)

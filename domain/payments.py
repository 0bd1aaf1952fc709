"""Auto-pay (docs/POSTING.md): a charge per invoice of an auto-pay account, through the `PaymentGateway`.

Posting creates one PENDING `Payment` per payable invoice, its idempotency key derived from the invoice, and
an AUTO_PAY job (a chunked job, `domain.jobs`: a chunk per payment) whose messages charge them one by one,
outside any transaction. A transient gateway error is logged as a warning and retried by the broker with
backoff, up to `payment_max_attempts`, then the payment FAILS with a notification; a decline opens a
notification; a timeout leaves the payment UNKNOWN (and its chunk open) until the sweeper asks the gateway
what became of its key. Any number of attempts, redeliveries or sweeps charge an invoice at most once: the
gateway answers a repeated key with the first outcome, and the database allows one successful payment per
invoice. A success pays the invoice and posts Dr cash / Cr receivables.
"""

import logging
from datetime import timedelta
from typing import cast

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

import models
from billrun.settings import get_settings
from domain import clock, events, faults, jobs, ledger, notifications
from domain.access import Viewer, get_visible, require
from domain.errors import DomainError, ErrorCode
from domain.gateway import ChargeResult, GatewayTimeout, TransientGatewayError, get_gateway
from domain.transactions import in_transaction
from models import locks
from models.bulk import allocate_ids, insert_rows
from models.enums import InvoiceStatus, JobKind, PaymentStatus, Permission

log = logging.getLogger("billrun.payments")

UNSETTLED = (PaymentStatus.PENDING, PaymentStatus.UNKNOWN)


async def _chunks(job: models.Job) -> list[jobs.Chunk]:
    """A chunk per payment of the job (its id range within the batch), numbered by the payment's id."""
    ids = cast(list[int], await models.Payment.filter(
        invoice__batch_id=job.batch_id, id__gte=job.params["first_payment_id"],
        id__lte=job.params["last_payment_id"]).order_by("id").values_list("id", flat=True))
    return [jobs.Chunk(1, number=payment_id) for payment_id in ids]


async def _charge_chunk(job: models.Job, chunk: models.JobChunk) -> bool:
    """The work of one chunk, outside any transaction: charge its payment. Done once the payment is settled; an
    UNKNOWN answer leaves the chunk open until the sweeper settles the payment and completes it."""
    return await charge(chunk.chunk_no) not in UNSETTLED


async def retry(viewer: Viewer, invoice_id: int) -> models.Payment:
    """Charge an invoice again after its auto-pay was declined or failed (say, once the customer has a new
    card on file): a new payment with a new idempotency key, through the same worker path."""
    require(viewer, Permission.BILLING_ACCESS)
    invoice = await get_visible(viewer, models.Invoice, invoice_id, "Invoice", "invoiceId")
    require(viewer, Permission.BILLING_SEND_EXPORT)
    account = await models.Account.get(id=invoice.account_id)
    due = ledger.open_balance(invoice)
    if due <= 0:
        raise DomainError(ErrorCode.INVALID_STATUS, f"Invoice {invoice.number} has nothing left to pay.", "invoiceId")
    if not account.autopay_enabled or not account.payment_method_token:
        raise DomainError(ErrorCode.INVALID_STATUS, f"Account {account.number} has no auto-pay payment method.",
                          "invoiceId")
    if await models.Payment.exists(invoice_id=invoice.id, status__in=[*UNSETTLED, PaymentStatus.SUCCEEDED]):
        raise DomainError(ErrorCode.INVALID_STATUS, f"Invoice {invoice.number} has a payment under way or made.",
                          "invoiceId")
    async with in_transaction():
        attempt = await models.Payment.filter(invoice_id=invoice.id).count() + 1
        payment = await models.Payment.create(invoice_id=invoice.id, amount=due, status=PaymentStatus.PENDING,
                                              idempotency_key=f"autopay-invoice-{invoice.id}-{attempt}")
        job = await jobs.follow_up(JobKind.AUTO_PAY, batch_id=invoice.batch_id, created_by=viewer.user_id,
                                   first_payment_id=payment.id, last_payment_id=payment.id)
    jobs.start(job)
    return payment


async def charge(payment_id: int) -> PaymentStatus | None:
    """One attempt at one payment; returns its status after it. A transient gateway error is logged as one
    warning and retried by the broker after its backoff (raised as `jobs.retry_later`), up to
    BILLRUN_PAYMENT_MAX_ATTEMPTS calls, after which the payment FAILS."""
    payment = await models.Payment.get_or_none(id=payment_id).select_related("invoice__account")
    if payment is None or payment.status != PaymentStatus.PENDING:
        return payment.status if payment else None
    await models.Payment.filter(id=payment.id).update(attempts=F("attempts") + 1, updated_at=clock.now())
    attempts = payment.attempts + 1
    invoice = payment.invoice
    try:
        result = await get_gateway().charge(payment.idempotency_key, invoice.account.payment_method_token or "",
                                            payment.amount, invoice.currency)
    except TransientGatewayError as error:
        limit = get_settings().payment_max_attempts
        if attempts >= limit:
            await _give_up(payment, f"{error} — gave up after {attempts} attempts")
            return PaymentStatus.FAILED
        await models.Payment.filter(id=payment.id).update(error=str(error))
        log.warning("auto-pay of invoice %s (payment %s), attempt %s of %s: %s; retrying later", invoice.number,
                    payment.id, attempts, limit, error)
        raise jobs.retry_later(str(error)) from None
    except GatewayTimeout as error:
        await models.Payment.filter(id=payment.id, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.UNKNOWN, error=str(error), updated_at=clock.now())
        return PaymentStatus.UNKNOWN
    faults.checkpoint("auto_pay.charged")  # the gateway answered; the payment still says PENDING
    for _ in range(1 + result.repeated):  # every answer the gateway gave is recorded: the first settles it
        await record(payment.id, result)
    return result.status


async def record(payment_id: int, result: ChargeResult) -> None:
    """Settle a payment with the gateway's answer: a success pays the invoice and posts to the ledger; a
    decline opens a notification. A payment settled already is left alone."""
    async with in_transaction() as tx:
        payment = await locks.payment(tx, payment_id)
        if payment is None or payment.status not in UNSETTLED:
            return
        invoice = payment.invoice
        now = clock.now()
        if result.status == PaymentStatus.SUCCEEDED:
            await models.Payment.filter(id=payment.id).update(status=PaymentStatus.SUCCEEDED, settled_at=now,
                                                              gateway_reference=result.reference, error=None)
            paid = invoice.amount_paid + payment.amount
            owed = invoice.amount - invoice.amount_credited - invoice.credit_applied  # less credit notes
            await models.Invoice.filter(id=invoice.id).update(
                amount_paid=paid, status=InvoiceStatus.PAID if paid >= owed else InvoiceStatus.PARTIALLY_PAID)
            await _post_receipt(tx, payment, invoice)
        else:
            await models.Payment.filter(id=payment.id).update(status=PaymentStatus.DECLINED, settled_at=now,
                                                              gateway_reference=result.reference, error=result.message)
            await notifications.raise_once(
                invoice.batch_id, "PAYMENT_DECLINED",
                f"Auto-pay of invoice {invoice.number} ({payment.amount} {invoice.currency}) was declined: "
                f"{result.message}.", f"payment-declined:{payment.id}", account_id=invoice.account_id)
        await events.payment_settled(payment, invoice, result.status,
                                     None if result.status == PaymentStatus.SUCCEEDED else result.message)


async def _post_receipt(tx: BaseDBAsyncClient, payment: models.Payment, invoice: models.Invoice) -> None:
    accounts = await ledger.posting_accounts()
    lines = ledger.payment_lines(accounts.cash_id, accounts.receivable_id, payment.amount)
    [entry_id] = await allocate_ids(tx, "journal_entry", 1)
    await insert_rows(tx, "journal_entry", ("id", "entry_date", "memo", "invoice_id", "payment_id", "batch_id",
                                            "created_at"),
                      [(entry_id, clock.today(), f"Auto-pay of invoice {invoice.number}", invoice.id, payment.id,
                        invoice.batch_id, clock.now())])
    line_ids = await allocate_ids(tx, "journal_line", len(lines))
    await insert_rows(tx, "journal_line", ("id", "entry_id", "ledger_account_id", "debit", "credit", "memo"),
                      [(line_id, entry_id, ln.ledger_account_id, ln.debit, ln.credit, ln.memo)
                       for line_id, ln in zip(line_ids, lines, strict=True)])


async def _give_up(payment: models.Payment, error: str) -> None:
    async with in_transaction():
        updated = await models.Payment.filter(id=payment.id, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.FAILED, error=error[:2000], settled_at=clock.now())
        if updated:
            invoice = payment.invoice
            await events.payment_settled(payment, invoice, PaymentStatus.FAILED, error)
            await notifications.raise_once(
                invoice.batch_id, "PAYMENT_FAILED",
                f"Auto-pay of invoice {invoice.number} failed: {error}", f"payment-failed:{payment.id}",
                account_id=invoice.account_id)


# ---------------------------------------------------------------- the sweeper's part


async def settle_unknown(older_than: timedelta | None = None) -> int:
    """Ask the gateway about every UNKNOWN payment: settle it with the answer and complete its chunk, or, when
    the gateway never saw the key, put it back to PENDING and charge again (the same key: never twice)."""
    grace = older_than if older_than is not None else timedelta(seconds=get_settings().payment_settle_after_seconds)
    unknown = await models.Payment.filter(status=PaymentStatus.UNKNOWN, updated_at__lte=clock.now() - grace)
    gateway = get_gateway()
    for payment in unknown:
        result = await gateway.lookup(payment.idempotency_key)
        job_id = await _job_of(payment.id)
        if result is not None:
            await record(payment.id, result)
            if job_id is not None:
                await jobs.complete_chunk(JOB, job_id, payment.id)
        elif await models.Payment.filter(id=payment.id, status=PaymentStatus.UNKNOWN).update(
                status=PaymentStatus.PENDING, updated_at=clock.now()) and job_id is not None:
            jobs.send_chunk(JOB, job_id, payment.id)
    return len(unknown)


async def _job_of(payment_id: int) -> int | None:
    """The AUTO_PAY job charging this payment (its chunk is numbered by the payment's id)."""
    return cast(int | None, await models.JobChunk.filter(chunk_no=payment_id, job__kind=JobKind.AUTO_PAY).order_by(
        "-id").first().values_list("job_id", flat=True))


async def give_up(job_id: int, chunk_no: int, error: str) -> None:
    """A charge message failed on every retry for a reason other than the gateway's (a bug, the database
    down for long): the payment FAILS with a notification rather than wait forever, and its chunk is done."""
    payment = await models.Payment.get_or_none(id=chunk_no).select_related("invoice")
    if payment is not None and payment.status == PaymentStatus.PENDING:
        await _give_up(payment, error)
    await jobs.complete_chunk(JOB, job_id, chunk_no)


JOB = jobs.Chunked(JobKind.AUTO_PAY, jobs.CHARGE_PAYMENT, chunks=_chunks, outside_work=_charge_chunk,
                   on_exhausted=jobs.GIVE_UP_PAYMENT)

"""Auto-pay (SPEC §4 step 5): a charge per invoice of an auto-pay account, through the `PaymentGateway`.

Posting creates one PENDING `Payment` per payable invoice, its idempotency key derived from the invoice, and
an AUTO_PAY job whose messages charge them one by one. A transient gateway error is retried by the broker
with backoff, up to `payment_max_attempts`, then the payment FAILS with a notification; a decline opens a
notification; a timeout leaves the payment UNKNOWN until the sweeper asks the gateway what became of its
key. Any number of attempts, redeliveries or sweeps charge an invoice at most once: the gateway answers a
repeated key with the first outcome, and the database allows one successful payment per invoice.
A success pays the invoice and posts Dr cash / Cr receivables.
"""

from datetime import timedelta

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

import models
from billrun.settings import get_settings
from domain import clock, events, jobs, ledger, notifications
from domain.access import Viewer, get_visible, require
from domain.errors import DomainError, ErrorCode
from domain.gateway import ChargeResult, GatewayTimeout, TransientGatewayError, get_gateway
from models.bulk import allocate_ids, insert_rows, is_postgres
from models.enums import InvoiceStatus, JobKind, JobStatus, PaymentStatus, Permission

UNSETTLED = (PaymentStatus.PENDING, PaymentStatus.UNKNOWN)


async def plan(job_id: int) -> None:
    """Send a charge message for every PENDING payment of the job's batch (idempotent)."""
    job = await models.Job.get_or_none(id=job_id)
    if job is None or job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return
    pending = await models.Payment.filter(invoice__batch_id=job.batch_id, status=PaymentStatus.PENDING).values_list(
        "id", flat=True)
    if job.status == JobStatus.QUEUED:
        await jobs.mark_running(job, total=job.progress_total)
    for payment_id in pending:
        jobs.send(jobs.CHARGE_PAYMENT, payment_id=payment_id, on_exhausted=jobs.GIVE_UP_PAYMENT)
    await _progress(job.batch_id)


async def retry(viewer: Viewer, invoice_id: int) -> models.Payment:
    """Charge an invoice again after its auto-pay was declined or failed (say, once the customer has a new
    card on file): a new payment with a new idempotency key, through the same worker path."""
    require(viewer, Permission.BILLING_ACCESS)
    invoice = await get_visible(viewer, models.Invoice, invoice_id, "Invoice", "invoiceId")
    require(viewer, Permission.BILLING_SEND_EXPORT)
    account = await models.Account.get(id=invoice.account_id)
    due = invoice.amount - invoice.amount_paid
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
        job = await jobs.create(JobKind.AUTO_PAY, batch_id=invoice.batch_id, created_by=viewer.user_id)
        await models.Job.filter(id=job.id).update(
            progress_total=await models.Payment.filter(invoice__batch_id=invoice.batch_id).count())
        await events.record("JOB_QUEUED", batch_id=invoice.batch_id, job_id=job.id, job_kind=job.kind.value)
    jobs.start(job)
    return payment


async def charge(payment_id: int) -> None:
    """One attempt at one payment. Raises TransientGatewayError to have the broker retry it later."""
    payment = await models.Payment.get_or_none(id=payment_id).select_related("invoice__account")
    if payment is None or payment.status != PaymentStatus.PENDING:
        return
    await models.Payment.filter(id=payment.id).update(attempts=F("attempts") + 1, updated_at=clock.now())
    attempts = payment.attempts + 1
    invoice = payment.invoice
    try:
        result = await get_gateway().charge(payment.idempotency_key, invoice.account.payment_method_token or "",
                                            payment.amount, invoice.currency)
    except TransientGatewayError as error:
        if attempts >= get_settings().payment_max_attempts:
            await _give_up(payment, f"{error} — gave up after {attempts} attempts")
            return
        await models.Payment.filter(id=payment.id).update(error=str(error))
        raise
    except GatewayTimeout as error:
        await models.Payment.filter(id=payment.id, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.UNKNOWN, error=str(error), updated_at=clock.now())
        return
    await record(payment.id, result)


async def record(payment_id: int, result: ChargeResult) -> None:
    """Settle a payment with the gateway's answer: a success pays the invoice and posts to the ledger; a
    decline opens a notification. A payment settled already is left alone."""
    lock = " FOR UPDATE" if is_postgres(connections.get("default")) else ""
    async with in_transaction() as tx:
        rows = await tx.execute_query_dict(f"SELECT status FROM payment WHERE id = {int(payment_id)}{lock}")
        if not rows or rows[0]["status"] not in UNSETTLED:
            return
        payment = await models.Payment.get(id=payment_id).select_related("invoice")
        invoice = payment.invoice
        now = clock.now()
        if result.status == PaymentStatus.SUCCEEDED:
            await models.Payment.filter(id=payment.id).update(status=PaymentStatus.SUCCEEDED, settled_at=now,
                                                              gateway_reference=result.reference, error=None)
            paid = invoice.amount_paid + payment.amount
            await models.Invoice.filter(id=invoice.id).update(
                amount_paid=paid, status=InvoiceStatus.PAID if paid >= invoice.amount else InvoiceStatus.PARTIALLY_PAID)
            await _post_receipt(tx, payment, invoice)
        else:
            await models.Payment.filter(id=payment.id).update(status=PaymentStatus.DECLINED, settled_at=now,
                                                              gateway_reference=result.reference, error=result.message)
            await notifications.raise_once(
                invoice.batch_id, "PAYMENT_DECLINED",
                f"Auto-pay of invoice {invoice.number} ({payment.amount} {invoice.currency}) was declined: "
                f"{result.message}.", f"payment-declined:{payment.id}", account_id=invoice.account_id)
        await events.record("PAYMENT", batch_id=invoice.batch_id, payment_id=payment.id, invoice=invoice.number,
                            status=result.status.value)
    await _progress(invoice.batch_id)


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
            await notifications.raise_once(
                invoice.batch_id, "PAYMENT_FAILED",
                f"Auto-pay of invoice {invoice.number} failed: {error}", f"payment-failed:{payment.id}",
                account_id=invoice.account_id)
    await _progress(payment.invoice.batch_id)


async def _progress(batch_id: int) -> None:
    """The batch's AUTO_PAY job counts settled payments; it succeeds when none is left to settle. The job row
    is locked while counting, so two payments settling at once cannot store a stale count."""
    job_id = await models.Job.filter(batch_id=batch_id, kind=JobKind.AUTO_PAY).order_by("-id").first().values_list(
        "id", flat=True)
    if job_id is None:
        return
    async with in_transaction() as tx:
        lock = " FOR UPDATE" if is_postgres(tx) else ""
        await tx.execute_query(f"SELECT id FROM job WHERE id = {int(job_id)}{lock}")  # type: ignore[arg-type]
        payments = models.Payment.filter(invoice__batch_id=batch_id)
        total = await payments.count()
        done = total - await payments.filter(status__in=UNSETTLED).count()
        finished = done >= total
        await models.Job.filter(id=job_id).update(
            progress_done=done, progress_total=total, status=JobStatus.SUCCEEDED if finished else JobStatus.RUNNING,
            finished_at=clock.now() if finished else None)
        await events.record("JOB_PROGRESS", batch_id=batch_id, job_id=job_id, done=done, total=total)


# ---------------------------------------------------------------- the sweeper's part


async def settle_unknown(older_than: timedelta | None = None) -> int:
    """Ask the gateway about every UNKNOWN payment: settle it with the answer, or, when the gateway never
    saw the key, put it back to PENDING and charge again (the same key: never twice)."""
    grace = older_than if older_than is not None else timedelta(seconds=get_settings().payment_settle_after_seconds)
    unknown = await models.Payment.filter(status=PaymentStatus.UNKNOWN, updated_at__lte=clock.now() - grace)
    gateway = get_gateway()
    for payment in unknown:
        result = await gateway.lookup(payment.idempotency_key)
        if result is not None:
            await record(payment.id, result)
        elif await models.Payment.filter(id=payment.id, status=PaymentStatus.UNKNOWN).update(
                status=PaymentStatus.PENDING, updated_at=clock.now()):
            jobs.send(jobs.CHARGE_PAYMENT, payment_id=payment.id, on_exhausted=jobs.GIVE_UP_PAYMENT)
    return len(unknown)


async def resend_stale(older_than: timedelta = timedelta(minutes=10)) -> int:
    """Charge again PENDING payments untouched for a while (their message was lost). Each is touched as it is
    re-sent, atomically, so several sweepers at once re-send it once, and not again before `older_than`."""
    cutoff = clock.now() - older_than
    resent = 0
    for payment_id in await models.Payment.filter(status=PaymentStatus.PENDING, updated_at__lte=cutoff).values_list(
            "id", flat=True):
        if await models.Payment.filter(id=payment_id, status=PaymentStatus.PENDING, updated_at__lte=cutoff).update(
                updated_at=clock.now()):
            jobs.send(jobs.CHARGE_PAYMENT, payment_id=payment_id, on_exhausted=jobs.GIVE_UP_PAYMENT)
            resent += 1
    return resent


async def give_up(payment_id: int, error: str) -> None:
    """A charge message failed on every retry for a reason other than the gateway's (a bug, the database
    down for long): the payment FAILS with a notification rather than wait forever."""
    payment = await models.Payment.get_or_none(id=payment_id).select_related("invoice")
    if payment is not None and payment.status == PaymentStatus.PENDING:
        await _give_up(payment, error)

"""Locks a transaction takes to serialize concurrent writers, one function per need, held until the caller's
transaction ends.

PostgreSQL locks rows (`FOR UPDATE`, `FOR SHARE`) and takes advisory transaction locks
(`pg_advisory_xact_lock`) for rules that count rows before adding one. SQLite (the embedded default) has one
writer at a time (Tortoise runs a transaction under the connection's own lock), so there the same functions
only read. Call them inside `in_transaction()` and pass its connection.
"""

import hashlib

from tortoise.backends.base.client import BaseDBAsyncClient

from models.billing import PeriodicBilling
from models.bulk import is_postgres
from models.ledger import CreditNote, Invoice, Payment
from models.operations import Job, JobChunk


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (the same in every process, unlike `hash()`)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


async def hold_transaction_locks(conn: BaseDBAsyncClient, *names: str) -> None:
    """Take the locks named, waiting for any other transaction holding one of them.

    Call inside `in_transaction()` with its connection. The keys are taken in one global order (sorted),
    so two transactions asking for overlapping sets can never deadlock.
    """
    if conn.capabilities.dialect != "postgres":
        return
    for key in sorted({lock_key(name) for name in names}):
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [key])



async def job(tx: BaseDBAsyncClient, job_id: int) -> Job | None:
    """The job, its row locked (its batch loaded, not locked): planning and finishing serialize on it."""
    return await (Job.filter(id=job_id).select_related("batch").select_for_update(of=("job",))
                  .using_db(tx).first())


async def job_chunk(tx: BaseDBAsyncClient, job_id: int, chunk_no: int) -> JobChunk | None:
    """A chunk of a job, its row locked: a redelivered message waits for the first run, then finds it done."""
    return await JobChunk.filter(job_id=job_id, chunk_no=chunk_no).select_for_update().using_db(tx).first()


async def payment(tx: BaseDBAsyncClient, payment_id: int) -> Payment | None:
    """A payment, its row locked while it is settled (its invoice loaded, not locked)."""
    return await (Payment.filter(id=payment_id).select_related("invoice").select_for_update(of=("payment",))
                  .using_db(tx).first())


async def invoice(tx: BaseDBAsyncClient, invoice_id: int) -> Invoice | None:
    """An invoice, its row locked: credit notes of one invoice are issued one at a time (its open amounts)."""
    return await Invoice.filter(id=invoice_id).select_for_update().using_db(tx).first()


async def credit_note(tx: BaseDBAsyncClient, credit_note_id: int) -> CreditNote | None:
    """A credit note, its row locked while it is issued, voided or its refund settled (its invoice loaded)."""
    return await (CreditNote.filter(id=credit_note_id).select_related("invoice").select_for_update(
        of=("credit_note",)).using_db(tx).first())


async def available_credit(tx: BaseDBAsyncClient, account_ids: list[int], currency: str) -> list[CreditNote]:
    """The account credit still AVAILABLE on these accounts, oldest first, rows locked: two postings
    applying the same credit to different invoices serialize here."""
    return list(await CreditNote.filter(account_id__in=account_ids, currency=currency,
                                        credit_status="AVAILABLE").order_by("id").select_for_update()
                .using_db(tx))


async def billing(tx: BaseDBAsyncClient, billing_id: int) -> PeriodicBilling | None:
    """A billing, its row locked: an edit and a disposition of the same billing serialize."""
    return await PeriodicBilling.filter(id=billing_id).select_for_update().using_db(tx).first()


async def batch_status_shared(conn: BaseDBAsyncClient, batch_id: int | None) -> str | None:
    """A batch's status, its row share-locked: changes to its billings may go on together, while a change of the
    batch's own row (posting it) waits for them and they wait for it."""
    lock = " FOR SHARE" if is_postgres(conn) else ""
    mark = "$1" if is_postgres(conn) else "?"
    rows = await conn.execute_query_dict(f"SELECT status FROM billing_batch WHERE id = {mark}{lock}", [batch_id])
    return rows[0]["status"] if rows else None

"""Statements the domain needs that the ORM cannot say in one round trip, one function per need, each right for
its dialect (PostgreSQL `$n` placeholders and arrays; SQLite `?` and parameter lists). Call them inside
`in_transaction()` and pass its connection.
"""

import hashlib
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from models.bulk import is_postgres


def placeholders(conn: BaseDBAsyncClient, count: int) -> list[str]:
    """`count` query parameter placeholders of the connection's dialect, in order."""
    return [f"${i}" for i in range(1, count + 1)] if is_postgres(conn) else ["?"] * count


# ---------------------------------------------------------------- jobs


async def add_job_progress(tx: BaseDBAsyncClient, job_id: int, size: int, at: datetime) -> tuple[int, int]:
    """Count `size` more units of a job done and touch its heartbeat; returns (done, total). The UPDATE
    row-locks the job until commit, so chunks finishing at once count one after the other."""
    size_mark, at_mark, id_mark = placeholders(tx, 3)
    rows = await tx.execute_query_dict(
        f"UPDATE job SET progress_done = progress_done + {size_mark}, updated_at = {at_mark} "
        f"WHERE id = {id_mark} RETURNING progress_done, progress_total", [size, at, job_id])
    return rows[0]["progress_done"], rows[0]["progress_total"]


# ---------------------------------------------------------------- number sequences


async def ensure_sequence(conn: BaseDBAsyncClient, name: str) -> None:
    """Create sequence `name` at 0 unless it exists (safe when two callers race)."""
    await conn.execute_query(
        "INSERT INTO number_sequence (name, last_value) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING"
        if is_postgres(conn) else "INSERT OR IGNORE INTO number_sequence (name, last_value) VALUES (?, 0)", [name])


async def advance_sequence(conn: BaseDBAsyncClient, name: str, count: int) -> int | None:
    """Take `count` numbers of sequence `name`; the last one taken, or None when there is no such sequence. The
    row stays locked until the caller's transaction ends."""
    count_mark, name_mark = placeholders(conn, 2)
    rows = await conn.execute_query_dict(
        f"UPDATE number_sequence SET last_value = last_value + {count_mark} WHERE name = {name_mark} "
        "RETURNING last_value", [count, name])
    return int(rows[0]["last_value"]) if rows else None


# ---------------------------------------------------------------- the journal


async def defer_journal_line_entry_check(tx: BaseDBAsyncClient) -> None:
    """Until `tx` commits, journal lines may name entries not written yet (their reference is checked at
    commit): PostgreSQL defers that one constraint, SQLite its foreign keys for the transaction."""
    await tx.execute_query("SET CONSTRAINTS journal_line_entry_id_fkey DEFERRED" if is_postgres(tx)
                           else "PRAGMA defer_foreign_keys = ON")


# ---------------------------------------------------------------- the event stream

EVENT_SEQUENCE = "event"
EVENT_COLUMNS = ("id", "type", "batch_id", "job_id", "billing_id", "invoice_id", "account_id", "payload",
                 "created_at")


async def append_events(tx: BaseDBAsyncClient, rows: list[tuple]) -> int:
    """Write events (every column of EVENT_COLUMNS but the id, the payload as JSON text) with the next ids of the
    `event` sequence; returns the last id written.

    The sequence row stays locked until `tx` ends, so transactions writing events commit one after the other in
    id order: a reader that saw id n has seen every id below it. Call it last in the transaction (no other lock
    is taken after it, and the events have no foreign keys to lock other rows by), so no transaction ever waits
    for another while holding it."""
    last = await advance_sequence(tx, EVENT_SEQUENCE, len(rows))
    if last is None:  # a new database: the first events ever
        await ensure_sequence(tx, EVENT_SEQUENCE)
        last = await advance_sequence(tx, EVENT_SEQUENCE, len(rows))
    assert last is not None
    first = last - len(rows) + 1
    marks = ", ".join(placeholders(tx, len(EVENT_COLUMNS)))
    await tx.execute_many(f"INSERT INTO event ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})",
                          [[first + n, *row] for n, row in enumerate(rows)])
    return last


async def last_event_id(conn: BaseDBAsyncClient) -> int:
    """The highest event id committed (0 for none): every event up to it is visible."""
    rows = await conn.execute_query_dict("SELECT MAX(id) AS top FROM event")
    return int(rows[0]["top"] or 0)


# ---------------------------------------------------------------- billings


async def invoice_approved_billings(tx: BaseDBAsyncClient, batch_id: int, first_id: int, last_id: int) -> set[int]:
    """Turn the batch's APPROVED billings with ids in [first_id, last_id] INVOICED (version + 1); returns the
    ids this statement changed."""
    batch_mark, first_mark, last_mark = placeholders(tx, 3)
    rows = await tx.execute_query_dict(
        f"UPDATE periodic_billing SET status = 'INVOICED', version = version + 1 WHERE batch_id = {batch_mark} "
        f"AND status = 'APPROVED' AND id >= {first_mark} AND id <= {last_mark} RETURNING id",
        [batch_id, first_id, last_id])
    return {row["id"] for row in rows}


async def mass_disposition(tx: BaseDBAsyncClient, viewer_id: int | None, viewer_label: str,
                           billings: list[tuple[int, str, int]], target: str, now: datetime) -> list[int]:
    """The billings given as (id, status, version) take status `target`, version + 1 and the viewer as their
    last editor, each with its audit row; returns the ids changed.

    PostgreSQL: one statement, an `UPDATE … FROM unnest(…)` that changes a billing only while it still has the
    status and version given (the caller's rules were checked on those), taking each row's lock as it updates
    it, with the audit rows inserted from its `RETURNING`. A billing a concurrent edit or disposition changed
    meanwhile is left as it is and not returned: the statement waits for that transaction's row lock, then
    finds another version. SQLite (one writer at a time, so nothing changes between the caller's read and
    this): one INSERT … SELECT of the audit rows, then one UPDATE, in id slices (it caps parameters)."""
    if is_postgres(tx):
        ids, statuses, versions = (list(column) for column in zip(*billings, strict=True)) if billings else ([], [], [])
        rows = await tx.execute_query_dict(
            "WITH changed AS (UPDATE periodic_billing AS p SET status = $3, version = p.version + 1, "
            "updated_at = $4, last_edited_by_id = $1 "
            "FROM unnest($5::int[], $6::text[], $7::int[]) AS u(id, status, version) "
            "WHERE p.id = u.id AND p.status = u.status AND p.version = u.version "
            "RETURNING p.id, u.status AS before, p.batch_id, p.account_id), "
            "audited AS (INSERT INTO audit (entity, entity_id, field, before, after, operation, actor_id, "
            "actor_label, batch_id, billing_id, account_id, at) SELECT 'PeriodicBilling', id, 'status', before, $3, "
            "'MASS_DISPOSITION', $1, $2, batch_id, id, account_id, $4 FROM changed) "
            "SELECT id FROM changed", [viewer_id, viewer_label, target, now, ids, statuses, versions])
        return [row["id"] for row in rows]
    all_ids = [b[0] for b in billings]
    for part in [all_ids[i:i + 500] for i in range(0, len(all_ids), 500)]:
        where = f"id IN ({', '.join('?' for _ in part)})"
        await tx.execute_query(
            "INSERT INTO audit (entity, entity_id, field, before, after, operation, actor_id, actor_label, batch_id, "
            "billing_id, account_id, at) SELECT 'PeriodicBilling', id, 'status', status, ?, 'MASS_DISPOSITION', ?, ?, "
            f"batch_id, id, account_id, ? FROM periodic_billing WHERE {where}",
            [target, viewer_id, viewer_label, now, *part])
        await tx.execute_query(
            "UPDATE periodic_billing SET status = ?, version = version + 1, updated_at = ?, last_edited_by_id = ? "
            f"WHERE {where}", [target, now, viewer_id, *part])
    return all_ids


async def audit_reversed_billings(tx: BaseDBAsyncClient, batch_id: int, actor_id: int | None, label: str,
                                  now: datetime) -> None:
    """One audit row per billing of the batch (its status, before reversing deletes it), one INSERT … SELECT."""
    a, b, c, d = placeholders(tx, 4)
    await tx.execute_query(
        "INSERT INTO audit (entity, entity_id, field, before, after, operation, actor_id, actor_label, "
        "batch_id, billing_id, account_id, at) "
        f"SELECT 'PeriodicBilling', id, 'status', status, NULL, 'REVERSE', {a}, {b}, {c}, id, account_id, {d} "
        f"FROM periodic_billing WHERE batch_id = {int(batch_id)}", [actor_id, label, batch_id, now])


# ---------------------------------------------------------------- the journal's fingerprint

JOURNAL_COLUMNS = {
    "journal_entry": ("id", "entry_date", "memo", "invoice_id", "payment_id", "batch_id", "credit_note_id",
                      "refund_of_id", "created_at"),
    "journal_line": ("id", "entry_id", "ledger_account_id", "debit", "credit", "memo"),
}


async def journal_digest(conn: BaseDBAsyncClient, table: str, prefix_id: int) -> tuple[int, str, str]:
    """For `journal_entry` or `journal_line`: (highest id, digest of the rows with id <= `prefix_id`, digest of
    every row), each digest an md5 over the rows' columns as text in id order. Comparing a prefix's digest with
    the one taken earlier shows whether any row seen then changed or went since (journal rows are append-only).
    PostgreSQL digests in SQL; SQLite's (small) journal is read and hashed here."""
    columns = JOURNAL_COLUMNS[table]
    if is_postgres(conn):
        row_text = f"concat_ws('|', {', '.join(columns)})"
        rows = await conn.execute_query_dict(
            f"SELECT COALESCE(MAX(id), 0) AS top, "
            f"md5(COALESCE(string_agg({row_text}, E'\\n' ORDER BY id) FILTER (WHERE id <= $1), '')) AS prefix, "
            f"md5(COALESCE(string_agg({row_text}, E'\\n' ORDER BY id), '')) AS whole FROM {table}", [prefix_id])
        return int(rows[0]["top"]), rows[0]["prefix"], rows[0]["whole"]
    found = await conn.execute_query_dict(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
    texts = ["|".join("" if row[c] is None else str(row[c]) for c in columns) for row in found]
    ids = [int(row["id"]) for row in found]
    prefix = [text for row_id, text in zip(ids, texts, strict=True) if row_id <= prefix_id]
    return (max(ids, default=0), hashlib.md5("\n".join(prefix).encode()).hexdigest(),
            hashlib.md5("\n".join(texts).encode()).hexdigest())

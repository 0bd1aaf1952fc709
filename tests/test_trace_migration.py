"""Migration `0017_trace`: traces written whole (as releases before it priced them) lose the keys their columns
hold, and read the same after it as before, on PostgreSQL and on SQLite.

The rows are what the earlier pricing engine wrote (tests/support/old_traces.json, every kind of line, dollars
and yen), plus a clerk's miscellaneous charge and a line edited after pricing. Each dialect's scratch database is
migrated by `tests.support.migrate_to` in a process of its own; rows are read with the plain drivers.
"""

import asyncio
import json
import sqlite3
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from domain.trace import BillingRow, LineRow, Trace, compose
from models.enums import DetailKind, PriceSource
from tests.support import audit_backfill, environment

BEFORE = "models.0016_credit_notes"
ROWS = json.loads((Path(__file__).parent / "support" / "old_traces.json").read_text(encoding="utf-8"))
AT = "'2026-05-01 00:00:00+00:00'"
READ = ("SELECT d.id, d.kind, d.amount, d.days_billed, d.days_in_period, d.price_source, d.charge_id, "
        "d.dated_price_id, d.source_type, d.source_id, d.trace, b.period_start, b.period_end, b.billing_start, "
        "b.billing_end, b.tax_location FROM billing_detail d JOIN periodic_billing b ON b.id = d.billing_id "
        "ORDER BY d.id")


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    return "'" + str(value).replace("'", "''") + "'" if isinstance(value, str) else str(value)


def _rows() -> list[dict]:
    """The earlier engine's lines, a misc charge as `addMiscCharge` wrote it, and a recurring line a clerk
    edited (amount and days changed, its trace left as priced)."""
    rows = [dict(row) for row in ROWS]
    misc = {"kind": "MISC", "amount": "12.50", "days_billed": None, "days_in_period": None, "price_source": None,
            "charge_id": None, "dated_price_id": None, "source_type": None, "source_id": None,
            "revenue_account_id": 1, "trace": {"price_source": None, "why": "Miscellaneous charge added by Ann",
                                               "formula": "12.50", "distribution": [
                                                   {"revenue_account_id": 1, "amount": "12.50"}]}}
    edited = {**ROWS[0]["line"], "amount": "5.00", "days_billed": 7}
    return [*rows, {"billing": ROWS[0]["billing"], "line": misc}, {"billing": ROWS[0]["billing"], "line": edited}]


def _seed_sql() -> list[str]:
    billings: dict[str, int] = {}
    sql = [*(f"INSERT INTO account (id, number, name, bill_group, division, currency, tax_location, billing_email, "
             f"payment_terms_days, autopay_enabled, restricted, created_at, updated_at) VALUES ({i}, 'A-{i}', "
             f"'A {i}', 'G', 'D', '{currency}', 'TX', 'a@example.com', 30, FALSE, FALSE, {AT}, {AT})"
             for i, currency in ((1, "USD"), (2, "JPY"))),
           "INSERT INTO ledger_account (id, code, name, kind, active, created_at) VALUES "
           f"(1, '4000', 'Revenue', 'REVENUE', TRUE, {AT}), (2, '2200', 'Tax', 'TAX_PAYABLE', TRUE, {AT})",
           *(f"INSERT INTO sales_contract (id, number, account_id, frequency, start_date, billing_anchor, status, "
             f"created_at, updated_at) VALUES ({i}, 'C-{i}', {i}, 'MONTHLY', '2026-01-16', '2026-01-01', 'ACTIVE', "
             f"{AT}, {AT})" for i in (1, 2)),
           *(f"INSERT INTO recurring_charge (id, contract_id, description, periodic_price, quantity, "
             f"revenue_account_id, created_at, updated_at) VALUES ({i}, {1 + i // 4}, 'Charge', 20, 1, 1, {AT}, {AT})"
             for i in (1, 2, 3, 4)),
           *(f"INSERT INTO dated_price (id, charge_id, first_effective_date, last_effective_date, periodic_price, "
             f"created_at) VALUES ({i}, 2, '2026-02-01', NULL, 30, {AT})" for i in (11, 12)),
           "INSERT INTO billing_batch (id, code, name, currency, invoice_date, as_of_date, status, created_at, "
           f"updated_at, version) VALUES (1, 'BB-000001', 'May', 'USD', '2026-05-01', '2026-05-01', 'PROCESSED', "
           f"{AT}, {AT}, 1)"]
    for detail_id, row in enumerate(_rows(), start=1):
        b, line = row["billing"], row["line"]
        key = json.dumps(b, sort_keys=True)
        if key not in billings:
            billings[key] = len(billings) + 1
            account = 2 if b["currency"] == "JPY" else 1
            sql.append(f"INSERT INTO periodic_billing (id, batch_id, account_id, period_start, period_end, "
                       f"billing_start, billing_end, as_of_date, amount, status, tax_location, internal_comment, "
                       f"external_comment, version, created_at, updated_at) VALUES ({billings[key]}, 1, {account}, "
                       f"'{b['period_start']}', '{b['period_end']}', '{b['billing_start']}', '{b['billing_end']}', "
                       f"'2026-05-01', 0, 'NEW', '{b['tax_location']}', '', '', 1, {AT}, {AT})")
        columns = ("kind", "amount", "days_billed", "days_in_period", "price_source", "charge_id", "dated_price_id",
                   "source_type", "source_id", "revenue_account_id", "trace")
        sql.append(f"INSERT INTO billing_detail (id, billing_id, position, description, created_at, "
                   f"{', '.join(columns)}) VALUES ({detail_id}, {billings[key]}, {detail_id}, 'Line', {AT}, "
                   f"{', '.join(_literal(line[c]) for c in columns)})")
    return sql


def _trace(row: Any) -> Trace:
    def day(value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(value)

    stored = row["trace"] if isinstance(row["trace"], dict) else json.loads(row["trace"])
    line = LineRow(DetailKind(row["kind"]), Decimal(str(row["amount"])), row["days_billed"], row["days_in_period"],
                   None if row["price_source"] is None else PriceSource(row["price_source"]), row["charge_id"],
                   row["dated_price_id"], row["source_type"], row["source_id"], stored)
    return compose(line, BillingRow(day(row["period_start"]), day(row["period_end"]), day(row["billing_start"]),
                                    day(row["billing_end"]), row["tax_location"]))


def _check(before: list[Any], after: list[Any]) -> None:
    assert len(before) == len(_rows()) and len(after) == len(before)
    assert [_trace(row) for row in after] == [_trace(row) for row in before]
    stored_before = [row["trace"] if isinstance(row["trace"], dict) else json.loads(row["trace"]) for row in before]
    stored_after = [row["trace"] if isinstance(row["trace"], dict) else json.loads(row["trace"]) for row in after]
    for key in ("distribution", "period", "price_source", "billing_starting_date", "charge_id"):
        assert not [t for t in stored_after if key in t], key
    assert len(json.dumps(stored_after)) < len(json.dumps(stored_before)) * 0.6
    by_kind = {(row["kind"], row["dated_price_id"] is None): stored for row, stored in zip(after, stored_after,
                                                                                             strict=True)}
    assert "why" not in by_kind[("WORK_ORDER", True)] or "formula" in by_kind[("WORK_ORDER", True)]
    plain = stored_after[0]  # the charge's own price, dollars: nothing but the unit price and quantity left
    assert plain == {"unit_price": "20.00", "quantity": "1"}, plain
    edited = stored_after[-1]  # the clerk's edit: the trace as priced still reads as priced
    assert edited["days_billed"] == 16 and "formula" in edited


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(environment.PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_old_traces_read_the_same_after_the_migration_on_postgresql() -> None:
    scratch = f"{environment.TEST_DB_NAME}_trace"
    await _admin(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{scratch}"')
    url = f"{environment.PG_ADMIN_URL.rsplit('/', 1)[0]}/{scratch}"
    try:
        await asyncio.to_thread(audit_backfill.migrate_to, url, BEFORE)
        conn = await asyncpg.connect(url)
        try:
            for statement in _seed_sql():
                await conn.execute(statement)
            before = await conn.fetch(READ)
        finally:
            await conn.close()
        await asyncio.to_thread(audit_backfill.migrate_to, url)
        conn = await asyncpg.connect(url)
        try:
            _check(before, await conn.fetch(READ))
        finally:
            await conn.close()
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


async def test_old_traces_read_the_same_after_the_migration_on_sqlite() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "billrun.sqlite3"
        url = f"sqlite://{path}"
        await asyncio.to_thread(audit_backfill.migrate_to, url, BEFORE)

        def read(seed: bool) -> list[sqlite3.Row]:
            conn = sqlite3.connect(path)
            conn.row_factory = sqlite3.Row
            try:
                if seed:
                    for statement in _seed_sql():
                        conn.execute(statement)
                    conn.commit()
                return conn.execute(READ).fetchall()
            finally:
                conn.close()

        before = await asyncio.to_thread(read, True)
        await asyncio.to_thread(audit_backfill.migrate_to, url)
        _check(before, await asyncio.to_thread(read, False))

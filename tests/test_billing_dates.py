"""A billing's starting and ending dates are the days it bills; the period's own bounds are exposed beside them,
stored, ordered by, exported and printed, and existing rows are backfilled by the migration."""

import asyncio
import csv
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import asyncpg
import pytest

from tests.support import billing, builders, environment
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")

ROOT = Path(__file__).resolve().parents[1]
DATES = """query($id: ID!, $direction: Direction!) { billingBatch(id: $id) { periodicBillings(first: 20,
    orderBy: {field: BILLING_STARTING_DATE, direction: $direction}) { nodes { id salesContract { number }
    billingStartingDate billingEndingDate periodStartDate periodEndDate details { daysBilled daysInPeriod } } } } }"""


async def _two_partial_contracts(admin: Api) -> str:
    """A contract starting on 2026-05-16 and one ending on 2026-05-20, both monthly on calendar months, billed up
    to 2026-05-16; returns the processed batch."""
    accounts = await billing.books(admin)
    starts = await builders.account(admin, "STARTS", taxLocation="ZERO")
    await builders.charge(admin, await builders.contract(admin, starts, "SC-STARTS", start="2026-05-16",
                                                         billingAnchor="2026-05-01"), "31.00", accounts["revenue"])
    ends = await builders.account(admin, "ENDS", taxLocation="ZERO")
    await builders.charge(admin, await builders.contract(admin, ends, "SC-ENDS", start="2026-04-01",
                                                         endDate="2026-05-20"), "31.00", accounts["revenue"])
    batch = await billing.batch(admin, asOfDate="2026-05-16")
    await billing.process(admin, batch)
    return batch


def _days(row: dict) -> tuple:
    return (row["salesContract"]["number"], row["billingStartingDate"], row["billingEndingDate"],
            row["periodStartDate"], row["periodEndDate"], row["details"][0]["daysBilled"],
            row["details"][0]["daysInPeriod"])


async def test_partial_periods_show_the_days_billed_and_the_period_bounds_apart(admin: Api) -> None:
    batch = await _two_partial_contracts(admin)
    rows = (await admin.ok(DATES, {"id": batch, "direction": "ASC"}))["billingBatch"]["periodicBillings"]["nodes"]
    assert [_days(r) for r in rows] == [
        ("SC-ENDS", "2026-04-01", "2026-04-30", "2026-04-01", "2026-04-30", 30, 30),
        ("SC-ENDS", "2026-05-01", "2026-05-20", "2026-05-01", "2026-05-31", 20, 31),
        ("SC-STARTS", "2026-05-16", "2026-05-31", "2026-05-01", "2026-05-31", 16, 31),
    ]  # ordered by the first day billed: STARTS's May billing (billed first, from the 16th) comes last
    descending = (await admin.ok(DATES, {"id": batch, "direction": "DESC"}))["billingBatch"]["periodicBillings"]
    assert [_days(r)[:2] for r in descending["nodes"]] == [("SC-STARTS", "2026-05-16"), ("SC-ENDS", "2026-05-01"),
                                                           ("SC-ENDS", "2026-04-01")]


async def test_the_details_csv_carries_the_days_billed_and_the_period_bounds(admin: Api, client) -> None:
    batch = await _two_partial_contracts(admin)
    response = await client.get("/exports/billing-details.csv", params={"batchId": batch},
                                headers={"Authorization": f"Bearer {admin.token}"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert sorted((r["contract_number"], r["billing_starting_date"], r["billing_ending_date"],
                   r["period_start_date"], r["period_end_date"]) for r in rows) == [
        ("SC-ENDS", "2026-04-01", "2026-04-30", "2026-04-01", "2026-04-30"),
        ("SC-ENDS", "2026-05-01", "2026-05-20", "2026-05-01", "2026-05-31"),
        ("SC-STARTS", "2026-05-16", "2026-05-31", "2026-05-01", "2026-05-31"),
    ]


# The migration, on a scratch database of each dialect: rows billed before it get their period's bounds.
MIGRATION_SCRIPT = textwrap.dedent("""
    import asyncio, json, sys
    from tortoise import connections
    from billrun import db

    ACCOUNT = ("INSERT INTO account (id, number, name, bill_group, division, currency, tax_location, billing_email, "
               "payment_terms_days, autopay_enabled, restricted, created_at, updated_at) VALUES (1, 'A-1', 'A', "
               "'G1', 'D1', 'USD', 'ZERO', 'a@example.com', 30, false, false, '2026-01-01 00:00:00+00:00', "
               "'2026-01-01 00:00:00+00:00')")
    BILLING = ("INSERT INTO periodic_billing (id, account_id, period_start, period_end, as_of_date, amount, status, "
               "tax_location, internal_comment, external_comment, version, created_at, updated_at) VALUES "
               "(1, 1, '2026-03-01', '2026-03-31', '2026-03-01', 10, 'NEW', 'ZERO', '', '', 1, "
               "'2026-03-01 00:00:00+00:00', '2026-03-01 00:00:00+00:00')")
    # A line of the billing: SQLite rebuilds periodic_billing to add the columns, which must not cascade to it.
    DETAIL = ("INSERT INTO billing_detail (id, billing_id, position, kind, description, amount, trace, created_at) "
              "VALUES (1, 1, 0, 'MISC', 'Fee', 10, '{}', '2026-03-01 00:00:00+00:00')")

    async def main(url: str) -> None:
        await db.migrate(url, target="models.0008_ledger_indexes")
        async with db.database(url):
            for statement in (ACCOUNT, BILLING, DETAIL):
                await connections.get("default").execute_script(statement)
        await db.migrate(url)
        async with db.database(url):
            conn = connections.get("default")
            rows = await conn.execute_query_dict(
                "SELECT period_start, period_end, billing_start, billing_end FROM periodic_billing")
            details = await conn.execute_query_dict("SELECT id FROM billing_detail")
            if url.startswith("sqlite"):
                indexes = await conn.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'index'")
            else:
                indexes = await conn.execute_query_dict("SELECT indexname AS name FROM pg_indexes")
        print(json.dumps({"rows": rows, "details": len(details), "indexes": [i["name"] for i in indexes]},
                         default=str))

    asyncio.run(main(sys.argv[1]))
""")


async def _scratch_postgres() -> tuple[str, str]:
    name = f"{environment.TEST_DB_NAME}_migration"
    admin = await asyncpg.connect(environment.PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name, f"{environment.PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


async def _drop_postgres(name: str) -> None:
    admin = await asyncpg.connect(environment.PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
async def test_the_migration_backfills_billed_days_with_the_period_bounds(dialect: str, tmp_path: Path) -> None:
    if dialect == "postgres":
        name, url = await _scratch_postgres()
    else:
        name, url = "", f"sqlite://{tmp_path / 'migration.sqlite3'}"
    try:
        result = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", MIGRATION_SCRIPT, url], cwd=ROOT,
                                         capture_output=True, text=True, timeout=120)
    finally:
        if name:
            await _drop_postgres(name)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["rows"] == [{"period_start": "2026-03-01", "period_end": "2026-03-31",
                              "billing_start": "2026-03-01", "billing_end": "2026-03-31"}]
    assert found["details"] == 1  # SQLite's table rebuild did not cascade to the billing's lines
    assert "billing_once_per_contract_period" in found["indexes"]  # the unique key stays on the period start

"""`billrun bench process`: process one batch of N contracts end to end and compare with PostgreSQL's COPY floor.

It needs a scratch PostgreSQL database whose name ends in `_bench` (it is dropped and created again) and Redis.
Steps: create N contracts (two or three charges each, a third with dated prices) with COPY; process a batch with
1 worker process, then again with W; measure COPY of the very rows processing wrote, into the same tables; report
seconds, the ratio to the floor and the workers' peak RSS.
"""

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import asyncpg

if TYPE_CHECKING:
    from domain.access import Viewer

ROOT = Path(__file__).resolve().parent.parent
# One message at a time per worker process: "1 worker" is one chunk in flight; W workers are W in flight.
THREADS = 2
WRITTEN_TABLES = ("periodic_billing", "billing_detail", "revenue_distribution")


@dataclass
class Run:
    workers: int
    seconds: float
    peak_rss_mb: float


def _admin_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url.replace("postgres://", "postgresql://", 1))
    name = parsed.path.lstrip("/")
    if not name.endswith("_bench"):
        raise SystemExit(f"Refusing to drop {name!r}: the bench database name must end with _bench.")
    return parsed._replace(path="/postgres").geturl(), name


async def _recreate(url: str) -> None:
    """A fresh scratch database, and an empty broker: messages left by an earlier (killed) run must not run
    against the new data."""
    from billrun.settings import get_settings

    if redis_url := get_settings().redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    admin_url, name = _admin_url(url)
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _seed(url: str, contracts: int, month: date) -> None:
    """Accounts, contracts, charges and dated prices with COPY (the set-up is not what is measured)."""
    rng = random.Random(42)
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    stamp = datetime.now(UTC)
    try:
        await conn.execute("INSERT INTO ledger_account (code, name, kind, active, created_at) VALUES "
                           "('4000', 'Revenue', 'REVENUE', true, now()), ('2200', 'Tax', 'TAX_PAYABLE', true, now())")
        await conn.execute("INSERT INTO tax_rate (location, name, rate, ledger_account_id, created_at) "
                           "VALUES ('TX', 'Tax', 0.0825, 2, now())")
        await conn.execute("INSERT INTO accounting_period (month, status, created_at) VALUES ($1, 'OPEN', now())",
                           month)
        await conn.copy_records_to_table("account", columns=[
            "id", "number", "name", "bill_group", "division", "currency", "tax_location", "billing_email",
            "payment_terms_days", "autopay_enabled", "restricted", "created_at", "updated_at"], records=[
            (i, f"A{i:07}", f"Customer {i}", "G1", "D1", "USD", "TX", "b@example.com", 30, False, False, stamp, stamp)
            for i in range(1, contracts + 1)])
        await conn.copy_records_to_table("sales_contract", columns=[
            "id", "number", "account_id", "frequency", "start_date", "billing_anchor", "status", "created_at",
            "updated_at"], records=[(i, f"C{i:07}", i, "MONTHLY", month, month, "ACTIVE", stamp, stamp)
                                    for i in range(1, contracts + 1)])
        charges: list[tuple[Any, ...]] = []
        prices: list[tuple[Any, ...]] = []
        for contract_id in range(1, contracts + 1):
            for _ in range(rng.choice((2, 3))):
                charge_id = len(charges) + 1
                charges.append((charge_id, contract_id, "Service", Decimal(rng.randint(1000, 20000)) / 100,
                                Decimal(1), 1, stamp, stamp))
                if contract_id % 3 == 0:
                    prices.append((len(prices) + 1, charge_id, month, None, Decimal(rng.randint(1000, 20000)) / 100,
                                   stamp))
        await conn.copy_records_to_table("recurring_charge", columns=[
            "id", "contract_id", "description", "periodic_price", "quantity", "revenue_account_id", "created_at",
            "updated_at"], records=charges)
        await conn.copy_records_to_table("dated_price", columns=[
            "id", "charge_id", "first_effective_date", "last_effective_date", "periodic_price", "created_at"],
            records=prices)
        for table in ("account", "sales_contract", "recurring_charge", "dated_price"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pids: list[int]) -> float:
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return round(peak / 1024, 1)


@asynccontextmanager
async def _workers(env: dict[str, str], workers: int) -> AsyncIterator[list[int]]:
    """W Dramatiq worker processes for the block; yields their pids (for peak RSS)."""
    proc = subprocess.Popen([sys.executable, "-m", "dramatiq", "workers.actors", "--processes", str(workers),  # noqa: ASYNC220
                             "--threads", str(THREADS)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    children: list[int] = []
    try:
        await asyncio.sleep(3)  # worker processes boot
        children = _children(proc.pid)
        yield children
    finally:
        _stop(proc, children)


def _stop(proc: subprocess.Popen, children: list[int]) -> None:
    """Stop the workers; follow-up jobs (posting's export) may still run: kill what does not stop in time."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        for pid in [*children, proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        proc.wait(30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def served(env: dict[str, str], argv: list[str]) -> AsyncIterator[tuple[str, int]]:
    """A server process (`python <argv> --port P`: `billrun serve`, or uvicorn serving another app) for the block;
    yields its `host:port` and pid once it accepts connections."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, *argv, "--port", str(port)],  # noqa: ASYNC220
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"the server ({' '.join(argv)}) did not start") from None
                await asyncio.sleep(0.1)
        yield f"127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _bench_viewer(name: str) -> "Viewer":
    import models
    from domain import auth

    user = await models.User.get(email="bench@billrun.example")
    token, _ = await auth.create_api_token(None, user_id=user.id, name=name)
    viewer = await auth.authenticate(token)
    if viewer is None:
        raise SystemExit("The bench's API token does not authenticate.")
    return viewer


async def _process_once(env: dict[str, str], workers: int, name: str) -> Run:
    """Start W worker processes, process one batch through the domain, wait for PROCESSED."""
    import models
    from domain import batches, processing
    from models.enums import BatchStatus

    async with _workers(env, workers) as children:
        viewer = await _bench_viewer("bench")
        batch = await batches.create_batch(viewer, {"name": name})
        started = time.perf_counter()
        await processing.start_processing(viewer, batch.id)
        while True:
            await asyncio.sleep(0.05)
            status = (await models.BillingBatch.get(id=batch.id)).status
            if status in (BatchStatus.PROCESSED, BatchStatus.FAILED):
                break
        seconds = time.perf_counter() - started
        if status != BatchStatus.PROCESSED:
            raise SystemExit(f"batch {name} ended {status}")
        return Run(workers, round(seconds, 2), _peak_rss_mb(children))


async def _copy_floor(url: str) -> tuple[int, float]:
    """COPY the rows processing wrote back into the same (emptied) tables: PostgreSQL's floor for this write."""
    return await _copy_back(url, WRITTEN_TABLES,
                            "TRUNCATE finding, revenue_distribution, billing_detail, periodic_billing CASCADE")


async def _copy_back(url: str, tables: tuple[str, ...], truncate: str, vacuum: bool = False) -> tuple[int, float]:
    """Read every row of `tables`, empty them (`truncate`), and time COPYing the rows back in one transaction,
    into the same indexes, keys and triggers. Returns (rows, seconds)."""
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        saved = {}
        for table in tables:
            columns = [r["attname"] for r in await conn.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped "
                "ORDER BY attnum", table)]
            saved[table] = (columns, [tuple(r) for r in await conn.fetch(f"SELECT {', '.join(columns)} FROM {table}")])
        rows = sum(len(r) for _, r in saved.values())
        await conn.execute(truncate)
        if vacuum:
            await conn.execute("VACUUM ANALYZE")
        started = time.perf_counter()
        async with conn.transaction():
            for table in tables:
                columns, records = saved[table]
                await conn.copy_records_to_table(table, columns=columns, records=records)
        return rows, round(time.perf_counter() - started, 2)
    finally:
        await conn.close()


async def _reset_billings(url: str) -> None:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("TRUNCATE finding, revenue_distribution, billing_detail, periodic_billing, job_chunk, "
                           "job CASCADE")
        await conn.execute("UPDATE billing_batch SET status = 'COMPLETED'")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def _prepare(url: str, contracts: int) -> dict[str, str]:
    """A fresh scratch database with N seeded contracts, the ORM open on it; returns the workers' environment."""
    from billrun import db

    await _recreate(url)
    await db.migrate(url)
    await _seed(url, contracts, date.today().replace(day=1))
    await db.init(url)
    return dict(os.environ, PYTHONUNBUFFERED="1")


async def bench_process(contracts: int, workers: int) -> dict:
    from billrun import db
    from billrun.settings import get_settings
    from domain import auth
    from workers import actors  # noqa: F401 - the configured broker and the actors this process sends to

    settings = get_settings()
    if settings.embedded:
        raise SystemExit("The benchmark needs REDIS_URL (real worker processes).")
    url = settings.database_url
    env = await _prepare(url, contracts)
    try:
        await auth.create_user(None, email="bench@billrun.example", name="Bench", permissions=["BILLING_ACCESS"])
        one = await _process_once(env, 1, "bench-1-worker")
        rows, floor = await _copy_floor(url)
        await _reset_billings(url)
        many = await _process_once(env, workers, f"bench-{workers}-workers")
    finally:
        await db.close()
    return {"contracts": contracts, "rows_written": rows, "seconds_1_worker": one.seconds,
            f"seconds_{workers}_workers": many.seconds, "copy_floor_seconds": floor,
            "ratio_to_floor": round(one.seconds / floor, 2), "peak_rss_mb": max(one.peak_rss_mb, many.peak_rss_mb),
            "peak_rss_mb_1_worker": one.peak_rss_mb, "workers": workers}


def write_result(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


async def _floor_mass_update(url: str, batch_id: int) -> float:
    """One set-based INSERT … SELECT of the audit rows plus one UPDATE: PostgreSQL's floor for a mass update."""
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("UPDATE periodic_billing SET status = 'NEW' WHERE batch_id = $1", batch_id)
        await conn.execute("VACUUM ANALYZE periodic_billing")
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO audit (entity, entity_id, field, before, after, operation, actor_label, batch_id, "
                "billing_id, at) SELECT 'PeriodicBilling', id, 'status', status, 'APPROVED', 'FLOOR', 'bench', "
                "batch_id, id, now() FROM periodic_billing WHERE batch_id = $1", batch_id)
            await conn.execute("UPDATE periodic_billing SET status = 'APPROVED', version = version + 1, "
                               "updated_at = now() WHERE batch_id = $1", batch_id)
        return round(time.perf_counter() - started, 2)
    finally:
        await conn.close()


async def bench_dispositions(billings: int, workers: int) -> dict:
    """Mass-update N billings to APPROVED (with their audit rows) against the floor of the same two statements."""
    import models
    from billrun import db
    from billrun.settings import get_settings
    from domain import auth, billing_review
    from domain.access import visible
    from models.enums import BillingStatus
    from workers import actors  # noqa: F401 - the configured broker and the actors this process sends to

    url = get_settings().database_url
    env = await _prepare(url, billings)
    try:
        await auth.create_user(None, email="bench@billrun.example", name="Bench",
                               permissions=["BILLING_ACCESS", "BILLING_APPROVE"])
        await _process_once(env, workers, "bench-dispositions")
        batch = await models.BillingBatch.get(name="bench-dispositions")
        await _vacuum(url)
        token, _ = await auth.create_api_token(None, user_id=(await models.User.get(
            email="bench@billrun.example")).id, name="bench")
        viewer = await auth.authenticate(token)
        if viewer is None:
            raise SystemExit("The bench's API token does not authenticate.")
        started = time.perf_counter()
        result = await billing_review.mass_update(viewer, batch.id, BillingStatus.APPROVED,
                                                  visible(viewer, models.PeriodicBilling))
        seconds = round(time.perf_counter() - started, 2)
        if result.changed != billings or result.refusals:
            raise SystemExit(f"mass update changed {result.changed}, refused {len(result.refusals)}")
        floor = await _floor_mass_update(url, batch.id)
    finally:
        await db.close()
    return {"billings": billings, "seconds": seconds, "floor_seconds": floor,
            "ratio_to_floor": round(seconds / floor, 2)}


async def _vacuum(url: str) -> None:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("VACUUM ANALYZE periodic_billing")
    finally:
        await conn.close()


POSTED_TABLES = ("invoice", "journal_entry", "journal_line")


async def _post_once(env: dict[str, str], workers: int, batch_id: int) -> Run:
    """Start W worker processes, post the batch (EXPORT) through the domain, wait for POSTED."""
    import models
    from domain import posting
    from models.enums import BatchStatus, JobStatus, PostMode

    async with _workers(env, workers) as children:
        viewer = await _bench_viewer("bench-post")
        started = time.perf_counter()
        job = await posting.start_posting(viewer, batch_id, PostMode.EXPORT)
        if job is None:  # an approval rule wants a second user: the bench sets no rules
            raise SystemExit("posting waits for confirmation")
        while True:
            await asyncio.sleep(0.05)
            status = (await models.BillingBatch.get(id=batch_id)).status
            if status == BatchStatus.POSTED or (await models.Job.get(id=job.id)).status == JobStatus.FAILED:
                break
        seconds = time.perf_counter() - started
        if status != BatchStatus.POSTED:
            raise SystemExit(f"posting ended with the batch {status}")
        return Run(workers, round(seconds, 2), _peak_rss_mb(children))


async def _copy_floor_posted(url: str) -> tuple[int, float]:
    """COPY the rows posting wrote (invoices, entries, lines) back into the emptied tables, their triggers
    included: PostgreSQL's floor for writing them."""
    return await _copy_back(url, POSTED_TABLES, "TRUNCATE journal_line, journal_entry, export, invoice CASCADE",
                            vacuum=True)


async def bench_posting(billings: int, workers: int) -> dict:
    """Post N approved billings (invoices, journal entries and lines, audit rows) against the COPY floor of the
    invoices, entries and lines it wrote."""
    import models
    from billrun import db
    from billrun.settings import get_settings
    from domain import auth
    from workers import actors  # noqa: F401 - the configured broker and the actors this process sends to

    url = get_settings().database_url
    env = await _prepare(url, billings)
    try:
        await auth.create_user(None, email="bench@billrun.example", name="Bench",
                               permissions=["BILLING_ACCESS", "BILLING_APPROVE", "BILLING_SEND_EXPORT"])
        await _process_once(env, workers, "bench-posting")
        batch = await models.BillingBatch.get(name="bench-posting")
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:  # set-up, not measured: the chart's receivables and cash, every billing approved
            await conn.execute("INSERT INTO ledger_account (code, name, kind, active, created_at) VALUES "
                               "('1200', 'Receivables', 'RECEIVABLE', true, now()), "
                               "('1000', 'Cash', 'CASH', true, now())")
            await conn.execute("UPDATE periodic_billing SET status = 'APPROVED' WHERE batch_id = $1", batch.id)
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
        run = await _post_once(env, workers, batch.id)
        invoices = await models.Invoice.filter(batch_id=batch.id).count()
        if invoices != billings:
            raise SystemExit(f"posting wrote {invoices} invoices for {billings} billings")
        rows, floor = await _copy_floor_posted(url)
    finally:
        await db.close()
    return {"billings": billings, "seconds": run.seconds, "floor_seconds": floor,
            "ratio_to_floor": round(run.seconds / floor, 2), "rows_written": rows, "workers": workers,
            "peak_rss_mb": run.peak_rss_mb}


async def _hundred_line_invoice(lines: int) -> int:
    """Set-up, not measured: a posted invoice of `lines` lines (each 10.00 to revenue), written directly."""
    import models
    from domain import clock
    from models.enums import BatchStatus, BillingStatus, DetailKind, LedgerAccountKind, PeriodStatus

    today = clock.today()
    revenue = await models.LedgerAccount.create(code="4000", name="Revenue", kind=LedgerAccountKind.REVENUE)
    for code, kind in (("1200", LedgerAccountKind.RECEIVABLE), ("1000", LedgerAccountKind.CASH)):
        await models.LedgerAccount.create(code=code, name=code, kind=kind)
    await models.AccountingPeriod.create(month=today.replace(day=1), status=PeriodStatus.OPEN)
    account = await models.Account.create(number="BENCH-1", name="Bench", bill_group="G", division="D",
                                          currency="USD", tax_location="ZERO", billing_email="bench@example.com")
    batch = await models.BillingBatch.create(code="B-1", name="bench-credit", currency="USD", invoice_date=today,
                                             as_of_date=today, status=BatchStatus.POSTED)
    billing = await models.PeriodicBilling.create(
        batch=batch, account=account, period_start=today, period_end=today, billing_start=today, billing_end=today,
        as_of_date=today, amount=Decimal("10.00") * lines, status=BillingStatus.INVOICED, tax_location="ZERO")
    await models.BillingDetail.bulk_create([
        models.BillingDetail(billing=billing, position=n, kind=DetailKind.MANUAL, description=f"Line {n + 1}",
                             amount=Decimal("10.00"), revenue_account=revenue) for n in range(lines)])
    await models.RevenueDistribution.bulk_create([
        models.RevenueDistribution(detail_id=d, revenue_account=revenue, amount=Decimal("10.00"))
        for d in await models.BillingDetail.filter(billing=billing).values_list("id", flat=True)])
    invoice = await models.Invoice.create(
        number="INV-00000001", billing=billing, account=account, batch=batch, currency="USD", invoice_date=today,
        due_date=today, amount=billing.amount, bill_to_name="Bench", bill_to_email="bench@example.com")
    return invoice.id


async def bench_credit_notes(lines: int, notes: int) -> dict:
    """Create and issue `notes` credit notes of a `lines`-line invoice through the GraphQL API (in process,
    over ASGI), each crediting every line 0.01: the time of createCreditNote + issueCreditNote per credit note."""
    import statistics

    import httpx
    from strawberry import relay

    from billrun import db
    from billrun.app import create_app
    from billrun.settings import get_settings
    from domain import auth
    from workers import actors  # noqa: F401 - the configured broker (the follow-up job is only queued)

    url = get_settings().database_url
    await _recreate(url)
    await db.migrate(url)
    await db.init(url)
    create = """mutation($input: CreateCreditNoteInput!) { createCreditNote(input: $input) { creditNote { id }
      errors { code message } } }"""
    issue = """mutation($id: ID!) { issueCreditNote(input: {id: $id}) { creditNote { number amount }
      errors { code message } } }"""
    try:
        invoice_id = await _hundred_line_invoice(lines)
        user = await auth.create_user(None, email="bench@billrun.example", name="Bench",
                                      permissions=["BILLING_ACCESS", "BILLING_SEND_EXPORT"])
        token, _ = await auth.create_api_token(None, user_id=user.id, name="bench")
        import models

        details = await models.BillingDetail.filter(billing__invoice__id=invoice_id).order_by("position").values_list(
            "id", flat=True)
        data = {"invoiceId": relay.to_base64("Invoice", invoice_id), "reason": "OTHER",
                "lines": [{"invoiceLineId": relay.to_base64("BillingDetail", d), "amount": "0.01"} for d in details]}
        timings = []
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            for _ in range(notes + 2):  # the first two warm up
                started = time.perf_counter()
                made = (await client.post("/graphql", json={"query": create, "variables": {"input": data}})).json()
                note = made["data"]["createCreditNote"]["creditNote"]
                if note is None:
                    raise SystemExit(f"createCreditNote refused: {made}")
                done = (await client.post("/graphql", json={"query": issue, "variables": {"id": note["id"]}})).json()
                if done["data"]["issueCreditNote"]["creditNote"] is None:
                    raise SystemExit(f"issueCreditNote refused: {done}")
                timings.append((time.perf_counter() - started) * 1000)
        timings = timings[2:]
        numbers = list(await models.CreditNote.filter(status="ISSUED").order_by("number").values_list(
            "number", flat=True))
        if [str(n) for n in numbers] != [f"CN-{n:08d}" for n in range(1, notes + 3)]:
            raise SystemExit(f"credit note numbers are not gap-free: {numbers[:5]}…")
    finally:
        await db.close()
    ordered = sorted(timings)
    return {"invoice_lines": lines, "credit_notes": notes, "median_ms": round(statistics.median(timings), 1),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 1), "max_ms": round(ordered[-1], 1),
            "target_ms": 100, "measures": "createCreditNote + issueCreditNote over ASGI, each line credited"}


def _rss_per_worker_mb(pids: list[int]) -> list[float]:
    """Each worker process's peak RSS (`VmHWM`), in MB."""
    return [_peak_rss_mb([pid]) for pid in pids]


async def _wait_for(check: Any, what: str) -> None:
    """Poll `check()` (a coroutine function) until it returns True; False means the awaited work failed."""
    while True:
        await asyncio.sleep(0.05)
        done = await check()
        if done is True:
            return
        if done is False:
            raise SystemExit(f"{what} failed")


async def _jobs_settled() -> bool | None:
    """True once no job is queued or running (None meanwhile)."""
    import models
    from models.enums import JobStatus

    return None if await models.Job.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists() else True


async def _trace_bytes(url: str) -> dict[str, float]:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        row = await conn.fetchrow("SELECT count(*) AS lines, avg(pg_column_size(trace)) AS bytes FROM billing_detail")
        return {"detail_lines": row["lines"], "trace_bytes_per_line": round(float(row["bytes"] or 0), 1)}
    finally:
        await conn.close()


async def bench_billing_day(contracts: int, workers: int) -> dict:
    """A billing day end to end with W worker processes: process N contracts, approve every billing in one mass
    update, post them (EXPORT); each step's seconds against its floor, the total, invoices/s, peak RSS per worker.

    Floors, measured after the day on the rows it wrote: COPY of the billings, details and distributions
    (processing), one `INSERT … SELECT` of the audit rows plus one `UPDATE` (the approval), COPY of the invoices,
    journal entries and lines (posting). The total runs from the processing request to the batch POSTED, the
    analysis that follows processing and the waits between steps included."""
    import models
    from billrun import db
    from billrun.settings import get_settings
    from domain import auth, billing_review, posting, processing
    from domain.access import visible
    from models.enums import BatchStatus, BillingStatus, JobStatus, PostMode
    from workers import actors  # noqa: F401 - the configured broker and the actors this process sends to

    settings = get_settings()
    if settings.embedded:
        raise SystemExit("The benchmark needs REDIS_URL (real worker processes).")
    url = settings.database_url
    env = await _prepare(url, contracts)
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:  # set-up, not measured: the chart's receivables and cash
        await conn.execute("INSERT INTO ledger_account (code, name, kind, active, created_at) VALUES "
                           "('1200', 'Receivables', 'RECEIVABLE', true, now()), ('1000', 'Cash', 'CASH', true, now())")
    finally:
        await conn.close()
    steps: dict[str, float] = {}
    try:
        await auth.create_user(None, email="bench@billrun.example", name="Bench",
                               permissions=["BILLING_ACCESS", "BILLING_APPROVE", "BILLING_SEND_EXPORT"])
        async with _workers(env, workers) as children:
            from domain import batches

            viewer = await _bench_viewer("bench-day")
            batch = await batches.create_batch(viewer, {"name": "bench-day"})
            day_started = started = time.perf_counter()
            await processing.start_processing(viewer, batch.id)

            async def processed() -> bool | None:
                status = (await models.BillingBatch.get(id=batch.id)).status
                return True if status == BatchStatus.PROCESSED else False if status == BatchStatus.FAILED else None

            await _wait_for(processed, "processing")
            steps["processing"] = time.perf_counter() - started
            await _wait_for(_jobs_settled, "the analysis after processing")
            started = time.perf_counter()
            result = await billing_review.mass_update(viewer, batch.id, BillingStatus.APPROVED,
                                                      visible(viewer, models.PeriodicBilling))
            steps["approval"] = time.perf_counter() - started
            if result.changed != contracts or result.refusals:
                raise SystemExit(f"the approval changed {result.changed}, refused {len(result.refusals)}")
            started = time.perf_counter()
            job = await posting.start_posting(viewer, batch.id, PostMode.EXPORT)
            if job is None:  # the bench adds no approval rule: posting never waits for a second user here
                raise SystemExit("posting waits for a second user's confirmation")

            async def posted() -> bool | None:
                if (await models.BillingBatch.get(id=batch.id)).status == BatchStatus.POSTED:
                    return True
                return False if (await models.Job.get(id=job.id)).status == JobStatus.FAILED else None

            await _wait_for(posted, "posting")
            steps["posting"] = time.perf_counter() - started
            total = time.perf_counter() - day_started
            await _wait_for(_jobs_settled, "the jobs after posting")  # the export: not timed
            rss = _rss_per_worker_mb(children)
        invoices = await models.Invoice.filter(batch_id=batch.id).count()
        if invoices != contracts:
            raise SystemExit(f"posting wrote {invoices} invoices for {contracts} billings")
        sizes = await _trace_bytes(url)
        posted_rows, posting_floor = await _copy_floor_posted(url)
        approval_floor = await _floor_mass_update(url, batch.id)
        processed_rows, processing_floor = await _copy_floor(url)
    finally:
        await db.close()
    floors = {"processing": processing_floor, "approval": approval_floor, "posting": posting_floor}
    return {
        "contracts": contracts, "workers": workers,
        "seconds": {step: round(seconds, 2) for step, seconds in steps.items()},
        "total_seconds": round(total, 2), "invoices_per_second": round(invoices / total, 1),
        "floor_seconds": floors, "copy_floor_seconds": round(sum(floors.values()), 2),
        "ratio_to_floor": {step: round(steps[step] / floors[step], 2) for step in steps},
        "rows_written": {"processing": processed_rows, "posting": posted_rows}, **sizes,
        "peak_rss_mb_per_worker": rss, "load_average": [round(x, 2) for x in os.getloadavg()],
    }

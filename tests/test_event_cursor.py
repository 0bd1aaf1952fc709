"""The event stream's cursor is commit-ordered: a reader going forward by cursor never skips an event and never
sees one twice, however many transactions (in this process and in a worker process) commit at once."""

import asyncio

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction as raw_transaction

import models
from domain import clock, events
from domain.transactions import in_transaction
from models import sql
from models.enums import EventType
from tests.support import billing, builders
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")

READ = """query($after: String) { events(after: $after, first: 200) {
  edges { cursor node { id type } } pageInfo { endCursor hasNextPage } } }"""
EDIT = """mutation($id: ID!, $note: String) { updatePeriodicBilling(input: {id: $id, internalComment: $note}) {
  periodicBilling { id } errors { code message } } }"""


def _row(kind: EventType = EventType.BATCH_ANALYZED) -> tuple:
    return (kind.value, None, None, None, None, None, '{"finding_count": 0, "blocking_count": 0}', clock.now())


async def _waiting_on_a_lock(within: float = 20.0) -> None:
    """Until some backend of this database waits for a lock (the second writer queued behind the first)."""
    conn = connections.get("default")
    deadline = asyncio.get_running_loop().time() + within
    while True:
        rows = await conn.execute_query_dict(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")
        if rows[0]["n"]:
            return
        assert asyncio.get_running_loop().time() < deadline, "the second writer never waited"
        await asyncio.sleep(0.02)


async def test_a_transaction_takes_its_cursor_only_after_the_one_before_it_commits() -> None:
    """The hazard of a plain sequence: A takes 1, B takes 2 and commits first, a reader at 2 skips 1 for ever.
    Here B cannot take a cursor while A holds one uncommitted: it waits, then follows A."""
    holds_cursor, release = asyncio.Event(), asyncio.Event()

    async def first() -> int:
        async with raw_transaction() as tx:
            taken = await sql.append_events(tx, [_row()])
            holds_cursor.set()
            await release.wait()
            return taken

    first_writer = asyncio.create_task(first())
    await holds_cursor.wait()
    second_writer = asyncio.create_task(_write_alone())
    await _waiting_on_a_lock()
    assert not second_writer.done()
    assert await events.after(0, 10) == []  # a reader meanwhile sees nothing: not a later id before an earlier
    release.set()
    assert (await first_writer, await second_writer) == (1, 2)
    assert [e.id for e in await events.after(0, 10)] == [1, 2]


async def _write_alone() -> int:
    async with raw_transaction() as tx:
        return await sql.append_events(tx, [_row()])


async def test_events_wait_for_their_transaction_and_vanish_with_it() -> None:
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await events.batch_analyzed(1, 0, 0)
            raise RuntimeError("rolled back")
    async with in_transaction():
        await events.batch_analyzed(1, 1, 0)
        assert await events.after(0, 10) == []  # not written before the transaction ends
        with pytest.raises(RuntimeError):
            async with in_transaction():  # a savepoint: its events go with it
                await events.batch_analyzed(1, 2, 0)
                raise RuntimeError("savepoint rolled back")
        await events.batch_analyzed(1, 3, 0)
    await events.batch_analyzed(1, 4, 0)  # outside any transaction: one of its own
    written = await events.after(0, 10)
    assert [(e.id, e.payload["finding_count"]) for e in written] == [(1, 1), (2, 3), (3, 4)]


async def _reader(admin: Api, done: asyncio.Event, seen: list[tuple[int, str]]) -> None:
    """Poll the event log by cursor until the producers are done and one last read finds nothing new."""
    cursor = None
    while True:
        finished = done.is_set()
        page = (await admin.ok(READ, {"after": cursor}))["events"]
        seen.extend((int(edge["cursor"]), edge["node"]["type"]) for edge in page["edges"])
        cursor = page["pageInfo"]["endCursor"] or cursor
        if finished and not page["pageInfo"]["hasNextPage"]:
            return
        if not page["edges"]:
            await asyncio.sleep(0.005)


async def test_concurrent_producers_and_a_worker_never_make_a_reader_skip_or_repeat(admin: Api) -> None:
    await billing.bulk_contracts(admin, 300)  # processing: 6 chunks of 50, progress from the worker process
    edited = await billing.batch(admin, "Edited meanwhile")
    await billing.process(admin, edited)
    billings = [b["id"] for b in await billing.billings(admin, edited, first=40)]
    processed = await billing.batch(admin, "Processed meanwhile", invoiceDate="2026-05-01",
                                    asOfDate="2026-06-01")
    done = asyncio.Event()
    seen: list[tuple[int, str]] = []
    reader = asyncio.create_task(_reader(admin, done, seen))

    async def edits(part: list[str]) -> None:
        for round_no in range(3):
            for gid in part:
                await admin.mutate("updatePeriodicBilling", EDIT, {"id": gid, "note": f"round {round_no}"})

    async def creations(prefix: str) -> None:
        for n in range(15):
            await billing.batch(admin, f"{prefix} {n}")

    async def worker_processing() -> None:
        await billing.process(admin, processed)

    await asyncio.gather(worker_processing(), *(edits(billings[i::4]) for i in range(4)),
                         *(creations(f"Run {p}") for p in range(3)))
    done.set()
    await reader
    everything = await models.Event.all().order_by("id").values_list("id", "type")
    assert seen == [(i, t) for i, t in everything]  # every event once, in cursor order
    cursors = [c for c, _ in seen]
    assert cursors == sorted(set(cursors)) and cursors == list(range(1, len(cursors) + 1))
    kinds = {t for _, t in seen}
    assert {"JOB_PROGRESS", "BILLING_EDITED", "BATCH_CREATED", "JOB_FINISHED"} <= kinds
    assert len([t for t in seen if t[1] == "BILLING_EDITED"]) == 3 * len(billings)


async def test_a_job_reports_progress_per_whole_percent_and_always_its_end(admin: Api) -> None:
    await billing.bulk_contracts(admin, 300)
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    progress = await models.Event.filter(type="JOB_PROGRESS").order_by("id").values_list("payload", flat=True)
    assert [(p["done"], p["total"]) for p in progress] == [(n, 300) for n in range(0, 301, 50)]
    [job_id] = await models.Job.filter(kind="PROCESS").values_list("id", flat=True)
    job_events = await models.Event.filter(job_id=job_id, type__startswith="JOB_").order_by("id").values_list(
        "type", flat=True)
    assert job_events == ["JOB_QUEUED"] + ["JOB_PROGRESS"] * 7 + ["JOB_FINISHED"]


async def test_builders_are_quiet_on_master_data(admin: Api) -> None:
    """Master data (accounts, contracts, charges) is not a billing run's state: it writes no events."""
    accounts = await billing.books(admin)
    account = await builders.account(admin, "Q-1")
    contract = await builders.contract(admin, account, "SC-Q-1")
    await builders.charge(admin, contract, "10.00", accounts["revenue"])
    assert await models.Event.all().values_list("type", flat=True) == ["ACCOUNTING_PERIOD_CHANGED"]

"""The event stream on the embedded default (SQLite, in-process worker, no Redis): the same cursor guarantee, and
subscriptions fed by the in-process wake-ups, from one `billrun serve` process."""

import asyncio

import httpx

import models
from tests.support import billing
from tests.support.api import Api
from tests.support.subscriptions import EVENT_FIELDS, LEGACY, TRANSPORT, Subscription

BATCH_EVENTS = ("subscription($batch: ID!, $after: String) { billingBatchEvents(batchId: $batch, after: $after) { "
                + EVENT_FIELDS + " } }")
READ = """query($after: String) { events(after: $after, first: 100) { edges { cursor node { type } }
  pageInfo { endCursor hasNextPage } } }"""


async def test_concurrent_producers_and_the_in_process_worker_never_make_a_reader_skip(admin: Api) -> None:
    from workers.embedded import in_process_worker

    await billing.bulk_contracts(admin, 120)
    async with in_process_worker():
        batch = await billing.batch(admin)
        seen: list[int] = []
        done = asyncio.Event()

        async def reader() -> None:
            cursor = None
            while True:
                finished = done.is_set()
                page = (await admin.ok(READ, {"after": cursor}))["events"]
                seen.extend(int(e["cursor"]) for e in page["edges"])
                cursor = page["pageInfo"]["endCursor"] or cursor
                if finished and not page["pageInfo"]["hasNextPage"]:
                    return
                await asyncio.sleep(0.01)

        task = asyncio.create_task(reader())
        await asyncio.gather(billing.process(admin, batch),
                             *(billing.batch(admin, f"Run {n}") for n in range(10)))
        done.set()
        await task
    assert seen == await models.Event.all().order_by("id").values_list("id", flat=True)
    assert seen == list(range(1, len(seen) + 1))


def test_a_subscriber_of_the_embedded_default_receives_a_batch_s_events_in_order(demo: tuple[int, str]) -> None:
    port, token = demo  # `make run`'s server: the embedded default, no REDIS_URL in this suite
    asyncio.run(_follow_a_batch(port, token))


async def _follow_a_batch(port: int, token: str) -> None:
    url = f"ws://127.0.0.1:{port}/graphql"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        api = Api(http, token)
        month = (await api.ok("{ accountingPeriods(first: 1) { nodes { month } } }"))[
            "accountingPeriods"]["nodes"][0]["month"]
        batch = await billing.batch(api, "Followed", invoice_date=month)
        live = await Subscription(url, token, TRANSPORT).open(BATCH_EVENTS, {"batch": batch})
        legacy = await Subscription(url, token, LEGACY).open(BATCH_EVENTS, {"batch": batch, "after": "0"})
        try:
            await api.mutate("processBillingBatch", billing.PROCESS, {"id": batch})

            def finished(event: dict) -> bool:
                return event["type"] == "JOB_FINISHED" and event["payload"]["jobKind"] == "ANALYZE"

            received = await live.events_until(finished, "billingBatchEvents")
            replayed = await legacy.events_until(finished, "billingBatchEvents")
        finally:
            await live.close()
            await legacy.close()
        log = [(e["node"]["type"], e["cursor"]) for e in (await api.ok(
            """query($id: ID!) { billingBatch(id: $id) { events(first: 100) { edges { cursor node { type } } } } }""",
            {"id": batch}))["billingBatch"]["events"]["edges"]]
        assert [(e["type"], e["cursor"]) for e in replayed] == log  # from the first event, every one once
        assert [(e["type"], e["cursor"]) for e in received] == log[log.index(
            (received[0]["type"], received[0]["cursor"])):]
        assert [e["payload"]["batchStatus"] for e in received if e["type"] == "BATCH_STATUS_CHANGED"] == [
            "PROCESSING", "PROCESSED"]

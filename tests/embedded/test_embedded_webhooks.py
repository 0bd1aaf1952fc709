"""Webhooks on the embedded default: the in-process worker and dispatcher POST every event, signed, in order, to a
real receiver on loopback (docs/WEBHOOKS.md)."""

from tests.support import billing
from tests.support.api import Api
from tests.support.webhooks import create_endpoint, deliveries, receiver


async def test_the_embedded_default_delivers_every_event_in_order(admin: Api) -> None:
    from workers.embedded import in_process_worker

    await billing.books(admin)
    with receiver(script=[500]) as hook:
        async with in_process_worker():
            endpoint, secret = await create_endpoint(admin, hook)
            batches = [await billing.batch(admin, f"Run {n}") for n in range(3)]
            got = await hook.wait_for(3)
        log = (await admin.ok("{ events(first: 100) { nodes { id cursor type } } }"))["events"]["nodes"]
    sent = [e["id"] for e in log if int(e["cursor"]) > hook.since]
    assert [r.webhook_id for r in got] == sent and len(sent) == 3
    assert [r.event["batch"] for r in got] == [{"id": b} for b in batches]
    assert all(r.verified == {secret: True} for r in hook.requests)
    assert [r.status for r in hook.requests] == [500, 204, 204, 204]
    assert [(d["attempt"], d["state"]) for d in await deliveries(admin, endpoint)] == [
        (1, "RETRYING"), (2, "DELIVERED"), (1, "DELIVERED"), (1, "DELIVERED")]

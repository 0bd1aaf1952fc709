"""Webhooks on the real stack: endpoints registered over the API, events POSTed by the real worker process to real
HTTP receivers on loopback, each signature verified with the `standardwebhooks` library (docs/WEBHOOKS.md)."""

import time
from pathlib import Path

import pytest
from graphql import build_schema
from strawberry.relay import to_base64

import models
from billrun import metrics
from billrun.settings import reset_settings
from domain import webhooks
from models.enums import WebhookDeliveryState
from schema import schema
from tests.support import billing, waiting
from tests.support.api import Api
from tests.support.crash import Crash
from tests.support.webhooks import CREATE, DELIVERIES, ENDPOINT, create_endpoint, deliveries, receiver
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.usefixtures("worker", "books")


@pytest.fixture
async def books(admin: Api) -> None:
    """An open accounting period, so batches can be created (before any endpoint: its events are not sent)."""
    await billing.books(admin)

EVENT = """query($id: ID!) { node(id: $id) { ... on Event { id type cursor createdAt batch { id } job { id }
  billing { id } invoice { id } payload { __typename ... on BatchCreated { code name batchStatus }
  ... on BatchStatusChanged { previousBatchStatus batchStatus error }
  ... on JobQueued { jobKind } ... on JobProgress { jobKind done total percent }
  ... on JobFinished { jobKind jobStatus error } ... on BatchAnalyzed { findingCount blockingCount }
  ... on WebhookEndpointDisabled { reason endpoint { id } } } } } }"""
LOG = "{ events(first: 500) { nodes { id type cursor } } }"
ENDPOINTS = "{ webhookEndpoints { totalCount nodes { " + ENDPOINT + " } } }"
UPDATE = """mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) {
  webhookEndpoint { """ + ENDPOINT + """ } errors { code field message } } }"""
DISABLE = """mutation($input: DisableWebhookEndpointInput!) { disableWebhookEndpoint(input: $input) {
  webhookEndpoint { """ + ENDPOINT + """ } errors { code field message } } }"""
ENABLE = """mutation($input: WebhookEndpointIdInput!) { enableWebhookEndpoint(input: $input) {
  webhookEndpoint { """ + ENDPOINT + """ } errors { code field message } } }"""
ROTATE = """mutation($input: WebhookEndpointIdInput!) { rotateWebhookEndpointSecret(input: $input) {
  secret webhookEndpoint { """ + ENDPOINT + """ } errors { code field message } } }"""
REDELIVER = """mutation($input: RedeliverWebhookEventInput!) { redeliverWebhookEvent(input: $input) {
  webhookDelivery { state attempt redelivery eventCursor } errors { code field message } } }"""


async def log_ids(admin: Api, since: int, types: tuple[str, ...] = ()) -> list[str]:
    """The ids of the log's events after cursor `since` (of these types, when given)."""
    return [e["id"] for e in (await admin.ok(LOG))["events"]["nodes"]
            if int(e["cursor"]) > since and (not types or e["type"] in types)]


async def settled(admin: Api, endpoint: str, within: float = 30.0) -> list[dict]:
    """The delivery log once the endpoint has caught up with the event log (polled with a deadline)."""
    async def caught_up() -> bool:
        head = await models.Event.all().order_by("-id").first()
        row = await models.WebhookEndpoint.get(id=int(endpoint_pk(endpoint)))
        return head is not None and row.cursor >= head.id

    await waiting.until(caught_up, "the endpoint to catch up with the event log", within)
    return await deliveries(admin, endpoint)


def endpoint_pk(gid: str) -> int:
    from strawberry.relay import from_base64

    return int(from_base64(gid)[1])


# ------------------------------------------------------------------ delivery


async def test_a_receiver_verifies_every_signature_and_gets_every_event_in_order_shaped_as_the_graphql_event(
        admin: Api) -> None:
    with receiver() as hook:
        endpoint, secret = await create_endpoint(admin, hook, description="ERP")
        assert secret.startswith("whsec_")
        for n in range(3):
            await billing.batch(admin, f"Run {n}")
        processed = await billing.batch(admin, "Processed run")
        await billing.process(admin, processed)
        await billing.jobs_done(admin, processed)  # the analysis that follows processing too
        log = await log_ids(admin, hook.since)
        got = await hook.wait_for(len(log))
        await settled(admin, endpoint)
        assert await log_ids(admin, hook.since) == log

    assert [r.webhook_id for r in got] == log  # every event, in cursor order, none twice
    assert all(r.verified == {secret: True} for r in hook.requests)
    for request in got:
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-signature"].startswith("v1,")
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 300
        # The body is the event as the GraphQL Event answers it.
        assert request.event == (await admin.ok(EVENT, {"id": request.webhook_id}))["node"], request.event
    types = {r.event["type"] for r in got}
    assert {"BATCH_CREATED", "JOB_QUEUED", "JOB_PROGRESS", "JOB_FINISHED", "BATCH_STATUS_CHANGED"} <= types
    log_rows = await deliveries(admin, endpoint)
    assert [d["state"] for d in log_rows] == ["DELIVERED"] * len(log)
    assert all(d["statusCode"] == 204 and d["attempt"] == 1 and d["durationMs"] >= 0 for d in log_rows)


async def test_a_receiver_failing_three_times_then_recovering_gets_every_event_in_order(admin: Api) -> None:
    with receiver(script=[500, 503, 500]) as hook:
        endpoint, _ = await create_endpoint(admin, hook)
        for n in range(3):
            await billing.batch(admin, f"Run {n}")
        log = await log_ids(admin, hook.since)
        got = await hook.wait_for(len(log))
        attempts = await settled(admin, endpoint)

    assert [r.status for r in hook.requests] == [500, 503, 500] + [204] * len(log)
    assert [r.webhook_id for r in hook.requests[:4]] == [log[0]] * 4  # nothing after it while it failed
    assert [r.webhook_id for r in got] == log
    assert all(all(r.verified.values()) for r in hook.requests)
    first = [a for a in attempts if a["event"]["id"] == log[0]]
    assert [(a["attempt"], a["state"], a["statusCode"]) for a in first] == [
        (1, "RETRYING", 500), (2, "RETRYING", 503), (3, "RETRYING", 500), (4, "DELIVERED", 204)]
    for a in first[:3]:
        assert a["nextRetryAt"] > a["at"] and a["error"].startswith("answered 5")
    assert first[3]["nextRetryAt"] is None and first[3]["error"] is None
    assert [a["state"] for a in attempts[4:]] == ["DELIVERED"] * (len(log) - 1)


async def test_an_endpoint_failing_until_the_schedule_is_spent_is_disabled_with_a_notification_and_resumes(
        admin: Api) -> None:
    with receiver(default=500) as hook:
        endpoint, _ = await create_endpoint(admin, hook, eventTypes=["BATCH_CREATED"])
        batch = await billing.batch(admin, "Run 1")
        async def disabled() -> bool:
            return not (await admin.ok(ENDPOINTS))["webhookEndpoints"]["nodes"][0]["enabled"]

        await waiting.until(disabled, "the endpoint to be disabled")
        attempts = await deliveries(admin, endpoint)
        assert [(a["attempt"], a["state"]) for a in attempts] == [(n, "RETRYING") for n in range(1, 5)] + [
            (5, "FAILED")]
        state = (await admin.ok(ENDPOINTS))["webhookEndpoints"]["nodes"][0]
        assert "after 5 failed attempts" in state["disabledReason"]
        notes = (await admin.ok("{ notifications { nodes { kind status message batch { id } } } }"))[
            "notifications"]["nodes"]
        assert [(n["kind"], n["status"], n["batch"]) for n in notes] == [("WEBHOOK_ENDPOINT_DISABLED", "OPEN", None)]
        disabled = [e for e in (await admin.ok(LOG))["events"]["nodes"] if e["type"] == "WEBHOOK_ENDPOINT_DISABLED"]
        assert len(disabled) == 1
        payload = (await admin.ok(EVENT, {"id": disabled[0]["id"]}))["node"]["payload"]
        assert payload["endpoint"] == {"id": endpoint} and "500" in payload["reason"]

        # Fixed and enabled again, it resumes at the event it failed on.
        hook.default = 204
        await billing.batch(admin, "Run 2")
        enabled = await admin.mutate("enableWebhookEndpoint", ENABLE, {"input": {"id": endpoint}})
        assert enabled["webhookEndpoint"]["enabled"] is True and enabled["webhookEndpoint"]["disabledReason"] is None
        got = await hook.wait_for(2)
    created = await log_ids(admin, hook.since, ("BATCH_CREATED",))
    assert [r.webhook_id for r in got] == created and got[0].event["batch"] == {"id": batch}
    assert len(hook.requests) == 7


# ------------------------------------------------------------------ secrets


async def test_the_secret_is_shown_once_and_never_readable_after(admin: Api) -> None:
    fields = build_schema(schema.as_str()).type_map["WebhookEndpoint"].fields  # type: ignore[union-attr]
    assert not [name for name in fields if "secret" in name.lower() and name != "previousSecretExpiresAt"]
    with receiver() as hook:
        variables = {"input": {"url": hook.url, "idempotencyKey": "create-hook-1"}}
        first = await admin.ok(CREATE, variables)
        replay = await admin.ok(CREATE, variables)
    assert first["createWebhookEndpoint"]["secret"].startswith("whsec_")
    assert replay["createWebhookEndpoint"]["secret"] is None  # the replay of a key never holds the secret
    assert replay["createWebhookEndpoint"]["webhookEndpoint"] == first["createWebhookEndpoint"]["webhookEndpoint"]
    assert await models.WebhookEndpoint.all().count() == 1
    stored = await models.IdempotencyRecord.all().values_list("response", flat=True)
    assert stored and all(first["createWebhookEndpoint"]["secret"] not in (text or "") for text in stored)


async def test_a_rotated_secret_and_the_new_one_both_sign_during_the_grace_period(admin: Api) -> None:
    with receiver() as hook:
        endpoint, old = await create_endpoint(admin, hook)
        await billing.batch(admin, "Before")
        await hook.wait_for(1)
        rotated = await admin.mutate("rotateWebhookEndpointSecret", ROTATE, {"input": {"id": endpoint}})
        new = rotated["secret"]
        assert new.startswith("whsec_") and new != old
        assert rotated["webhookEndpoint"]["previousSecretExpiresAt"] is not None
        hook.secrets.append(new)
        await billing.batch(admin, "After")
        got = await hook.wait_for(2)
    assert got[0].verified == {old: True}  # before the rotation
    assert got[1].verified == {old: True, new: True}  # each secret alone verifies it
    assert len(got[1].headers["webhook-signature"].split(" ")) == 2


def test_a_rotated_out_secret_stops_signing_when_its_grace_period_ends() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 12, 1, tzinfo=UTC)
    endpoint = models.WebhookEndpoint(secret="whsec_bmV3", previous_secret="whsec_b2xk",
                                      previous_secret_expires_at=now + timedelta(hours=1))
    assert webhooks.signing_secrets(endpoint, now) == ["whsec_bmV3", "whsec_b2xk"]
    assert webhooks.signing_secrets(endpoint, now + timedelta(hours=1)) == ["whsec_bmV3"]


# ------------------------------------------------------------------ managing endpoints


async def test_update_disable_and_enable_an_endpoint(admin: Api) -> None:
    with receiver() as hook, receiver() as other:
        endpoint, _ = await create_endpoint(admin, hook)
        updated = await admin.mutate("updateWebhookEndpoint", UPDATE, {"input": {
            "id": endpoint, "url": other.url, "eventTypes": ["BATCH_CREATED"], "description": "Moved"}})
        assert updated["webhookEndpoint"]["url"] == other.url
        assert updated["webhookEndpoint"]["eventTypes"] == ["BATCH_CREATED"]
        other.secrets = hook.secrets
        await billing.process(admin, await billing.batch(admin, "Run 1"))
        await other.wait_for(1)
        disabled = await admin.mutate("disableWebhookEndpoint", DISABLE, {"input": {"id": endpoint,
                                                                                    "reason": "Maintenance"}})
        assert disabled["webhookEndpoint"]["enabled"] is False
        assert disabled["webhookEndpoint"]["disabledReason"] == "Maintenance"
        again = await admin.raw(DISABLE, {"input": {"id": endpoint}})
        assert again.json()["data"]["disableWebhookEndpoint"]["errors"][0]["code"] == "INVALID_STATUS"
        await billing.batch(admin, "Run 2")
        assert await webhooks.dispatch() == 0  # a disabled endpoint is never due
        assert len(other.requests) == 1
        await admin.mutate("enableWebhookEndpoint", ENABLE, {"input": {"id": endpoint}})
        got = await other.wait_for(2)
    assert hook.requests == []
    assert [r.event["type"] for r in got] == ["BATCH_CREATED", "BATCH_CREATED"]
    assert [r.webhook_id for r in got] == await log_ids(admin, hook.since, ("BATCH_CREATED",))


async def test_redelivering_an_event_sends_it_again_with_the_same_id_and_logs_the_attempt(admin: Api) -> None:
    with receiver() as hook:
        endpoint, _ = await create_endpoint(admin, hook)
        await billing.batch(admin, "Run 1")
        first = (await hook.wait_for(1))[0]
        await settled(admin, endpoint)  # its attempt recorded
        queued = await admin.mutate("redeliverWebhookEvent", REDELIVER, {"input": {
            "endpointId": endpoint, "eventId": first.webhook_id}})
        assert queued["webhookDelivery"] == {"state": "QUEUED", "attempt": 2, "redelivery": True,
                                             "eventCursor": first.event["cursor"]}
        second = (await hook.wait_for(2))[1]
        missing = await admin.raw(REDELIVER, {"input": {"endpointId": endpoint,
                                                        "eventId": to_base64("Event", 999_999)}})
    assert second.webhook_id == first.webhook_id and second.body == first.body and all(second.verified.values())
    async def redelivered() -> list[dict] | None:
        log = await deliveries(admin, endpoint)
        return log if log[-1]["state"] == "DELIVERED" else None

    log = await waiting.until(redelivered, "the redelivery to be delivered", within=10)
    assert [(d["attempt"], d["redelivery"], d["state"]) for d in log] == [(1, False, "DELIVERED"),
                                                                          (2, True, "DELIVERED")]
    assert missing.json()["data"]["redeliverWebhookEvent"]["errors"][0]["code"] == "NOT_FOUND"


# ------------------------------------------------------------------ a worker dying mid-POST

# A sender's lease (timeout + margin) of 4 s, so a dead sender's work is taken up again within the test.
SHORT_LEASE = {"BILLRUN_WEBHOOK_TIMEOUT_SECONDS": "2", "BILLRUN_WEBHOOK_LEASE_MARGIN_SECONDS": "2"}


async def test_a_worker_killed_after_the_post_leaves_the_event_to_be_sent_again_with_the_same_id(
        admin: Api, alone: None, tmp_path: Path) -> None:
    """The receiver answered 204, the worker died before recording it (fault point `webhook.posted`): its lease
    on the endpoint expires, the next worker sends the same event again (same `webhook-id`) and records it once."""
    crash = Crash(tmp_path / "faults", ["webhook.posted"], SHORT_LEASE)
    with receiver() as hook:
        endpoint, _ = await create_endpoint(admin, hook)
        await billing.batch(admin, "Run 1")
        victim = crash.victim()
        try:
            assert await crash.happens(victim) == ["webhook.posted"]
        finally:
            victim.stop()
        assert len(hook.delivered()) == 1 and await deliveries(admin, endpoint) == []  # answered, not recorded
        replacement = crash.replacement()
        try:
            log = await settled(admin, endpoint)
            got = await hook.wait_for(2)
        finally:
            replacement.stop()
    assert got[0].webhook_id == got[1].webhook_id and got[0].body == got[1].body
    assert [(d["attempt"], d["state"]) for d in log] == [(1, "DELIVERED")]
    assert await models.WebhookEndpoint.exclude(lease_token=None).count() == 0


async def test_a_redelivery_whose_worker_died_mid_post_is_sent_again_not_left_sending(
        admin: Api, alone: None, tmp_path: Path) -> None:
    """A redelivery claimed SENDING whose worker died after the POST (fault point `webhook.redelivery.posted`)
    is taken up by the sweeper once a sender's lease has passed: QUEUED again, POSTed again with the same
    `webhook-id`, recorded DELIVERED."""
    with receiver() as hook:
        endpoint, _ = await create_endpoint(admin, hook)
        await billing.batch(admin, "Run 1")
        pk = endpoint_pk(endpoint)
        assert await webhooks.dispatch() == 1  # the first delivery, sent here: the victim has only the redelivery
        await webhooks.deliver(pk, (await models.WebhookEndpoint.get(id=pk)).lease_token or "")
        first = (await hook.wait_for(1))[0]
        await admin.mutate("redeliverWebhookEvent", REDELIVER, {"input": {
            "endpointId": endpoint, "eventId": first.webhook_id}})
        crash = Crash(tmp_path / "faults", ["webhook.redelivery.posted"], SHORT_LEASE)
        victim = crash.victim()
        try:
            assert await crash.happens(victim) == ["webhook.redelivery.posted"]
        finally:
            victim.stop()
        assert len(hook.delivered()) == 2
        assert (await deliveries(admin, endpoint))[-1]["state"] == "SENDING"  # answered, not recorded
        replacement = crash.replacement()
        try:
            async def redelivered() -> list[dict] | None:
                log = await deliveries(admin, endpoint)
                return log if log[-1]["state"] == "DELIVERED" else None

            log = await waiting.until(redelivered, "the stuck redelivery to be sent again and recorded")
        finally:
            replacement.stop()
    got = hook.delivered()
    assert len(got) == 3 and {r.webhook_id for r in got} == {first.webhook_id}
    assert [(d["attempt"], d["redelivery"], d["state"]) for d in log] == [(1, False, "DELIVERED"),
                                                                          (2, True, "DELIVERED")]


# ------------------------------------------------------------------ who may


async def test_only_admins_manage_or_see_webhooks(admin: Api, clerk: Api) -> None:
    with receiver() as hook:
        endpoint, _ = await create_endpoint(admin, hook)
        refused = await clerk.raw(CREATE, {"input": {"url": hook.url}})
    assert refused.json()["data"]["createWebhookEndpoint"]["errors"][0]["code"] == "PERMISSION_DENIED"
    assert await models.WebhookEndpoint.all().count() == 1
    assert (await clerk.ok(ENDPOINTS))["webhookEndpoints"] == {"totalCount": 0, "nodes": []}
    assert (await clerk.ok(DELIVERIES, {"id": endpoint}))["webhookDeliveries"]["totalCount"] == 0
    assert (await clerk.ok("query($id: ID!) { node(id: $id) { id } }", {"id": endpoint}))["node"] is None
    assert (await admin.ok(ENDPOINTS))["webhookEndpoints"]["totalCount"] == 1


# ------------------------------------------------------------------ destinations


@pytest.fixture
def private_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BILLRUN_WEBHOOK_ALLOW_PRIVATE", "false")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


@pytest.mark.parametrize(("url", "code"), [
    ("http://127.0.0.1:8080/hook", "URL_NOT_ALLOWED"), ("http://localhost/hook", "URL_NOT_ALLOWED"),
    ("http://[::1]/hook", "URL_NOT_ALLOWED"), ("http://169.254.169.254/latest/meta-data", "URL_NOT_ALLOWED"),
    ("http://10.1.2.3/hook", "URL_NOT_ALLOWED"), ("https://192.168.0.10/hook", "URL_NOT_ALLOWED"),
    ("http://[::ffff:127.0.0.1]/hook", "URL_NOT_ALLOWED"), ("http://0.0.0.0/hook", "URL_NOT_ALLOWED"),
    ("http://224.0.0.1/hook", "URL_NOT_ALLOWED"), ("http://100.64.0.1/hook", "URL_NOT_ALLOWED"),
    ("ftp://example.com/hook", "URL_NOT_ALLOWED"), ("file:///etc/passwd", "URL_NOT_ALLOWED"),
    ("http://no-such-host.invalid/hook", "URL_NOT_ALLOWED"), ("http://user:pw@example.com/", "INVALID_INPUT"),
    ("not a url", "URL_NOT_ALLOWED"), ("", "INVALID_INPUT"), ("http://" + "a" * 2000 + ".com/", "INVALID_INPUT"),
])
async def test_destinations_must_be_public_http_addresses(admin: Api, private_refused: None, url: str,
                                                          code: str) -> None:
    response = await admin.raw(CREATE, {"input": {"url": url}})
    body = response.json()
    assert "errors" not in body, body
    errors = body["data"]["createWebhookEndpoint"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [(code, "url")], errors
    assert await models.WebhookEndpoint.all().count() == 0


async def test_an_update_to_a_private_address_is_refused(admin: Api, private_refused: None) -> None:
    endpoint = await models.WebhookEndpoint.create(url="https://hooks.example.com/x", secret=webhooks.new_secret())
    gid = to_base64("WebhookEndpoint", endpoint.id)
    response = (await admin.raw(UPDATE, {"input": {"id": gid, "url": "http://127.0.0.1/x"}})).json()
    assert response["data"]["updateWebhookEndpoint"]["errors"][0]["code"] == "URL_NOT_ALLOWED"
    assert (await models.WebhookEndpoint.get(id=endpoint.id)).url == "https://hooks.example.com/x"


async def test_the_address_is_checked_again_when_sending(admin: Api, alone: None) -> None:
    """An endpoint saved while its host was public that resolves to loopback when sending (DNS rebinding) is
    sent nothing: a worker refusing private addresses logs the refusal as a failed attempt."""
    strict = WorkerProcess(processes=1, threads=2, env={"BILLRUN_WEBHOOK_ALLOW_PRIVATE": "false"}).start()
    try:
        with receiver() as hook:
            endpoint, _ = await create_endpoint(admin, hook)  # this API process allows loopback
            await billing.batch(admin, "Run 1")
            log = await waiting.until(lambda: deliveries(admin, endpoint), "an attempt in the delivery log")
    finally:
        strict.stop()
    assert hook.requests == []
    assert log[0]["state"] == "RETRYING" and log[0]["statusCode"] is None
    assert log[0]["error"].startswith("refused: 127.0.0.1 resolves to a loopback address")


# ------------------------------------------------------------------ metrics


async def test_attempts_are_counted_by_outcome(admin: Api, alone: None) -> None:
    """The sender run here, in this process, so its counters can be read back."""
    def count(outcome: str) -> float:
        return metrics.webhook_attempts.labels(outcome)._value.get()

    before = {o: count(o) for o in ("delivered", "rejected", "unreachable")}
    with receiver(script=[500]) as hook:
        endpoint, _ = await create_endpoint(admin, hook)
        await billing.batch(admin, "Run 1")
        pk = endpoint_pk(endpoint)
        for _ in range(2):
            await models.WebhookEndpoint.filter(id=pk).update(retry_at=None)
            assert await webhooks.dispatch() == 1
            token = (await models.WebhookEndpoint.get(id=pk)).lease_token
            assert token is not None
            await webhooks.deliver(pk, token)
        await models.WebhookEndpoint.filter(id=pk).update(url="http://127.0.0.1:9/closed")  # nobody listens
        await billing.batch(admin, "Run 2")
        assert await webhooks.dispatch() == 1
        await webhooks.deliver(pk, (await models.WebhookEndpoint.get(id=pk)).lease_token or "")
    assert [r.status for r in hook.requests] == [500, 204]
    assert {o: count(o) - before[o] for o in before} == {"delivered": 1, "rejected": 1, "unreachable": 1}
    states = await models.WebhookDelivery.all().order_by("id").values_list("state", flat=True)
    assert states == [WebhookDeliveryState.RETRYING, WebhookDeliveryState.DELIVERED, WebhookDeliveryState.RETRYING]

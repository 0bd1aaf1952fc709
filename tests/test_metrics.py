"""/metrics: GraphQL operations by name and type, latency, errors by kind (top-level, payload code, masked), HTTP
answers by route template; the optional token; and one sum across several uvicorn processes."""

import httpx
import pytest

from billrun.settings import reset_settings
from tests.support import builders
from tests.support.api import Api
from tests.support.live_server import live_server
from tests.support.scrape import scrape, total, value

CREATE_LEDGER_QUIETLY = """mutation Opening($input: CreateLedgerAccountInput!) { createLedgerAccount(input: $input) {
  ledgerAccount { id } } }"""


async def _metrics(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_a_query_a_mutation_and_a_refused_document_show_in_their_series(
        client: httpx.AsyncClient, admin: Api) -> None:
    before = await _metrics(client)

    await admin.ok("query WhoAmI { viewer { id } }")
    created = await admin.ok("""mutation Opening($input: CreateLedgerAccountInput!) { createLedgerAccount(
      input: $input) { ledgerAccount { id } errors { code } } }""", {"input": {
        "code": "4000", "name": "Revenue", "kind": "REVENUE"}})
    assert created["createLedgerAccount"]["errors"] == []
    # The same code again is refused; this client does not even select `errors`, the refusal still counts.
    refused = await admin.ok(CREATE_LEDGER_QUIETLY, {"input": {"code": "4000", "name": "Again", "kind": "REVENUE"}})
    assert refused["createLedgerAccount"]["ledgerAccount"] is None
    code = (await admin.ok(builders.CREATE_LEDGER, {"input": {"code": "4000", "name": "Again", "kind": "REVENUE"}})
            )["createLedgerAccount"]["errors"][0]["code"]
    broken = await admin("query Broken { viewer { noSuchField } }")
    assert broken.errors and broken.data is None
    assert (await client.get("/invoices/123.pdf")).status_code in (401, 404)

    after = await _metrics(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("billrun_graphql_operations_total", operation="WhoAmI", type="query") == 1
    assert moved("billrun_graphql_operations_total", operation="Opening", type="mutation") == 2
    assert moved("billrun_graphql_operation_duration_seconds_count", operation="WhoAmI") == 1
    assert moved("billrun_graphql_operation_duration_seconds_count", operation="Opening") == 2
    assert moved("billrun_graphql_errors_total", operation="Opening", kind="payload", code=code) == 1
    assert moved("billrun_graphql_errors_total", operation="Broken", kind="graphql", code="GRAPHQL_ERROR") == 1
    assert moved("billrun_graphql_operations_total", operation="Broken", type="query") == 1
    assert total(after, "billrun_graphql_errors_total", kind="masked") == total(
        before, "billrun_graphql_errors_total", kind="masked")  # no bug along the way
    assert moved("billrun_http_requests_total", route="/graphql", method="POST", status="200") == 5
    pdf = [s for s in ("401", "404") if moved("billrun_http_requests_total", route="/invoices/{invoice_id}.pdf",
                                              method="GET", status=s) == 1]
    assert len(pdf) == 1  # by route template: no invoice id in a label
    for name in ("billrun_subscriptions_open", "billrun_events_published_total", "billrun_events_delivered_total",
                 "billrun_webhook_attempts_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in after, name


async def test_operation_names_are_bounded_labels(client: httpx.AsyncClient, admin: Api,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Names come from clients: an unnamed operation is `_anonymous`, and past
    BILLRUN_METRICS_MAX_OPERATION_NAMES distinct names a process counts the rest as `_other`."""
    before = await _metrics(client)
    await admin.ok("{ viewer { id } }")
    monkeypatch.setenv("BILLRUN_METRICS_MAX_OPERATION_NAMES", "1")
    reset_settings()
    try:
        await admin.ok("query PerhapsCounted { viewer { id } }")
        await admin.ok("query NeverCounted { viewer { id } }")
    finally:
        monkeypatch.delenv("BILLRUN_METRICS_MAX_OPERATION_NAMES")
        reset_settings()
    after = await _metrics(client)
    assert value(after, "billrun_graphql_operations_total", operation="_anonymous", type="query") - value(
        before, "billrun_graphql_operations_total", operation="_anonymous", type="query") == 1
    assert value(after, "billrun_graphql_operations_total", operation="NeverCounted", type="query") == 0
    assert value(after, "billrun_graphql_operations_total", operation="_other", type="query") >= 1


async def test_a_metrics_token_keeps_scrapers_without_it_out(client: httpx.AsyncClient,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLRUN_METRICS_TOKEN", "scrape-secret")
    reset_settings()
    try:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        allowed = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert allowed.status_code == 200 and "billrun_http_requests_total" in allowed.text
    finally:
        monkeypatch.delenv("BILLRUN_METRICS_TOKEN")
        reset_settings()


def test_two_uvicorn_processes_answer_one_sum(tmp_path) -> None:
    """PROMETHEUS_MULTIPROC_DIR: whichever process answers a scrape counts every process's requests."""
    directory = tmp_path / "prometheus"
    with live_server(workers=2, PROMETHEUS_MULTIPROC_DIR=str(directory)) as port:
        base = f"http://127.0.0.1:{port}"
        sent = 0
        while len(_processes_that_counted(directory)) < 2:  # new connections until both processes answered
            assert sent < 1000, "one process answered every connection"
            with httpx.Client() as fresh:
                assert fresh.get(f"{base}/healthz").status_code == 200
            sent += 1
        for _ in range(6):  # each scrape, whichever process answers it, counts them all
            text = scrape(f"{base}/metrics")
            assert value(text, "billrun_http_requests_total", route="/healthz", method="GET", status="200") == sent


def _processes_that_counted(directory) -> set[str]:
    """The pids of the files multiprocess mode writes (counter_<pid>.db) once a process counted something."""
    return {path.stem.rsplit("_", 1)[-1] for path in directory.glob("counter_*.db")}


async def test_the_event_stream_s_series_are_fed_by_a_subscription_on_a_served_process() -> None:
    """Open subscriptions, events published (by type) and delivered (by channel), counted by the process that
    serves them; the fast path's closing of sockets too far behind is a series too."""
    from tests.conftest import ALL, make_token
    from tests.support import billing
    from tests.support.subscriptions import Subscription

    _, token = await make_token("watcher@example.com", ALL)
    with live_server() as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            await billing.books(Api(http, token))
            before = await _metrics(http)
            subscription = await Subscription(f"ws://127.0.0.1:{port}/graphql", token).open(
                "subscription { events(types: [BATCH_CREATED]) { cursor } }")
            try:
                await billing.batch(Api(http, token), "Counted")
                assert (await subscription.next())["events"]["cursor"]
                during = await _metrics(http)
            finally:
                await subscription.close()
    assert value(during, "billrun_subscriptions_open") - value(before, "billrun_subscriptions_open") == 1
    assert value(during, "billrun_events_published_total", type="BATCH_CREATED") - value(
        before, "billrun_events_published_total", type="BATCH_CREATED") == 1
    assert value(during, "billrun_events_delivered_total", channel="subscription") - value(
        before, "billrun_events_delivered_total", channel="subscription") == 1
    assert "# TYPE billrun_websockets_too_far_behind" in during

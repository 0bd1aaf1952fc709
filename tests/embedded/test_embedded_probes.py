"""On the embedded default the probes and metrics work too: the database is SQLite, the broker in-process."""

import httpx

from tests.support.api import Api
from tests.support.scrape import value


async def test_readyz_checks_the_sqlite_database_and_the_in_process_broker(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_metrics_count_operations_on_the_embedded_default(client: httpx.AsyncClient, admin: Api) -> None:
    await admin.ok("query EmbeddedViewer { viewer { id } }")
    text = (await client.get("/metrics")).text
    assert value(text, "billrun_graphql_operations_total", operation="EmbeddedViewer", type="query") == 1

"""`billrun bench graph`: the billings grid served over HTTP, against the executor's and a hand-written floor
(docs/PERFORMANCE.md, "Serving the grid").

Set-up (not measured): a scratch database (its name ends in `_bench`) with N contracts, one batch processed by a
worker process, and edits through the API on some of its billings (comments, amounts, approvals) so the page has
audit rows. Then, in one run:
- **the page**: `bench/grid.graphql` (one batch's `periodicBillings(first: 100)`) over HTTP against one
  `billrun serve` process, with 1 client and with 10 concurrent clients (p50, p99, requests/s);
- **the page by its persisted hash** (`plan_*`): the same page, the document registered once and then named by its
  hash alone, so it is answered by its compiled plans (schema/compiled_plans.py); its bytes are checked equal to
  the page sent in full;
- **the executor floor**: bare graphql-core executing the same document, already parsed and validated, over the
  same rows already in memory as dicts (the page's own response turned back into Decimals, dates and datetimes),
  with the same scalars' serializers;
- **the hand-written floor**: one SQL query, dict building and orjson in a plain Starlette endpoint
  (`handwritten_app` below), served by uvicorn in a separate process the same way, with the same clients;
- **SQL statements per request**: the document run once in this process through the ASGI app, counted with the
  N+1 guards' counter (billrun/query_log.py), at the page size and at 10.
"""

import asyncio
import base64
import hashlib
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from statistics import quantiles
from typing import Any

import httpx
import orjson

from billrun import bench

GRID = (bench.ROOT / "bench" / "grid.graphql").read_text(encoding="utf-8")
PAGE = 100


def _summary(samples: list[float], seconds: float) -> dict:
    cuts = quantiles(samples, n=100, method="inclusive")
    return {"requests": len(samples), "p50_ms": round(cuts[49], 2), "p99_ms": round(cuts[98], 2),
            "requests_per_second": round(len(samples) / seconds, 1)}


async def _load(send: Callable[[httpx.AsyncClient], Any], clients: int, requests: int, pid: int) -> dict:
    """`clients` concurrent clients (one connection each) sending `requests` requests in all, after a warm-up;
    with the server's (`pid`) CPU time per request, which other load on the machine does not inflate."""
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=clients)) as http:
        for _ in range(10):
            await send(http)
        samples: list[float] = []

        async def client(count: int) -> None:
            for _ in range(count):
                started = time.perf_counter()
                await send(http)
                samples.append((time.perf_counter() - started) * 1000)

        started, cpu = time.perf_counter(), bench.cpu_seconds(pid)
        await asyncio.gather(*(client(requests // clients) for _ in range(clients)))
        cpu_ms = (bench.cpu_seconds(pid) - cpu) * 1000 / len(samples)
        return {**_summary(samples, time.perf_counter() - started), "server_cpu_ms_per_request": round(cpu_ms, 2)}


def graphql_sender(url: str, token: str, variables: dict, extensions: dict | None = None) -> Callable:
    body = {"query": GRID, "variables": variables}
    if extensions is not None:
        body = {"variables": variables, "extensions": extensions}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    content = orjson.dumps(body)

    async def send(http: httpx.AsyncClient) -> bytes:
        response = await http.post(url, content=content, headers=headers)
        if response.status_code != 200 or response.content.startswith(b'{"errors"'):
            raise SystemExit(f"the grid failed: {response.status_code} {response.text[:500]}")
        return response.content

    return send


# --- the executor floor ------------------------------------------------------------------------------------

def _core_schema() -> Any:
    """graphql-core's schema built from our SDL: default resolvers (a dict's key per field), our scalars'
    serializers."""
    from graphql import GraphQLScalarType, build_schema

    from schema import schema
    from schema.scalars import STRICT_SCALARS

    core = build_schema(schema.as_str())
    for definition in STRICT_SCALARS.values():
        scalar = core.type_map[definition.name]
        assert isinstance(scalar, GraphQLScalarType)
        scalar.serialize = definition.serialize  # type: ignore[method-assign,assignment]  # graphql-core types serialize as a method
    return core


def _typed(value: Any, graphql_type: Any) -> Any:
    """A response value back as the rows hold it: Decimals, dates and datetimes for our scalars."""
    from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType

    if value is None:
        return None
    if isinstance(graphql_type, GraphQLNonNull):
        return _typed(value, graphql_type.of_type)
    if isinstance(graphql_type, GraphQLList):
        return [_typed(item, graphql_type.of_type) for item in value]
    if isinstance(graphql_type, GraphQLObjectType):
        return {key: _typed(item, graphql_type.fields[key].type) for key, item in value.items()}
    if isinstance(graphql_type, GraphQLScalarType):
        parse: dict[str, Callable[[Any], Any]] = {"Decimal": Decimal, "Date": date.fromisoformat,
                                                  "DateTime": datetime.fromisoformat}
        return parse[graphql_type.name](value) if graphql_type.name in parse else value
    return value


def executor_floor(response: bytes, variables: dict, runs: int = 40) -> dict:
    """Bare graphql-core over the page's rows in memory; the document parsed and validated once, untimed."""
    from graphql import execute, parse, validate

    core = _core_schema()
    document = parse(GRID)
    if errors := validate(core, document):
        raise SystemExit(f"the grid does not validate on graphql-core's schema: {errors}")
    query_type = core.query_type
    assert query_type is not None
    rows = _typed(orjson.loads(response)["data"], query_type)
    samples, cpu = [], []
    for _ in range(runs + 5):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = execute(core, document, root_value=rows, variable_values=variables)
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        if result.errors:  # type: ignore[union-attr]  # a synchronous execution: an ExecutionResult
            raise SystemExit(f"graphql-core failed: {result.errors}")  # type: ignore[union-attr]  # as above
    samples, cpu = sorted(samples[5:]), sorted(cpu[5:])
    return {"p50_ms": round(samples[len(samples) // 2], 2), "min_ms": round(samples[0], 2),
            "cpu_ms_p50": round(cpu[len(cpu) // 2], 2), "runs": runs}


# --- the hand-written floor ----------------------------------------------------------------------------------

HANDWRITTEN_SQL = """
SELECT b.id, b.billing_start, b.billing_end, b.period_start, b.period_end, b.tax_location,
       b.amount::text AS amount, b.status,
       b.internal_comment, b.external_comment, c.id AS contract_id, c.number AS contract_number, c.frequency,
       a.id AS account_id, a.number AS account_number, a.name AS account_name, count(*) OVER () AS total,
       (SELECT json_agg(json_build_object('id', d.id, 'kind', d.kind, 'description', d.description,
                                          'amount', d.amount::text, 'days', d.days_billed, 'ra', l.id,
                                          'code', l.code, 'trace', d.trace, 'days_in_period', d.days_in_period,
                                          'price_source', d.price_source, 'charge_id', d.charge_id,
                                          'dated_price_id', d.dated_price_id, 'source_type', d.source_type,
                                          'source_id', d.source_id) ORDER BY d.position, d.id)
          FROM billing_detail d LEFT JOIN ledger_account l ON l.id = d.revenue_account_id
         WHERE d.billing_id = b.id) AS details,
       (SELECT json_agg(json_build_object('id', u.id, 'field', u.field, 'before', u.before, 'after', u.after,
                                          'operation', u.operation, 'at', u.at) ORDER BY u.id DESC)
          FROM audit u WHERE u.billing_id = b.id) AS audits
  FROM periodic_billing b JOIN account a ON a.id = b.account_id LEFT JOIN sales_contract c ON c.id = b.contract_id
 WHERE b.batch_id = $1 ORDER BY b.id LIMIT $2
"""


def _gid(type_name: str, pk: Any) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def _handwritten_page(rows: list[Any], first: int) -> dict:
    from domain import trace
    from domain.dispositions import USER_TARGETS
    from models.enums import DetailKind, PriceSource

    def why_and_formula(d: dict, billing: trace.BillingRow) -> dict:
        line = trace.LineRow(kind=DetailKind(d["kind"]), amount=Decimal(d["amount"]), days_billed=d["days"],
                             days_in_period=d["days_in_period"],
                             price_source=None if d["price_source"] is None else PriceSource(d["price_source"]),
                             charge_id=d["charge_id"], dated_price_id=d["dated_price_id"],
                             source_type=d["source_type"], source_id=d["source_id"], trace=d["trace"] or {})
        composed = trace.compose(line, billing)
        return {"why": composed.why, "formula": composed.formula}

    edges = []
    for r in rows[:first]:
        details = orjson.loads(r["details"] or "[]")
        billing = trace.BillingRow(period_start=r["period_start"], period_end=r["period_end"],
                                   billing_start=r["billing_start"], billing_end=r["billing_end"],
                                   tax_location=r["tax_location"])
        audits = orjson.loads(r["audits"] or "[]")
        cursor = base64.urlsafe_b64encode(f"[{r['id']}]".encode()).decode()
        edges.append({"cursor": cursor, "node": {
            "id": _gid("PeriodicBilling", r["id"]), "billingStartingDate": r["billing_start"].isoformat(),
            "billingEndingDate": r["billing_end"].isoformat(), "periodStartDate": r["period_start"].isoformat(),
            "periodEndDate": r["period_end"].isoformat(), "periodicBillingAmount": r["amount"],
            "billingStatus": r["status"],
            "allowedTransitions": [t.value for t in USER_TARGETS if t.value != r["status"]],
            "internalComment": r["internal_comment"], "externalComment": r["external_comment"],
            "salesContract": None if r["contract_id"] is None else {
                "id": _gid("SalesContract", r["contract_id"]), "number": r["contract_number"],
                "frequency": r["frequency"]},
            "serviceCustomer": {"id": _gid("Account", r["account_id"]), "number": r["account_number"],
                                "name": r["account_name"]},
            "details": [{"id": _gid("BillingDetail", d["id"]), "kind": d["kind"], "description": d["description"],
                         "billingAmount": d["amount"], "daysBilled": d["days"],
                         "revenueAccount": None if d["ra"] is None else {"id": _gid("LedgerAccount", d["ra"]),
                                                                         "code": d["code"]},
                         "trace": why_and_formula(d, billing)} for d in details],
            "audits": [{"id": _gid("Audit", a["id"]), "field": a["field"], "before": a["before"],
                        "after": a["after"], "operation": a["operation"], "at": a["at"]} for a in audits]}})
    total = rows[0]["total"] if rows else 0
    return {"data": {"billingBatch": {"periodicBillings": {
        "totalCount": total, "pageInfo": {"hasNextPage": len(rows) > first,
                                          "endCursor": edges[-1]["cursor"] if edges else None},
        "edges": edges}}}}


def handwritten_app() -> Any:
    """The floor's server (`uvicorn billrun.bench_graph:handwritten_app --factory`): POST {"batch": id,
    "first": n} answers the grid's JSON from one SQL query, without GraphQL, authentication or rules."""
    import asyncpg
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    pool: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
        pool["db"] = await asyncpg.create_pool(url, min_size=1, max_size=10)
        yield
        await pool["db"].close()

    async def grid(request: Request) -> Response:
        ask = orjson.loads(await request.body())
        rows = await pool["db"].fetch(HANDWRITTEN_SQL, ask["batch"], ask["first"] + 1)
        return Response(orjson.dumps(_handwritten_page(rows, ask["first"])), media_type="application/json")

    return Starlette(routes=[Route("/grid", grid, methods=["POST"])], lifespan=lifespan)


# --- set-up and run --------------------------------------------------------------------------------------------

EDIT_DETAIL = """mutation($input: UpdateBillingDetailInput!) { updateBillingDetail(input: $input) {
  errors { code } } }"""
EDIT_BILLING = """mutation($input: UpdatePeriodicBillingInput!) { updatePeriodicBilling(input: $input) {
  errors { code } } }"""
APPROVE = """mutation($id: ID!) { updateBillingStatus(input: {billingId: $id, status: APPROVED}) {
  errors { code } } }"""
LINES = """query($batch: ID!, $first: Int!) { billingBatch(id: $batch) { periodicBillings(first: $first) {
  nodes { id details { id billingAmount kind } } } } }"""


async def _edit(http: httpx.AsyncClient, url: str, token: str, batch_gid: str) -> int:
    """Comments on every third billing of the page, an amount on every fourth, approval of every fifth: audit rows."""
    headers = {"Authorization": f"Bearer {token}"}

    async def run(query: str, variables: dict) -> Any:
        response = await http.post(url, json={"query": query, "variables": variables}, headers=headers)
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise SystemExit(f"set-up failed: {response.text[:500]}")
        return body["data"]

    page = (await run(LINES, {"batch": batch_gid, "first": PAGE}))["billingBatch"]["periodicBillings"]["nodes"]
    edits = 0
    for n, billing in enumerate(page):
        if n % 3 == 0:
            await run(EDIT_BILLING, {"input": {"id": billing["id"], "externalComment": f"Checked {n}",
                                               "internalComment": "Called the customer"}})
            edits += 1
        if n % 4 == 0:
            line = next(d for d in billing["details"] if d["kind"] == "RECURRING")
            amount = str(Decimal(line["billingAmount"]) + 1)
            await run(EDIT_DETAIL, {"input": {"id": line["id"], "billingAmount": amount}})
            edits += 1
        if n % 5 == 0:
            await run(APPROVE, {"id": billing["id"]})
            edits += 1
    return edits


async def _statements(token: str, variables: dict) -> dict:
    """SQL statements of one request, run in this process through the ASGI app, at the page size and at 10."""
    from billrun.app import create_app
    from billrun.query_log import count_queries

    counts = {}
    transport = httpx.ASGITransport(app=create_app(run_workers=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        for first in (variables["first"], 10):
            send = graphql_sender("/graphql", token, dict(variables, first=first))
            await send(http)  # caches warm
            with count_queries() as log:
                quiet = logging.getLogger("tortoise.db_client")
                quiet.propagate = False  # counted, not printed
                try:
                    await send(http)
                finally:
                    quiet.propagate = True
            counts[first] = log.count
    return {"sql_statements_per_request": counts[variables["first"]], "sql_statements_page_of_10": counts[10]}


async def bench_graph(contracts: int, requests: int) -> dict:
    import models
    from billrun import db
    from billrun.settings import get_settings
    from domain import auth
    from workers import actors  # noqa: F401 - the configured broker and the actors this process sends to

    settings = get_settings()
    if settings.embedded:
        raise SystemExit("The benchmark needs REDIS_URL (a worker process processes the batch).")
    env = dict(await bench._prepare(settings.database_url, contracts), BILLRUN_LOG_LEVEL="WARNING")
    try:
        await auth.create_user(None, email="bench@billrun.example", name="Bench",
                               permissions=["BILLING_ACCESS", "BILLING_APPROVE"])
        await bench._process_once(env, 1, "bench-graph")
        batch = await models.BillingBatch.get(name="bench-graph")
        user = await models.User.get(email="bench@billrun.example")
        token, _ = await auth.create_api_token(None, user_id=user.id, name="bench-graph")
        batch_gid = _gid("BillingBatch", batch.id)
        variables = {"batch": batch_gid, "first": PAGE}
        async with bench.served(env, ["-m", "billrun", "serve"]) as (address, pid):
            url = f"http://{address}/graphql"
            async with httpx.AsyncClient(timeout=120) as http:
                edits = await _edit(http, url, token, batch_gid)
                response = await graphql_sender(url, token, variables)(http)
            await bench._vacuum(settings.database_url)
            send = graphql_sender(url, token, variables)
            one = await _load(send, 1, requests, pid)
            ten = await _load(send, 10, requests, pid)
            # The same page named by its persisted hash: answered by its compiled plans (schema/compiled_plans.py).
            persisted = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(GRID.encode()).hexdigest()}}
            async with httpx.AsyncClient(timeout=120) as http:
                registered = await http.post(url, content=orjson.dumps(
                    {"query": GRID, "variables": variables, "extensions": persisted}),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            if registered.content != response:
                raise SystemExit("the persisted grid answers other bytes than the grid sent in full")
            send_persisted = graphql_sender(url, token, variables, persisted)
            plan_one = await _load(send_persisted, 1, requests, pid)
            plan_ten = await _load(send_persisted, 10, requests, pid)
        floor = executor_floor(response, variables)
        async with bench.served(env, ["-m", "uvicorn", "billrun.bench_graph:handwritten_app", "--factory",
                                      "--log-level", "warning", "--no-access-log"]) as (address, pid):
            body = orjson.dumps({"batch": batch.id, "first": PAGE})

            async def handwritten(http: httpx.AsyncClient) -> None:
                reply = await http.post(f"http://{address}/grid", content=body)
                if reply.status_code != 200:
                    raise SystemExit(f"the hand-written floor failed: {reply.text[:500]}")

            hand_one = await _load(handwritten, 1, requests, pid)
            hand_ten = await _load(handwritten, 10, requests, pid)
        statements = await _statements(token, variables)
        audits = await models.Audit.filter(batch_id=batch.id).count()
    finally:
        await db.close()
    return {
        "contracts": contracts, "page_size": PAGE, "edits": edits, "audit_rows": audits,
        "response_bytes": len(response), "one_client": one, "ten_clients": ten,
        "executor_floor_ms": floor, "handwritten_one_client": hand_one, "handwritten_ten_clients": hand_ten,
        "ratio_to_executor_floor": round(one["p50_ms"] / floor["p50_ms"], 2),
        "plan_one_client": plan_one, "plan_ten_clients": plan_ten,
        "plan_ratio_to_executor_floor": round(plan_one["p50_ms"] / floor["p50_ms"], 2),
        "plan_cpu_ratio_to_executor_floor": round(plan_one["server_cpu_ms_per_request"] / floor["cpu_ms_p50"], 2),
        "ratio_to_handwritten": round(one["p50_ms"] / hand_one["p50_ms"], 2),
        "ratio_to_handwritten_ten_clients_throughput": round(hand_ten["requests_per_second"]
                                                             / ten["requests_per_second"], 2),
        # The same ratios in CPU time (the API process's per request; the executor's per execution): what the
        # latencies would be on an idle machine, whatever else shares its cores while measured.
        "cpu_ratio_to_executor_floor": round(one["server_cpu_ms_per_request"] / floor["cpu_ms_p50"], 2),
        "cpu_ratio_to_handwritten": round(one["server_cpu_ms_per_request"] / hand_one["server_cpu_ms_per_request"],
                                          2),
        "load_average_while_measured": round(os.getloadavg()[0], 1),
        **statements,
        "target_ratio_to_executor_floor": 1.3, "target_ten_clients_requests_per_second": 40,
        "target_plan_ratio_to_executor_floor": 0.5,
        "python": sys.version.split()[0],
    }

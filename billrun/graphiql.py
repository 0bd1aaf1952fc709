"""Serve strawberry's GraphiQL page without internet access.

Strawberry's GraphiQL template (``strawberry/static/graphiql.html``, returned by
``strawberry.http.ides.get_graphql_ide_html`` via the ``graphql_ide_html``
property) loads React, js-cookie, GraphiQL and the explorer plugin from
``https://unpkg.com``. billrun must work offline, so those seven files are
vendored byte-for-byte under ``billrun/static/graphiql/<pkg>@<version>/<path>``
(the unpkg URL path) and the page is rewritten to load them from
``GRAPHIQL_STATIC_PREFIX``. Bytes are identical, so the ``integrity`` hashes are
kept; ``crossorigin`` is harmless for same-origin requests.

After upgrading strawberry-graphql, re-run ``make vendor-graphiql``
(``scripts/vendor_graphiql.sh``); ``offline_graphiql_html`` raises if the
template references an asset that is not vendored.

Wiring (``strawberry.asgi.GraphQL.render_graphql_ide(self, request)`` returns
``HTMLResponse(self.graphql_ide_html)``)::

    class BillrunGraphQL(GraphQL):
        async def render_graphql_ide(self, request: Request) -> Response:
            return offline_ide_response(self.graphql_ide_html)

    routes = [
        Mount(GRAPHIQL_STATIC_PREFIX, StaticFiles(directory=GRAPHIQL_STATIC_DIR)),
        Route("/graphql", BillrunGraphQL(schema)),
    ]
"""

import functools
import json
import pathlib
import re

from starlette.responses import HTMLResponse

GRAPHIQL_STATIC_DIR = pathlib.Path(__file__).parent / "static" / "graphiql"
GRAPHIQL_STATIC_PREFIX = "/static/graphiql"

_CDN = re.compile(r"https://unpkg\.com/([^\"'\s)]+)")
# Any absolute URL left afterwards; w3.org only appears as an SVG xmlns.
_EXTERNAL = re.compile(r"https?://(?!www\.w3\.org/)[^\"'\s)<>]+")


@functools.cache
def offline_graphiql_html(html: str, prefix: str = GRAPHIQL_STATIC_PREFIX) -> str:
    """Rewrite the CDN URLs in strawberry's IDE HTML to vendored local paths."""

    def local(match: re.Match[str]) -> str:
        path = match.group(1)
        if not (GRAPHIQL_STATIC_DIR / path).is_file():
            msg = f"{path} is not vendored; run scripts/vendor_graphiql.sh"
            raise RuntimeError(msg)
        return f"{prefix}/{path}"

    rewritten = _CDN.sub(local, html)
    if leftover := _EXTERNAL.findall(rewritten):
        msg = f"GraphiQL HTML still references external URLs: {leftover}"
        raise RuntimeError(msg)
    return rewritten


def offline_ide_response(html: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """Drop-in body for ``GraphQL.render_graphql_ide`` (see module docstring): offline, opening on the example
    operations of a whole billing run, with `headers` (the demo token's, on the embedded default) filled in."""
    return HTMLResponse(front_door_html(offline_graphiql_html(html), json.dumps(headers or {}, indent=2)))


# The front door: one tab per step of a billing run, each runnable as it stands once the step before ran (its
# variables name the ids to paste). GraphiQL keeps the tabs a visitor edited (its local storage) over these.
EXAMPLE_TABS: list[tuple[str, str, str]] = [
    ("create", """# 1. Create a run of every account (bill group and division left out), invoice date today.
mutation CreateRun {
  createBillingBatch(input: {name: "May run"}) {
    billingBatch { id code status invoiceDate asOfDate }
    errors { code field message }
  }
}""", "{}"),
    ("analyze", """# 2. Pre-billing analysis: findings and the preview of what processing would create.
mutation Analyze($batchId: ID!) {
  analyzeBillingBatch(input: {batchId: $batchId}) {
    findings { severity kind message }
    preview { billingCount amount accounts { account { number name } billingCount amount } }
    errors { code field message }
  }
}""", '{"batchId": "paste the id from CreateRun"}'),
    ("process", """# 3. Process in the background: a Job at once (follow it in the subscribe tab or with job(id)).
mutation Process($batchId: ID!) {
  processBillingBatch(input: {batchId: $batchId}) {
    job { id kind status progressDone progressTotal }
    errors { code field message }
  }
}""", '{"batchId": "paste the id from CreateRun"}'),
    ("review", """# 4. Review: the billings with the transitions open to you, then approve every NEW one.
query Review($batchId: ID!) {
  billingBatch(id: $batchId) {
    status
    summary { billingCount totalAmount billingCounts { status count } hiddenInvoiceCount }
    periodicBillings(first: 20, filter: {status: [NEW]}) {
      totalCount
      nodes { id billingStatus periodicBillingAmount allowedTransitions serviceCustomer { number name } }
    }
  }
}

mutation ApproveAll($batchId: ID!) {
  massUpdateBillingStatus(input: {batchId: $batchId, status: APPROVED, filter: {status: [NEW]}}) {
    changedCount refusedCount refusals { billingId code message }
    errors { code field message }
  }
}""", '{"batchId": "paste the id from CreateRun"}'),
    ("post", """# 5. Post and send the invoices (EXPORT: hand them to accounting instead), then complete.
mutation Post($batchId: ID!) {
  postBillingBatch(input: {batchId: $batchId, mode: SEND}) {
    job { id kind status }
    errors { code field message }
  }
}

query Completion($batchId: ID!) {
  billingBatch(id: $batchId) { status completion { ready blockers { kind message } } }
}

mutation Complete($batchId: ID!) {
  completeBillingBatch(input: {batchId: $batchId}) {
    billingBatch { status completedAt }
    errors { code field message }
  }
}""", '{"batchId": "paste the id from CreateRun"}'),
    ("subscribe", """# 6. Watch the run live (run this first in its own tab, then process or post in another).
subscription RunEvents($batchId: ID!) {
  billingBatchEvents(batchId: $batchId) {
    cursor type createdAt
    payload {
      ... on JobProgress { jobKind done total percent }
      ... on JobFinished { jobKind jobStatus error }
      ... on BatchStatusChanged { previousBatchStatus batchStatus }
    }
  }
}""", '{"batchId": "paste the id from CreateRun"}'),
]

_PROPS = "React.createElement(GraphiQL, {"
_QUERY_PROP = "          query: query,\n"
_HEADERS_PROP = "          headers: headers,\n"


def front_door_html(html: str, headers_json: str) -> str:
    """Strawberry's IDE page, opening on `EXAMPLE_TABS` with `headers_json` in every tab's headers (a shared link's
    `?query=` still opens that query)."""
    tabs = [{"query": query, "variables": variables, "headers": headers_json}
            for _name, query, variables in EXAMPLE_TABS]
    props = (f"{_PROPS}\n          defaultTabs: parameters.q ? undefined : {json.dumps(tabs)},"
             f"\n          defaultHeaders: {json.dumps(headers_json)},")
    for needle in (_PROPS, _QUERY_PROP, _HEADERS_PROP):
        if html.count(needle) != 1:
            msg = f"strawberry's GraphiQL page changed: {needle!r} is not there once; adapt billrun/graphiql.py"
            raise RuntimeError(msg)
    return (html.replace(_PROPS, props.replace("</", "<\\/"))
            .replace(_QUERY_PROP, "          query: parameters.q ? query : undefined,\n")
            .replace(_HEADERS_PROP, "          headers: headers || undefined,\n"))


def demo_token_path(database_url: str) -> pathlib.Path | None:
    """Where `billrun demo` leaves its token on the embedded default (beside the SQLite file), for GraphiQL."""
    if not database_url.startswith("sqlite://") or ":memory:" in database_url:
        return None
    return pathlib.Path(database_url.removeprefix("sqlite://").split("?")[0]).parent / "demo-token"

"""The ASGI application: GraphQL (HTTP and WebSocket) at /graphql, offline GraphiQL, probes, metrics, CORS; the
subscription hub of the process runs in its lifespan."""

import gc
import json
import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.types import QueryParams
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from tortoise.contrib.starlette import RegisterTortoise
from tortoise.warnings import TortoiseLoopSwitchWarning
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from billrun import db, downloads, hub, metrics, observability, persisted_queries, wakeups
from billrun.console import CONSOLE_PREFIX, ConsoleFiles
from billrun.edge import BodySizeLimitMiddleware, RequestIdMiddleware, problem
from billrun.graphiql import GRAPHIQL_STATIC_DIR, GRAPHIQL_STATIC_PREFIX, demo_token_path, offline_ide_response
from billrun.graphql_ws import BoundedWebSocketAdapter, CheckedLegacyWSHandler, CheckedTransportWSHandler
from billrun.logs import LogContextMiddleware
from billrun.settings import Settings, get_settings
from billrun.strict_json import MalformedRequest, check_request_value, decode_request_json
from resolvers.context import WS_AUTH_MESSAGE, Context, build_context
from schema import compiled_plans, schema
from workers import actors  # noqa: F401 - declares the actors on the broker, so the API can send to them

log = logging.getLogger("billrun.app")


HTTP_ERROR_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "REQUEST_TOO_LARGE"}
BODY_SHAPE = ('The request body must be one JSON object, such as {"query": "{ viewer { id } }"} '
              "(batching is off).")


class BillrunGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI GraphQL app with billrun's context, strict request decoding (one set of rules for
    bodies, GET parameters and WebSocket messages: billrun/strict_json.py), WebSockets that need a token in
    `connection_init`, and an IDE that needs no internet."""

    websocket_adapter_class = BoundedWebSocketAdapter
    graphql_transport_ws_handler_class = CheckedTransportWSHandler
    graphql_ws_handler_class = CheckedLegacyWSHandler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As strawberry's, but an HTTP refusal answers GraphQL-style JSON with a code, not plain text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as error:
            response = problem(error.status_code, HTTP_ERROR_CODES.get(error.status_code, "BAD_REQUEST"),
                               error.reason)
        except persisted_queries.PersistedQueryNotFound:
            response = problem(200, persisted_queries.NOT_FOUND_CODE, persisted_queries.NOT_FOUND,
                               headers=persisted_queries.NO_CACHE)
        await response(scope, receive, send)

    def encode_json(self, data: object) -> bytes:
        """Responses with orjson (a tenth of the standard encoder's time on a page of billings); anything it
        cannot encode (an integer beyond 64 bits in a JSON value) falls back to the standard encoder."""
        try:
            return orjson.dumps(data)
        except TypeError:
            return json.dumps(data, separators=(",", ":")).encode()

    def decode_json(self, data: str | bytes) -> object:
        return decode_request_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        """A request body: one JSON object, strictly decoded."""
        try:
            value = decode_request_json(data)
        except MalformedRequest as error:
            raise HTTPException(400, str(error)) from None
        if not isinstance(value, dict):
            raise HTTPException(400, BODY_SHAPE)
        return value

    def parse_query_params(self, params: QueryParams) -> dict[str, Any]:
        """GET parameters: the same string rules as a body; `variables`/`extensions` decoded strictly."""
        values: dict[str, Any] = dict(params)
        try:
            check_request_value(values)
            for key in ("variables", "extensions"):
                if values.get(key):
                    values[key] = decode_request_json(values[key])
        except MalformedRequest as error:
            raise HTTPException(400, str(error)) from None
        return values

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list:
        """Strawberry's, plus the check it lacks (`operationName` is a string: graphql-core assumes one), and a
        persisted document filled in for its hash (billrun/persisted_queries.py), on POST and GET alike."""
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData) and not isinstance(data.operation_name, str | None):
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null.")
        if isinstance(data, GraphQLRequestData):
            # The request's task: its execution may use the document's compiled plans (schema/compiled_plans.py).
            compiled_plans.PERSISTED.set(persisted_queries.is_persisted(data))
            try:
                data = persisted_queries.resolve(data)
            except persisted_queries.BadPersistedQuery as error:
                raise HTTPException(400, str(error)) from None
        return data

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        authorization = request.headers.get("authorization")
        return await build_context(request, authorization)

    async def on_ws_connect(self, context: Context) -> Any:
        """A WebSocket is acknowledged only with a valid token (in `connection_init`, or on the handshake)."""
        await context.authenticate_connection()
        if context.viewer is None:
            raise ConnectionRejectionError({"message": context.auth_problem or WS_AUTH_MESSAGE})
        (await hub.Hub.running()).track(context)  # its token is checked again while it stays open
        return await super().on_ws_connect(context)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """As strawberry's (a GET without `query` from a browser), but a GET naming a persisted document by its
        hash (`extensions`) is a request, not a visit."""
        return super().should_render_graphql_ide(request) and request.query_params.get("extensions") is None

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL, offline, on the example operations of a billing run; on the embedded default with the token
        `billrun demo` left beside the database already in its headers."""
        settings = get_settings()
        token_file = demo_token_path(settings.database_url) if settings.embedded else None
        headers = {"Authorization": "Bearer <the token `billrun demo` printed>"}
        if token_file is not None and token_file.is_file():
            headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
        return offline_ide_response(self.graphql_ide_html, headers)


def create_app(settings: Settings | None = None, *, run_workers: bool | None = None) -> Starlette:
    """Build the app. On the embedded default the in-process worker runs inside the lifespan."""
    settings = settings or get_settings()
    # A connection used from another event loop is silently leaked: make it loud (STACK.md).
    warnings.filterwarnings("error", category=TortoiseLoopSwitchWarning)
    in_process = settings.embedded if run_workers is None else run_workers
    graphql = BillrunGraphQL(
        schema,
        graphql_ide=None if settings.production else "graphiql",
        allow_queries_via_get=True,  # mutations are never run over GET
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL],
        keep_alive=True,
        allowed_origins=settings.cors_origin_list,  # WebSocket origins: the same list as CORS
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db.ensure_sqlite_dir(settings.database_url)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(RegisterTortoise(app, config=db.tortoise_config(settings.database_url)))
            if in_process:
                from workers.embedded import in_process_worker

                await stack.enter_async_context(in_process_worker())
            await hub.start()  # this process's subscriptions (docs/EVENTS.md)
            stack.push_async_callback(wakeups.close)
            stack.push_async_callback(hub.stop)
            # What start-up built (modules, the schema) lives for ever: out of the collector's sight, a full
            # collection with many open WebSockets pauses the loop for tens, not hundreds, of milliseconds.
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                metrics.forget_process()  # its open subscriptions no longer count

    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", observability.healthz, methods=["GET"]),
        Route("/health", observability.healthz, methods=["GET"]),  # the older name, kept for existing probes
        Route("/readyz", observability.readyz, methods=["GET"]),
        Route(downloads.BILLING_DETAILS_CSV, downloads.billing_details_csv, methods=["GET"]),
        Route(downloads.ACCOUNTING_EXPORT, downloads.accounting_export, methods=["GET"]),
        Route(downloads.INVOICE_PDF, downloads.invoice_pdf, methods=["GET"]),
        Route(downloads.CREDIT_NOTE_PDF, downloads.credit_note_pdf, methods=["GET"]),
        Route(downloads.DELIVERED_MESSAGE, downloads.delivered_message, methods=["GET"]),
        Mount(CONSOLE_PREFIX, ConsoleFiles(), name="console"),  # the web console (docs/CONSOLE.md)
    ]
    if settings.metrics_enabled:
        routes.append(Route("/metrics", observability.metrics_endpoint, methods=["GET"]))
    if not settings.production:
        routes.append(Mount(GRAPHIQL_STATIC_PREFIX, StaticFiles(directory=GRAPHIQL_STATIC_DIR),
                            name="graphiql-static"))
    middleware = []
    if settings.trusted_proxy_list:
        # The client address (sign-in limits) and scheme come from X-Forwarded-* only when the TCP peer is one
        # of the configured proxies; anyone else could write those headers themselves.
        middleware.append(Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list))
    # Then: every response carries the request id, which every log line of the request carries too; every
    # answer is counted (a 413 of the body limit included); CORS headers reach even that 413.
    middleware.append(Middleware(RequestIdMiddleware))
    middleware.append(Middleware(LogContextMiddleware))
    middleware.append(Middleware(observability.HttpMetricsMiddleware, routes=routes))
    if settings.cors_origin_list:
        middleware.append(Middleware(CORSMiddleware, allow_origins=settings.cors_origin_list,
                                     allow_methods=["GET", "POST"], allow_headers=["authorization", "content-type",
                                                                                   "x-request-id"],
                                     expose_headers=["x-request-id"]))
    middleware.append(Middleware(BodySizeLimitMiddleware))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)

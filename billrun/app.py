"""The ASGI application: GraphQL (HTTP and WebSocket) at /graphql, offline GraphiQL, health, CORS."""

import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from tortoise.contrib.starlette import RegisterTortoise
from tortoise.warnings import TortoiseLoopSwitchWarning
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from billrun import db, downloads
from billrun.graphiql import GRAPHIQL_STATIC_DIR, GRAPHIQL_STATIC_PREFIX, offline_ide_response
from billrun.settings import Settings, get_settings
from resolvers.context import Context, build_context
from schema import schema
from workers import actors  # noqa: F401 - declares the actors on the broker, so the API can send to them

log = logging.getLogger("billrun.app")


class BillrunGraphQL(GraphQL):
    """Strawberry's ASGI GraphQL app with billrun's context and an IDE that needs no internet."""

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        authorization = request.headers.get("authorization")
        return await build_context(request, authorization)

    async def on_ws_connect(self, context: Context) -> Any:
        await context.authenticate_connection()
        return await super().on_ws_connect(context)

    async def render_graphql_ide(self, request: Request) -> Response:
        return offline_ide_response(self.graphql_ide_html)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


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
            yield

    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/health", health),
        Route(downloads.BILLING_DETAILS_CSV, downloads.billing_details_csv, methods=["GET"]),
        Route(downloads.ACCOUNTING_EXPORT, downloads.accounting_export, methods=["GET"]),
        Route(downloads.INVOICE_PDF, downloads.invoice_pdf, methods=["GET"]),
        Route(downloads.DELIVERED_MESSAGE, downloads.delivered_message, methods=["GET"]),
    ]
    if not settings.production:
        routes.append(Mount(GRAPHIQL_STATIC_PREFIX, StaticFiles(directory=GRAPHIQL_STATIC_DIR),
                            name="graphiql-static"))
    middleware = []
    if settings.trusted_proxy_list:
        # The client address (sign-in limits) and scheme come from X-Forwarded-* only when the TCP peer is one
        # of the configured proxies; anyone else could write those headers themselves.
        middleware.append(Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list))
    if settings.cors_origin_list:
        middleware.append(Middleware(CORSMiddleware, allow_origins=settings.cors_origin_list,
                                     allow_methods=["GET", "POST"], allow_headers=["authorization", "content-type",
                                                                                   "x-request-id"]))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)

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


def offline_ide_response(html: str) -> HTMLResponse:
    """Drop-in body for ``GraphQL.render_graphql_ide`` (see module docstring)."""
    return HTMLResponse(offline_graphiql_html(html))

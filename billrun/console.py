"""The reference web console at /app: the single-page app built from console/ (`make console`) into
billrun/static/console, served as static files with every client-side route falling back to its index.html.

The console talks to billrun only through the public GraphQL API (docs/CONSOLE.md); this module only serves files.
"""

import pathlib

from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

CONSOLE_DIR = pathlib.Path(__file__).parent / "static" / "console"
CONSOLE_PREFIX = "/app"
NOT_BUILT = "The console is not built: run `make console` (make run and make test build it)."


class ConsoleFiles(StaticFiles):
    """Static files of the built console; a path that names no file (a client-side route such as
    /app/runs/…) answers index.html, which is never cached (the assets it names carry content hashes)."""

    def __init__(self, directory: pathlib.Path = CONSOLE_DIR) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)
        self.root = directory

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not (self.root / "index.html").is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        try:
            response = await super().get_response(path, scope)
        except HTTPException as error:
            if error.status_code != 404 or path.startswith("assets/"):
                raise
            response = await super().get_response("index.html", scope)
        if response.media_type == "text/html" or path in ("", ".", "index.html"):
            response.headers["cache-control"] = "no-cache"
        return response

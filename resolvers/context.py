"""The per-request context: who is asking, and the DataLoaders built fresh for this request."""

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection
from strawberry import Info

from billrun.edge import request_id_of
from domain import auth
from domain.access import Viewer
from resolvers.dataloaders import Loaders

WS_AUTH_MESSAGE = 'A WebSocket needs a valid token in connection_init: {"Authorization": "Bearer <token>"}.'


@dataclass
class Context:
    """What every resolver receives as `info.context`."""

    viewer: Viewer | None
    loaders: Loaders
    request_id: str  # also in the X-Request-Id response header and in the log record of a bug
    remote_addr: str = ""
    auth_problem: str | None = None  # why a presented token was refused
    connection: HTTPConnection | None = field(default=None, repr=False)
    connection_params: dict | None = None  # set by strawberry from a WebSocket's connection_init
    signed_in_user_id: int | None = None  # who just signed in with `login`: may read their own user record

    async def authenticate_connection(self) -> None:
        """On a WebSocket the token comes in `connection_init` ({"Authorization": "Bearer …"}); only when it has
        none does the handshake's own Authorization header count."""
        params = self.connection_params if isinstance(self.connection_params, dict) else {}
        header = params.get("Authorization", params.get("authorization"))
        if header is not None:
            fresh = await build_context(self.connection, header if isinstance(header, str) else None)
            self.viewer, self.loaders, self.auth_problem = fresh.viewer, fresh.loaders, fresh.auth_problem


def authenticated_viewer(info: Info[Context, Any]) -> Viewer:
    """The viewer of a root field guarded by `AUTHENTICATED` (and of the fields below it): that guard refuses a
    request without one before any resolver runs, so reaching here without a viewer is an unguarded field, a bug."""
    viewer = info.context.viewer
    if viewer is None:
        raise RuntimeError("A field that needs a signed-in viewer is not guarded by AUTHENTICATED")
    return viewer


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def build_context(connection: HTTPConnection | None, authorization: str | None) -> Context:
    """Resolve the bearer token (header, or `connection_init` params on a WebSocket) into a viewer."""
    token = bearer_token(authorization)
    viewer = await auth.authenticate(token) if token else None
    problem = None
    if token and viewer is None:
        problem = "The bearer token is unknown, revoked or expired."
    remote = connection.client.host if connection is not None and connection.client else ""
    return Context(viewer=viewer, loaders=Loaders(viewer), request_id=request_id_of(connection), remote_addr=remote,
                   auth_problem=problem, connection=connection)

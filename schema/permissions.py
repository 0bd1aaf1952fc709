"""The gate on every root field: a request must carry a valid bearer token (except `login`)."""

from typing import Any

from strawberry.exceptions import StrawberryGraphQLError
from strawberry.permission import BasePermission

from resolvers.relations import CtxInfo

AUTH_MESSAGE = "Authentication required: send `Authorization: Bearer <token>` (see the `login` mutation)."


class IsAuthenticated(BasePermission):
    """Refuses the field with an UNAUTHENTICATED error when the request has no valid token.

    One instance serves every request, so the error is built per request (saying why a presented token
    was refused) and nothing about a request is ever stored on the permission."""

    message = AUTH_MESSAGE
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: CtxInfo, **kwargs: Any) -> bool:
        if info.context.viewer is not None:
            return True
        problem = info.context.auth_problem
        raise StrawberryGraphQLError(f"{problem} {AUTH_MESSAGE}" if problem else AUTH_MESSAGE,
                                     extensions=dict(self.error_extensions))


AUTHENTICATED: list[type[BasePermission]] = [IsAuthenticated]

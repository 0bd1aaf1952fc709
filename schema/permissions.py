"""The gate on every root field: a request must carry a valid bearer token (except `login`)."""

from typing import Any

from strawberry.permission import BasePermission

from resolvers.relations import CtxInfo

AUTH_MESSAGE = "Authentication required: send `Authorization: Bearer <token>` (see the `login` mutation)."


class IsAuthenticated(BasePermission):
    """Refuses the field with an UNAUTHENTICATED error when the request has no valid token."""

    message = AUTH_MESSAGE
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: CtxInfo, **kwargs: Any) -> bool:
        if info.context.viewer is not None:
            return True
        if info.context.auth_problem:
            self.message = f"{info.context.auth_problem} {AUTH_MESSAGE}"
        return False


AUTHENTICATED = [IsAuthenticated]

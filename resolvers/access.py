"""Mutation resolvers for signing in and out, users and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from billrun import metrics
from domain import auth
from domain.errors import DomainError, Problem
from resolvers.context import authenticated_viewer
from resolvers.inputs import decode_id, to_data
from resolvers.mutations import perform
from resolvers.relations import CtxInfo

if TYPE_CHECKING:
    from schema.mutations.access import (
        CreateApiTokenInput,
        CreateUserInput,
        LoginInput,
        RevokeApiTokenInput,
        UpdateUserInput,
    )


async def login(info: CtxInfo, input: LoginInput) -> tuple[auth.Session | None, list[Problem], datetime | None]:
    """The session, or the refusal and, when rate-limited, when to try again."""
    try:
        session = await auth.login(input.email, input.password, info.context.remote_addr)
    except auth.LoginRateLimited as refusal:
        metrics.record_refusals(problem.code for problem in refusal.problems)
        return None, refusal.problems, refusal.retry_at
    except DomainError as refusal:
        metrics.record_refusals(problem.code for problem in refusal.problems)
        return None, refusal.problems, None
    info.context.signed_in_user_id = session.user.id
    return session, [], None


async def logout(info: CtxInfo) -> Any:
    async def run() -> bool:
        await auth.logout(authenticated_viewer(info))
        return True
    return await perform(run)


async def create_user(info: CtxInfo, input: CreateUserInput) -> Any:
    data = to_data(input)
    return await perform(lambda: auth.create_user(
        authenticated_viewer(info), email=data["email"], name=data["name"],
        permissions=[p.value for p in data.get("permissions", [])], password=data.get("password")))


async def update_user(info: CtxInfo, input: UpdateUserInput) -> Any:
    async def run() -> Any:
        data = to_data(input, skip=("id",))
        if "permissions" in data and data["permissions"] is not None:
            data["permissions"] = [p.value for p in data["permissions"]]
        return await auth.update_user(authenticated_viewer(info), decode_id(input.id, "User", "id"),
                                      remote_addr=info.context.remote_addr, **data)
    return await perform(run)


async def create_api_token(info: CtxInfo, input: CreateApiTokenInput) -> Any:
    async def run() -> Any:
        data = to_data(input)
        perms = data.get("permissions")
        return await auth.create_api_token(
            authenticated_viewer(info), user_id=data["user_id"], name=data["name"],
            permissions=[p.value for p in perms] if perms is not None else None, expires_at=data.get("expires_at"))
    return await perform(run)


async def revoke_api_token(info: CtxInfo, input: RevokeApiTokenInput) -> Any:
    return await perform(lambda: auth.revoke_token(authenticated_viewer(info),
                                                   decode_id(input.id, "ApiToken", "id")))

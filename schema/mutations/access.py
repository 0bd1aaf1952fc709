"""Sign in and out, users and API tokens."""

from datetime import datetime
from typing import cast

import strawberry
from strawberry import relay

from resolvers import access
from resolvers.mutations import payload
from resolvers.relations import CtxInfo
from schema.access import ApiToken, Permission, User
from schema.common import UserError
from schema.idempotency import SECRET, IdempotentInput
from schema.permissions import AUTHENTICATED


@strawberry.input(description="E-mail and password of a user.")
class LoginInput:
    email: str = strawberry.field(description="The user's e-mail.")
    password: str = strawberry.field(description="The user's password.")


@strawberry.type(description="A new session: send `token` as `Authorization: Bearer <token>` until `expiresAt`.")
class LoginPayload:
    token: str | None = strawberry.field(description="The session's bearer token (shown only now).", metadata=SECRET)
    expires_at: datetime | None = strawberry.field(description="When the session ends (UTC).")
    user: User | None = strawberry.field(description="The signed-in user.")
    retry_at: datetime | None = strawberry.field(
        description="With LOGIN_RATE_LIMITED: the earliest time (UTC) a further sign-in is evaluated.")
    errors: list[UserError] = strawberry.field(description="INVALID_CREDENTIALS or LOGIN_RATE_LIMITED.")


@strawberry.input(description="Signing out takes nothing but the idempotency key every mutation accepts.")
class LogoutInput(IdempotentInput):
    pass


@strawberry.type(description="The result of signing out.")
class LogoutPayload:
    ok: bool = strawberry.field(description="True when the token of this request is now revoked.")
    errors: list[UserError] = strawberry.field(description="Refusals, if any.")


@strawberry.input(description="A new user (ADMIN).")
class CreateUserInput(IdempotentInput):
    email: str = strawberry.field(description="Sign-in e-mail, unique.")
    name: str = strawberry.field(description="Display name.")
    permissions: list[Permission] = strawberry.field(description="Permissions granted.")
    password: str | None = strawberry.field(default=None, description="At least 10 characters; none: API only.")


@strawberry.input(description="Changes to a user; fields left out stay as they are.")
class UpdateUserInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The user.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="New display name.")
    permissions: list[Permission] | None = strawberry.field(
        default=strawberry.UNSET, description="ADMIN only, and only permissions the caller holds itself.")
    password: str | None = strawberry.field(
        default=strawberry.UNSET, description="New password, from a signed-in session only (never an API token); "
        "ends the user's other sessions.")
    current_password: str | None = strawberry.field(
        default=strawberry.UNSET, description="The current password: needed to change one's own (an admin "
        "resetting another user's needs none). Wrong guesses count like failed sign-ins.")
    is_active: bool | None = strawberry.field(default=strawberry.UNSET, description="ADMIN only; false ends "
                                              "sessions.")


@strawberry.type(description="The user created or changed.")
class UserPayload:
    user: User | None = strawberry.field(description="The user, as saved.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="A new API token for a partner system (ADMIN).")
class CreateApiTokenInput(IdempotentInput):
    user_id: relay.GlobalID = strawberry.field(description="The user the token acts as.")
    name: str = strawberry.field(description="What uses the token.")
    permissions: list[Permission] | None = strawberry.field(
        default=None, description="Limit the token to these (within its user's); null: all of the user's.")
    expires_at: datetime | None = strawberry.field(default=None, description="When it stops; null: never.")


@strawberry.type(description="A new API token: `token` is shown only in this payload.")
class CreateApiTokenPayload:
    token: str | None = strawberry.field(description="The bearer token. Store it now: it is not kept (a retry "
                                         "with the same idempotency key answers null here).", metadata=SECRET)
    api_token: ApiToken | None = strawberry.field(description="The token's record.")
    errors: list[UserError] = strawberry.field(description="Why no token was created.")


@strawberry.input(description="The token to revoke.")
class RevokeApiTokenInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The API token.")


@strawberry.type(description="The revoked token.")
class RevokeApiTokenPayload:
    api_token: ApiToken | None = strawberry.field(description="The token, now revoked.")
    errors: list[UserError] = strawberry.field(description="Why nothing was revoked.")


@strawberry.type
class AccessMutations:
    @strawberry.mutation(description="Sign in with e-mail and password; failed attempts are limited per e-mail and "
                         "per client address, with a growing wait beyond the limit.")
    async def login(self, info: CtxInfo, input: LoginInput) -> LoginPayload:
        session, errors, retry_at = await access.login(info, input)
        # A payload carries the user's row and the domain's problems: strawberry reads their fields as they are.
        return LoginPayload(token=session.token if session else None,
                            expires_at=session.expires_at if session else None,
                            user=cast(User | None, session.user if session else None), retry_at=retry_at,
                            errors=cast(list[UserError], errors))

    @strawberry.mutation(description="Revoke the token of this request.", permission_classes=AUTHENTICATED)
    async def logout(self, info: CtxInfo, input: LogoutInput | None = None) -> LogoutPayload:
        ok, errors = await access.logout(info)
        return LogoutPayload(ok=bool(ok), errors=errors)

    @strawberry.mutation(description="Create a user (ADMIN; granting only permissions the caller holds).",
                         permission_classes=AUTHENTICATED)
    async def create_user(self, info: CtxInfo, input: CreateUserInput) -> UserPayload:
        return payload(UserPayload, "user", await access.create_user(info, input))

    @strawberry.mutation(description="Change a user (ADMIN, holding every permission of that user; anyone their "
                         "own name, and their own password from a session with the current one).",
                         permission_classes=AUTHENTICATED)
    async def update_user(self, info: CtxInfo, input: UpdateUserInput) -> UserPayload:
        return payload(UserPayload, "user", await access.update_user(info, input))

    @strawberry.mutation(description="Create an API token for a partner system (ADMIN; the token's permissions "
                         "must be held by the caller, and a token for another user needs all of theirs).",
                         permission_classes=AUTHENTICATED)
    async def create_api_token(self, info: CtxInfo, input: CreateApiTokenInput) -> CreateApiTokenPayload:
        result, errors = await access.create_api_token(info, input)
        token, row = result if result else (None, None)
        return CreateApiTokenPayload(token=token, api_token=row, errors=errors)

    @strawberry.mutation(description="Revoke an API token (its own user, or an ADMIN holding every permission of "
                         "its user).",
                         permission_classes=AUTHENTICATED)
    async def revoke_api_token(self, info: CtxInfo, input: RevokeApiTokenInput) -> RevokeApiTokenPayload:
        return payload(RevokeApiTokenPayload, "api_token", await access.revoke_api_token(info, input))

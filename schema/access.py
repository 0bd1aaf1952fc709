"""GraphQL types of who is asking: the viewer, users and API tokens."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

import models
from domain import access
from models import enums
from resolvers import relations
from resolvers.relations import CtxInfo
from schema.node import ModelNode

# The stored enumerations are the GraphQL enums: `strawberry.enum` registers the class itself (and returns
# it), so each name stays a type the checker knows.
Permission = enums.Permission
strawberry.enum(Permission, description="What a user or token may do (see docs/ACCESS.md).")
TokenKind = enums.TokenKind
strawberry.enum(TokenKind, description="A sign-in session or a long-lived API token.")


def _sees_account_of(info: CtxInfo, user: Any) -> bool:
    """A user's sign-in e-mail, permissions and active flag are for admins and for that user only: colleagues
    named on a record (created by, resolved by, an audit's actor) see a display name."""
    if info.context.signed_in_user_id == user.id:
        return True
    viewer = info.context.viewer
    return viewer is not None and (viewer.user_id == user.id or viewer.can(enums.Permission.ADMIN))


@strawberry.type(description="A person or system that signs in; an API token always acts as its user. Other users "
                 "see only the name: e-mail, permissions and active flag are null unless the viewer is ADMIN or "
                 "this user.")
class User(ModelNode):
    model = models.User
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Display name.")
    created_at: datetime = strawberry.field(description="When the user was created (UTC).")

    @strawberry.field(description="Sign-in e-mail, unique (null unless the viewer is ADMIN or this user).")
    @staticmethod
    def email(row: strawberry.Parent[models.User], info: CtxInfo) -> str | None:
        return row.email if _sees_account_of(info, row) else None

    @strawberry.field(description="The permissions granted to the user (null unless the viewer is ADMIN or this "
                      "user).")
    @staticmethod
    def permissions(row: strawberry.Parent[models.User], info: CtxInfo) -> list[Permission] | None:
        if not _sees_account_of(info, row):
            return None
        return [enums.Permission(p) for p in row.permissions]

    @strawberry.field(description="Inactive users cannot sign in and their sessions end (null unless the viewer "
                      "is ADMIN or this user).")
    @staticmethod
    def is_active(row: strawberry.Parent[models.User], info: CtxInfo) -> bool | None:
        return row.is_active if _sees_account_of(info, row) else None


@strawberry.type(description="A group of users that restricted accounts can be granted to (ADMIN-managed). Admins "
                 "see every team, other users the teams they are members of.")
class Team(ModelNode):
    model = models.Team
    id: relay.NodeID[int]
    name: str = strawberry.field(description="The team's name, unique.")
    created_at: datetime = strawberry.field(description="When the team was created (UTC).")

    @strawberry.field(description="Its members, by name (a viewer who is not ADMIN sees only themselves).")
    @staticmethod
    async def members(row: strawberry.Parent[models.Team], info: CtxInfo) -> list[User]:
        return await relations.members_of_team(row, info)


@strawberry.type(description="An API token (the secret is shown once, at creation, and stored only hashed).")
class ApiToken(ModelNode):
    model = models.AccessToken
    id: relay.NodeID[int]
    name: str = strawberry.field(description="What uses the token.")
    kind: TokenKind = strawberry.field(description="SESSION or API.")
    token_prefix: str = strawberry.field(description="The first characters of the token, to recognise it.")
    expires_at: datetime | None = strawberry.field(description="When it stops working; null: never.")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked, if it was.")
    last_used_at: datetime | None = strawberry.field(description="Last use, to the minute.")
    created_at: datetime = strawberry.field(description="When it was created (UTC).")

    @strawberry.field(description="The permissions the token is limited to; null: all of its user's.")
    @staticmethod
    def permissions(row: strawberry.Parent[models.AccessToken]) -> list[Permission] | None:
        raw = row.permissions
        return None if raw is None else [enums.Permission(p) for p in raw]


@strawberry.type(description="The caller of this request and what it may do.")
class Viewer(relay.Node):
    id: relay.NodeID[int]
    email: str = strawberry.field(description="The user's e-mail.")
    name: str = strawberry.field(description="The user's name.")
    token_kind: TokenKind = strawberry.field(description="How the caller authenticated.")

    @classmethod
    def resolve_id(cls, root: Any, *, info: CtxInfo) -> str:
        return str(root.user_id)

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, cls | access.Viewer)

    @classmethod
    async def resolve_nodes(cls, *, info: CtxInfo, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        viewer = info.context.viewer
        return [viewer if viewer is not None and raw == str(viewer.user_id) else None for raw in node_ids]

    @strawberry.field(description="The permissions in force for this request (the token's, within the user's).")
    @staticmethod
    def permissions(row: strawberry.Parent[access.Viewer]) -> list[Permission]:
        return sorted(row.permissions, key=lambda p: p.value)

    @strawberry.field(description="The viewer's user record.")
    @staticmethod
    async def user(row: strawberry.Parent[access.Viewer], info: CtxInfo) -> User | None:
        return await info.context.loaders.user_by_id.load(row.user_id)

"""Users, bearer tokens and account restrictions (docs/ACCESS.md)."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from models._fields import created_at
from models.enums import TokenKind

if TYPE_CHECKING:
    from models.master import Account


class User(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=255, null=True)
    permissions: fields.JSONField[list[str]] = fields.JSONField(default=list)  # Permission values
    is_active = fields.BooleanField(default=True)
    created_at = created_at()

    class Meta:
        table = "app_user"


class AccountGrant(Model):
    """One user allowed to see a restricted account (docs/ACCESS.md)."""

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="grants", on_delete=fields.CASCADE)
    account_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="account_grants", on_delete=fields.CASCADE)
    user_id: int

    class Meta:
        table = "account_grant"
        unique_together = (("account", "user"),)


class Team(Model):
    """A named group of users that account restrictions can grant to at once (docs/ACCESS.md)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    created_at = created_at()

    class Meta:
        table = "team"


class TeamMember(Model):
    """One user in one team."""

    id = fields.IntField(primary_key=True)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="members", on_delete=fields.CASCADE)
    team_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="team_memberships", on_delete=fields.CASCADE)
    user_id: int

    class Meta:
        table = "team_member"
        unique_together = (("team", "user"),)


class AccountTeamGrant(Model):
    """One team allowed to see a restricted account: every member sees it while a member (docs/ACCESS.md)."""

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="team_grants", on_delete=fields.CASCADE)
    account_id: int
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="account_grants", on_delete=fields.CASCADE)
    team_id: int

    class Meta:
        table = "account_team_grant"
        unique_together = (("account", "team"),)


class AccessToken(Model):
    """A bearer token: a login session or a long-lived API token. Only its SHA-256 is stored."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(TokenKind, max_length=16)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE)
    user_id: int
    name = fields.CharField(max_length=100, default="")
    token_hash = fields.CharField(max_length=64, unique=True)
    token_prefix = fields.CharField(max_length=16)
    # API tokens carry their own permissions (intersected with the user's); sessions use the user's.
    permissions: fields.JSONField[list[str] | None] = fields.JSONField(null=True)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    created_at = created_at()

    class Meta:
        table = "access_token"


class LoginAttempt(Model):
    """Every password check (a sign-in or a password change), limited per e-mail and per client address.

    A row is written before the password is checked (reserved, `succeeded` null) and then gets its verdict, so
    parallel guesses count against the limit before any of them is evaluated.
    """

    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, db_index=True)
    remote_addr = fields.CharField(max_length=64, default="", db_index=True)
    succeeded = fields.BooleanField(null=True)  # null: reserved, still being checked (or its checker died)
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "login_attempt"

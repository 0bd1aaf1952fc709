"""Sign-in, sessions, API tokens and users: how a bearer token becomes a `Viewer` (SPEC §6)."""

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.transactions import in_transaction

import models
from billrun.settings import get_settings
from domain import clock
from domain.access import REQUIRES, Viewer, require
from domain.errors import DomainError, ErrorCode, Problem, not_found, raise_if
from models.enums import Permission, TokenKind

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
TOKEN_PREFIX = "brn_"
LAST_USED_RESOLUTION = timedelta(minutes=1)  # avoid a write per request


def hash_token(token: str) -> str:
    """Tokens are 256-bit random strings, so a plain SHA-256 is a safe one-way lookup key."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _password_matches(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def validate_permissions(names: list[str], field: str = "permissions") -> list[Permission]:
    perms = [Permission(n) for n in dict.fromkeys(names)]
    for perm, needed in REQUIRES.items():
        if perm in perms and needed not in perms:
            raise DomainError(ErrorCode.INVALID_INPUT, f"{perm.value} requires {needed.value}.", field)
    return perms


async def _issue(user: models.User, kind: TokenKind, name: str, permissions: list[Permission] | None,
                 expires_at: datetime | None) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await models.AccessToken.create(
        kind=kind, user=user, name=name, token_hash=hash_token(token), token_prefix=token[:10],
        permissions=[p.value for p in permissions] if permissions is not None else None,
        expires_at=expires_at,
    )
    return token


async def authenticate(token: str) -> Viewer | None:
    """The viewer behind a bearer token, or None when it is unknown, revoked, expired or its user inactive."""
    row = await models.AccessToken.get_or_none(token_hash=hash_token(token)).select_related("user")
    now = clock.now()
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    permissions = {Permission(p) for p in row.user.permissions}
    if row.permissions is not None:
        permissions &= {Permission(p) for p in row.permissions}
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        await models.AccessToken.filter(id=row.id).update(last_used_at=now)
    return Viewer(user_id=row.user.id, email=row.user.email, name=row.user.name,
                  permissions=frozenset(permissions), token_id=row.id, token_kind=row.kind)


async def login(email: str, password: str, remote_addr: str = "") -> tuple[str, datetime, models.User]:
    """Check a password and open a session; failures are counted and rate-limited per e-mail."""
    settings = get_settings()
    email = email.strip().lower()
    now = clock.now()
    since = now - timedelta(seconds=settings.login_window_seconds)
    failures = await models.LoginAttempt.filter(email=email, succeeded=False, at__gte=since).count()
    if failures >= settings.login_max_failures:
        raise DomainError(ErrorCode.LOGIN_RATE_LIMITED,
                          "Too many failed sign-ins for this e-mail; try again later.", "email")
    user = await models.User.get_or_none(email=email, is_active=True)
    ok = user is not None and _password_matches(user.password_hash, password)
    await models.LoginAttempt.create(email=email, remote_addr=remote_addr[:64], succeeded=ok, at=now)
    if not ok or user is None:
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "E-mail or password is wrong.", "password")
    expires_at = now + timedelta(hours=settings.session_ttl_hours)
    token = await _issue(user, TokenKind.SESSION, "session", None, expires_at)
    return token, expires_at, user


async def logout(viewer: Viewer) -> None:
    """Revoke the token of the current request (a session; an API token is revoked by `revoke_token`)."""
    await models.AccessToken.filter(id=viewer.token_id, revoked_at=None).update(revoked_at=clock.now())


def _check_user_input(email: str | None, name: str | None, password: str | None) -> None:
    problems = []
    if email is not None and ("@" not in email or len(email) > 254 or " " in email.strip()):
        problems.append(Problem(ErrorCode.INVALID_INPUT, "Not an e-mail address.", "email"))
    if name is not None and not name.strip():
        problems.append(Problem(ErrorCode.INVALID_INPUT, "Name must not be empty.", "name"))
    if password is not None and len(password) < 10:
        problems.append(Problem(ErrorCode.INVALID_INPUT, "Password must be at least 10 characters.", "password"))
    raise_if(problems)


async def create_user(actor: Viewer | None, *, email: str, name: str, permissions: list[str],
                      password: str | None = None) -> models.User:
    """Create a user (ADMIN). `actor=None` is the operator at the command line."""
    if actor is not None:
        require(actor, Permission.ADMIN)
    email = email.strip().lower()
    _check_user_input(email, name, password)
    perms = validate_permissions(permissions)
    if await models.User.exists(email=email):
        raise DomainError(ErrorCode.DUPLICATE, f"A user with e-mail {email} exists.", "email")
    return await models.User.create(email=email, name=name.strip(), permissions=[p.value for p in perms],
                                    password_hash=hash_password(password) if password else None)


async def update_user(actor: Viewer, user_id: int, *, name: str | None = None,
                      permissions: list[str] | None = None, password: str | None = None,
                      is_active: bool | None = None) -> models.User:
    """Change a user's name, permissions, password or active flag (ADMIN; anyone may rename themselves
    or change their own password)."""
    own = actor.user_id == user_id and permissions is None and is_active is None
    if not own:
        require(actor, Permission.ADMIN)
    user = await models.User.get_or_none(id=user_id)
    if user is None:
        raise not_found("User")
    _check_user_input(None, name, password)
    if name is not None:
        user.name = name.strip()
    if permissions is not None:
        user.permissions = [p.value for p in validate_permissions(permissions)]
    if password is not None:
        user.password_hash = hash_password(password)
    if is_active is not None:
        user.is_active = is_active
    async with in_transaction():
        await user.save()
        if is_active is False or password is not None:
            await models.AccessToken.filter(user_id=user.id, kind=TokenKind.SESSION, revoked_at=None).update(
                revoked_at=clock.now())
    return user


async def create_api_token(actor: Viewer | None, *, user_id: int, name: str,
                           permissions: list[str] | None = None,
                           expires_at: datetime | None = None) -> tuple[str, models.AccessToken]:
    """Create a long-lived API token for a user (ADMIN, or the CLI); the plain token is returned once."""
    if actor is not None:
        require(actor, Permission.ADMIN)
    user = await models.User.get_or_none(id=user_id)
    if user is None:
        raise not_found("User", "userId")
    if not name.strip():
        raise DomainError(ErrorCode.INVALID_INPUT, "Name the token (what uses it).", "name")
    perms = validate_permissions(permissions) if permissions is not None else None
    if expires_at is not None and expires_at <= clock.now():
        raise DomainError(ErrorCode.INVALID_INPUT, "Expiry must be in the future.", "expiresAt")
    token = await _issue(user, TokenKind.API, name.strip(), perms, expires_at)
    row = await models.AccessToken.get(token_hash=hash_token(token))
    return token, row


async def revoke_token(actor: Viewer, token_id: int) -> models.AccessToken:
    """Revoke a token: an admin any token, a user their own."""
    if not actor.can(Permission.ADMIN):
        row = await models.AccessToken.get_or_none(id=token_id, user_id=actor.user_id)
    else:
        row = await models.AccessToken.get_or_none(id=token_id)
    if row is None:
        raise not_found("Token")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        await row.save(update_fields=["revoked_at"])
    return row

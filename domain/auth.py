"""Sign-in, sessions, API tokens and users: how a bearer token becomes a `Viewer`, and who may hand out what.

Access only ever narrows (docs/ACCESS.md):
- an actor grants, to a user or to a token, only permissions it holds itself, and acts on another user (a
  password reset, permissions, deactivation, a token for them) only when it holds everything that user holds;
- a password is changed from a signed-in session only, with the current password (except an admin resetting
  someone else's), so an API token, narrowed or leaked, can never become a session of its user.
Every password check (sign-in, or the current password of a change) goes through one limiter: reserved under a
lock before it is evaluated, counted per e-mail and per client address, slowed down by an exponential backoff.
"""

import asyncio
import hashlib
import ipaddress
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.expressions import Q

import models
from billrun.settings import get_settings
from domain import clock, validation
from domain.access import REQUIRES, Viewer, get_visible, require
from domain.errors import DomainError, ErrorCode, Problem, not_found, raise_if
from domain.transactions import in_transaction
from models.enums import Permission, TokenKind
from models.locks import hold_transaction_locks

TOKEN_PREFIX = "brn_"
LAST_USED_RESOLUTION = timedelta(minutes=1)  # avoid a write per request
EMAIL_MAX_LENGTH = 254  # the column's size

# Argon2 verifications done, by what was verified: "password" (a user's hash) or "dummy" (no user, an inactive
# one or one without a password). Every evaluated attempt is exactly one verification of one or the other.
verifications: Counter[str] = Counter()
_dummy_hashes: dict[tuple[int, int], str] = {}  # by (time cost, memory cost)


def hash_token(token: str) -> str:
    """Tokens are 256-bit random strings, so a plain SHA-256 is a safe one-way lookup key."""
    return hashlib.sha256(token.encode()).hexdigest()


def _cost() -> tuple[int, int]:
    settings = get_settings()
    return settings.password_hash_time_cost, settings.password_hash_memory_kib


@lru_cache
def _hasher_for(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)  # argon2id


def _hasher() -> PasswordHasher:
    return _hasher_for(*_cost())


async def hash_password(password: str) -> str:
    """Argon2 is slow and memory-hard by design: it runs in a thread, never on the event loop."""
    return await asyncio.to_thread(_hasher().hash, password)


async def dummy_password_hash() -> str:
    """A hash of a random secret with the same parameters as every user's: verified when there is no user's hash
    to verify, so an unknown e-mail costs the same time as a known one."""
    cost = _cost()
    if cost not in _dummy_hashes:
        _dummy_hashes[cost] = await hash_password(secrets.token_urlsafe(32))
    return _dummy_hashes[cost]


async def _password_matches(password_hash: str | None, password: str) -> bool:
    """One argon2 verification whatever the case, in a thread; True only against a user's real hash."""
    verifications["password" if password_hash else "dummy"] += 1
    target = password_hash or await dummy_password_hash()
    try:
        matched = await asyncio.to_thread(_hasher().verify, target, password)
    except (VerificationError, InvalidHashError):
        return False
    return bool(matched and password_hash)


def validate_permissions(names: Iterable[str], field: str = "permissions") -> list[Permission]:
    perms = [Permission(n) for n in dict.fromkeys(names)]
    for perm, needed in REQUIRES.items():
        if perm in perms and needed not in perms:
            raise DomainError(ErrorCode.INVALID_INPUT, f"{perm.value} requires {needed.value}.", field)
    return perms


def effective_permissions(viewer: Viewer) -> frozenset[Permission]:
    """What the viewer's token really lets it do (a permission whose prerequisite is missing does nothing)."""
    return frozenset(p for p in viewer.permissions if viewer.can(p))


def _names(perms: Iterable[Permission]) -> str:
    return ", ".join(sorted(p.value for p in perms))


def _require_held(actor: Viewer, perms: Iterable[Permission], field: str) -> None:
    """A permission can only narrow: refuse to grant what the actor's token does not hold itself."""
    missing = set(perms) - effective_permissions(actor)
    if missing:
        raise DomainError(ErrorCode.PERMISSION_DENIED,
                          f"You can only grant permissions you hold yourself (not {_names(missing)}).", field)


def _require_covers(actor: Viewer, user: models.User) -> None:
    """Acting on another user needs everything that user holds: otherwise resetting their password (or
    giving oneself a token for them) would be a way to gain what one lacks."""
    missing = {Permission(p) for p in user.permissions} - effective_permissions(actor)
    if missing:
        raise DomainError(ErrorCode.PERMISSION_DENIED,
                          f"This user holds permissions you do not ({_names(missing)}): only someone holding all "
                          "of them may change the user or act for them.")


async def _issue(user: models.User, kind: TokenKind, name: str, permissions: list[Permission] | None,
                 expires_at: datetime | None) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await models.AccessToken.create(
        kind=kind, user=user, name=name, token_hash=hash_token(token), token_prefix=token[:10],
        permissions=[p.value for p in permissions] if permissions is not None else None,
        expires_at=expires_at,
    )
    return token


def _viewer_of(row: models.AccessToken, now: datetime) -> Viewer | None:
    """The viewer a token row stands for now, or None when it is revoked, expired or its user inactive."""
    if row.revoked_at is not None or not row.user.is_active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    permissions = {Permission(p) for p in row.user.permissions}
    if row.permissions is not None:
        permissions &= {Permission(p) for p in row.permissions}
    return Viewer(user_id=row.user.id, email=row.user.email, name=row.user.name,
                  permissions=frozenset(permissions), token_id=row.id, token_kind=row.kind)


async def authenticate(token: str) -> Viewer | None:
    """The viewer behind a bearer token, or None when it is unknown, revoked, expired or its user inactive."""
    row = await models.AccessToken.get_or_none(token_hash=hash_token(token)).select_related("user")
    now = clock.now()
    viewer = _viewer_of(row, now) if row is not None else None
    stale = row is not None and (row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION)
    if viewer is not None and row is not None and stale:
        await models.AccessToken.filter(id=row.id).update(last_used_at=now)
    return viewer


async def viewers_of_tokens(token_ids: Iterable[int]) -> dict[int, Viewer]:
    """The viewer each of these tokens stands for now, by token id, in one query; a token that no longer
    authenticates (unknown, revoked, expired, its user inactive) is absent. For connections that outlive a
    request (WebSockets), checked again from time to time."""
    now = clock.now()
    rows = await models.AccessToken.filter(id__in=list(token_ids)).select_related("user")
    return {row.id: viewer for row in rows if (viewer := _viewer_of(row, now)) is not None}


class LoginRateLimited(DomainError):
    """Too many failed password checks for this e-mail or from this address: try again at `retry_at`."""

    def __init__(self, retry_at: datetime, now: datetime, field: str | None) -> None:
        seconds = max(1, int((retry_at - now).total_seconds() + 0.999))
        super().__init__(ErrorCode.LOGIN_RATE_LIMITED,
                         f"Too many failed sign-ins; try again in {seconds} s (at {retry_at.isoformat()}).", field)
        self.retry_at = retry_at


def client_bucket(remote_addr: str) -> str:
    """The client address failures are counted under. An IPv6 client usually holds a whole /64, so it counts
    as one: rotating addresses inside it gains nothing."""
    try:
        ip = ipaddress.ip_address(remote_addr)
    except ValueError:
        return remote_addr[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _next_try(failures: list[datetime], limit: int) -> datetime | None:
    """When a further try is allowed after these failed (or still pending) attempts; None: now."""
    settings = get_settings()
    excess = len(failures) - limit
    if excess < 0:
        return None
    delay = min(settings.login_backoff_base_seconds * 2 ** min(excess, 30), settings.login_max_backoff_seconds)
    return max(failures) + timedelta(seconds=delay)


async def _reserve_attempt(email: str, address: str, field: str | None) -> int:
    """Count the failures under a lock on the e-mail and the address, then write this attempt as pending, so
    parallel guesses are counted before any of them is evaluated; refuse with LOGIN_RATE_LIMITED instead."""
    settings = get_settings()
    unresolved = Q(succeeded=False) | Q(succeeded__isnull=True)
    async with in_transaction() as conn:
        await hold_transaction_locks(conn, f"login-email:{email}", f"login-address:{address}")
        now = clock.now()
        since = now - timedelta(seconds=settings.login_window_seconds)
        last_success = await models.LoginAttempt.filter(email=email, succeeded=True).order_by("-id").limit(
            1).values_list("id", flat=True)
        by_email = cast(list[datetime], await models.LoginAttempt.filter(
            unresolved, email=email, at__gte=since, id__gt=last_success[0] if last_success else 0,
        ).values_list("at", flat=True))
        next_tries = [_next_try(list(by_email), settings.login_max_failures)]
        if address:  # a success does not reset the address: spraying between one's own sign-ins is limited too
            by_address = cast(list[datetime], await models.LoginAttempt.filter(
                unresolved, remote_addr=address, at__gte=since).values_list("at", flat=True))
            next_tries.append(_next_try(list(by_address), settings.login_max_failures_per_address))
        retry_at = max((t for t in next_tries if t is not None), default=None)
        if retry_at is not None and retry_at > now:
            raise LoginRateLimited(retry_at, now, field)
        attempt = await models.LoginAttempt.create(email=email, remote_addr=address, succeeded=None, at=now,
                                                   using_db=conn)
    return attempt.id


async def _checked_password(email: str, remote_addr: str, password_hash: str | None, password: str,
                            field: str | None) -> bool:
    """Check a password through the limiter: reserve the attempt, verify outside the lock, record the verdict."""
    attempt_id = await _reserve_attempt(email[:EMAIL_MAX_LENGTH], client_bucket(remote_addr), field)
    ok = await _password_matches(password_hash, password)
    await models.LoginAttempt.filter(id=attempt_id).update(succeeded=ok)
    return ok


@dataclass(frozen=True)
class Session:
    """A new sign-in session: the bearer token (shown once), when it ends, and its user."""

    token: str
    expires_at: datetime
    user: models.User


async def login(email: str, password: str, remote_addr: str = "") -> Session:
    """Check a password and open a session; failures are limited per e-mail and per client address."""
    email = email.strip().lower()
    known = validation.fits(models.User, "email", email)  # a longer one names no user (and cannot be looked up)
    user = await models.User.get_or_none(email=email, is_active=True) if known else None
    ok = await _checked_password(email, remote_addr, user.password_hash if user else None, password, "email")
    if not ok or user is None:
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "E-mail or password is wrong.", "password")
    if user.password_hash and _hasher().check_needs_rehash(user.password_hash):
        # The argon2 cost settings changed: the password is at hand now, so upgrade its hash.
        await models.User.filter(id=user.id, password_hash=user.password_hash).update(
            password_hash=await hash_password(password))
    expires_at = clock.now() + timedelta(hours=get_settings().session_ttl_hours)
    token = await _issue(user, TokenKind.SESSION, "session", None, expires_at)
    return Session(token, expires_at, user)


async def logout(viewer: Viewer) -> None:
    """Revoke the token of the current request (a session; an API token is revoked by `revoke_token`)."""
    await models.AccessToken.filter(id=viewer.token_id, revoked_at=None).update(revoked_at=clock.now())


def _check_user_input(email: str | None, name: str | None, password: str | None) -> None:
    problems = validation.email_problems(email, "email")
    if name is not None and not name.strip():
        problems.append(Problem(ErrorCode.INVALID_INPUT, "Name must not be empty.", "name"))
    problems += validation.text_problems(models.User, {"name": name.strip()} if name is not None else {})
    if password is not None and len(password) < 10:
        problems.append(Problem(ErrorCode.INVALID_INPUT, "Password must be at least 10 characters.", "password"))
    raise_if(problems)


async def create_user(actor: Viewer | None, *, email: str, name: str, permissions: list[str],
                      password: str | None = None) -> models.User:
    """Create a user (ADMIN, granting only permissions the actor holds). `actor=None` is the operator at the
    command line."""
    if actor is not None:
        require(actor, Permission.ADMIN)
    email = email.strip().lower()
    _check_user_input(email, name, password)
    perms = validate_permissions(permissions)
    if actor is not None:
        _require_held(actor, perms, "permissions")
    if await models.User.exists(email=email):
        raise DomainError(ErrorCode.DUPLICATE, f"A user with e-mail {email} exists.", "email")
    return await models.User.create(email=email, name=name.strip(), permissions=[p.value for p in perms],
                                    password_hash=await hash_password(password) if password else None)


def _require_session(actor: Viewer) -> None:
    if actor.token_kind is not TokenKind.SESSION:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "Passwords are changed from a signed-in session, never with "
                          "an API token.", "password")


async def _check_current_password(user: models.User, current_password: str | None, remote_addr: str) -> None:
    """Changing one's own password proves the old one, through the sign-in limiter (a stolen session must not
    become a way to guess it)."""
    if not current_password:
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "Give your current password to change it.",
                          "currentPassword")
    if not await _checked_password(user.email, remote_addr, user.password_hash, current_password, "currentPassword"):
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "The current password is wrong.", "currentPassword")


async def update_user(actor: Viewer, user_id: int, *, name: str | None = None,
                      permissions: list[str] | None = None, password: str | None = None,
                      current_password: str | None = None, is_active: bool | None = None,
                      remote_addr: str = "") -> models.User:
    """Change a user's name, permissions, password or active flag.

    Anyone may rename themselves, and change their own password from a session with the current one. All else
    needs ADMIN; permissions granted must be held by the actor; another user may be changed only by an actor
    holding everything that user holds (then a password reset needs no current password). A new password ends
    the user's other sessions; deactivation ends them all.
    """
    own = actor.user_id == user_id
    if not own or permissions is not None or is_active is not None:
        require(actor, Permission.ADMIN)
    if password is not None:
        _require_session(actor)
    _check_user_input(None, name, password)
    granted = validate_permissions(permissions) if permissions is not None else None
    if granted is not None:
        _require_held(actor, granted, "permissions")
    user = await get_visible(actor, models.User, user_id, "User")
    if not own:
        _require_covers(actor, user)
    if password is not None and own:
        await _check_current_password(user, current_password, remote_addr)
    new_hash = await hash_password(password) if password is not None else None
    async with in_transaction():
        locked = await models.User.select_for_update().get(id=user_id)
        if (locked.permissions, locked.password_hash, locked.is_active) != (
                user.permissions, user.password_hash, user.is_active):
            raise DomainError(ErrorCode.CONCURRENT_UPDATE, "The user was changed meanwhile; try again.")
        if name is not None:
            locked.name = name.strip()
        if granted is not None:
            locked.permissions = [p.value for p in granted]
        if new_hash is not None:
            locked.password_hash = new_hash
        if is_active is not None:
            locked.is_active = is_active
        await locked.save()
        if is_active is False or new_hash is not None:
            sessions = models.AccessToken.filter(user_id=user_id, kind=TokenKind.SESSION, revoked_at=None)
            if own and is_active is not False:
                sessions = sessions.exclude(id=actor.token_id)  # the caller's own session stays valid
            await sessions.update(revoked_at=clock.now())
    return locked


async def create_api_token(actor: Viewer | None, *, user_id: int, name: str,
                           permissions: list[str] | None = None,
                           expires_at: datetime | None = None) -> tuple[str, models.AccessToken]:
    """Create a long-lived API token for a user (ADMIN, or the CLI); the plain token is returned once.

    The token's effective permissions (its list within its user's, or the user's) must be held by the actor,
    and a token for another user needs everything that user holds.
    """
    if actor is not None:
        require(actor, Permission.ADMIN)
    user = await models.User.get_or_none(id=user_id)
    if user is None:
        raise not_found("User", "userId")
    if not name.strip():
        raise DomainError(ErrorCode.INVALID_INPUT, "Name the token (what uses it).", "name")
    validation.check_text(models.AccessToken, {"name": name.strip()})
    perms = validate_permissions(permissions) if permissions is not None else None
    if expires_at is not None and expires_at <= clock.now():
        raise DomainError(ErrorCode.INVALID_INPUT, "Expiry must be in the future.", "expiresAt")
    if actor is not None:
        if user.id != actor.user_id:
            _require_covers(actor, user)
        held_by_user = {Permission(p) for p in user.permissions}
        _require_held(actor, held_by_user if perms is None else held_by_user & set(perms), "permissions")
    token = await _issue(user, TokenKind.API, name.strip(), perms, expires_at)
    row = await models.AccessToken.get(token_hash=hash_token(token))
    return token, row


async def revoke_token(actor: Viewer, token_id: int) -> models.AccessToken:
    """Revoke a token: a user their own; an admin also another user's, when holding everything that user holds."""
    row = await get_visible(actor, models.AccessToken, token_id, "Token")
    if row.user_id != actor.user_id:
        _require_covers(actor, await models.User.get(id=row.user_id))
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        await row.save(update_fields=["revoked_at"])
    return row

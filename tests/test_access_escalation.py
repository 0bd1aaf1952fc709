"""No privilege gain through one's own user: every sequence of access mutations from a narrowed token.

The attacker holds one API token of a user holding every permission, narrowed to fewer, and knows nothing else
(not its user's password). It tries every sequence of up to three access mutations, each with any bearer token
it holds by then (new tokens from createApiToken, sessions from signing in with a password it set), against its
own user, a second all-permission user, the users it created and their tokens. After every step that changed
something, every token it holds must still be within the permissions it started with.

A refused step writes nothing, so what follows it is what follows the shorter sequence: only steps that
succeeded are extended, each branch replayed from a fresh world (new users, a client address of its own).
"""

import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from strawberry.relay import from_base64, to_base64

import models
from billrun.settings import reset_settings
from domain import auth
from tests.conftest import ALL
from tests.support.api import Api

MAX_STEPS = 3
VIEWER = "{ viewer { permissions } }"
UPDATE_USER = """mutation($input: UpdateUserInput!) { updateUser(input: $input) { user { id } errors { code } } }"""
CREATE_USER = """mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } errors { code } } }"""
CREATE_TOKEN = """mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) {
  token apiToken { id } errors { code } } }"""
REVOKE = "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id } errors { code } } }"
LOGOUT = "mutation { logout { ok errors { code } } }"
LOGIN = """mutation($email: String!, $password: String!) { login(input: {email: $email, password: $password}) {
  token errors { code } } }"""


@dataclass
class Person:
    gid: str
    email: str
    password: str | None = None  # known to the attacker only when it set it


@dataclass
class Held:
    """A bearer token the attacker holds."""

    token: str
    person: str  # key in World.people
    token_gid: str | None = None  # API tokens (sessions end with logout)
    dead: bool = False
    permissions: frozenset[str] = frozenset()  # as last seen


@dataclass
class World:
    api: Api
    start: frozenset[str]
    people: dict[str, Person]
    held: list[Held]
    victim_token_gid: str
    names: Callable[[str], str]
    minions: int = 0
    tried: set[str] = field(default_factory=set)


Step = tuple[str, int, str | None]  # action, index of the token used, the other user aimed at (if any)


async def _call(world: World, held: Held, query: str, variables: dict | None = None) -> dict | None:
    """The mutation's payload when it succeeded; None when refused (payload errors, or the token is dead)."""
    result = await world.api.as_(held.token)(query, variables)
    if result.errors:
        assert [e["extensions"]["code"] for e in result.errors] == ["UNAUTHENTICATED"], result.errors
        held.dead = True
        return None
    payload = next(iter(result.data.values()))
    return payload if payload["errors"] == [] else None


async def _sign_in(world: World, key: str) -> None:
    person = world.people[key]
    result = await world.api.ok(LOGIN, {"email": person.email, "password": person.password})
    assert result["login"]["errors"] == [], result
    world.held.append(Held(result["login"]["token"], key))


async def _permissions(world: World, held: Held) -> frozenset[str] | None:
    result = await world.api.as_(held.token)(VIEWER)
    if result.errors:
        assert [e["extensions"]["code"] for e in result.errors] == ["UNAUTHENTICATED"], result.errors
        held.dead = True
        return None
    return frozenset(result.data["viewer"]["permissions"])


async def _set_password(world: World, held: Held, key: str, current: str | None) -> bool:
    password = world.names("password") + "-long enough"
    change = {"id": world.people[key].gid, "password": password}
    if current is not None:
        change["currentPassword"] = current
    if await _call(world, held, UPDATE_USER, {"input": change}) is None:
        return False
    world.people[key].password = password
    await _sign_in(world, key)
    return True


async def _new_token(world: World, held: Held, key: str, permissions: list[str] | None) -> bool:
    payload = await _call(world, held, CREATE_TOKEN, {"input": {
        "userId": world.people[key].gid, "name": "mine", "permissions": permissions}})
    if payload is None:
        return False
    world.held.append(Held(payload["token"], key, payload["apiToken"]["id"]))
    return True


async def _new_user(world: World, held: Held, permissions: list[str]) -> bool:
    email, password = world.names("minion") + "@example.com", world.names("password") + "-long enough"
    payload = await _call(world, held, CREATE_USER, {"input": {
        "email": email, "name": "Minion", "permissions": permissions, "password": password}})
    if payload is None:
        return False
    world.minions += 1
    key = f"minion{world.minions}"
    world.people[key] = Person(payload["user"]["id"], email, password)
    await _sign_in(world, key)
    return True


async def own_password_without_current(world: World, held: Held, _: str | None) -> bool:
    return await _set_password(world, held, held.person, None)


async def own_password_with_wrong_current(world: World, held: Held, _: str | None) -> bool:
    return await _set_password(world, held, held.person, "not the password at all")


async def own_password_with_known_current(world: World, held: Held, _: str | None) -> bool:
    known = world.people[held.person].password
    return known is not None and await _set_password(world, held, held.person, known)


async def own_permissions_all(world: World, held: Held, _: str | None) -> bool:
    change = {"id": world.people[held.person].gid, "permissions": ALL}
    return await _call(world, held, UPDATE_USER, {"input": change}) is not None


async def token_for_self_unlimited(world: World, held: Held, _: str | None) -> bool:
    return await _new_token(world, held, held.person, None)


async def token_for_self_all(world: World, held: Held, _: str | None) -> bool:
    return await _new_token(world, held, held.person, ALL)


async def token_for_self_as_held(world: World, held: Held, _: str | None) -> bool:
    mine = await _permissions(world, held)
    return mine is not None and await _new_token(world, held, held.person, sorted(mine))


async def user_with_all_then_sign_in(world: World, held: Held, _: str | None) -> bool:
    return await _new_user(world, held, ALL)


async def user_as_held_then_sign_in(world: World, held: Held, _: str | None) -> bool:
    mine = await _permissions(world, held)
    return mine is not None and await _new_user(world, held, sorted(mine))


async def others_password_then_sign_in(world: World, held: Held, other: str | None) -> bool:
    assert other is not None
    return await _set_password(world, held, other, None)


async def others_permissions_all(world: World, held: Held, other: str | None) -> bool:
    assert other is not None
    change = {"id": world.people[other].gid, "permissions": ALL}
    return await _call(world, held, UPDATE_USER, {"input": change}) is not None


async def token_for_other(world: World, held: Held, other: str | None) -> bool:
    assert other is not None
    return await _new_token(world, held, other, None)


async def deactivate_other(world: World, held: Held, other: str | None) -> bool:
    assert other is not None
    change = {"id": world.people[other].gid, "isActive": False}
    return await _call(world, held, UPDATE_USER, {"input": change}) is not None


async def revoke_own_token(world: World, held: Held, _: str | None) -> bool:
    return held.token_gid is not None and await _call(world, held, REVOKE, {"id": held.token_gid}) is not None


async def revoke_victims_token(world: World, held: Held, _: str | None) -> bool:
    return await _call(world, held, REVOKE, {"id": world.victim_token_gid}) is not None


async def logout(world: World, held: Held, _: str | None) -> bool:
    return await _call(world, held, LOGOUT) is not None


Action = Callable[[World, Held, str | None], Awaitable[bool]]
ON_SELF: list[Action] = [
    own_password_without_current, own_password_with_wrong_current, own_password_with_known_current,
    own_permissions_all, token_for_self_unlimited, token_for_self_all, token_for_self_as_held,
    user_with_all_then_sign_in, user_as_held_then_sign_in, revoke_own_token, revoke_victims_token, logout,
]
ON_OTHERS: list[Action] = [others_password_then_sign_in, others_permissions_all, token_for_other, deactivate_other]
ACTIONS: dict[str, Action] = {a.__name__: a for a in ON_SELF + ON_OTHERS}


def _steps(world: World) -> list[Step]:
    steps: list[Step] = []
    for index, held in enumerate(world.held):
        if held.dead:
            continue
        steps += [(action.__name__, index, None) for action in ON_SELF]
        steps += [(action.__name__, index, other) for action in ON_OTHERS for other in world.people
                  if other != held.person]
    return steps


async def _run(world: World, step: Step) -> bool:
    name, index, other = step
    world.tried.add(name)
    return await ACTIONS[name](world, world.held[index], other)


async def _assert_no_gain(world: World, path: list[Step]) -> None:
    for held in world.held:
        if held.dead:
            continue
        permissions = await _permissions(world, held)
        assert permissions is None or permissions <= world.start, (
            f"{held.person}'s token holds {sorted(permissions)} after {path}, starting from {sorted(world.start)}")
        held.permissions = permissions or frozenset()


async def _signature(world: World) -> tuple:
    """What the attacker's next steps depend on, up to renaming: its live tokens (whose, which kind, which
    permissions), what each user holds, whether it is active and whether the attacker knows its password, and
    whether the victim's token still works. Two worlds alike in these allow the same steps with the same
    outcomes, so a world already explored as deep is not explored again."""
    emails = {person.email: key for key, person in world.people.items()}
    users = await models.User.filter(email__in=list(emails)).values_list("email", "permissions", "is_active")
    victim_token = await models.AccessToken.get(id=int(_node_id(world.victim_token_gid)))
    return (
        frozenset((h.person, h.token_gid is None, h.permissions) for h in world.held if not h.dead),
        frozenset((emails[email], tuple(sorted(perms)), active, world.people[emails[email]].password is not None)
                  for email, perms, active in users),
        victim_token.revoked_at is None,
    )


def _node_id(gid: str) -> str:
    return from_base64(gid)[1]


class Explorer:
    """Fresh worlds on demand: one all-permission user (the attacker's), one all-permission victim with a token,
    the attacker's narrowed token; unique e-mails and a client address of its own per world."""

    def __init__(self, app, start: list[str], password_hash: str) -> None:
        self.app, self.start, self.password_hash = app, frozenset(start), password_hash
        self.worlds = itertools.count(1)
        self.serial = itertools.count(1)
        self.clients: list[httpx.AsyncClient] = []
        self.tried: set[str] = set()
        self.succeeded = 0
        self.explored: dict[tuple, int] = {}  # world signature -> most steps explored from it

    async def fresh(self) -> World:
        n = next(self.worlds)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app, client=(
            f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}", 40000)), base_url="http://testserver")
        self.clients.append(client)
        people, ids = {}, {}
        for key in ("root", "victim"):  # set up directly: the password hash is computed once for all worlds
            user = await models.User.create(email=f"{key}-{n}@example.com", name=key, permissions=ALL,
                                            password_hash=self.password_hash)
            people[key], ids[key] = Person(to_base64("User", user.id), user.email), user.id
        token, start_row = await auth.create_api_token(None, user_id=ids["root"], name="narrowed",
                                                       permissions=sorted(self.start))
        _, victim_row = await auth.create_api_token(None, user_id=ids["victim"], name="victim's")
        return World(api=Api(client), start=self.start, people=people,
                     held=[Held(token, "root", to_base64("ApiToken", start_row.id))],
                     victim_token_gid=to_base64("ApiToken", victim_row.id),
                     names=lambda what: f"{what}-{n}-{next(self.serial)}")

    async def replay(self, path: list[Step]) -> World:
        world = await self.fresh()
        for step in path:
            assert await _run(world, step), f"replaying {path} failed at {step}"
        return world

    async def explore(self, world: World, path: list[Step]) -> None:
        if len(path) == MAX_STEPS:
            return
        for step in _steps(world):
            changed = await _run(world, step)
            self.tried |= world.tried
            if not changed:
                continue  # refused: nothing was written, the world is as before
            self.succeeded += 1
            await _assert_no_gain(world, [*path, step])
            signature, remaining = await _signature(world), MAX_STEPS - len(path) - 1
            if self.explored.get(signature, -1) < remaining:
                self.explored[signature] = remaining
                await self.explore(world, [*path, step])
            world = await self.replay(path)

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


@pytest.fixture
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Hundreds of sign-ins and password changes: argon2 at a low cost (a setting; no rule depends on it)."""
    monkeypatch.setenv("BILLRUN_PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("BILLRUN_PASSWORD_HASH_MEMORY_KIB", "64")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


@pytest.mark.usefixtures("cheap_password_hashes")
@pytest.mark.parametrize("start", [[], ["BILLING_ACCESS"], ["ADMIN"], ["ADMIN", "BILLING_ACCESS"]],
                         ids=["nothing", "billing", "admin", "admin+billing"])
async def test_no_sequence_of_access_mutations_gains_a_permission(app, start: list[str]) -> None:
    explorer = Explorer(app, start, await auth.hash_password("a password the attacker never learns"))
    try:
        await explorer.explore(await explorer.fresh(), [])
    finally:
        await explorer.close()
    assert explorer.tried == set(ACTIONS)  # every mutation was tried, with every token held

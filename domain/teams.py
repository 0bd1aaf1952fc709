"""Teams (docs/ACCESS.md): named groups of users that a restricted account can be granted to at once.

Admins manage them; every change is audited (`entity` Team) and announced as a TEAM_CHANGED event. Membership is
read by every visibility query (`domain.access.granted_visibility`), so a member removed from a team stops
seeing its accounts at the very next request: nothing is cached across requests.
"""

import models
from domain import audit, events, validation
from domain.access import Viewer, get_visible, require
from domain.errors import DomainError, ErrorCode, not_found, raise_if
from domain.transactions import in_transaction
from models.enums import Change, Permission


def _name(name: str | None) -> str:
    cleaned = (name or "").strip()
    if not cleaned:
        raise DomainError(ErrorCode.INVALID_INPUT, "Name the team.", "name")
    raise_if(validation.text_problems(models.Team, {"name": cleaned}))
    return cleaned


async def _unique(name: str, team_id: int | None = None) -> None:
    if await models.Team.filter(name=name).exclude(id=team_id or 0).exists():
        raise DomainError(ErrorCode.DUPLICATE, f"A team named {name!r} exists.", "name")


async def create_team(viewer: Viewer, name: str) -> models.Team:
    require(viewer, Permission.ADMIN)
    cleaned = _name(name)
    await _unique(cleaned)
    async with in_transaction():
        team = await models.Team.create(name=cleaned)
        await audit.record(viewer, "Team", team.id, {"name": (None, cleaned)}, "CREATE")
        await events.team_changed(team, Change.CREATED, viewer)
    return team


async def rename_team(viewer: Viewer, team_id: int, name: str) -> models.Team:
    require(viewer, Permission.ADMIN)
    team = await get_visible(viewer, models.Team, team_id, "Team")
    cleaned = _name(name)
    await _unique(cleaned, team.id)
    async with in_transaction():
        await audit.record(viewer, "Team", team.id, {"name": (team.name, cleaned)}, "RENAME")
        team.name = cleaned
        await team.save(update_fields=["name"])
        await events.team_changed(team, Change.UPDATED, viewer)
    return team


async def delete_team(viewer: Viewer, team_id: int) -> int:
    """Delete a team: its members lose at once what it was granted (its grants go with it)."""
    require(viewer, Permission.ADMIN)
    team = await get_visible(viewer, models.Team, team_id, "Team")
    async with in_transaction():
        await audit.record(viewer, "Team", team.id, {"name": (team.name, None)}, "DELETE")
        await events.team_changed(team, Change.DELETED, viewer)
        await team.delete()
    return team.id


async def _member(viewer: Viewer, team_id: int, user_id: int) -> tuple[models.Team, models.User]:
    require(viewer, Permission.ADMIN)
    team = await get_visible(viewer, models.Team, team_id, "Team", "teamId")
    user = await models.User.get_or_none(id=user_id)
    if user is None:
        raise not_found("User", "userId")
    return team, user


async def add_member(viewer: Viewer, team_id: int, user_id: int) -> models.Team:
    """Add a user to a team (adding a member twice changes nothing)."""
    team, user = await _member(viewer, team_id, user_id)
    if await models.TeamMember.exists(team_id=team.id, user_id=user.id):
        return team
    async with in_transaction():
        await models.TeamMember.create(team_id=team.id, user_id=user.id)
        await audit.record(viewer, "Team", team.id, {"member": (None, user.id)}, "ADD_MEMBER")
        await events.team_changed(team, Change.MEMBER_ADDED, viewer, member=user)
    return team


async def remove_member(viewer: Viewer, team_id: int, user_id: int) -> models.Team:
    """Take a user out of a team: what the team was granted is hidden from them from the next request on."""
    team, user = await _member(viewer, team_id, user_id)
    async with in_transaction():
        removed = await models.TeamMember.filter(team_id=team.id, user_id=user.id).delete()
        if not removed:
            raise DomainError(ErrorCode.NOT_FOUND, "The user is not a member of this team.", "userId")
        await audit.record(viewer, "Team", team.id, {"member": (user.id, None)}, "REMOVE_MEMBER")
        await events.team_changed(team, Change.MEMBER_REMOVED, viewer, member=user)
    return team

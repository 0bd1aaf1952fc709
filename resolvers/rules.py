"""Mutation resolvers of teams, approval rules and billing schedules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain import approvals, schedules, teams
from resolvers.context import authenticated_viewer
from resolvers.inputs import decode_id, to_data
from resolvers.mutations import perform
from resolvers.relations import CtxInfo

if TYPE_CHECKING:
    from schema.mutations.rules import (
        BillingScheduleInput,
        CreateApprovalRuleInput,
        CreateBillingScheduleInput,
        CreateTeamInput,
        DeleteApprovalRuleInput,
        DeleteTeamInput,
        TeamMemberInput,
        UpdateApprovalRuleInput,
        UpdateBillingScheduleInput,
        UpdateTeamInput,
    )


async def create_team(info: CtxInfo, input: CreateTeamInput) -> Any:
    return await perform(lambda: teams.create_team(authenticated_viewer(info), input.name))


async def update_team(info: CtxInfo, input: UpdateTeamInput) -> Any:
    return await perform(lambda: teams.rename_team(authenticated_viewer(info), decode_id(input.id, "Team", "id"),
                                                   input.name))


async def delete_team(info: CtxInfo, input: DeleteTeamInput) -> Any:
    async def run() -> Any:
        await teams.delete_team(authenticated_viewer(info), decode_id(input.id, "Team", "id"))
        return input.id
    return await perform(run)


async def add_team_member(info: CtxInfo, input: TeamMemberInput) -> Any:
    return await perform(lambda: teams.add_member(authenticated_viewer(info), decode_id(
        input.team_id, "Team", "teamId"), decode_id(input.user_id, "User", "userId")))


async def remove_team_member(info: CtxInfo, input: TeamMemberInput) -> Any:
    return await perform(lambda: teams.remove_member(authenticated_viewer(info), decode_id(
        input.team_id, "Team", "teamId"), decode_id(input.user_id, "User", "userId")))


async def create_approval_rule(info: CtxInfo, input: CreateApprovalRuleInput) -> Any:
    return await perform(lambda: approvals.create_rule(authenticated_viewer(info), input.kind, input.threshold,
                                                       input.currency))


async def update_approval_rule(info: CtxInfo, input: UpdateApprovalRuleInput) -> Any:
    return await perform(lambda: approvals.update_rule(authenticated_viewer(info), decode_id(
        input.id, "ApprovalRule", "id"), input.threshold))


async def delete_approval_rule(info: CtxInfo, input: DeleteApprovalRuleInput) -> Any:
    async def run() -> Any:
        await approvals.delete_rule(authenticated_viewer(info), decode_id(input.id, "ApprovalRule", "id"))
        return input.id
    return await perform(run)


async def create_billing_schedule(info: CtxInfo, input: CreateBillingScheduleInput) -> Any:
    return await perform(lambda: schedules.create_schedule(authenticated_viewer(info), to_data(input)))


async def update_billing_schedule(info: CtxInfo, input: UpdateBillingScheduleInput) -> Any:
    return await perform(lambda: schedules.update_schedule(
        authenticated_viewer(info), decode_id(input.id, "BillingSchedule", "id"), to_data(input, skip=("id",))))


async def set_paused(info: CtxInfo, input: BillingScheduleInput, paused: bool) -> Any:
    return await perform(lambda: schedules.set_paused(
        authenticated_viewer(info), decode_id(input.id, "BillingSchedule", "id"), paused))


async def delete_billing_schedule(info: CtxInfo, input: BillingScheduleInput) -> Any:
    async def run() -> Any:
        await schedules.delete_schedule(authenticated_viewer(info), decode_id(input.id, "BillingSchedule", "id"))
        return input.id
    return await perform(run)

"""The company's rules around a run: teams (who sees restricted accounts), four-eyes approval rules and billing
schedules."""

from datetime import date
from decimal import Decimal

import strawberry
from strawberry import UNSET, relay

from resolvers import rules
from resolvers.mutations import payload
from resolvers.relations import CtxInfo
from schema.access import Team
from schema.common import UserError
from schema.idempotency import IdempotentInput
from schema.permissions import AUTHENTICATED
from schema.rules import ApprovalRule, ApprovalRuleKind, AutoAdvance, BillingSchedule, Cadence

# ---------------------------------------------------------------- teams


@strawberry.input(description="A new team (ADMIN).")
class CreateTeamInput(IdempotentInput):
    name: str = strawberry.field(description="Unique name.")


@strawberry.input(description="Rename a team (ADMIN).")
class UpdateTeamInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The team.")
    name: str = strawberry.field(description="Its new name, unique.")


@strawberry.input(description="The team to delete (ADMIN): its members lose at once what it was granted.")
class DeleteTeamInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The team.")


@strawberry.input(description="A user joining or leaving a team (ADMIN).")
class TeamMemberInput(IdempotentInput):
    team_id: relay.GlobalID = strawberry.field(description="The team.")
    user_id: relay.GlobalID = strawberry.field(description="The user.")


@strawberry.type(description="The team as saved.")
class TeamPayload:
    team: Team | None = strawberry.field(description="The team.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type(description="The id of the deleted record.")
class DeletedPayload:
    deleted_id: relay.GlobalID | None = strawberry.field(description="The id that no longer exists.")
    errors: list[UserError] = strawberry.field(description="Why nothing was deleted.")


# ---------------------------------------------------------------- approval rules


@strawberry.input(description="A new four-eyes rule (ADMIN).")
class CreateApprovalRuleInput(IdempotentInput):
    kind: ApprovalRuleKind = strawberry.field(description="What the rule looks at.")
    threshold: Decimal = strawberry.field(description="An amount of `currency` (amount rules) or a percentage.")
    currency: str | None = strawberry.field(default=None, description="Required for amount rules (they apply to "
                                            "billings and batches of this currency); none for a percentage.")


@strawberry.input(description="A rule's new threshold (ADMIN).")
class UpdateApprovalRuleInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The rule.")
    threshold: Decimal = strawberry.field(description="The new threshold.")


@strawberry.input(description="The rule to delete (ADMIN).")
class DeleteApprovalRuleInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The rule.")


@strawberry.type(description="The rule as saved.")
class ApprovalRulePayload:
    approval_rule: ApprovalRule | None = strawberry.field(description="The rule.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


# ---------------------------------------------------------------- schedules


@strawberry.input(description="A new billing schedule (BILLING_SEND_EXPORT).")
class CreateBillingScheduleInput(IdempotentInput):
    name: str = strawberry.field(description="Unique name.")
    cadence: Cadence = strawberry.field(description="How often it runs.")
    day: int = strawberry.field(description="Day of the month 1-28 (MONTHLY, QUARTERLY) or ISO weekday 1-7 "
                                "(WEEKLY).")
    bill_group: str | None = strawberry.field(default=None, description="Bill group; null or ALL: every group.")
    division: str | None = strawberry.field(default=None, description="Division; null or ALL: every division.")
    currency: str | None = strawberry.field(default=None, description="Currency billed; default: base currency.")
    auto_advance: AutoAdvance = strawberry.field(default=AutoAdvance.CREATE, description="How far its batches go "
                                                 "by themselves.")
    starts_on: date | None = strawberry.field(default=None, description="Its first due date is the first on or "
                                              "after this day (default today); a past day is caught up once.")


@strawberry.input(description="Changes to a schedule (BILLING_SEND_EXPORT); fields left out stay as they are. A new "
                  "cadence or day sets the next due date from today.")
class UpdateBillingScheduleInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The schedule.")
    name: str | None = strawberry.field(default=UNSET, description="New name, unique.")
    cadence: Cadence | None = strawberry.field(default=UNSET, description="New cadence.")
    day: int | None = strawberry.field(default=UNSET, description="New day.")
    bill_group: str | None = strawberry.field(default=UNSET, description="New bill group; null or ALL: all.")
    division: str | None = strawberry.field(default=UNSET, description="New division; null or ALL: all.")
    currency: str | None = strawberry.field(default=UNSET, description="New currency.")
    auto_advance: AutoAdvance | None = strawberry.field(default=UNSET, description="New auto-advance.")


@strawberry.input(description="The schedule to pause, resume or delete (BILLING_SEND_EXPORT).")
class BillingScheduleInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The schedule.")


@strawberry.type(description="The schedule as saved.")
class BillingSchedulePayload:
    billing_schedule: BillingSchedule | None = strawberry.field(description="The schedule.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type
class RulesMutations:
    @strawberry.mutation(description="Create a team (ADMIN; audited).", permission_classes=AUTHENTICATED)
    async def create_team(self, info: CtxInfo, input: CreateTeamInput) -> TeamPayload:
        return payload(TeamPayload, "team", await rules.create_team(info, input))

    @strawberry.mutation(description="Rename a team (ADMIN; audited).", permission_classes=AUTHENTICATED)
    async def update_team(self, info: CtxInfo, input: UpdateTeamInput) -> TeamPayload:
        return payload(TeamPayload, "team", await rules.update_team(info, input))

    @strawberry.mutation(description="Delete a team and its grants (ADMIN; audited).",
                         permission_classes=AUTHENTICATED)
    async def delete_team(self, info: CtxInfo, input: DeleteTeamInput) -> DeletedPayload:
        return payload(DeletedPayload, "deleted_id", await rules.delete_team(info, input))

    @strawberry.mutation(description="Add a user to a team (ADMIN; audited): they see what the team is granted.",
                         permission_classes=AUTHENTICATED)
    async def add_team_member(self, info: CtxInfo, input: TeamMemberInput) -> TeamPayload:
        return payload(TeamPayload, "team", await rules.add_team_member(info, input))

    @strawberry.mutation(description="Take a user out of a team (ADMIN; audited): what the team is granted is "
                         "hidden from them from their next request on.", permission_classes=AUTHENTICATED)
    async def remove_team_member(self, info: CtxInfo, input: TeamMemberInput) -> TeamPayload:
        return payload(TeamPayload, "team", await rules.remove_team_member(info, input))

    @strawberry.mutation(description="Create a four-eyes approval rule (ADMIN; audited).",
                         permission_classes=AUTHENTICATED)
    async def create_approval_rule(self, info: CtxInfo, input: CreateApprovalRuleInput) -> ApprovalRulePayload:
        return payload(ApprovalRulePayload, "approval_rule", await rules.create_approval_rule(info, input))

    @strawberry.mutation(description="Change a rule's threshold (ADMIN; audited).", permission_classes=AUTHENTICATED)
    async def update_approval_rule(self, info: CtxInfo, input: UpdateApprovalRuleInput) -> ApprovalRulePayload:
        return payload(ApprovalRulePayload, "approval_rule", await rules.update_approval_rule(info, input))

    @strawberry.mutation(description="Delete a rule (ADMIN; audited).", permission_classes=AUTHENTICATED)
    async def delete_approval_rule(self, info: CtxInfo, input: DeleteApprovalRuleInput) -> DeletedPayload:
        return payload(DeletedPayload, "deleted_id", await rules.delete_approval_rule(info, input))

    @strawberry.mutation(description="Create a billing schedule (BILLING_SEND_EXPORT; audited).",
                         permission_classes=AUTHENTICATED)
    async def create_billing_schedule(self, info: CtxInfo,
                                      input: CreateBillingScheduleInput) -> BillingSchedulePayload:
        return payload(BillingSchedulePayload, "billing_schedule", await rules.create_billing_schedule(info, input))

    @strawberry.mutation(description="Change a billing schedule (BILLING_SEND_EXPORT; audited).",
                         permission_classes=AUTHENTICATED)
    async def update_billing_schedule(self, info: CtxInfo,
                                      input: UpdateBillingScheduleInput) -> BillingSchedulePayload:
        return payload(BillingSchedulePayload, "billing_schedule", await rules.update_billing_schedule(info, input))

    @strawberry.mutation(description="Pause a billing schedule: it creates nothing until resumed "
                         "(BILLING_SEND_EXPORT; audited).", permission_classes=AUTHENTICATED)
    async def pause_billing_schedule(self, info: CtxInfo, input: BillingScheduleInput) -> BillingSchedulePayload:
        return payload(BillingSchedulePayload, "billing_schedule", await rules.set_paused(info, input, True))

    @strawberry.mutation(description="Resume a paused schedule: its next due date is the first from today on "
                         "(BILLING_SEND_EXPORT; audited).", permission_classes=AUTHENTICATED)
    async def resume_billing_schedule(self, info: CtxInfo, input: BillingScheduleInput) -> BillingSchedulePayload:
        return payload(BillingSchedulePayload, "billing_schedule", await rules.set_paused(info, input, False))

    @strawberry.mutation(description="Delete a billing schedule; its batches stay (BILLING_SEND_EXPORT; audited).",
                         permission_classes=AUTHENTICATED)
    async def delete_billing_schedule(self, info: CtxInfo, input: BillingScheduleInput) -> DeletedPayload:
        return payload(DeletedPayload, "deleted_id", await rules.delete_billing_schedule(info, input))

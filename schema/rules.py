"""GraphQL types of the company's rules around a run: four-eyes approval rules and billing schedules
(docs/APPROVALS.md, docs/SCHEDULES.md)."""

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

import models
from domain import schedules
from models import enums
from resolvers import lists, relations
from resolvers.relations import CtxInfo
from schema.access import User
from schema.common import Connection
from schema.node import ModelNode

if TYPE_CHECKING:
    from schema.billing import BillingBatch

ApprovalRuleKind = enums.ApprovalRuleKind
strawberry.enum(ApprovalRuleKind, description="BILLING_AMOUNT_ABOVE and BATCH_TOTAL_ABOVE (an amount in a "
                "currency), CHANGE_FROM_PREVIOUS_ABOVE_PERCENT (a percentage, any currency).")
Cadence = enums.Cadence
strawberry.enum(Cadence, description="MONTHLY on a day (1-28), WEEKLY on an ISO weekday (1 Monday - 7 Sunday), "
                "QUARTERLY on a day (1-28) of January, April, July and October.")
AutoAdvance = enums.AutoAdvance
strawberry.enum(AutoAdvance, description="How far a scheduled batch goes by itself: CREATE it, also ANALYZE it, "
                "or also PROCESS it.")
Change = enums.Change
strawberry.enum(Change, description="What happened to a team, an approval rule or a schedule.")


@strawberry.type(description="A company-level four-eyes rule (ADMIN-managed; every billing user may read them).")
class ApprovalRule(ModelNode):
    model = models.ApprovalRule
    id: relay.NodeID[int]
    kind: ApprovalRuleKind = strawberry.field(description="What the rule looks at.")
    threshold: Decimal = strawberry.field(description="Above this (an amount of `currency`, or a percentage), the "
                                          "rule applies.")
    currency: str | None = strawberry.field(description="The currency of an amount rule (it applies to billings and "
                                            "batches of this currency only); null for a percentage rule.")
    created_at: datetime = strawberry.field(description="When the rule was created (UTC).")
    created_by: User | None = strawberry.field(resolver=relations.created_by_of,
                                               description="Who created it (a name only, to non-admins).")


@strawberry.type(description="Batches created on a calendar: one per due date, even with several schedulers "
                 "running; a missed date is caught up once (see docs/SCHEDULES.md).")
class BillingSchedule(ModelNode):
    model = models.BillingSchedule
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Unique name; its batches are named `<name> <due date>`.")
    bill_group: str | None = strawberry.field(description="The bill group its batches bill; null: all.")
    division: str | None = strawberry.field(description="The division its batches bill; null: all.")
    currency: str = strawberry.field(description="The currency its batches bill.")
    cadence: Cadence = strawberry.field(description="How often it runs.")
    day: int = strawberry.field(description="Day of the month (MONTHLY, QUARTERLY) or ISO weekday (WEEKLY).")
    auto_advance: AutoAdvance = strawberry.field(description="How far its batches go by themselves.")
    paused: bool = strawberry.field(description="A paused schedule creates nothing.")
    next_run_on: date = strawberry.field(description="The next due date (business time zone).")
    last_run_on: date | None = strawberry.field(description="The due date of its last run.")
    last_error: str | None = strawberry.field(description="Why its last run created or advanced no batch, if so.")
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    created_by: User | None = strawberry.field(resolver=relations.created_by_of,
                                               description="Who created it: its batches are processed as this user.")

    @strawberry.field(description="When the next run is due (UTC): the start of `nextRunOn` in the business time "
                      "zone; null while paused.")
    @staticmethod
    def next_run_at(row: strawberry.Parent[models.BillingSchedule]) -> datetime | None:
        return None if row.paused else schedules.run_at(row.next_run_on)

    @strawberry.field(description="The batches it created, latest due date first. Relay pagination.")
    async def runs(self, info: CtxInfo, first: int | None = None, after: str | None = None,
                   last: int | None = None, before: str | None = None
                   ) -> Connection[Annotated["BillingBatch", strawberry.lazy("schema.billing")]]:
        return Connection.of(await lists.schedule_runs(info, self.id, {"first": first, "after": after,
                                                                       "last": last, "before": before}))


@strawberry.type(description="A posting waiting for a second user's confirmation (`confirmPostBillingBatch`).")
class PostRequest:
    mode: enums.PostMode = strawberry.field(description="How the poster asked to post it.")
    requested_at: datetime = strawberry.field(description="When (UTC).")
    requested_by_id: strawberry.Private[int | None]

    @strawberry.field(description="Who asked (a name only, to non-admins): another user must confirm.")
    async def requested_by(self, info: CtxInfo) -> User | None:
        return await relations.person(info, self.requested_by_id)


def post_request_of(row: models.BillingBatch) -> PostRequest | None:
    if row.post_requested_mode is None or row.post_requested_at is None:
        return None
    return PostRequest(mode=row.post_requested_mode, requested_at=row.post_requested_at,
                       requested_by_id=row.post_requested_by_id)

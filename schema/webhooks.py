"""GraphQL types and mutations of webhooks: endpoints, their delivery log, and managing them (ADMIN only;
docs/WEBHOOKS.md)."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry import relay

import models
from models import enums
from resolvers import events as event_resolvers
from resolvers import webhooks as resolvers
from resolvers.mutations import payload
from resolvers.relations import CtxInfo
from schema.common import UserError
from schema.idempotency import SECRET, IdempotentInput
from schema.node import ModelNode
from schema.permissions import AUTHENTICATED

if TYPE_CHECKING:
    from schema.events import Event, EventType

WebhookDeliveryState = enums.WebhookDeliveryState
strawberry.enum(WebhookDeliveryState, description="Where one webhook attempt stands.")
EventTypeName = Annotated["EventType", strawberry.lazy("schema.events")]


@strawberry.type(description="A URL the company's events are POSTed to, signed the Standard Webhooks way "
                 "(docs/WEBHOOKS.md). ADMIN only: absent for everyone else. Its signing secret is shown once, "
                 "when created or rotated, and never readable after.")
class WebhookEndpoint(ModelNode):
    model = models.WebhookEndpoint
    id: relay.NodeID[int]
    url: str = strawberry.field(description="Where events are POSTed (http or https, a public address).")
    description: str = strawberry.field(description="What receives them, in words.")
    enabled: bool = strawberry.field(description="False: nothing is sent (disabled by an admin, or after "
                                     "persistent failure); enabling it resumes at the event it stopped at.")
    disabled_reason: str | None = strawberry.field(description="Why it is disabled.")
    disabled_at: datetime | None = strawberry.field(description="When it was disabled (UTC).")
    created_at: datetime = strawberry.field(description="When it was registered (UTC).")
    retry_at: datetime | None = strawberry.field(description="While an event keeps failing: when the next attempt "
                                                 "at it is due (nothing after it is sent meanwhile).")

    @strawberry.field(description="The event types it receives; empty: every type.")
    @staticmethod
    def event_types(row: strawberry.Parent[models.WebhookEndpoint]) -> list[EventTypeName]:
        return [enums.EventType(t) for t in row.event_types]

    @strawberry.field(description="The last event it has (or needs not have: of other types), as an event "
                      "cursor: the next one sent is the first of its types after it.")
    @staticmethod
    def cursor(row: strawberry.Parent[models.WebhookEndpoint]) -> str:
        return str(row.cursor)

    @strawberry.field(description="Until when a rotated-out secret still signs beside the current one (null: "
                      "only the current one signs).")
    @staticmethod
    def previous_secret_expires_at(row: strawberry.Parent[models.WebhookEndpoint]) -> datetime | None:
        return row.previous_secret_expires_at if row.previous_secret else None


@strawberry.type(description="One attempt at POSTing one event to one endpoint: the delivery log.")
class WebhookDelivery(ModelNode):
    model = models.WebhookDelivery
    id: relay.NodeID[int]
    attempt: int = strawberry.field(description="Which attempt at this event this is (1 for the first).")
    redelivery: bool = strawberry.field(description="True: an admin asked for it (redeliverWebhookEvent).")
    state: WebhookDeliveryState = strawberry.field(description="DELIVERED, RETRYING (see nextRetryAt), FAILED "
                                                   "(nothing follows), or QUEUED / SENDING (a redelivery).")
    status_code: int | None = strawberry.field(description="The receiver's HTTP status (null: no answer).")
    duration_ms: int | None = strawberry.field(description="How long the attempt took, in milliseconds.")
    error: str | None = strawberry.field(description="Why it failed (a status, a timeout, a refused address…).")
    at: datetime = strawberry.field(description="When it was made (UTC).")
    next_retry_at: datetime | None = strawberry.field(description="When the next attempt at this event is due.")

    @strawberry.field(description="The event's type.")
    @staticmethod
    def event_type(row: strawberry.Parent[models.WebhookDelivery]) -> EventTypeName:
        return enums.EventType(row.event_type)

    @strawberry.field(description="The event's cursor (also when it has left the event log).")
    @staticmethod
    def event_cursor(row: strawberry.Parent[models.WebhookDelivery]) -> str:
        return str(row.event_id)

    @strawberry.field(description="The event (null once past the event log's retention).")
    @staticmethod
    async def event(row: strawberry.Parent[models.WebhookDelivery],
                    info: CtxInfo) -> Annotated["Event", strawberry.lazy("schema.events")] | None:
        return await event_resolvers.record_by_id(info, models.Event, row.event_id)

    @strawberry.field(description="The endpoint.")
    @staticmethod
    async def endpoint(row: strawberry.Parent[models.WebhookDelivery], info: CtxInfo) -> WebhookEndpoint | None:
        return cast(WebhookEndpoint | None, await event_resolvers.record_by_id(
            info, models.WebhookEndpoint, row.endpoint_id))


# ---------------------------------------------------------------- mutations


@strawberry.input(description="A new webhook endpoint (ADMIN): sent every event committed from now on.")
class CreateWebhookEndpointInput(IdempotentInput):
    url: str = strawberry.field(description="http(s) URL resolving to public addresses only; no credentials.")
    event_types: list[EventTypeName] | None = strawberry.field(
        default=None, description="Only events of these types; empty or null: every type.")
    description: str | None = strawberry.field(default=None, description="What receives them.")


@strawberry.input(description="Changes to an endpoint; fields left out stay as they are. They apply to the "
                  "events not sent yet.")
class UpdateWebhookEndpointInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The endpoint.")
    url: str | None = strawberry.field(default=strawberry.UNSET, description="A new URL (checked as when created).")
    event_types: list[EventTypeName] | None = strawberry.field(
        default=strawberry.UNSET, description="New event types; empty: every type.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="A new description.")


@strawberry.input(description="The endpoint to act on.")
class WebhookEndpointIdInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The endpoint.")


@strawberry.input(description="The endpoint to disable, and why.")
class DisableWebhookEndpointInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The endpoint.")
    reason: str | None = strawberry.field(default=None, description="Why (shown as its disabledReason).")


@strawberry.input(description="One event of the log to send once more to one endpoint.")
class RedeliverWebhookEventInput(IdempotentInput):
    endpoint_id: relay.GlobalID = strawberry.field(description="The endpoint.")
    event_id: relay.GlobalID = strawberry.field(description="The event (an `Event` id).")


@strawberry.type(description="The endpoint created or given a new secret, with the secret shown only here.")
class WebhookEndpointSecretPayload:
    secret: str | None = strawberry.field(description="The `whsec_…` signing secret. Store it now: it is never "
                                          "readable again (a retry with the same idempotency key answers null "
                                          "here).", metadata=SECRET)
    webhook_endpoint: WebhookEndpoint | None = strawberry.field(description="The endpoint, as saved.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.type(description="The endpoint, as saved.")
class WebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = strawberry.field(description="The endpoint, as saved.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.type(description="The redelivery, queued: follow it in webhookDeliveries.")
class RedeliverWebhookEventPayload:
    webhook_delivery: WebhookDelivery | None = strawberry.field(description="The attempt, QUEUED.")
    errors: list[UserError] = strawberry.field(description="Why nothing was queued.")


def _with_secret(result: tuple[tuple[str, models.WebhookEndpoint] | None, list]) -> WebhookEndpointSecretPayload:
    value, errors = result
    secret, endpoint = value if value else (None, None)
    return WebhookEndpointSecretPayload(secret=secret, webhook_endpoint=cast(WebhookEndpoint | None, endpoint),
                                        errors=errors)


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(description="Register a webhook endpoint (ADMIN); its signing secret is in the payload, "
                         "shown once.", permission_classes=AUTHENTICATED)
    async def create_webhook_endpoint(self, info: CtxInfo,
                                      input: CreateWebhookEndpointInput) -> WebhookEndpointSecretPayload:
        return _with_secret(await resolvers.create(info, input))

    @strawberry.mutation(description="Change a webhook endpoint's URL, event types or description (ADMIN).",
                         permission_classes=AUTHENTICATED)
    async def update_webhook_endpoint(self, info: CtxInfo, input: UpdateWebhookEndpointInput) -> WebhookEndpointPayload:
        return payload(WebhookEndpointPayload, "webhook_endpoint", await resolvers.update(info, input))

    @strawberry.mutation(description="Stop sending to a webhook endpoint (ADMIN).", permission_classes=AUTHENTICATED)
    async def disable_webhook_endpoint(self, info: CtxInfo,
                                       input: DisableWebhookEndpointInput) -> WebhookEndpointPayload:
        return payload(WebhookEndpointPayload, "webhook_endpoint", await resolvers.disable(info, input))

    @strawberry.mutation(description="Send to a disabled webhook endpoint again, from the event it stopped at "
                         "(ADMIN).", permission_classes=AUTHENTICATED)
    async def enable_webhook_endpoint(self, info: CtxInfo, input: WebhookEndpointIdInput) -> WebhookEndpointPayload:
        return payload(WebhookEndpointPayload, "webhook_endpoint", await resolvers.enable(info, input))

    @strawberry.mutation(description="Give a webhook endpoint a new signing secret, shown once (ADMIN); the old "
                         "one keeps signing beside it for BILLRUN_WEBHOOK_SECRET_GRACE_HOURS.",
                         permission_classes=AUTHENTICATED)
    async def rotate_webhook_endpoint_secret(self, info: CtxInfo,
                                             input: WebhookEndpointIdInput) -> WebhookEndpointSecretPayload:
        return _with_secret(await resolvers.rotate(info, input))

    @strawberry.mutation(description="Send one event again to one webhook endpoint (ADMIN): one attempt, logged "
                         "in its deliveries.", permission_classes=AUTHENTICATED)
    async def redeliver_webhook_event(self, info: CtxInfo,
                                      input: RedeliverWebhookEventInput) -> RedeliverWebhookEventPayload:
        return payload(RedeliverWebhookEventPayload, "webhook_delivery", await resolvers.redeliver(info, input))

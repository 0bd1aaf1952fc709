"""Webhook endpoints and their delivery log (docs/WEBHOOKS.md)."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from models._fields import created_at, nullable_text
from models.enums import WebhookDeliveryState

if TYPE_CHECKING:
    from models.access import User


class WebhookEndpoint(Model):
    """A URL an admin registered: every event of its types (all when none) is POSTed to it, signed, in cursor
    order. `cursor` is the last event it has (or needs not have): the next one sent is the first of its types
    after it. While an attempt fails, `failures` counts the attempts at that event and `retry_at` says when the
    next is due. A sender holds the endpoint through `lease_token` until `lease_until`, so one at a time sends."""

    id = fields.IntField(primary_key=True)
    url = fields.CharField(max_length=2000)
    description = fields.CharField(max_length=500, default="")
    event_types: fields.JSONField[list[str]] = fields.JSONField(default=list)
    # The signing secrets (`whsec_…`): the current one, and the one it replaced while its grace period lasts.
    secret = fields.CharField(max_length=100)
    previous_secret = fields.CharField(max_length=100, null=True)
    previous_secret_expires_at = fields.DatetimeField(null=True)
    enabled = fields.BooleanField(default=True)
    disabled_reason = nullable_text()
    disabled_at = fields.DatetimeField(null=True)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="webhook_endpoints", null=True, on_delete=fields.SET_NULL)
    created_by_id: int | None
    created_at = created_at()
    cursor = fields.BigIntField(default=0)
    failures = fields.IntField(default=0)
    retry_at = fields.DatetimeField(null=True)
    lease_token = fields.CharField(max_length=32, null=True)
    lease_until = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_endpoint"


class WebhookDelivery(Model):
    """One attempt at POSTing one event to one endpoint (or a redelivery waiting to be sent): the delivery log.
    The event is named by id only: the log outlives the event log's retention."""

    id = fields.BigIntField(primary_key=True)
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE)
    endpoint_id: int
    event_id = fields.BigIntField()
    event_type = fields.CharField(max_length=40)
    attempt = fields.IntField()
    redelivery = fields.BooleanField(default=False)
    state = fields.CharEnumField(WebhookDeliveryState, max_length=16)
    status_code = fields.IntField(null=True)
    duration_ms = fields.IntField(null=True)
    error = nullable_text()
    at = fields.DatetimeField()
    next_retry_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_delivery"
        indexes = (("endpoint_id", "id"),)

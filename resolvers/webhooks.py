"""Resolvers of webhooks: endpoints and their delivery log (ADMIN; absent for everyone else), and the mutations
that manage them, each one domain call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import models
from domain import webhooks
from resolvers.context import authenticated_viewer
from resolvers.inputs import decode_id, to_data
from resolvers.lists import by_id, page_of, scoped
from resolvers.mutations import perform
from resolvers.pagination import Page
from resolvers.relations import CtxInfo

if TYPE_CHECKING:
    from schema.webhooks import (
        CreateWebhookEndpointInput,
        DisableWebhookEndpointInput,
        RedeliverWebhookEventInput,
        UpdateWebhookEndpointInput,
        WebhookEndpointIdInput,
    )


async def endpoints(info: CtxInfo, window: dict[str, Any]) -> Page:
    return await page_of(info, scoped(info, models.WebhookEndpoint), ["-created_at"], window)


async def deliveries(info: CtxInfo, endpoint_id: Any, window: dict[str, Any]) -> Page:
    """An endpoint's attempts, newest first (nothing for an id of another type, or one hidden)."""
    query = by_id(scoped(info, models.WebhookDelivery), "endpoint_id", endpoint_id, "WebhookEndpoint")
    return await page_of(info, query, ["-id"], window)


def _endpoint_id(input: Any) -> int:
    return decode_id(input.id, "WebhookEndpoint", "id")


async def create(info: CtxInfo, input: CreateWebhookEndpointInput) -> Any:
    data = to_data(input)
    return await perform(lambda: webhooks.create_endpoint(
        authenticated_viewer(info), url=data["url"], event_types=[t.value for t in data.get("event_types") or []],
        description=data.get("description") or ""))


async def update(info: CtxInfo, input: UpdateWebhookEndpointInput) -> Any:
    async def run() -> Any:
        data = to_data(input, skip=("id",))
        if "event_types" in data:
            data["event_types"] = [t.value for t in data["event_types"]]
        return await webhooks.update_endpoint(authenticated_viewer(info), _endpoint_id(input), **data)
    return await perform(run)


async def disable(info: CtxInfo, input: DisableWebhookEndpointInput) -> Any:
    return await perform(lambda: webhooks.disable_endpoint(authenticated_viewer(info), _endpoint_id(input),
                                                           input.reason or ""))


async def enable(info: CtxInfo, input: WebhookEndpointIdInput) -> Any:
    return await perform(lambda: webhooks.enable_endpoint(authenticated_viewer(info), _endpoint_id(input)))


async def rotate(info: CtxInfo, input: WebhookEndpointIdInput) -> Any:
    return await perform(lambda: webhooks.rotate_secret(authenticated_viewer(info), _endpoint_id(input)))


async def redeliver(info: CtxInfo, input: RedeliverWebhookEventInput) -> Any:
    return await perform(lambda: webhooks.redeliver(
        authenticated_viewer(info), decode_id(input.endpoint_id, "WebhookEndpoint", "endpoint_id"),
        decode_id(input.event_id, "Event", "event_id")))

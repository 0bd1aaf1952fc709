"""Webhooks: the event stream POSTed, signed the Standard Webhooks 1.0 way, to endpoints an admin registers
(docs/WEBHOOKS.md).

- **Endpoints** are the company's, managed by ADMIN only, and carry company-wide events: every event of their
  types (all types when none), whatever account it is about (admins see every account).
- **One sender per endpoint at a time, in cursor order.** An endpoint keeps a cursor: the events up to it it has
  (or need not have: of other types). The dispatcher (`dispatch`, once per BILLRUN_WEBHOOK_POLL_SECONDS across
  every worker host) finds with one query the enabled endpoints that are behind the stream's head and not
  waiting for a retry, leases each one and sends one `deliver_webhooks` message per endpoint. The sender
  (`deliver`) takes the lease over from the message's token (a duplicate message finds it taken), then POSTs the
  first event of the endpoint's types after its cursor; a 2xx answer moves the cursor past it and the next is
  sent, anything else schedules the next attempt at that same event (BILLRUN_WEBHOOK_RETRY_SCHEDULE) and nothing
  after it is sent meanwhile. When the schedule is spent the endpoint is disabled, with a notification and a
  WEBHOOK_ENDPOINT_DISABLED event; enabling it again resumes at the event it failed on.
- **At least once:** a sender that dies between the POST and recording its answer leaves the lease to expire,
  and the event is sent again, with the same `webhook-id` (the event's global id) to de-duplicate on. A
  redelivery left SENDING so (its claim older than a lease) is queued again by the sweeper and sent again.
- **Destinations** must be http(s) and resolve only to public addresses (unless BILLRUN_WEBHOOK_ALLOW_PRIVATE):
  checked when an endpoint is saved and again before every POST, which connects to the very address that was
  checked (a host that resolves differently the second time cannot slip through). Redirects are not followed.
"""

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from tortoise.expressions import Q

import models
from billrun import metrics
from billrun.settings import get_settings
from domain import clock, events, faults, jobs, notifications, validation
from domain.access import Viewer, get_visible, require
from domain.errors import DomainError, ErrorCode
from domain.transactions import in_transaction
from models.enums import EventType, Permission, WebhookDeliveryState

QUEUE = "webhooks"
DISPATCH = "dispatch_webhooks"
DELIVER = "deliver_webhooks"
REDELIVER = "redeliver_webhook"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
EVENTS_PER_MESSAGE = 100  # then the sender lets go, and the next tick sends the rest
NOTIFICATION_KIND = "WEBHOOK_ENDPOINT_DISABLED"
USER_AGENT = "billrun-webhooks/1"
Delivery = WebhookDeliveryState


# ---------------------------------------------------------------- signing


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes them: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(signing_secrets: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per secret, space
    separated."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(base64.b64decode(secret.removeprefix(SECRET_PREFIX)), signed,
                                          hashlib.sha256).digest()).decode()
        for secret in signing_secrets)


def signing_secrets(endpoint: models.WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the one it replaced while that one's grace period lasts."""
    keys = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        keys.append(endpoint.previous_secret)
    return keys


# ---------------------------------------------------------------- the body: the GraphQL Event's shape


def global_id(type_name: str, pk: int) -> str:
    """A Relay global id, as the API writes them (base64 of `Type:id`)."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


# Payload keys as stored, named as the GraphQL payload types name them (docs/EVENTS.md): a `status` or `kind`
# takes the noun of what it is the status or kind of, an id becomes a link `{id}` to its node.
_STATUS_OF = {EventType.BATCH_CREATED: "batch", EventType.BATCH_STATUS_CHANGED: "batch",
              EventType.JOB_FINISHED: "job", EventType.BILLING_DISPOSITIONED: "billing",
              EventType.BILLINGS_MASS_DISPOSITIONED: "billing", EventType.BILLING_DELETED: "billing",
              EventType.PAYMENT_SETTLED: "payment", EventType.ACCOUNTING_PERIOD_CHANGED: "period"}
_KIND_OF = {EventType.JOB_QUEUED: "job", EventType.JOB_PROGRESS: "job", EventType.JOB_FINISHED: "job",
            EventType.FINDING_RESOLVED: "finding", EventType.NOTIFICATION_OPENED: "notification",
            EventType.NOTIFICATION_RESOLVED: "notification"}
_LINKS = {"finding_id": ("finding", "Finding"), "notification_id": ("notification", "Notification"),
          "payment_id": ("payment", "Payment"), "delivery_id": ("delivery", "Delivery"),
          "export_id": ("export", "Export"), "period_id": ("period", "AccountingPeriod"),
          "from_batch_id": ("fromBatch", "BillingBatch"), "to_batch_id": ("toBatch", "BillingBatch"),
          "endpoint_id": ("endpoint", "WebhookEndpoint")}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _link(type_name: str, pk: int | None) -> dict[str, str] | None:
    return {"id": global_id(type_name, pk)} if pk is not None else None


def payload_of(event: models.Event) -> dict[str, Any]:
    """The event's payload as the GraphQL `Event.payload` answers it with every field selected (links as
    `{id}`), `__typename` first."""
    kind = EventType(event.type)
    shaped: dict[str, Any] = {"__typename": "".join(part.title() for part in kind.value.split("_"))}
    for key, value in event.payload.items():
        if key in _LINKS:
            name, type_name = _LINKS[key]
            shaped[name] = _link(type_name, value)
        elif key in ("status", "previous_status") and kind in _STATUS_OF:
            noun = _STATUS_OF[kind]
            shaped[f"{noun}Status" if key == "status" else f"previous{noun.title()}Status"] = value
        elif key == "kind" and kind in _KIND_OF:
            shaped[f"{_KIND_OF[kind]}Kind"] = value
        else:
            shaped[_camel(key)] = value
    if kind is EventType.JOB_PROGRESS:
        total, done = event.payload["total"], event.payload["done"]
        shaped["percent"] = 100 if total <= 0 else done * 100 // total
    if kind is EventType.BILLING_DELETED and event.billing_id is not None:
        shaped["billingId"] = global_id("PeriodicBilling", event.billing_id)
    return shaped


def body_of(event: models.Event) -> bytes:
    """What is POSTed: the event as the GraphQL `Event` answers it (id, type, cursor, createdAt, its links as
    `{id}` and its payload). Links name records by id as the event recorded them (one may be gone since)."""
    return orjson.dumps({
        "id": global_id("Event", event.id), "type": event.type, "cursor": str(event.id),
        "createdAt": event.created_at.isoformat(), "batch": _link("BillingBatch", event.batch_id),
        "job": _link("Job", event.job_id), "billing": _link("PeriodicBilling", event.billing_id),
        "invoice": _link("Invoice", event.invoice_id), "payload": payload_of(event)})


# ---------------------------------------------------------------- destinations


MAX_URL_LENGTH = 2000
_REFUSED = (("is_loopback", "loopback"), ("is_link_local", "link-local"), ("is_multicast", "multicast"),
            ("is_unspecified", "unspecified"), ("is_private", "private"), ("is_reserved", "reserved"))


def _refused_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a webhook may not go to this address (None: it is a public one)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for attribute, kind in _REFUSED:
        if getattr(address, attribute):
            return kind
    return None if address.is_global else "non-public"


def parse_url(url: str) -> httpx.URL:
    """The URL of an endpoint, or INVALID_INPUT: http(s), a host, no credentials, at most 2,000 characters."""
    if not url.strip():
        raise DomainError(ErrorCode.INVALID_INPUT, "Give the endpoint's URL.", "url")
    if len(url) > MAX_URL_LENGTH:
        raise DomainError(ErrorCode.INVALID_INPUT, f"url is at most {MAX_URL_LENGTH} characters.", "url")
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError, TypeError):
        raise DomainError(ErrorCode.INVALID_INPUT, "This is not a URL.", "url") from None
    if parsed.scheme not in ("http", "https"):
        raise DomainError(ErrorCode.URL_NOT_ALLOWED, "Webhooks go to http:// or https:// URLs only.", "url")
    if not parsed.host:
        raise DomainError(ErrorCode.INVALID_INPUT, "The URL names no host.", "url")
    if parsed.userinfo:
        raise DomainError(ErrorCode.INVALID_INPUT, "Put no user name or password in the URL: check the "
                          "signature instead.", "url")
    return parsed


async def destination(url: str) -> tuple[httpx.URL, str]:
    """The endpoint's URL and the address to connect to: the first its host resolves to, every one of which must
    be public unless BILLRUN_WEBHOOK_ALLOW_PRIVATE. URL_NOT_ALLOWED otherwise, or when the host resolves to
    nothing."""
    parsed = parse_url(url)
    host = parsed.host
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(host, parsed.port or 443, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            raise DomainError(ErrorCode.URL_NOT_ALLOWED, f"{host} does not resolve ({error}).", "url") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
    if not addresses:
        raise DomainError(ErrorCode.URL_NOT_ALLOWED, f"{host} does not resolve.", "url")
    if not get_settings().webhook_allow_private:
        for address in addresses:
            if kind := _refused_kind(address):
                raise DomainError(ErrorCode.URL_NOT_ALLOWED, f"{host} resolves to a {kind} address ({address}): "
                                  "webhooks go to public addresses only.", "url")
    return parsed, str(addresses[0])


@dataclass(frozen=True)
class Outcome:
    """How one POST went: the answer's status (None: no answer) and, unless it was a 2xx, why it failed."""

    status_code: int | None
    duration_ms: int
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None

    @property
    def metric(self) -> str:
        """The `outcome` label of billrun_webhook_attempts_total."""
        if self.delivered:
            return "delivered"
        return "rejected" if self.status_code is not None else "unreachable"


async def post(url: str, message_id: str, body: bytes, keys: list[str]) -> Outcome:
    """POST `body` to `url`, signed with `keys`, connecting to the address just checked (the host's name still
    in `Host` and in TLS's SNI and certificate check). Never raises: every failure is an Outcome."""
    started = time.monotonic()

    def outcome(status: int | None, error: str | None) -> Outcome:
        return Outcome(status, int((time.monotonic() - started) * 1000), error[:500] if error else None)

    try:
        target, address = await destination(url)
    except DomainError as refusal:
        return outcome(None, "refused: " + refusal.problems[0].message)
    timestamp = int(time.time())
    headers = {"Host": target.netloc.decode("ascii"), "Content-Type": "application/json", "User-Agent": USER_AGENT,
               "webhook-id": message_id, "webhook-timestamp": str(timestamp),
               "webhook-signature": signature(keys, message_id, timestamp, body)}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    timeout = get_settings().webhook_timeout_seconds
    try:
        async with asyncio.timeout(timeout), httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, trust_env=False) as client, client.stream(
                "POST", target.copy_with(host=address), content=body, headers=headers,
                extensions=extensions) as response:
            status = response.status_code
    except (TimeoutError, httpx.TimeoutException):
        return outcome(None, f"no answer within {timeout:g} s")
    except httpx.HTTPError as error:
        return outcome(None, f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
    if 200 <= status < 300:
        return outcome(status, None)
    return outcome(status, f"answered {status}" + (" (redirects are not followed)" if 300 <= status < 400 else ""))


# ---------------------------------------------------------------- endpoints (ADMIN)


def _event_types(values: Iterable[str]) -> list[str]:
    return sorted({EventType(value).value for value in values})


def _check_description(description: str) -> str:
    validation.check_text(models.WebhookEndpoint, {"description": description.strip()})
    return description.strip()


async def _checked_url(url: str) -> str:
    await destination(url)
    return str(parse_url(url))


async def get_endpoint(viewer: Viewer, endpoint_id: int, field: str = "id") -> models.WebhookEndpoint:
    require(viewer, Permission.ADMIN)
    return await get_visible(viewer, models.WebhookEndpoint, endpoint_id, "Webhook endpoint", field)


async def create_endpoint(viewer: Viewer, *, url: str, event_types: Iterable[str] = (),
                          description: str = "") -> tuple[str, models.WebhookEndpoint]:
    """A new endpoint, sent the events committed from now on; returns its signing secret (shown once)."""
    require(viewer, Permission.ADMIN)
    checked, types, text = await _checked_url(url), _event_types(event_types), _check_description(description)
    secret = new_secret()
    endpoint = await models.WebhookEndpoint.create(url=checked, event_types=types, description=text, secret=secret,
                                                   created_by_id=viewer.user_id, cursor=await events.last_cursor())
    return secret, endpoint


async def update_endpoint(viewer: Viewer, endpoint_id: int, **changes: Any) -> models.WebhookEndpoint:
    """Change an endpoint's url, eventTypes or description (applies to the events not sent yet)."""
    endpoint = await get_endpoint(viewer, endpoint_id)
    values: dict[str, Any] = {}
    if "url" in changes:
        values["url"] = await _checked_url(changes["url"])
    if "event_types" in changes:
        values["event_types"] = _event_types(changes["event_types"])
    if "description" in changes:
        values["description"] = _check_description(changes["description"])
    if values:
        await models.WebhookEndpoint.filter(id=endpoint.id).update(**values)
    return await models.WebhookEndpoint.get(id=endpoint.id)


async def disable_endpoint(viewer: Viewer, endpoint_id: int, reason: str = "") -> models.WebhookEndpoint:
    """Stop sending to an endpoint (its cursor stays: enabling it resumes there)."""
    endpoint = await get_endpoint(viewer, endpoint_id)
    validation.check_text(models.WebhookEndpoint, {"disabled_reason": reason.strip()}, {"disabled_reason": "reason"})
    if not endpoint.enabled:
        raise DomainError(ErrorCode.INVALID_STATUS, "This endpoint is disabled already.", "id")
    await models.WebhookEndpoint.filter(id=endpoint.id).update(
        enabled=False, disabled_at=clock.now(), disabled_reason=reason.strip() or f"Disabled by {viewer.label}.")
    return await models.WebhookEndpoint.get(id=endpoint.id)


async def enable_endpoint(viewer: Viewer, endpoint_id: int) -> models.WebhookEndpoint:
    """Send to a disabled endpoint again, from the event it stopped at, its retries starting afresh."""
    endpoint = await get_endpoint(viewer, endpoint_id)
    if endpoint.enabled:
        raise DomainError(ErrorCode.INVALID_STATUS, "This endpoint is enabled already.", "id")
    await _checked_url(endpoint.url)  # the address may have moved since
    await models.WebhookEndpoint.filter(id=endpoint.id).update(enabled=True, disabled_at=None, disabled_reason=None,
                                                               failures=0, retry_at=None)
    return await models.WebhookEndpoint.get(id=endpoint.id)


async def rotate_secret(viewer: Viewer, endpoint_id: int) -> tuple[str, models.WebhookEndpoint]:
    """A new signing secret (returned, shown once); the current one keeps signing beside it for
    BILLRUN_WEBHOOK_SECRET_GRACE_HOURS."""
    endpoint = await get_endpoint(viewer, endpoint_id)
    secret = new_secret()
    grace = timedelta(hours=get_settings().webhook_secret_grace_hours)
    await models.WebhookEndpoint.filter(id=endpoint.id).update(
        secret=secret, previous_secret=endpoint.secret, previous_secret_expires_at=clock.now() + grace)
    return secret, await models.WebhookEndpoint.get(id=endpoint.id)


async def redeliver(viewer: Viewer, endpoint_id: int, event_id: int) -> models.WebhookDelivery:
    """Send one event of the log to an endpoint once more (whatever its types, even while it is disabled): one
    attempt, outside the endpoint's order, logged like the others."""
    endpoint = await get_endpoint(viewer, endpoint_id, "endpointId")
    event = await get_visible(viewer, models.Event, event_id, "Event", "eventId")
    previous = await models.WebhookDelivery.filter(endpoint_id=endpoint.id, event_id=event.id).count()
    async with in_transaction():
        delivery = await models.WebhookDelivery.create(
            endpoint_id=endpoint.id, event_id=event.id, event_type=event.type, attempt=previous + 1, redelivery=True,
            state=Delivery.QUEUED, at=clock.now())
    jobs.send(REDELIVER, queue=QUEUE, delivery_id=delivery.id)
    return delivery


# ---------------------------------------------------------------- sending


def _count(outcome: Outcome) -> None:
    """billrun_webhook_attempts_total by outcome; a delivered event also counts on the `webhook` channel."""
    metrics.webhook_attempt(outcome.metric)
    if outcome.delivered:
        metrics.event_delivered("webhook")


def _lease() -> timedelta:
    """How long a sender holds what it sends: an attempt's timeout and a margin (then it is taken as dead)."""
    settings = get_settings()
    return timedelta(seconds=settings.webhook_timeout_seconds + settings.webhook_lease_margin_seconds)


def _lease_until() -> datetime:
    return clock.now() + _lease()


def _free() -> Q:
    return Q(lease_until=None) | Q(lease_until__lt=clock.now())


async def dispatch() -> int:
    """Lease every enabled endpoint behind the stream's head and due (not waiting for a retry, no sender on it)
    and send each one message; returns how many were sent. Safe from several workers at once: a lease is taken
    by one of them."""
    head = await events.last_cursor()
    due = await models.WebhookEndpoint.filter(enabled=True, cursor__lt=head).filter(
        Q(retry_at=None) | Q(retry_at__lte=clock.now())).filter(_free()).values_list("id", flat=True)
    sent = 0
    for endpoint_id in due:
        token = secrets.token_hex(16)
        if await models.WebhookEndpoint.filter(id=endpoint_id).filter(_free()).update(
                lease_token=token, lease_until=_lease_until()):
            jobs.send(DELIVER, queue=QUEUE, endpoint_id=endpoint_id, token=token)
            sent += 1
    return sent


async def deliver(endpoint_id: int, token: str) -> None:
    """Send an endpoint its next events in order, one at a time, while they are delivered (at most
    EVENTS_PER_MESSAGE): the sender of the dispatcher's lease `token`. A message whose lease was taken over
    (a duplicate, or one that waited longer than its lease) does nothing."""
    mine = secrets.token_hex(16)
    if not await models.WebhookEndpoint.filter(id=endpoint_id, lease_token=token).update(
            lease_token=mine, lease_until=_lease_until()):
        return
    try:
        for _ in range(EVENTS_PER_MESSAGE):
            if not await _send_next(endpoint_id, mine):
                break
    finally:
        await models.WebhookEndpoint.filter(id=endpoint_id, lease_token=mine).update(lease_token=None,
                                                                                     lease_until=None)


async def _send_next(endpoint_id: int, lease: str) -> bool:
    """POST the endpoint's next event and record the attempt; True when it was delivered (go on)."""
    endpoint = await models.WebhookEndpoint.get_or_none(id=endpoint_id, lease_token=lease)
    if endpoint is None or not endpoint.enabled or (endpoint.retry_at is not None and endpoint.retry_at > clock.now()):
        return False
    head = await events.last_cursor()
    query = models.Event.filter(id__gt=endpoint.cursor, id__lte=head)
    if endpoint.event_types:
        query = query.filter(type__in=endpoint.event_types)
    event = await query.order_by("id").first()
    if event is None:  # nothing of its types up to the head: it has all it needs up to there
        await models.WebhookEndpoint.filter(id=endpoint.id, lease_token=lease).update(cursor=head)
        return False
    await models.WebhookEndpoint.filter(id=endpoint.id, lease_token=lease).update(lease_until=_lease_until())
    attempt = endpoint.failures + 1
    outcome = await post(endpoint.url, global_id("Event", event.id), body_of(event),
                         signing_secrets(endpoint, clock.now()))
    faults.checkpoint("webhook.posted")  # the receiver answered; nothing recorded yet
    at = clock.now()
    waits = get_settings().webhook_retry_waits
    if outcome.delivered:
        state, retry_at, changes = Delivery.DELIVERED, None, {"cursor": event.id, "failures": 0, "retry_at": None}
    elif attempt <= len(waits):
        retry_at = at + timedelta(seconds=waits[attempt - 1])
        state, changes = Delivery.RETRYING, {"failures": attempt, "retry_at": retry_at}
    else:
        state, retry_at = Delivery.FAILED, None
        changes = {"enabled": False, "disabled_at": at, "failures": 0, "retry_at": None,
                   "disabled_reason": f"Disabled after {attempt} failed attempts at event {event.id}: "
                                      f"{outcome.error}"}
    async with in_transaction():
        delivery = await models.WebhookDelivery.create(
            endpoint_id=endpoint.id, event_id=event.id, event_type=event.type, attempt=attempt, state=state,
            status_code=outcome.status_code, duration_ms=outcome.duration_ms, error=outcome.error, at=at,
            next_retry_at=retry_at)
        kept = await models.WebhookEndpoint.filter(id=endpoint.id, lease_token=lease).update(**changes)
        if kept and state is Delivery.FAILED:
            await _disabled(endpoint, delivery, changes["disabled_reason"])
    _count(outcome)
    return outcome.delivered and bool(kept)


async def _disabled(endpoint: models.WebhookEndpoint, delivery: models.WebhookDelivery, reason: str) -> None:
    """The endpoint was disabled after persistent failure: a notification and an event say so (with it)."""
    host = parse_url(endpoint.url).host
    await notifications.raise_once(None, NOTIFICATION_KIND, f"Webhook endpoint #{endpoint.id} ({host}) was "
                                   f"disabled. {reason} Fix the receiver, then enable it again: it resumes at "
                                   "that event.", f"webhook-disabled:{delivery.id}")
    await events.webhook_endpoint_disabled(endpoint.id, reason)


async def requeue_stuck_redeliveries() -> int:
    """Redeliveries claimed SENDING longer ago than a sender's lease (its worker died between the claim and
    recording the answer): QUEUED again and sent another message, so the event is POSTed again with the same
    `webhook-id` (at least once; the sweeper's part). Returns how many; safe from several workers at once."""
    stale = clock.now() - _lease()
    stuck = await models.WebhookDelivery.filter(state=Delivery.SENDING, at__lt=stale).values_list("id", flat=True)
    requeued = 0
    for delivery_id in stuck:
        if await models.WebhookDelivery.filter(id=delivery_id, state=Delivery.SENDING, at__lt=stale).update(
                state=Delivery.QUEUED, at=clock.now()):
            jobs.send(REDELIVER, queue=QUEUE, delivery_id=delivery_id)
            requeued += 1
    return requeued


async def redeliver_one(delivery_id: int) -> None:
    """Send a queued redelivery (once: a duplicate message finds it claimed)."""
    if not await models.WebhookDelivery.filter(id=delivery_id, state=Delivery.QUEUED).update(
            state=Delivery.SENDING, at=clock.now()):
        return
    delivery = await models.WebhookDelivery.get(id=delivery_id).prefetch_related("endpoint")
    event = await models.Event.get_or_none(id=delivery.event_id)
    if event is None:
        outcome = Outcome(None, 0, "The event is no longer in the event log (BILLRUN_EVENT_RETENTION_DAYS).")
    else:
        outcome = await post(delivery.endpoint.url, global_id("Event", event.id), body_of(event),
                             signing_secrets(delivery.endpoint, clock.now()))
        faults.checkpoint("webhook.redelivery.posted")  # the receiver answered; nothing recorded yet
    await models.WebhookDelivery.filter(id=delivery_id).update(
        state=Delivery.DELIVERED if outcome.delivered else Delivery.FAILED, status_code=outcome.status_code,
        duration_ms=outcome.duration_ms, error=outcome.error, at=clock.now())
    _count(outcome)

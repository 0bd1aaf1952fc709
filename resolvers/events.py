"""Resolvers of the event stream: the event log (`events`, `BillingBatch.events`) and the links of events and of
their payloads, every one through the viewer's scope."""

import re
from collections.abc import AsyncGenerator
from typing import Any

from graphql import GraphQLError
from strawberry import relay
from tortoise.models import Model
from tortoise.queryset import QuerySet

import models
from billrun import fanout
from billrun.hub import Hub, Interest, replay
from billrun.settings import get_settings
from models.enums import EventType, JobStatus
from resolvers.dataloaders import Loaders
from resolvers.inputs import filter_id
from resolvers.lists import scoped
from resolvers.pagination import DEFAULT_PAGE_SIZE, BadRequest, Page
from resolvers.relations import CtxInfo

_CURSOR = re.compile(r"[0-9]{1,18}")
JOB_TYPES = frozenset({EventType.JOB_QUEUED.value, EventType.JOB_PROGRESS.value, EventType.JOB_FINISHED.value})


def parse_cursor(cursor: str | None, argument: str = "after") -> int | None:
    """An event cursor given back by a client (None when not given); anything else is a bad request."""
    if cursor is None:
        return None
    if not isinstance(cursor, str) or not _CURSOR.fullmatch(cursor):
        raise BadRequest(f"Invalid `{argument}` cursor {str(cursor)[:40]!r}: pass an event's `cursor`.")
    return int(cursor)


def cursor_of(event: models.Event) -> str:
    return str(event.id)


def _set(obj: Any, name: str) -> Any:
    value = getattr(obj, name, None) if obj is not None else None
    return None if value is None or value.__class__.__name__ == "UnsetType" else value


def filtered(info: CtxInfo, filter: Any, batch_id: int | None = None) -> QuerySet:
    """The viewer's events narrowed by an `EventFilter` (an id of another type matches nothing)."""
    query = scoped(info, models.Event)
    if batch_id is not None:
        query = query.filter(batch_id=batch_id)
    for name, type_name in (("batch_id", "BillingBatch"), ("job_id", "Job"), ("billing_id", "PeriodicBilling"),
                            ("invoice_id", "Invoice")):
        if (value := _set(filter, name)) is not None:
            pk = filter_id(value, type_name)
            query = query.filter(**{name: pk}) if pk is not None else query.filter(id__in=[])
    if types := _set(filter, "types"):
        query = query.filter(type__in=[t.value for t in types])
    if (since := _set(filter, "created_from")) is not None:
        query = query.filter(created_at__gte=since)
    if (until := _set(filter, "created_to")) is not None:
        query = query.filter(created_at__lte=until)
    return query


async def page(query: QuerySet, newest_first: bool, *, first: int | None, after: str | None, last: int | None,
               before: str | None) -> Page:
    """One page of events in cursor order (oldest first, or newest first), keyset on the cursor."""
    limit = get_settings().max_page_size
    if first is not None and last is not None:
        raise BadRequest("Pass either `first` or `last`, not both.")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= limit:
            raise BadRequest(f"`{name}` must be between 0 and {limit}.")
    after_id, before_id = parse_cursor(after, "after"), parse_cursor(before, "before")
    total = await query.count()
    later, earlier = ("lt", "gt") if newest_first else ("gt", "lt")
    if after_id is not None:
        query = query.filter(**{f"id__{later}": after_id})
    if before_id is not None:
        query = query.filter(**{f"id__{earlier}": before_id})
    backward = last is not None
    size = last if last is not None else (first if first is not None else DEFAULT_PAGE_SIZE)
    descending = newest_first != backward
    rows = list(await query.order_by("-id" if descending else "id").limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()
    return Page(rows=rows, cursors=[cursor_of(r) for r in rows], total_count=total,
                has_next=more if not backward else before is not None,
                has_previous=more if backward else after is not None)


async def events_page(info: CtxInfo, filter: Any, newest_first: bool, window: dict[str, Any],
                      batch_id: int | None = None) -> Page:
    return await page(filtered(info, filter, batch_id), newest_first, **window)


async def record_by_id(info: CtxInfo, model: type[Model], pk: int | None) -> Any:
    """A record an event names, through the viewer's scope (null when absent or hidden)."""
    if pk is None:
        return None
    found = await info.context.loaders.items_by_parent_id(model, "id").load(pk)
    return found[0] if found else None


async def batch_by_id(info: CtxInfo, pk: int | None) -> Any:
    return None if pk is None else await info.context.loaders.batch_by_id.load(pk)



# ---------------------------------------------------------------- subscriptions


class SubscriptionRefused(GraphQLError):
    """A subscription that cannot start (an unknown or hidden batch or job): the client's mistake, not a bug."""

    def __init__(self, message: str, code: str = "NOT_FOUND") -> None:
        super().__init__(message, extensions={"code": code})


async def _visible_or_refuse(info: CtxInfo, model: type[Model], gid: relay.GlobalID, type_name: str,
                             what: str) -> Any:
    pk = filter_id(gid, type_name)
    row = await scoped(info, model).get_or_none(id=pk) if pk is not None else None
    if row is None:
        raise SubscriptionRefused(f"No {what} with this id (or it is hidden from you).")
    return row


async def _live(info: CtxInfo, interest: Interest, after: int | None,
                final_type: EventType | None = None) -> AsyncGenerator[models.Event, None]:
    """The stream of a subscription through this process's hub; with `final_type`, it completes after the first
    event of that type."""
    viewer = info.context.viewer
    assert viewer is not None

    def fresh() -> None:
        info.context.loaders = Loaders(viewer)  # links read fresh for each event, not from the socket's start

    # Over our WebSockets the stream writes each event's shared frame itself (billrun/fanout.py); an event whose
    # result has errors, or a stream outside a WebSocket, goes through Strawberry's per-operation path.
    fast = fanout.fast_operation(fresh)
    hub = await Hub.running()
    # While it is caught up, the hub writes its frames itself, without waking this task (billrun/hub.py).
    subscriber = hub.subscribe(viewer, interest, direct=fast, final_type=final_type.value if final_type else None)
    try:
        async for event in subscriber.events(after):
            try:
                delivered = fast is not None and await fast.deliver(event)
            except fanout.SocketGone:
                return
            if not delivered:
                fresh()
                yield event
            if final_type is not None and event.type == final_type.value:
                return
    finally:
        hub.unsubscribe(subscriber)


async def _log_only(info: CtxInfo, interest: Interest, after: int) -> AsyncGenerator[models.Event, None]:
    viewer = info.context.viewer
    assert viewer is not None
    while page := await replay(viewer, interest, after):
        for event in page:
            after = event.id
            info.context.loaders = Loaders(viewer)
            yield event


def _types(types: list[Any] | None) -> frozenset[str] | None:
    return frozenset(t.value for t in types) if types else None


async def batch_events(info: CtxInfo, batch_id: relay.GlobalID, after: str | None) -> AsyncGenerator:
    batch = await _visible_or_refuse(info, models.BillingBatch, batch_id, "BillingBatch", "billing batch")
    return _live(info, Interest(batch_id=batch.id), parse_cursor(after))


async def job_progress(info: CtxInfo, job_id: relay.GlobalID) -> AsyncGenerator:
    job = await _visible_or_refuse(info, models.Job, job_id, "Job", "job")
    interest = Interest(job_id=job.id, types=JOB_TYPES)
    if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED) and not await models.Event.filter(
            job_id=job.id, type=EventType.JOB_FINISHED.value).exists():
        return _log_only(info, interest, 0)  # finished before the log's retention: what is left, then complete
    return _live(info, interest, 0, final_type=EventType.JOB_FINISHED)


async def all_events(info: CtxInfo, after: str | None, types: list[Any] | None) -> AsyncGenerator:
    return _live(info, Interest(types=_types(types)), parse_cursor(after))

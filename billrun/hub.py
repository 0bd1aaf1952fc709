"""The subscription hub of an API process: one reader of the event log that fans new events out to the process's
subscribers, and the keeper of its authenticated WebSockets.

- **One Redis subscription per process** (created inside the running loop, closed with `aclose()`) wakes the hub
  when another process commits events; this process's own commits wake it directly (`billrun.wakeups`), and so
  does a poll timer (BILLRUN_EVENTS_POLL_SECONDS), since pub/sub may lose a message. On the embedded default
  there is no Redis: the in-process wake-ups and the timer do it all.
- Woken, the hub reads the events after its cursor from the database **once**, works out visibility once per
  distinct viewer for that batch of events (which of their accounts each may see), and hands each subscriber the
  events it asked for and may see. A subscriber that is caught up gets its shared frame written by the hub, in
  the hub's turn, without its task being woken (`Subscriber.write`; billrun/fanout.py).
- **Resuming without a gap or a duplicate:** a subscriber registers first (from then on the hub hands it every
  new event, which it buffers), then replays what it missed from the log, then drains its buffer, skipping what
  the replay already gave. A subscriber whose buffer overflows (BILLRUN_SUBSCRIBER_BUFFER), or that registered
  while the hub was between reading and handing out, catches up from the log again the same way: the log, in
  commit order, is the truth; the hub only saves reading it per subscriber.
- Every BILLRUN_WS_REAUTH_SECONDS the hub checks the tokens of its open WebSockets in one query: a socket whose
  token was revoked or expired, or whose user was deactivated, is closed with 4403; a change of permissions
  applies to its subscriptions at once.
"""

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

import models
from billrun import fanout, live_metrics, wakeups
from billrun.settings import get_settings
from domain import auth, events
from domain.access import Viewer, sees_all_accounts, visible
from models.enums import Permission
from models.rows import values_rows

log = logging.getLogger("billrun.hub")

READ_PAGE = 1000  # events read from the log at once
FORBIDDEN = 4403
TOKEN_GONE = "The token of this connection was revoked or has expired."


@dataclass(frozen=True)
class Interest:
    """Which events a subscriber asked for: of one batch, of one job, of some types (None: any)."""

    batch_id: int | None = None
    job_id: int | None = None
    types: frozenset[str] | None = None

    def matches(self, event: models.Event) -> bool:
        return ((self.batch_id is None or event.batch_id == self.batch_id)
                and (self.job_id is None or event.job_id == self.job_id)
                and (self.types is None or event.type in self.types))

    def narrow(self, query: Any) -> Any:
        """The same condition on a query of the log."""
        if self.batch_id is not None:
            query = query.filter(batch_id=self.batch_id)
        if self.job_id is not None:
            query = query.filter(job_id=self.job_id)
        if self.types is not None:
            query = query.filter(type__in=sorted(self.types))
        return query


async def replay(viewer: Viewer, interest: Interest, after: int, limit: int = READ_PAGE) -> list[Any]:
    """The next events of the log after cursor `after` that `viewer` may see and asked for, in cursor order, as
    rows read as values (`models.rows.Row`s of `models.Event`: the same attributes, no model instances)."""
    query = interest.narrow(visible(viewer, models.Event).filter(id__gt=after))
    return await values_rows(query.order_by("id").limit(limit))


class Subscriber:
    """One subscription: what it asked for, for whom, and the live events handed to it and not yet taken.

    With `direct` (its fast path over one of our WebSockets), the hub writes an event's shared frame itself while
    the subscription is caught up — its task waiting for events, nothing handed and not taken, no catch-up from
    the log due — instead of waking the task: the frame goes to the socket's outbox in the same order the task
    would have written it, and the task is not woken at all (`write`). Anything else is handed to the task."""

    def __init__(self, viewer: Viewer, interest: Interest, start: int, limit: int,
                 direct: "fanout.FastOperation | None" = None, final_type: str | None = None) -> None:
        self.viewer = viewer
        self.interest = interest
        self.start = start  # the hub hands this subscriber every event after this cursor
        self.limit = limit
        self.pending: deque[models.Event] = deque()
        self.catch_up = False  # the buffer cannot be trusted: read the log from the last cursor taken
        self.ready = asyncio.Event()
        self.direct = direct
        self.final_type = final_type  # the event that ends the subscription: always its task's to deliver
        self.task = asyncio.current_task() if direct is not None else None
        self.last = start  # the cursor of the last event it delivered (or skipped as delivered already)
        self.parked = False  # its task waits for events
        self.active = True
        self._key: tuple[frozenset, tuple] | None = None  # its viewer's permissions and `_viewer_key` of them

    def viewer_key(self) -> tuple:
        """`_viewer_key` of its viewer, made again only when the viewer's permissions change (a token re-check):
        the hub asks once per subscriber and page of events."""
        viewer = self.viewer
        cached = self._key
        if cached is None or cached[0] is not viewer.permissions:
            cached = self._key = (viewer.permissions, _viewer_key(viewer))
        return cached[1]

    def hand(self, event: models.Event) -> None:
        if self.catch_up:
            return  # the log has it, and the catch-up reads it
        if len(self.pending) >= self.limit:
            self.pending.clear()
            self.catch_up = True
        else:
            self.pending.append(event)
        self.ready.set()

    def lose_track(self) -> None:
        self.pending.clear()
        self.catch_up = True
        self.ready.set()

    @property
    def caught_up(self) -> bool:
        """The hub may write this subscription's next frame itself (see the class's docstring)."""
        task = self.task
        return (self.parked and self.active and not self.pending and not self.catch_up and task is not None
                and not task.done() and not task.cancelling())

    def write(self, event: models.Event, shared: "fanout.Shared | None") -> bool:
        """Deliver `event` now, on the hub's turn, when caught up and its shared frame is ready and has no
        errors; False when it must be handed to the task instead."""
        if shared is None or not self.caught_up:
            return False
        if event.id <= self.last:
            return True  # its replay from the log gave it already
        if event.type == self.final_type:
            return False
        payload = shared.payload()
        if payload is None:
            return False
        assert self.direct is not None
        if not self.direct.sink.offer(payload):
            return False  # no room (the task waits for it, and the 1013 rule), or the socket is gone
        self.last = event.id
        return True

    async def events(self, after: int | None) -> AsyncIterator[models.Event]:
        """Every event it may see and asked for after cursor `after` (None: from its registration), in cursor
        order, each once, for as long as it is iterated."""
        self.last = self.start if after is None else after
        self.catch_up = self.catch_up or after is not None
        while True:
            if self.catch_up:
                self.catch_up = False  # before reading: what is handed from now on is buffered
                while True:
                    page = await replay(self.viewer, self.interest, self.last)
                    for event in page:
                        self.last = event.id
                        yield event
                    if len(page) < READ_PAGE:
                        break
            while self.pending and not self.catch_up:
                event = self.pending.popleft()
                if event.id > self.last:
                    self.last = event.id
                    yield event
            self.ready.clear()
            if not self.pending and not self.catch_up:
                self.parked = True
                try:
                    await self.ready.wait()
                finally:
                    self.parked = False


@dataclass
class _Socket:
    context: Any  # resolvers.context.Context: its viewer and its WebSocket


class Hub:
    """See the module's docstring. One per event loop that serves subscriptions (`Hub.running()`)."""

    def __init__(self) -> None:
        self.settings = get_settings()
        self.cursor = 0
        self.subscribers: set[Subscriber] = set()
        self._by_batch: dict[int, set[Subscriber]] = defaultdict(set)
        self._by_job: dict[int, set[Subscriber]] = defaultdict(set)
        self._anywhere: set[Subscriber] = set()
        self._sockets: dict[int, _Socket] = {}
        self._moving = False  # between reading the log and handing out what was read
        self._woken = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._tasks: list[asyncio.Task] = []

    # ------------------------------------------------------------ life

    async def start(self) -> None:
        self.cursor = await events.last_cursor()
        wakeups.listen(self.wake)
        self._tasks = [self._loop.create_task(self._read_forever(), name="billrun-hub-reader"),
                       self._loop.create_task(self._reauth_forever(), name="billrun-hub-reauth")]
        if self.settings.redis_url:
            self._tasks.append(self._loop.create_task(self._listen_forever(), name="billrun-hub-pubsub"))

    async def stop(self) -> None:
        wakeups.unlisten(self.wake)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    @classmethod
    async def running(cls) -> "Hub":
        """This event loop's hub, started on first use if the app's lifespan did not start one."""
        loop = asyncio.get_running_loop()
        hub = _hubs.get(loop)
        if hub is None:
            hub = _hubs[loop] = cls()
            await hub.start()
        return hub

    @classmethod
    def of_this_loop(cls) -> "Hub | None":
        return _hubs.get(asyncio.get_running_loop())

    def wake(self, cursor: int) -> None:
        """Events up to `cursor` are committed (callable from any thread)."""
        if self._loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            if cursor > self.cursor:
                self._woken.set()
        else:
            self._loop.call_soon_threadsafe(self.wake, cursor)

    # ------------------------------------------------------------ subscribers

    def subscribe(self, viewer: Viewer, interest: Interest, direct: "fanout.FastOperation | None" = None,
                  final_type: str | None = None) -> Subscriber:
        """Register a subscriber (with `direct`, the hub writes its frames itself while it is caught up)."""
        subscriber = Subscriber(viewer, interest, self.cursor, self.settings.subscriber_buffer, direct, final_type)
        if self._moving:  # the batch being handed out may miss it: it reads the log itself
            subscriber.catch_up = True
        self.subscribers.add(subscriber)
        self._index(subscriber).add(subscriber)
        live_metrics.subscription_opened()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscriber.active = False
        if subscriber in self.subscribers:
            self.subscribers.discard(subscriber)
            self._index(subscriber).discard(subscriber)
            live_metrics.subscription_closed()

    def _index(self, subscriber: Subscriber) -> set[Subscriber]:
        if subscriber.interest.batch_id is not None:
            return self._by_batch[subscriber.interest.batch_id]
        if subscriber.interest.job_id is not None:
            return self._by_job[subscriber.interest.job_id]
        return self._anywhere

    # ------------------------------------------------------------ reading the log

    async def _read_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.settings.events_poll_seconds)
            self._woken.clear()
            try:
                await self.read_new()
            except Exception:  # the database away for a moment: the next tick tries again
                log.warning("the subscription hub could not read the event log", exc_info=True)

    async def read_new(self) -> None:
        """Read what was committed after the hub's cursor and hand it out."""
        self._moving = True
        try:
            if not self.subscribers:  # nobody to hand anything to: just follow the head
                self.cursor = await events.last_cursor()
                return
            while True:
                batch = await events.after(self.cursor, READ_PAGE)
                if not batch:
                    return
                await self._hand_out(batch)
                self.cursor = batch[-1].id
                if len(batch) < READ_PAGE:
                    return
        finally:
            self._moving = False

    async def _hand_out(self, batch: list[models.Event]) -> None:
        viewers: dict[tuple, Viewer] = {}
        key_of: dict[Subscriber, tuple] = {}
        for subscriber in self.subscribers:  # each subscriber's viewer key once per page, not once per event
            viewer_key = key_of[subscriber] = subscriber.viewer_key()
            viewers.setdefault(viewer_key, subscriber.viewer)
        seen = await _visibility(batch, viewers.values())
        # Which accounts each subscriber may see, looked up once per subscriber for the page; None for one that
        # registered meanwhile (and reads the log) or whose permissions changed while the page was read.
        allowed_of = {s: seen.get(key_of[s]) if s in key_of and s.viewer_key() is key_of[s] else None
                      for s in self.subscribers}
        # Subscribers that share results form a group (operation, viewer's scope): worked out once per batch of
        # events, so a delivery costs an index, not a key.
        group_of: dict[Subscriber, int] = {}
        groups: dict[tuple, int] = {}
        keys: list[tuple] = []  # each group's key
        plan: list[tuple[models.Event, list[tuple[Subscriber, int]]]] = []
        handed = 0
        for event in batch:
            targets = set(self._anywhere)
            if event.batch_id is not None:
                targets |= self._by_batch.get(event.batch_id, set())
            if event.job_id is not None:
                targets |= self._by_job.get(event.job_id, set())
            receivers: list[tuple[Subscriber, int]] = []
            for subscriber in targets:
                allowed = allowed_of.get(subscriber)
                if allowed is None:  # registered meanwhile (and reading the log), or its permissions changed
                    subscriber.lose_track()
                elif subscriber.interest.matches(event) and (event.account_id is None or allowed(event.account_id)):
                    group = group_of.get(subscriber)
                    if group is None:
                        key = subscriber.direct.executor.group_key() if subscriber.direct is not None else None
                        group = -1 if key is None else groups.setdefault(key, len(groups))
                        if group == len(keys):
                            keys.append(key)  # type: ignore[arg-type]  # a new group has a key
                        group_of[subscriber] = group
                    receivers.append((subscriber, group))
            plan.append((event, receivers))
            handed += len(receivers)
        shared = await self._shared_frames(plan, keys)
        for (event, receivers), frames in zip(plan, shared, strict=True):
            for subscriber, group in receivers:
                if not subscriber.write(event, frames[group] if group >= 0 else None):
                    subscriber.hand(event)
        live_metrics.events_delivered(handed)

    async def _shared_frames(self, plan: list[tuple[models.Event, list[tuple[Subscriber, int]]]],
                             keys: list[tuple]) -> list[list["fanout.Shared | None"]]:
        """Per event of `plan`, per group, the shared execution its caught-up subscribers need (one per operation,
        viewer's scope and event), started here and awaited together; a subscriber not caught up takes its event
        through its task."""
        found: list[list[fanout.Shared | None]] = []
        waiting: list[asyncio.Future] = []
        for event, receivers in plan:
            slots: list[fanout.Shared | None] = [None] * len(keys)
            for subscriber, group in receivers:
                if group < 0 or slots[group] is not None or not subscriber.caught_up:
                    continue
                direct = subscriber.direct  # the first caught-up subscriber of the group executes for all
                assert direct is not None
                try:
                    shared = slots[group] = direct.shared(event, (*keys[group], event.id))
                except Exception:  # its task's path reports it, as for any result
                    log.debug("a shared execution could not start", exc_info=True)
                    continue
                if not shared.future.done():
                    waiting.append(shared.future)
            found.append(slots)
        if waiting:
            await asyncio.wait(waiting)
        return found

    # ------------------------------------------------------------ Redis

    async def _listen_forever(self) -> None:
        """One pub/sub subscription for the whole process, re-made if Redis goes away."""
        assert self.settings.redis_url
        while True:
            client = aioredis.Redis.from_url(self.settings.redis_url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.settings.events_channel_name)
                self._woken.set()  # whatever was announced while not subscribed
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        with contextlib.suppress(ValueError, TypeError):
                            self.wake(int(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("event wake-ups from Redis interrupted (%s); polling meanwhile", error)
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py's PubSub.aclose is unannotated
                with contextlib.suppress(Exception):
                    await client.aclose()

    # ------------------------------------------------------------ sockets and their tokens

    def track(self, context: Any) -> None:
        """An acknowledged WebSocket: its token is checked again every BILLRUN_WS_REAUTH_SECONDS."""
        self._sockets[id(context)] = _Socket(context)

    def forget(self, context: Any) -> None:
        self._sockets.pop(id(context), None)

    async def _reauth_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ws_reauth_seconds)
            try:
                await self.recheck_tokens()
            except Exception:
                log.warning("the subscription hub could not check its sockets' tokens", exc_info=True)

    async def recheck_tokens(self) -> None:
        """Close the sockets whose token no longer authenticates (4403); refresh the others' permissions."""
        sockets = [s for s in self._sockets.values() if s.context.viewer is not None]
        if not sockets:
            return
        current = await auth.viewers_of_tokens({s.context.viewer.token_id for s in sockets})
        for socket in sockets:
            viewer = socket.context.viewer
            fresh = current.get(viewer.token_id)
            if fresh is None:
                self.forget(socket.context)
                await _close(socket.context.connection)
            elif fresh.permissions != viewer.permissions:
                viewer.permissions = fresh.permissions


def _viewer_key(viewer: Viewer) -> tuple:
    return viewer.user_id, viewer.permissions


async def _visibility(batch: list[models.Event], viewers: Iterable[Viewer]) -> dict[tuple, Any]:
    """For each distinct viewer, which accounts named in `batch` it may see: one query for the accounts, and one
    per viewer who is neither an admin nor denied everything, and only when a restricted account is named."""
    account_ids = {e.account_id for e in batch if e.account_id is not None}
    known: dict[int, bool] = {}
    if account_ids:
        known = dict(await models.Account.filter(id__in=list(account_ids)).values_list("id", "restricted"))
    restricted = [a for a, hidden in known.items() if hidden]
    open_ids = {a for a, hidden in known.items() if not hidden}
    found: dict[tuple, Any] = {}
    for viewer in viewers:
        key = _viewer_key(viewer)
        if not viewer.can(Permission.BILLING_ACCESS):
            found[key] = lambda account_id: False
        elif sees_all_accounts(viewer):
            found[key] = lambda account_id: True
        else:
            granted = set(await visible(viewer, models.Account).filter(id__in=restricted).values_list(
                "id", flat=True)) if restricted else set()
            allowed = frozenset(open_ids | granted)
            found[key] = allowed.__contains__
    return found


async def _close(websocket: Any) -> None:
    with contextlib.suppress(Exception):  # closed already
        await websocket.close(code=FORBIDDEN, reason=TOKEN_GONE)


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


async def start() -> Hub:
    """Start this event loop's hub (the app's lifespan)."""
    return await Hub.running()


async def stop() -> None:
    """Stop this event loop's hub, if one runs."""
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()

"""The root Subscription: the event stream, live, over WebSocket (graphql-transport-ws and the legacy graphql-ws),
with the token in `connection_init` (docs/EVENTS.md)."""

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from graphql import ExecutionResult, OperationType
from strawberry import relay

import models
from billrun import fanout
from billrun.settings import get_settings
from models.rows import Row
from resolvers import events
from resolvers.relations import CtxInfo
from schema import compiled_plans
from schema.events import Event, EventType
from schema.limits import SuggestionFreeExecutor
from schema.permissions import AUTHENTICATED

AFTER_DOC = ("Resume after this cursor: what came since is replayed from the event log, in order, then live events "
             "follow, none missed and none twice. Omitted: from now on.")


@strawberry.type(description="Live events, each as it is committed, in cursor order; the same visibility as the "
                 "event log (events about accounts hidden from the viewer never arrive).")
class Subscription:
    @strawberry.subscription(description="The events of one batch (an error for an unknown batch). " + AFTER_DOC,
                             permission_classes=AUTHENTICATED)
    async def billing_batch_events(self, info: CtxInfo, batch_id: relay.GlobalID,
                                   after: str | None = None) -> AsyncGenerator[Event, None]:
        return await events.batch_events(info, batch_id, after)

    @strawberry.subscription(description="A job's JOB_QUEUED, JOB_PROGRESS and JOB_FINISHED events, from its "
                             "first; completes after JOB_FINISHED (at once for a job finished already).",
                             permission_classes=AUTHENTICATED)
    async def job_progress(self, info: CtxInfo, job_id: relay.GlobalID) -> AsyncGenerator[Event, None]:
        return await events.job_progress(info, job_id)

    @strawberry.subscription(description="Every event the viewer may see, or only those of `types`. " + AFTER_DOC,
                             permission_classes=AUTHENTICATED)
    async def events(self, info: CtxInfo, after: str | None = None,
                     types: list[EventType] | None = None) -> AsyncGenerator[Event, None]:
        return await events.all_events(info, after, types)


# ---------------------------------------------------------------- one execution per event, shared


def is_event(value: Any) -> bool:
    """An event of the log, as a model instance or as a row read as values (the replay's, billrun/hub.py)."""
    return isinstance(value, models.Event) or (isinstance(value, Row) and value.model is models.Event)


class SharedEventExecutor(SuggestionFreeExecutor):
    """The schema's executor. For subscriptions, an event's result is computed once per distinct operation and
    viewer and handed to every subscriber asking the same (1,000 subscribers of a batch cost one execution per
    event, not 1,000): billrun/fanout.py keeps the shared results, and over our WebSockets also their
    serialized payload. The operation (its text, name and variables) and the viewer (user and permissions, which
    is all the scope depends on) make the key, with the event's cursor."""

    _operation_key: tuple | None = None

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        executor = super().build(*args, **kwargs)
        if isinstance(executor, SharedEventExecutor) and executor.operation.operation == OperationType.SUBSCRIPTION:
            executor._operation_key = executor._key_of_operation()
            fanout.EXECUTOR.set(executor)  # the operation's task: its stream may deliver events itself
        return executor

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = self._event_executor(payload)
        if not is_event(payload):
            return executor
        key = self.sharing_key(payload)
        if key is None:
            return executor
        execute = executor.execute_operation

        def shared_execute(serially: bool | None = None) -> Any:
            return fanout.SHARED.result(key, lambda: execute(serially))

        executor.execute_operation = shared_execute  # one execution shared by the subscribers of an event
        return executor

    def execute_event(self, event: Any) -> Any:
        """One execution of the operation for `event`, not shared (the caller shares it): the operation's compiled
        plan (schema/compiled_plans.py, `run_event`) when it has one and it handles the event, graphql-core
        otherwise — the same result either way (tests/test_event_plans.py)."""
        if get_settings().compiled_plans:
            try:
                return ExecutionResult(compiled_plans.run_event(self, event))
            except compiled_plans.NotHandled:
                pass
        return self._event_executor(event).execute_operation(False)

    def _event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        # graphql-core's copy shares its sub-field memo, keyed by objects each event makes anew: it would keep
        # two entries per event for the life of the subscription.
        executor._relevant_sub_fields = {}
        return executor

    def sharing_key(self, event: Any) -> tuple | None:
        group = self.group_key()
        return None if group is None else (*group, event.id)

    def group_key(self) -> tuple | None:
        """What the subscribers sharing this one's results have in common: the operation and the viewer's scope
        (the event's cursor completes the sharing key)."""
        viewer = getattr(self.context_value, "viewer", None)
        if viewer is None or self._operation_key is None:
            return None
        return (*self._operation_key, viewer.user_id, viewer.permissions)

    def _key_of_operation(self) -> tuple | None:
        source = self.operation.loc.source.body if self.operation.loc is not None else None
        if source is None:
            return None
        variables: dict[str, Any] = self.variable_values.coerced
        return (source, self.operation.name.value if self.operation.name else None, repr(sorted(variables.items())))

"""Subscriptions' compiled plans (schema/compiled_plans.py, `compile_event_plan`): an event replayed or handed out
through its operation's plan is the same frame, byte for byte, as graphql-core alone makes of it
(BILLRUN_COMPILED_PLANS=false) — for every event type, for an admin and for a clerk who may not see a restricted
account (whose events never reach the clerk, on either path); and a selection the plans do not handle (a link
read through a resolver that awaits) takes graphql-core's path with the same bytes."""

import asyncio
import inspect
import json
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import websockets
from graphql import GraphQLEnumType, GraphQLList, GraphQLNonNull, GraphQLScalarType, GraphQLUnionType, parse
from strawberry.relay import from_base64

import models
from billrun import fanout, hub
from billrun.settings import get_settings
from domain import auth, events
from domain.access import Viewer
from models.enums import EventType
from resolvers.dataloaders import Loaders
from schema import compiled_plans, schema
from schema.subscription import SharedEventExecutor
from tests.conftest import ALL, make_token
from tests.support import builders
from tests.support.api import Api
from tests.support.live_server import live_server
from tests.support.subscriptions import DEADLINE, TRANSPORT


def _plain_fields() -> str:
    """Every field of every payload type that is a scalar or an enum (what a plan answers), by type."""
    union = schema._schema.type_map["EventPayload"]
    assert isinstance(union, GraphQLUnionType)
    chosen: dict[str, list[tuple[str, str]]] = {}
    types: dict[str, set[str]] = {}
    for member in union.types:
        for name, field in member.fields.items():
            kind = field.type
            while isinstance(kind, GraphQLNonNull | GraphQLList):
                kind = kind.of_type
            if isinstance(kind, GraphQLScalarType | GraphQLEnumType) and not field.args:
                chosen.setdefault(member.name, []).append((name, str(field.type)))
                types.setdefault(name, set()).add(str(field.type))
    # a name of different types in two members needs an alias per type (the selections would conflict)
    def alias(kind: str) -> str:
        return kind.replace("!", "_required").replace("[", "list_").replace("]", "")

    return " ".join(f"... on {member} {{ " + " ".join(
        name if len(types[name]) == 1 else f"{name}_{alias(kind)}: {name}" for name, kind in fields) + " }"
        for member, fields in chosen.items())


PLAIN = ("subscription($after: String) { events(after: $after) { __typename id cursor type createdAt "
         "when: createdAt payload { __typename " + _plain_fields() + " } } }")
LINKED = ("subscription($after: String) { events(after: $after) { cursor type batch { id name } "
          "payload { __typename ... on FindingResolved { finding { id } } ... on BillingsMoved { count "
          "toBatch { id } } ... on JobProgress { done total percent } } } }")

ACTOR = {"actor": "Ada Admin"}
SAMPLES: dict[EventType, dict[str, Any]] = {
    EventType.BATCH_CREATED: {"code": "B-1", "name": "May run", "status": "NOT_STARTED"},
    EventType.BATCH_STATUS_CHANGED: {"previous_status": "NOT_STARTED", "status": "PROCESSING", "error": None},
    EventType.BATCH_ANALYZED: {"finding_count": 3, "blocking_count": 1},
    EventType.JOB_QUEUED: {"kind": "PROCESS"},
    EventType.JOB_PROGRESS: {"kind": "PROCESS", "done": 3, "total": 7},
    EventType.JOB_FINISHED: {"kind": "ANALYZE", "status": "SUCCEEDED", "error": None},
    EventType.BILLING_DISPOSITIONED: {"previous_status": "NEW", "status": "HOLD", **ACTOR},
    EventType.BILLINGS_MASS_DISPOSITIONED: {"status": "CANCELLED", "changed_count": 4, "refused_count": 1, **ACTOR},
    EventType.BILLING_EDITED: {"edit": "LINE_CHANGED", "amount": Decimal("1234.50"), **ACTOR},
    EventType.BILLING_DELETED: {"status": "NEW", **ACTOR},
    EventType.BILLINGS_MOVED: {"count": 2, "from_batch_id": None, "to_batch_id": None, **ACTOR},
    EventType.FINDING_RESOLVED: {"kind": "MISSING_PRICE", "finding_id": 10**6, **ACTOR},
    EventType.NOTIFICATION_OPENED: {"kind": "PROCESS_FAILED", "message": "It failed: \"quotes\" and ünïcode",
                                    "notification_id": 10**6},
    EventType.NOTIFICATION_RESOLVED: {"kind": "PROCESS_FAILED", "note": "Fixed\nnewline", "notification_id": 10**6,
                                      **ACTOR},
    EventType.INVOICES_POSTED: {"count": 2, "first_number": "INV-1", "last_number": "INV-2"},
    EventType.PAYMENT_SETTLED: {"status": "DECLINED", "amount": Decimal("10.00"), "currency": "USD",
                                "invoice_number": "INV-1", "error": "card declined", "payment_id": 10**6},
    EventType.INVOICE_DELIVERED: {"channel": "SMTP", "invoice_number": "INV-1", "delivery_id": 10**6},
    EventType.INVOICE_DELIVERY_FAILED: {"error": "refused", "invoice_number": "INV-1", "delivery_id": 10**6},
    EventType.EXPORT_CREATED: {"format": "JOURNAL_CSV", "filename": "journal.csv", "export_id": 10**6},
    EventType.ACCOUNTING_PERIOD_CHANGED: {"month": date(2026, 5, 1), "status": "CLOSED", "reason": None,
                                          "period_id": 10**6, **ACTOR},
    EventType.WEBHOOK_ENDPOINT_DISABLED: {"reason": "5 attempts", "endpoint_id": 10**6},
    EventType.CREDIT_APPLIED: {"number": "CN-1", "invoice_number": "INV-1", "amount": Decimal("5"),
                               "remaining": Decimal("0.10")},
    EventType.REFUND_SETTLED: {"number": "CN-1", "status": "FAILED", "amount": Decimal("2.5"), "currency": "EUR",
                               "error": "gateway"},
    EventType.TEAM_CHANGED: {"name": "North", "change": "UPDATED", "member": None, "team_id": 10**6, **ACTOR},
    EventType.APPROVAL_RULE_CHANGED: {"kind": "BILLING_AMOUNT_ABOVE", "threshold": Decimal("1000"),
                                      "currency": "USD", "change": "CREATED", **ACTOR},
    EventType.SCHEDULE_CHANGED: {"name": "Monthly", "change": "DELETED", "next_run_on": date(2026, 6, 1),
                                 "schedule_id": 10**6, **ACTOR},
    EventType.SCHEDULE_RAN: {"name": "Monthly", "due_date": date(2026, 6, 1), "error": None, "schedule_id": 10**6},
    EventType.BATCH_POST_REQUESTED: {"mode": "SEND", "total_amount": Decimal("99.99"), **ACTOR},
}
CREDIT_NOTE = {"number": None, "invoice_number": "INV-1", "status": "DRAFT", "amount": Decimal("3"),
               "credit_amount": Decimal("1"), "refund_amount": Decimal("2"), "currency": "USD",
               "reason": "ORDER_CHANGE", "credit_note_id": 10**6, **ACTOR}
for _type in (EventType.CREDIT_NOTE_CREATED, EventType.CREDIT_NOTE_ISSUED, EventType.CREDIT_NOTE_VOIDED):
    SAMPLES[_type] = CREDIT_NOTE


async def _log(admin: Api) -> tuple[list[int], set[int]]:
    """Every event type twice, about no account, an open account or a restricted one (restricted to nobody: the
    clerk may not see it); the cursors, and those about the restricted account."""
    assert set(SAMPLES) == set(EventType)
    accounts = []
    for number in ("OPEN-1", "SECRET-1"):
        gid = await builders.account(admin, number)
        accounts.append(int(from_base64(gid)[1]))
    await models.Account.filter(id=accounts[1]).update(restricted=True)
    for n, (kind, payload) in enumerate(sorted(SAMPLES.items()) * 2):
        account = (None, accounts[0], accounts[1])[n % 3]
        await events.record(kind, account_id=account, **payload)
    rows = await models.Event.all().order_by("id").values_list("id", "account_id")
    return [i for i, _ in rows], {i for i, a in rows if a == accounts[1]}


async def _frames(url: str, token: str, query: str, count: int) -> list[str]:
    """The text of the first `count` `next` frames of a subscription replaying the log from its start."""
    async with websockets.connect(url, subprotocols=[TRANSPORT], max_size=None) as ws:  # type: ignore[list-item]  # websockets types subprotocols as its Subprotocol NewType
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query,
                                                                              "variables": {"after": "0"}}}))
        found: list[str] = []
        async with asyncio.timeout(DEADLINE):
            while len(found) < count:
                text = await ws.recv()
                assert isinstance(text, str)
                kind = json.loads(text)["type"]
                assert kind in ("connection_ack", "next", "ping", "pong"), text
                if kind == "next":
                    found.append(text)
    return found


@pytest.fixture
async def servers() -> AsyncIterator[tuple[str, str]]:
    """Two API processes on the test database: plans on (the default) and graphql-core alone."""
    with live_server() as planned, live_server(BILLRUN_COMPILED_PLANS="false") as alone:
        yield f"ws://127.0.0.1:{planned}/graphql", f"ws://127.0.0.1:{alone}/graphql"


@pytest.mark.parametrize("query", [PLAIN, LINKED], ids=["plain fields", "links"])
async def test_replayed_frames_are_graphql_core_s_byte_for_byte_for_an_admin_and_a_restricted_clerk(
        admin: Api, servers: tuple[str, str], query: str) -> None:
    cursors, secret = await _log(admin)
    _, admin_token = await make_token("ops@example.com", ALL, "Ops Admin")
    _, clerk_token = await make_token("cleo@example.com", ["BILLING_ACCESS"], "Cleo Clerk")
    planned, alone = servers
    for token, expected in ((admin_token, cursors), (clerk_token, [c for c in cursors if c not in secret])):
        frames = await _frames(planned, token, query, len(expected))
        assert frames == await _frames(alone, token, query, len(expected))
        received = [json.loads(f)["payload"]["data"]["events"] for f in frames]
        assert [int(e["cursor"]) for e in received] == expected  # in order, once, none hidden
        assert {e["type"] for e in received} == {t.value for t in EventType}
        assert all("errors" not in json.loads(f)["payload"] for f in frames)


class _Context:
    """What the plans read of a request's context: its viewer (and, for links, its loaders)."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.loaders = Loaders(viewer)


def _executor(query: str, viewer: Viewer) -> SharedEventExecutor:
    executor = SharedEventExecutor.build(schema._schema, parse(query), context_value=_Context(viewer),
                                         raw_variable_values={"after": "0"})
    assert isinstance(executor, SharedEventExecutor)
    return executor


async def test_a_plain_selection_has_a_plan_whose_results_are_graphql_core_s(admin: Api) -> None:
    """In process: the plan of PLAIN exists (LINKED has none), and for every event, read as a row by the replay
    or as a model instance by the hub, its result serializes as graphql-core's does."""
    cursors, _ = await _log(admin)
    compiled_plans.PLANS.clear()
    _, token = await make_token("ops@example.com", ALL, "Ops Admin")
    viewer = await auth.authenticate(token)
    assert viewer is not None
    plain, linked = _executor(PLAIN, viewer), _executor(LINKED, viewer)
    assert compiled_plans.PLANS.of_events(plain) is not None
    assert compiled_plans.PLANS.of_events(linked) is None
    assert get_settings().compiled_plans
    rows = await hub.replay(viewer, hub.Interest(), 0, limit=len(cursors))
    instances = await models.Event.all().order_by("id")
    assert [r.id for r in rows] == [i.id for i in instances] == cursors
    for row, instance in zip(rows, instances, strict=True):
        alone = await _text(plain._event_executor(instance).execute_operation(False))
        assert fanout.payload_text(plain.execute_event(row)) == alone  # the plan's: no awaiting
        assert fanout.payload_text(plain.execute_event(instance)) == alone
        assert await _text(linked.execute_event(row)) == await _text(
            linked._event_executor(instance).execute_operation(False))


async def _text(result: Any) -> str:
    return fanout.payload_text(await result if inspect.isawaitable(result) else result)

"""Resolvers of relation fields: each reads one DataLoader, so a page of parents costs one query per level.

Most are built by `to_one` / `to_many`: a plain function of (row, info) that graphql-core calls directly
(schema/fast_fields.py) and that answers **synchronously** when the row's relation is already loaded — the page
resolver loads every selected relation of its page in bulk, level by level, before execution reaches them
(resolvers/prefetch.py) — and with the DataLoader's awaitable otherwise. They read only `info.context`.
"""

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from strawberry import Info
from strawberry.dataloader import DataLoader
from tortoise.models import Model

import models
from domain import dispositions, ledger, trace
from resolvers.context import Context
from resolvers.dataloaders import Loaders

CtxInfo = Info[Context, Any]
Resolver = Callable[[Any, Any], Any]


async def _maybe(loader: DataLoader, key: int | None) -> Any:
    """Load an optional relation: a null foreign key is a null field, not a lookup."""
    return None if key is None else await loader.load(key)


def direct(resolver: Resolver) -> Resolver:
    """Mark a resolver graphql-core may call as `resolver(row, info)` with its own info, skipping strawberry's
    per-field wrapping (schema/fast_fields.py): it takes no arguments and reads nothing of `info` but `context`."""
    resolver.direct = True  # type: ignore[attr-defined]  # a marker read by schema/fast_fields.py
    return resolver


def loaded(loader: DataLoader, key: Any) -> Any:
    """The loaded value itself when this request already has it (no awaitable: the field completes
    synchronously), else the DataLoader's awaitable."""
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return loader.load(key)


def then(value: Any, finish: Callable[[Any], Any]) -> Any:
    """`finish(value)`, now if the value is here, after awaiting it otherwise. A Tortoise row is here: `Model`
    defines `__await__` (schema/limits.py, `is_awaitable`)."""
    if isinstance(value, Awaitable) and not isinstance(value, Model):
        async def later() -> Any:
            return finish(await value)
        return later()
    return finish(value)


class Prefetch:
    """How a page loads one relation of all its rows at once: the keys of `rows`, loaded in one batch; returns the
    related rows (the next level down)."""

    def __init__(self, loader: str, key: str, many: bool, descend: bool = True) -> None:
        self.loader, self.key, self.many, self.descend = loader, key, many, descend

    async def __call__(self, loaders: Loaders, rows: Iterable[Any]) -> list[Any]:
        keys = list(dict.fromkeys(k for r in rows if (k := getattr(r, self.key, None)) is not None))
        found = await getattr(loaders, self.loader).load_many(keys)
        if not self.descend:
            return []  # what was loaded is an input of the field's value, not the rows of the level below
        if self.many:
            return [child for group in found for child in group]
        return [row for row in found if row is not None]


def to_one(loader: str, key: str) -> Resolver:
    """The row named by `row.<key>` through `loaders.<loader>` (by id, in the viewer's scope); a null key is a
    null field, not a lookup."""
    def resolve(root: Any, info: CtxInfo) -> Any:
        pk = getattr(root, key)
        return None if pk is None else loaded(getattr(info.context.loaders, loader), pk)

    resolve.prefetch = Prefetch(loader, key, many=False)  # type: ignore[attr-defined]  # read by resolvers/prefetch.py
    return direct(resolve)


def to_many(loader: str) -> Resolver:
    """The rows `loaders.<loader>` groups under `row.id`."""
    def resolve(root: Any, info: CtxInfo) -> Any:
        return loaded(getattr(info.context.loaders, loader), root.id)

    resolve.prefetch = Prefetch(loader, "id", many=True)  # type: ignore[attr-defined]  # read by resolvers/prefetch.py
    return direct(resolve)


account_of = to_one("account_by_id", "account_id")
contract_of = to_one("contract_by_id", "contract_id")
charge_of = to_one("charge_by_id", "charge_id")
revenue_account_of = to_one("ledger_account_by_id", "revenue_account_id")
ledger_account_of = to_one("ledger_account_by_id", "ledger_account_id")
contracts_of_account = to_many("contracts_by_account_id")
charges_of_contract = to_many("charges_by_contract_id")
dated_prices_of_charge = to_many("dated_prices_by_charge_id")


async def granted_users_of_account(root: Any, info: CtxInfo) -> list[Any]:
    grants = await info.context.loaders.grantees_by_account_id.load(root.id)
    users = await info.context.loaders.user_by_id.load_many([g.user_id for g in grants])
    return [u for u in users if u is not None]


async def granted_teams_of_account(root: Any, info: CtxInfo) -> list[Any]:
    grants = await info.context.loaders.team_grants_by_account_id.load(root.id)
    teams = await info.context.loaders.team_by_id.load_many([g.team_id for g in grants])
    return sorted((t for t in teams if t is not None), key=lambda t: t.name)


async def members_of_team(root: Any, info: CtxInfo) -> list[Any]:
    """The team's members the viewer may see as users (all for an admin, else the viewer), by name."""
    members = await info.context.loaders.members_by_team_id.load(root.id)
    users = await info.context.loaders.user_by_id.load_many([m.user_id for m in members])
    return sorted((u for u in users if u is not None), key=lambda u: (u.name, u.id))


batch_of = to_one("batch_by_id", "batch_id")
optional_account_of = to_one("account_by_id", "account_id")
optional_contract_of = to_one("contract_by_id", "contract_id")
optional_charge_of = to_one("charge_by_id", "charge_id")
dated_price_of = to_one("dated_price_by_id", "dated_price_id")
details_of_billing = to_many("details_by_billing_id")
distributions_of_detail = to_many("distributions_by_detail_id")
findings_of_billing = to_many("findings_by_billing_id")
billings_of_contract = to_many("billings_by_contract_id")
jobs_of_batch = to_many("jobs_by_batch_id")
summary_of_batch = to_one("summary_by_batch_id", "id")


async def previous_billing_of(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.previous_billing_by_billing_id.load(root.id)


async def recurring_charges_of_billing(root: Any, info: CtxInfo) -> list[Any]:
    """The contract's recurring charges that this billing billed (its RECURRING lines), in line order."""
    details = await info.context.loaders.details_by_billing_id.load(root.id)
    charge_ids = list(dict.fromkeys(d.charge_id for d in details if d.charge_id is not None))
    charges = await info.context.loaders.charge_by_id.load_many(charge_ids)
    return [c for c in charges if c is not None]


created_by_of = to_one("person_by_id", "created_by_id")


async def person(info: CtxInfo, user_id: int | None) -> Any:
    """A user named on a record (any viewer sees the name)."""
    return await _maybe(info.context.loaders.person_by_id, user_id)


schedule_of = to_one("schedule_by_id", "schedule_id")


resolved_by_of = to_one("person_by_id", "resolved_by_id")


async def work_orders_of_account(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.items_by_parent_id(models.WorkOrder, "account_id").load(root.id)


async def manual_charges_of_account(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.items_by_parent_id(models.ManualCharge, "account_id").load(root.id)


async def adjustments_of_account(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.items_by_parent_id(models.InvoiceAdjustment, "account_id").load(root.id)


async def service_changes_of_charge(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.items_by_parent_id(models.ServiceChange, "charge_id").load(root.id)


async def notifications_of_batch(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.items_by_parent_id(models.Notification, "batch_id").load(root.id)


@direct
def allowed_transitions_of(root: Any, info: CtxInfo) -> Any:
    """From the rules' inputs of the whole page (one batch of two queries, loaded with the page)."""
    viewer = info.context.viewer

    def allowed(subject: Any) -> list[Any]:
        return [] if subject is None or viewer is None else dispositions.allowed_transitions(viewer, subject)
    return then(loaded(info.context.loaders.subject_by_billing_id, root.id), allowed)


allowed_transitions_of.prefetch = Prefetch(  # type: ignore[attr-defined]  # read by resolvers/prefetch.py
    "subject_by_billing_id", "id", many=False)


audits_of_billing = to_many("audits_by_billing_id")


actor_of = to_one("person_by_id", "actor_id")


@direct
def actor_label_of(root: Any, info: CtxInfo) -> Any:
    """The actor's current display name: rows written before labels were names hold an e-mail, and a rename
    shows everywhere. Rows without a user keep their label (`system`)."""
    return then(actor_of(root, info), lambda person: person.name if person is not None else root.actor_label)


actor_label_of.prefetch = actor_of.prefetch  # type: ignore[attr-defined]  # read by resolvers/prefetch.py


invoice_of = to_one("invoice_by_id", "invoice_id")


invoice_of_billing = to_one("invoice_by_billing_id", "id")


billing_of = to_one("billing_by_id", "billing_id")


optional_billing_of = to_one("billing_by_id", "billing_id")


async def journal_entry_of_invoice(root: Any, info: CtxInfo) -> Any:
    """The invoice's posting entry (payments make entries of their own)."""
    entries = await info.context.loaders.entries_by_invoice_id.load(root.id)
    return next((e for e in entries if e.payment_id is None), None)


journal_entries_of_invoice = to_many("entries_by_invoice_id")


async def lines_of_entry(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.lines_by_entry_id.load(root.id)


payments_of_invoice = to_many("payments_by_invoice_id")


deliveries_of_invoice = to_many("deliveries_by_invoice_id")


exports_of_batch = to_many("exports_by_batch_id")


balance_of_ledger_account = to_one("balance_by_ledger_account_id", "id")


credit_notes_of_invoice = to_many("credit_notes_by_invoice_id")


lines_of_credit_note = to_many("credit_note_lines_by_credit_note_id")


async def journal_entry_of_credit_note(root: Any, info: CtxInfo) -> Any:
    """The credit note's own entry (the mirror of its invoice's); applications of its credit come after."""
    entries = await info.context.loaders.entries_by_credit_note_id.load(root.id)
    return entries[0] if entries else None


detail_of = to_one("detail_by_id", "detail_id")


async def credit_balance_of_account(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.credit_balance_by_account_id.load(root.id)


def invoice_balance(invoice: models.Invoice) -> Any:
    return ledger.open_balance(invoice)


# The node types a line's trace may name as its price record, besides dated prices, charges and tax rates.
PRICE_RECORD_MODELS: dict[str, type[Model]] = {
    "ServiceChange": models.ServiceChange, "WorkOrder": models.WorkOrder, "ManualCharge": models.ManualCharge,
    "InvoiceAdjustment": models.InvoiceAdjustment}


def trace_of(root: Any, info: CtxInfo) -> Any:
    """A line's whole trace: its stored facts and its and its billing's columns (one query per page of lines,
    loaded with the page: then the trace is composed at once, without an await)."""
    return then(loaded(info.context.loaders.billing_of_line, root.billing_id),
                lambda billing: trace.composed(root, billing))


trace_of.prefetch = Prefetch("billing_of_line", "billing_id", many=False, descend=False)  # type: ignore[attr-defined]  # read by resolvers/prefetch.py


async def price_record_of(info: CtxInfo, record: trace.Trace) -> Any:
    """The record a trace names as its price record, through the viewer's scope (hidden reads as null)."""
    loaders = info.context.loaders
    if record.record_type == "TaxRate":
        return None if record.tax_location is None else await loaders.tax_rate_by_location.load(record.tax_location)
    if record.record_type == "DatedPrice":
        return await _maybe(loaders.dated_price_by_id, record.record_id)
    if record.record_type == "RecurringCharge":
        return await _maybe(loaders.charge_by_id, record.record_id)
    model = PRICE_RECORD_MODELS.get(record.record_type or "")
    return None if model is None else await _maybe(loaders.record_by_id(model), record.record_id)

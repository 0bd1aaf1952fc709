"""Resolvers of relation fields: each reads one DataLoader, so a page of parents costs one query per level."""

from typing import Any

from strawberry import Info
from strawberry.dataloader import DataLoader
from tortoise.models import Model

import models
from domain import credit_notes, dispositions, trace
from resolvers.context import Context, authenticated_viewer

CtxInfo = Info[Context, Any]


async def _maybe(loader: DataLoader, key: int | None) -> Any:
    """Load an optional relation: a null foreign key is a null field, not a lookup."""
    return None if key is None else await loader.load(key)


async def account_of(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.account_by_id.load(root.account_id)


async def contract_of(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.contract_by_id.load(root.contract_id)


async def charge_of(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.charge_by_id.load(root.charge_id)


async def revenue_account_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.ledger_account_by_id, root.revenue_account_id)


async def ledger_account_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.ledger_account_by_id, root.ledger_account_id)


async def contracts_of_account(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.contracts_by_account_id.load(root.id)


async def charges_of_contract(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.charges_by_contract_id.load(root.id)


async def dated_prices_of_charge(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.dated_prices_by_charge_id.load(root.id)


async def granted_users_of_account(root: Any, info: CtxInfo) -> list[Any]:
    grants = await info.context.loaders.grantees_by_account_id.load(root.id)
    users = await info.context.loaders.user_by_id.load_many([g.user_id for g in grants])
    return [u for u in users if u is not None]


async def batch_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.batch_by_id, root.batch_id)


async def optional_account_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.account_by_id, root.account_id)


async def optional_contract_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.contract_by_id, root.contract_id)


async def optional_charge_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.charge_by_id, root.charge_id)


async def dated_price_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.dated_price_by_id, root.dated_price_id)


async def details_of_billing(root: Any, info: CtxInfo) -> list[Any]:
    info.context.loaders.billing_of_line.prime(root.id, root)  # their traces compose from this very row
    return await info.context.loaders.details_by_billing_id.load(root.id)


async def distributions_of_detail(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.distributions_by_detail_id.load(root.id)


async def findings_of_billing(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.findings_by_billing_id.load(root.id)


async def billings_of_contract(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.billings_by_contract_id.load(root.id)


async def jobs_of_batch(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.jobs_by_batch_id.load(root.id)


async def summary_of_batch(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.summary_by_batch_id.load(root.id)


async def previous_billing_of(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.previous_billing_by_billing_id.load(root.id)


async def recurring_charges_of_billing(root: Any, info: CtxInfo) -> list[Any]:
    """The contract's recurring charges that this billing billed (its RECURRING lines), in line order."""
    details = await info.context.loaders.details_by_billing_id.load(root.id)
    charge_ids = list(dict.fromkeys(d.charge_id for d in details if d.charge_id is not None))
    charges = await info.context.loaders.charge_by_id.load_many(charge_ids)
    return [c for c in charges if c is not None]


async def created_by_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.person_by_id, root.created_by_id)


async def resolved_by_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.person_by_id, root.resolved_by_id)


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


async def allowed_transitions_of(root: Any, info: CtxInfo) -> list[Any]:
    subject = await info.context.loaders.subject_by_billing_id.load(root.id)
    return [] if subject is None else dispositions.allowed_transitions(authenticated_viewer(info), subject)


async def audits_of_billing(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.audits_by_billing_id.load(root.id)


async def actor_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.person_by_id, root.actor_id)


async def actor_label_of(root: Any, info: CtxInfo) -> str:
    """The actor's current display name: rows written before labels were names hold an e-mail, and a rename
    shows everywhere. Rows without a user keep their label (`system`)."""
    person = await _maybe(info.context.loaders.person_by_id, root.actor_id)
    return person.name if person is not None else root.actor_label


async def invoice_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.invoice_by_id, root.invoice_id)


async def invoice_of_billing(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.invoice_by_billing_id.load(root.id)


async def billing_of(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.billing_by_id.load(root.billing_id)


async def optional_billing_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.billing_by_id, root.billing_id)


async def journal_entry_of_invoice(root: Any, info: CtxInfo) -> Any:
    """The invoice's posting entry (payments make entries of their own)."""
    entries = await info.context.loaders.entries_by_invoice_id.load(root.id)
    return next((e for e in entries if e.payment_id is None), None)


async def journal_entries_of_invoice(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.entries_by_invoice_id.load(root.id)


async def lines_of_entry(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.lines_by_entry_id.load(root.id)


async def payments_of_invoice(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.payments_by_invoice_id.load(root.id)


async def deliveries_of_invoice(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.deliveries_by_invoice_id.load(root.id)


async def exports_of_batch(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.exports_by_batch_id.load(root.id)


async def balance_of_ledger_account(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.balance_by_ledger_account_id.load(root.id)


async def credit_notes_of_invoice(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.credit_notes_by_invoice_id.load(root.id)


async def lines_of_credit_note(root: Any, info: CtxInfo) -> list[Any]:
    return await info.context.loaders.credit_note_lines_by_credit_note_id.load(root.id)


async def journal_entry_of_credit_note(root: Any, info: CtxInfo) -> Any:
    """The credit note's own entry (the mirror of its invoice's); applications of its credit come after."""
    entries = await info.context.loaders.entries_by_credit_note_id.load(root.id)
    return entries[0] if entries else None


async def detail_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.detail_by_id, root.detail_id)


async def credit_balance_of_account(root: Any, info: CtxInfo) -> Any:
    return await info.context.loaders.credit_balance_by_account_id.load(root.id)


def invoice_balance(invoice: models.Invoice) -> Any:
    return credit_notes.balance(invoice)


# The node types a line's trace may name as its price record, besides dated prices, charges and tax rates.
PRICE_RECORD_MODELS: dict[str, type[Model]] = {
    "ServiceChange": models.ServiceChange, "WorkOrder": models.WorkOrder, "ManualCharge": models.ManualCharge,
    "InvoiceAdjustment": models.InvoiceAdjustment}


async def trace_of(root: Any, info: CtxInfo) -> trace.Trace:
    """A line's whole trace: its stored facts and its and its billing's columns (one query per page of lines)."""
    return trace.compose(root, await info.context.loaders.billing_of_line.load(root.billing_id))


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

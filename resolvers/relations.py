"""Resolvers of relation fields: each reads one DataLoader, so a page of parents costs one query per level."""

from typing import Any

from strawberry import Info
from strawberry.dataloader import DataLoader

import models
from domain import dispositions
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


async def granted_teams_of_account(root: Any, info: CtxInfo) -> list[Any]:
    grants = await info.context.loaders.team_grants_by_account_id.load(root.id)
    teams = await info.context.loaders.team_by_id.load_many([g.team_id for g in grants])
    return sorted((t for t in teams if t is not None), key=lambda t: t.name)


async def members_of_team(root: Any, info: CtxInfo) -> list[Any]:
    """The team's members the viewer may see as users (all for an admin, else the viewer), by name."""
    members = await info.context.loaders.members_by_team_id.load(root.id)
    users = await info.context.loaders.user_by_id.load_many([m.user_id for m in members])
    return sorted((u for u in users if u is not None), key=lambda u: (u.name, u.id))


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


async def person(info: CtxInfo, user_id: int | None) -> Any:
    """A user named on a record (any viewer sees the name)."""
    return await _maybe(info.context.loaders.person_by_id, user_id)


async def schedule_of(root: Any, info: CtxInfo) -> Any:
    return await _maybe(info.context.loaders.schedule_by_id, root.schedule_id)


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

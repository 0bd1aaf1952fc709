"""DataLoaders, one per relation, named by key and built per request (never shared between viewers).

Children of a visible parent share its account, so loaders by parent id need no extra scope; loaders by
id go through `domain.access.visible` like every other lookup.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader
from tortoise.models import Model

import models
from domain import batches, credit_notes, dispositions, ledger
from domain.access import Viewer, visible
from models.enums import BillingStatus
from models.reads import among
from models.rows import values_rows


def by_id_loader(viewer: Viewer, model: type[Model], scoped: bool = True,
                 plain: bool = False) -> DataLoader[int, Any]:
    """The rows of these ids (through the scope unless `scoped` is off); `plain`: as `models.rows.Row`s."""
    async def load(ids: Sequence[int]) -> list[Any]:
        query = among(visible(viewer, model) if scoped else model.all(), "id", ids)
        rows = {row.pk: row for row in await (values_rows(query) if plain else query)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def one_by_field_loader(viewer: Viewer, model: type[Model], key_field: str) -> DataLoader[int, Any]:
    """The row whose `key_field` is each key (a one-to-one seen from the other side), through the scope."""
    async def load(keys: Sequence[int]) -> list[Any]:
        rows = {getattr(row, key_field): row for row in await visible(viewer, model).filter(
            **{f"{key_field}__in": list(keys)})}  # keys of any type (a tax location): the ORM's `IN`
        return [rows.get(k) for k in keys]

    return DataLoader(load_fn=load)


def children_loader(viewer: Viewer, model: type[Model], parent_field: str,
                    order: tuple[str, ...] = ("id",), scoped: bool = True,
                    plain: bool = False, where: dict[str, Any] | None = None) -> DataLoader[int, list[Any]]:
    """The rows under each parent in one query; `plain` reads them as `models.rows.Row`s (many per parent,
    read-only); `where`: further conditions (e.g. an audit's entity)."""
    async def load(parent_ids: Sequence[int]) -> list[list[Any]]:
        groups: dict[int, list[Any]] = defaultdict(list)
        rows = visible(viewer, model) if scoped else model.all()
        query = among(rows.filter(**(where or {})), parent_field, parent_ids).order_by(*order)
        for row in await (values_rows(query) if plain else query):
            groups[getattr(row, parent_field)].append(row)
        return [groups.get(i, []) for i in parent_ids]

    return DataLoader(load_fn=load)


async def previous_billings(viewer: Viewer, billing_ids: list[int]) -> list[Any]:
    """For each billing, the latest earlier billing of the same contract (rejected ones excluded), in two
    queries for any number of billings."""
    rows = await models.PeriodicBilling.filter(id__in=billing_ids).values_list("id", "contract_id", "period_start")
    contract_ids = {c for _, c, _ in rows if c is not None}
    history: dict[int | None, list[Any]] = defaultdict(list)
    for billing in await visible(viewer, models.PeriodicBilling).filter(contract_id__in=list(contract_ids)).exclude(
            status=BillingStatus.REJECTED).order_by("period_start", "id"):
        history[billing.contract_id].append(billing)
    found = {}
    for billing_id, contract_id, start in rows:
        earlier = [b for b in history.get(contract_id, []) if b.period_start < start]
        found[billing_id] = earlier[-1] if earlier else None
    return [found.get(i) for i in billing_ids]


class Loaders:
    """All loaders of one request, created lazily."""

    def __init__(self, viewer: Viewer | None) -> None:
        self._viewer = viewer
        self._cache: dict[str, DataLoader] = {}

    def _get(self, name: str, factory: Callable[[Viewer], DataLoader[Any, Any]]) -> DataLoader[Any, Any]:
        if name not in self._cache:
            if self._viewer is None:
                raise PermissionError("Loaders need an authenticated viewer")
            self._cache[name] = factory(self._viewer)
        return self._cache[name]

    @property
    def account_by_id(self) -> DataLoader[int, Any]:
        return self._get("account_by_id", lambda v: by_id_loader(v, models.Account))

    @property
    def contract_by_id(self) -> DataLoader[int, Any]:
        return self._get("contract_by_id", lambda v: by_id_loader(v, models.SalesContract))

    @property
    def charge_by_id(self) -> DataLoader[int, Any]:
        return self._get("charge_by_id", lambda v: by_id_loader(v, models.RecurringCharge))

    @property
    def ledger_account_by_id(self) -> DataLoader[int, Any]:
        return self._get("ledger_account_by_id", lambda v: by_id_loader(v, models.LedgerAccount))

    @property
    def user_by_id(self) -> DataLoader[int, Any]:
        return self._get("user_by_id", lambda v: by_id_loader(v, models.User))

    @property
    def contracts_by_account_id(self) -> DataLoader[int, list[Any]]:
        return self._get("contracts_by_account_id",
                         lambda v: children_loader(v, models.SalesContract, "account_id", ("number", "id")))

    @property
    def charges_by_contract_id(self) -> DataLoader[int, list[Any]]:
        return self._get("charges_by_contract_id",
                         lambda v: children_loader(v, models.RecurringCharge, "contract_id"))

    @property
    def dated_prices_by_charge_id(self) -> DataLoader[int, list[Any]]:
        return self._get("dated_prices_by_charge_id",
                         lambda v: children_loader(v, models.DatedPrice, "charge_id", ("first_effective_date", "id")))

    def items_by_parent_id(self, model: type[Model], parent_field: str) -> DataLoader[int, list[Any]]:
        """Billable items of an account (or service changes of a charge), newest first."""
        return self._get(f"{model.__name__}_by_{parent_field}",
                         lambda v: children_loader(v, model, parent_field, ("-id",)))

    @property
    def person_by_id(self) -> DataLoader[int, Any]:
        """Users named on records (created by, resolved by, an audit's actor): colleagues see each other's names;
        the `User` type shows their e-mail, permissions and active flag only to admins and to the user."""
        return self._get("person_by_id", lambda v: by_id_loader(v, models.User, scoped=False))

    @property
    def batch_by_id(self) -> DataLoader[int, Any]:
        return self._get("batch_by_id", lambda v: by_id_loader(v, models.BillingBatch))

    @property
    def dated_price_by_id(self) -> DataLoader[int, Any]:
        return self._get("dated_price_by_id", lambda v: by_id_loader(v, models.DatedPrice))

    def record_by_id(self, model: type[Model]) -> DataLoader[int, Any]:
        """Records of `model` by id through the viewer's scope (the price records lines' traces name)."""
        return self._get(f"{model.__name__}_record_by_id", lambda v: by_id_loader(v, model))

    @property
    def tax_rate_by_location(self) -> DataLoader[str, Any]:
        return self._get("tax_rate_by_location", lambda v: one_by_field_loader(v, models.TaxRate, "location"))

    @property
    def billing_of_line(self) -> DataLoader[int, Any]:
        """A line's billing, for its trace: a visible line's billing is visible (they share the account)."""
        return self._get("billing_of_line",
                         lambda v: by_id_loader(v, models.PeriodicBilling, scoped=False, plain=True))

    @property
    def details_by_billing_id(self) -> DataLoader[int, list[Any]]:
        return self._get("details_by_billing_id",
                         lambda v: children_loader(v, models.BillingDetail, "billing_id", ("position", "id"),
                                                   scoped=False, plain=True))

    @property
    def distributions_by_detail_id(self) -> DataLoader[int, list[Any]]:
        return self._get("distributions_by_detail_id",
                         lambda v: children_loader(v, models.RevenueDistribution, "detail_id", scoped=False,
                                                   plain=True))

    @property
    def findings_by_billing_id(self) -> DataLoader[int, list[Any]]:
        return self._get("findings_by_billing_id",
                         lambda v: children_loader(v, models.Finding, "billing_id"))

    @property
    def billings_by_contract_id(self) -> DataLoader[int, list[Any]]:
        return self._get("billings_by_contract_id",
                         lambda v: children_loader(v, models.PeriodicBilling, "contract_id", ("period_start", "id")))

    @property
    def jobs_by_batch_id(self) -> DataLoader[int, list[Any]]:
        return self._get("jobs_by_batch_id", lambda v: children_loader(v, models.Job, "batch_id", ("-id",)))

    @property
    def summary_by_batch_id(self) -> DataLoader[int, Any]:
        def factory(viewer: Viewer) -> DataLoader[int, Any]:
            async def load(ids: Sequence[int]) -> list[Any]:
                summaries = await batches.summarize(viewer, list(ids))
                return [summaries[i] for i in ids]
            return DataLoader(load_fn=load)
        return self._get("summary_by_batch_id", factory)

    @property
    def previous_billing_by_billing_id(self) -> DataLoader[int, Any]:
        def factory(viewer: Viewer) -> DataLoader[int, Any]:
            async def load(ids: Sequence[int]) -> list[Any]:
                return await previous_billings(viewer, list(ids))
            return DataLoader(load_fn=load)
        return self._get("previous_billing_by_billing_id", factory)

    @property
    def subject_by_billing_id(self) -> DataLoader[int, Any]:
        """What the disposition rules need for each billing of a page, in two queries."""
        def factory(viewer: Viewer) -> DataLoader[int, Any]:
            async def load(ids: Sequence[int]) -> list[Any]:
                found = await dispositions.subjects(models.PeriodicBilling.filter(id__in=list(ids)))
                return [found.get(i) for i in ids]
            return DataLoader(load_fn=load)
        return self._get("subject_by_billing_id", factory)

    @property
    def audits_by_billing_id(self) -> DataLoader[int, list[Any]]:
        return self._get("audits_by_billing_id",
                         lambda v: children_loader(v, models.Audit, "billing_id", ("-id",), plain=True))

    @property
    def grantees_by_account_id(self) -> DataLoader[int, list[Any]]:
        return self._get("grantees_by_account_id",
                         lambda v: children_loader(v, models.AccountGrant, "account_id", scoped=False))

    @property
    def team_grants_by_account_id(self) -> DataLoader[int, list[Any]]:
        return self._get("team_grants_by_account_id",
                         lambda v: children_loader(v, models.AccountTeamGrant, "account_id", scoped=False))

    @property
    def team_by_id(self) -> DataLoader[int, Any]:
        return self._get("team_by_id", lambda v: by_id_loader(v, models.Team))

    @property
    def members_by_team_id(self) -> DataLoader[int, list[Any]]:
        return self._get("members_by_team_id",
                         lambda v: children_loader(v, models.TeamMember, "team_id", scoped=False))

    @property
    def schedule_by_id(self) -> DataLoader[int, Any]:
        return self._get("schedule_by_id", lambda v: by_id_loader(v, models.BillingSchedule))

    @property
    def invoice_by_id(self) -> DataLoader[int, Any]:
        return self._get("invoice_by_id", lambda v: by_id_loader(v, models.Invoice))

    @property
    def invoice_by_billing_id(self) -> DataLoader[int, Any]:
        return self._get("invoice_by_billing_id", lambda v: one_by_field_loader(v, models.Invoice, "billing_id"))

    @property
    def entries_by_invoice_id(self) -> DataLoader[int, list[Any]]:
        return self._get("entries_by_invoice_id",
                         lambda v: children_loader(v, models.JournalEntry, "invoice_id", scoped=False))

    @property
    def lines_by_entry_id(self) -> DataLoader[int, list[Any]]:
        return self._get("lines_by_entry_id",
                         lambda v: children_loader(v, models.JournalLine, "entry_id", scoped=False))

    @property
    def payments_by_invoice_id(self) -> DataLoader[int, list[Any]]:
        return self._get("payments_by_invoice_id",
                         lambda v: children_loader(v, models.Payment, "invoice_id", scoped=False))

    @property
    def deliveries_by_invoice_id(self) -> DataLoader[int, list[Any]]:
        return self._get("deliveries_by_invoice_id",
                         lambda v: children_loader(v, models.Delivery, "invoice_id", scoped=False))

    @property
    def credit_notes_by_invoice_id(self) -> DataLoader[int, list[Any]]:
        return self._get("credit_notes_by_invoice_id",
                         lambda v: children_loader(v, models.CreditNote, "invoice_id", scoped=False))

    @property
    def credit_note_lines_by_credit_note_id(self) -> DataLoader[int, list[Any]]:
        return self._get("credit_note_lines_by_credit_note_id", lambda v: children_loader(
            v, models.CreditNoteLine, "credit_note_id", ("position", "id"), scoped=False))

    @property
    def audits_by_credit_note_id(self) -> DataLoader[int, list[Any]]:
        return self._get("audits_by_credit_note_id", lambda v: children_loader(
            v, models.Audit, "entity_id", ("-id",), where={"entity": "CreditNote"}))

    @property
    def deliveries_by_credit_note_id(self) -> DataLoader[int, list[Any]]:
        return self._get("deliveries_by_credit_note_id",
                         lambda v: children_loader(v, models.Delivery, "credit_note_id"))

    @property
    def entries_by_credit_note_id(self) -> DataLoader[int, list[Any]]:
        return self._get("entries_by_credit_note_id",
                         lambda v: children_loader(v, models.JournalEntry, "credit_note_id", scoped=False))

    @property
    def detail_by_id(self) -> DataLoader[int, Any]:
        return self._get("detail_by_id", lambda v: by_id_loader(v, models.BillingDetail))

    @property
    def credit_balance_by_account_id(self) -> DataLoader[int, Any]:
        """The account credit available on each account of a page, in one query."""
        def factory(viewer: Viewer) -> DataLoader[int, Any]:
            async def load(ids: Sequence[int]) -> list[Any]:
                found = await credit_notes.credit_balances(list(ids))
                return [found.get(i, credit_notes.ZERO) for i in ids]
            return DataLoader(load_fn=load)
        return self._get("credit_balance_by_account_id", factory)

    @property
    def exports_by_batch_id(self) -> DataLoader[int, list[Any]]:
        return self._get("exports_by_batch_id", lambda v: children_loader(v, models.Export, "batch_id", ("-id",)))

    @property
    def balance_by_ledger_account_id(self) -> DataLoader[int, Any]:
        """Debits, credits and balance of each ledger account of a page, in one query."""
        def factory(viewer: Viewer) -> DataLoader[int, Any]:
            async def load(ids: Sequence[int]) -> list[Any]:
                found = await ledger.balances(list(ids), viewer=viewer)
                return [found.get(i) or ledger.Balance(i) for i in ids]
            return DataLoader(load_fn=load)
        return self._get("balance_by_ledger_account_id", factory)

    @property
    def billing_by_id(self) -> DataLoader[int, Any]:
        return self._get("billing_by_id", lambda v: by_id_loader(v, models.PeriodicBilling))

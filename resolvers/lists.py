"""Root list fields: the viewer's scope, the client's filter, keyset pagination."""

from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

import models
from domain import batches
from domain.access import visible
from domain.errors import DomainError
from domain.validation import SEARCH_MAX_LENGTH, camel, max_length
from models.enums import InvoiceStatus, TokenKind
from resolvers.global_ids import audit_entities
from resolvers.inputs import filter_id
from resolvers.pagination import BadRequest, Page, paginate
from resolvers.prefetch import prefetch_page
from resolvers.relations import CtxInfo


async def page_of(info: CtxInfo, query: QuerySet, order: list[str], window: dict[str, Any]) -> Page:
    """One page of the list, with the relations its selection asks for loaded in bulk (resolvers/prefetch.py)."""
    page = await paginate(query, order, first=window.get("first"), after=window.get("after"),
                          last=window.get("last"), before=window.get("before"))
    await prefetch_page(info, page.rows)
    return page


def _set(obj: Any, name: str) -> Any:
    value = getattr(obj, name, None) if obj is not None else None
    return None if value is None or value.__class__.__name__ == "UnsetType" else value


def text(filter: Any, name: str, model: type | None = None) -> str | None:
    """A text condition of a filter, bounded: an exact value by its column (`model`'s field `name`), a search by
    SEARCH_MAX_LENGTH. Longer is a GraphQL error (BAD_REQUEST), never a query."""
    value = _set(filter, name)
    limit = (max_length(model, name) if model is not None else None) or SEARCH_MAX_LENGTH
    if isinstance(value, str) and len(value) > limit:
        raise BadRequest(f"filter.{camel(name)} is at most {limit} characters.")
    return value


def scoped(info: CtxInfo, model: type) -> QuerySet:
    viewer = info.context.viewer
    assert viewer is not None  # root fields refuse anonymous callers first
    return visible(viewer, model)


def by_id(query: QuerySet, name: str, value: Any, type_name: str) -> QuerySet:
    """Narrow `query` to rows whose `name` is the record `value` names; nothing when it names another type."""
    pk = filter_id(value, type_name)
    return query.filter(**{name: pk}) if pk is not None else query.filter(id__in=[])


async def accounts(info: CtxInfo, filter: Any, order: list[str], window: dict[str, Any]) -> Page:
    query = scoped(info, models.Account)
    if search := text(filter, "search"):
        query = query.filter(Q(number__icontains=search) | Q(name__icontains=search))
    for name in ("bill_group", "division", "currency"):
        if (value := text(filter, name, models.Account)) is not None:
            query = query.filter(**{name: value})
    if (restricted := _set(filter, "restricted")) is not None:
        query = query.filter(restricted=restricted)
    return await page_of(info, query, order, window)


async def sales_contracts(info: CtxInfo, filter: Any, order: list[str], window: dict[str, Any]) -> Page:
    query = scoped(info, models.SalesContract)
    if account := _set(filter, "account_id"):
        query = by_id(query, "account_id", account, "Account")
    if search := text(filter, "search"):
        query = query.filter(number__icontains=search)
    for name in ("frequency", "status"):
        if (value := _set(filter, name)) is not None:
            query = query.filter(**{name: value})
    return await page_of(info, query, order, window)


async def ledger_accounts(info: CtxInfo, filter: Any, window: dict[str, Any]) -> Page:
    query = scoped(info, models.LedgerAccount)
    if (kind := _set(filter, "kind")) is not None:
        query = query.filter(kind=kind)
    if (active := _set(filter, "active")) is not None:
        query = query.filter(active=active)
    return await page_of(info, query, ["code"], window)


async def tax_rates(info: CtxInfo, window: dict[str, Any]) -> Page:
    return await page_of(info, scoped(info, models.TaxRate), ["location"], window)


async def accounting_periods(info: CtxInfo, filter: Any, window: dict[str, Any]) -> Page:
    query = scoped(info, models.AccountingPeriod)
    if (status := _set(filter, "status")) is not None:
        query = query.filter(status=status)
    return await page_of(info, query, ["-month"], window)


async def teams(info: CtxInfo, window: dict[str, Any]) -> Page:
    return await page_of(info, scoped(info, models.Team), ["name"], window)


async def approval_rules(info: CtxInfo, window: dict[str, Any]) -> Page:
    return await page_of(info, scoped(info, models.ApprovalRule), ["kind", "currency", "id"], window)


async def billing_schedules(info: CtxInfo, window: dict[str, Any]) -> Page:
    return await page_of(info, scoped(info, models.BillingSchedule), ["name"], window)


async def schedule_runs(info: CtxInfo, schedule_id: int, window: dict[str, Any]) -> Page:
    query = scoped(info, models.BillingBatch).filter(schedule_id=schedule_id)
    return await page_of(info, query, ["-scheduled_for", "-id"], window)


async def users(info: CtxInfo, window: dict[str, Any]) -> Page:
    return await page_of(info, scoped(info, models.User), ["email"], window)


async def api_tokens(info: CtxInfo, window: dict[str, Any]) -> Page:
    query = scoped(info, models.AccessToken).filter(kind=TokenKind.API)
    return await page_of(info, query, ["-created_at"], window)


async def findings_of_batch(info: CtxInfo, batch_id: int, unresolved_only: bool) -> list[Any]:
    query = scoped(info, models.Finding).filter(batch_id=batch_id, billing_id=None)
    if unresolved_only:
        query = query.filter(resolved_at=None)
    return list(await query.order_by("id"))


async def billings_of_batch(info: CtxInfo, batch_id: int, filter: Any, order: list[str],
                            window: dict[str, Any]) -> Page:
    from resolvers.review import billing_filter

    billings = scoped(info, models.PeriodicBilling).filter(batch_id=batch_id)
    try:
        query = billing_filter(billings, filter)
    except DomainError:  # an account or contract id of another type: no billing matches
        query = billings.filter(id__in=[])
    return await page_of(info, query, order, window)


async def audits(info: CtxInfo, filter: Any, window: dict[str, Any]) -> Page:
    query = scoped(info, models.Audit)
    for name in ("entity", "field", "operation"):
        if (value := text(filter, name, models.Audit)) is not None:
            query = query.filter(**{name: value})
    for name, type_name in (("batch_id", "BillingBatch"), ("billing_id", "PeriodicBilling")):
        if (value := _set(filter, name)) is not None:
            query = by_id(query, name, value, type_name)
    if (value := _set(filter, "entity_id")) is not None:
        query = by_id(query.filter(entity__in=audit_entities(value.type_name)), "entity_id", value,
                      value.type_name)
    return await page_of(info, query, ["-id"], window)


async def billing_batches(info: CtxInfo, filter: Any, window: dict[str, Any]) -> Page:
    view = _set(filter, "view")
    query = scoped(info, models.BillingBatch).filter(batches.view_filter(view.value if view else None))
    if statuses := _set(filter, "status"):
        query = query.filter(status__in=list(statuses))
    for name in ("bill_group", "division"):
        if (value := text(filter, name, models.BillingBatch)) is not None:
            query = query.filter(**{name: value})
    if search := text(filter, "search"):
        query = query.filter(Q(name__icontains=search) | Q(code__icontains=search))
    return await page_of(info, query, ["-created_at"], window)


async def invoices(info: CtxInfo, filter: Any, order: list[str], window: dict[str, Any],
                   batch_id: int | None = None) -> Page:
    query = scoped(info, models.Invoice)
    if batch_id is not None:
        query = query.filter(batch_id=batch_id)
    for name, type_name in (("batch_id", "BillingBatch"), ("account_id", "Account")):
        if (value := _set(filter, name)) is not None:
            query = by_id(query, name, value, type_name)
    if statuses := _set(filter, "status"):
        query = query.filter(status__in=list(statuses))
    if search := text(filter, "search"):
        query = query.filter(Q(number__icontains=search) | Q(account__number__icontains=search)
                             | Q(account__name__icontains=search))
    for name, lookup in (("invoice_date_from", "invoice_date__gte"), ("invoice_date_to", "invoice_date__lte"),
                         ("due_date_to", "due_date__lte")):
        if (value := _set(filter, name)) is not None:
            query = query.filter(**{lookup: value})
    if (unpaid := _set(filter, "unpaid")) is not None:  # by status: SQLite compares money as text
        query = query.exclude(status=InvoiceStatus.PAID) if unpaid else query.filter(status=InvoiceStatus.PAID)
    return await page_of(info, query, order, window)


async def notifications(info: CtxInfo, filter: Any, window: dict[str, Any]) -> Page:
    query = scoped(info, models.Notification)
    if (value := _set(filter, "batch_id")) is not None:
        query = by_id(query, "batch_id", value, "BillingBatch")
    if (status := _set(filter, "status")) is not None:
        query = query.filter(status=status)
    return await page_of(info, query, ["-id"], window)

"""Billing batches: creation, scope and the summary a billing team reads (docs/DATA_MODEL.md)."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from tortoise import connections
from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.queryset import QuerySet

import models
from billrun.settings import get_settings
from domain import clock, events, periods, sequences, validation
from domain.access import Viewer, hidden, require, sees_all_accounts, visible
from domain.currencies import currency_problem
from domain.errors import DomainError, ErrorCode, Problem, raise_if
from domain.transactions import in_transaction
from models import locks
from models.bulk import money_sums
from models.enums import BatchStatus, BillingStatus, ContractStatus, Permission

DRAFT_STATUSES = (BatchStatus.NOT_STARTED, BatchStatus.PROCESSING, BatchStatus.PROCESSED, BatchStatus.FAILED,
                  BatchStatus.POSTING)
POSTED_STATUSES = (BatchStatus.POSTED, BatchStatus.COMPLETED)
BILLED_CONTRACT_STATUSES = (ContractStatus.ACTIVE, ContractStatus.ENDED)


async def create_batch(viewer: Viewer, data: dict) -> models.BillingBatch:
    """A new batch, NOT_STARTED. The invoice date defaults to today (BILLRUN_TIMEZONE) and must fall in an open
    accounting period; the as-of date defaults to the invoice date."""
    require(viewer, Permission.BILLING_ACCESS)
    name = (data.get("name") or "").strip()
    invoice_date: date = data.get("invoice_date") or clock.today()
    as_of: date = data.get("as_of_date") or invoice_date
    currency = data.get("currency") or get_settings().base_currency
    problems = []
    if not name:
        problems.append(Problem(ErrorCode.INVALID_INPUT, "Name the batch.", "name"))
    if (problem := currency_problem(currency)) is not None:
        problems.append(problem)
    raise_if(problems + validation.text_problems(models.BillingBatch, data))
    if not await periods.is_open(invoice_date):
        raise DomainError(ErrorCode.PERIOD_CLOSED,
                          f"The invoice date {invoice_date} is not in an open accounting period.", "invoiceDate")
    if await models.BillingBatch.exists(name=name):
        raise DomainError(ErrorCode.DUPLICATE, f"A batch named {name!r} exists.", "name")
    async with in_transaction():
        return await insert_batch(name=name, bill_group=every_or_one(data.get("bill_group")),
                                  division=every_or_one(data.get("division")), currency=currency,
                                  invoice_date=invoice_date, as_of_date=as_of, created_by_id=viewer.user_id)


async def insert_batch(**values: Any) -> models.BillingBatch:
    """Write a new batch, numbered, with its BATCH_CREATED event: inside the caller's transaction, its checks
    done (by `create_batch`, or by the scheduler)."""
    code = f"BB-{await sequences.next_value('billing_batch'):06d}"
    batch = await models.BillingBatch.create(code=code, **values)
    await events.batch_created(batch)
    return batch


def every_or_one(value: str | None) -> str | None:
    """Blank or "ALL" means every bill group / division."""
    return None if value is None or not value.strip() or value.strip().upper() == "ALL" else value.strip()


OPEN_FOR_REVIEW = (BatchStatus.PROCESSED, BatchStatus.FAILED)


async def hold_open(batch_id: int | None, field: str = "id") -> None:
    """Inside a transaction that changes a batch's billings: share-lock the batch row and insist it is still
    open for review. Posting takes the row exclusively to move the batch to POSTING, so a disposition either
    commits before posting re-checks its guards, or waits and is then refused: never a change under a post."""
    status = await locks.batch_status_shared(connections.get("default"), batch_id)
    if status not in OPEN_FOR_REVIEW:
        where = f"The batch is {status}" if status else "The billing waits for its account's next batch"
        raise DomainError(ErrorCode.BATCH_LOCKED, f"{where}: its billings cannot change now.", field)


def accounts_in_scope(batch: models.BillingBatch) -> QuerySet[models.Account]:
    """The accounts a batch bills: its currency, its bill group and division (or all)."""
    query = models.Account.filter(currency=batch.currency)
    if batch.bill_group is not None:
        query = query.filter(bill_group=batch.bill_group)
    if batch.division is not None:
        query = query.filter(division=batch.division)
    return query


def contracts_in_scope(batch: models.BillingBatch) -> QuerySet[models.SalesContract]:
    query = models.SalesContract.filter(status__in=BILLED_CONTRACT_STATUSES, start_date__lte=batch.as_of_date,
                                        account__currency=batch.currency)
    if batch.bill_group is not None:
        query = query.filter(account__bill_group=batch.bill_group)
    if batch.division is not None:
        query = query.filter(account__division=batch.division)
    return query


# Billings a batch would still invoice at posting: in a draft run, its invoices to be.
WOULD_INVOICE = (BillingStatus.NEW, BillingStatus.APPROVAL_IN_PROCESS, BillingStatus.APPROVED)


@dataclass
class Summary:
    """What a billing team reads on a batch: every figure over the billings and invoices the viewer may see; the
    rest only as the two hidden counts."""

    billing_count: int = 0
    counts_by_status: dict[BillingStatus, int] = field(default_factory=dict)
    total_amount: Decimal = Decimal("0.00")
    invoice_count: int = 0
    total_amount_due: Decimal = Decimal("0.00")
    amount_awaiting_payment: Decimal = Decimal("0.00")
    amount_paid: Decimal = Decimal("0.00")
    hidden_billing_count: int = 0
    hidden_invoice_count: int = 0


async def summarize(viewer: Viewer, batch_ids: list[int]) -> dict[int, Summary]:
    """Summaries of several batches in a fixed number of queries (money summed as Decimal in Python, since
    SQLite sums decimals as floats).

    `hidden_invoice_count` counts the invoices of hidden accounts the batch has posted plus those it would still
    post (hidden billings NEW, APPROVAL_IN_PROCESS or APPROVED): the draft run's banner, and after posting the
    posted ones. A NOT_STARTED batch has no billings yet, so 0; the analysis preview counts what processing
    would create for hidden accounts (`BatchPreview.hiddenBillingCount`)."""
    summaries = {batch_id: Summary() for batch_id in batch_ids}
    billings = visible(viewer, models.PeriodicBilling).filter(batch_id__in=batch_ids)
    rows = await billings.group_by("batch_id", "status").annotate(n=Count("id")).values("batch_id", "status", "n")
    for row in rows:
        summary = summaries[row["batch_id"]]
        summary.counts_by_status[BillingStatus(row["status"])] = row["n"]
        summary.billing_count += row["n"]
    counted = billings.exclude(status__in=[BillingStatus.REJECTED, BillingStatus.CANCELLED])
    for batch_id, (_, amount) in (await money_sums(counted, "batch_id", "amount")).items():
        summaries[batch_id].total_amount = amount
    invoices = visible(viewer, models.Invoice).filter(batch_id__in=batch_ids)
    for batch_id, (n, amount, paid) in (await money_sums(invoices, "batch_id", "amount", "amount_paid")).items():
        summary = summaries[batch_id]
        summary.invoice_count = n
        summary.total_amount_due = amount
        summary.amount_paid = paid
        summary.amount_awaiting_payment = amount - paid
    if sees_all_accounts(viewer):
        return summaries
    hidden_billings = hidden(viewer, models.PeriodicBilling).filter(batch_id__in=batch_ids)
    for batch_id, status, n in await hidden_billings.group_by("batch_id", "status").annotate(
            n=Count("id")).values_list("batch_id", "status", "n"):
        summaries[batch_id].hidden_billing_count += n
        if BillingStatus(status) in WOULD_INVOICE:
            summaries[batch_id].hidden_invoice_count += n
    hidden_invoices = hidden(viewer, models.Invoice).filter(batch_id__in=batch_ids)
    for batch_id, n in await hidden_invoices.group_by("batch_id").annotate(n=Count("id")).values_list("batch_id",
                                                                                                       "n"):
        summaries[batch_id].hidden_invoice_count += n
    return summaries


def view_filter(view: str | None) -> Q:
    """The Karbon tabs: ALL, DRAFT (not yet posted) and POSTED (posted or completed)."""
    if view == "DRAFT":
        return Q(status__in=DRAFT_STATUSES)
    if view == "POSTED":
        return Q(status__in=POSTED_STATUSES)
    return Q()



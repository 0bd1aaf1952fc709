"""Processing a batch (docs/BILLING.md): the billings due up to the as-of date, priced and written set-based.

The work is a chunked job (`domain.jobs`): a chunk is a slice of contracts, or of accounts with one-off items.
A chunk reads its inputs in a fixed number of queries, prices them with `domain.pricing` and writes billings,
details and distributions with COPY, all in the chunk's transaction, which also marks it done and counts the
job's progress. A redelivered chunk finds itself done; a chunk that died mid-way rolled back; and the unique
index on (contract, period start) refuses a second billing of any contract period, whatever happens. The last
chunk sets the batch PROCESSED and queues its analysis. Preview runs the very same loading and pricing and
writes nothing.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import cast

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Subquery

import models
from billrun.settings import get_settings
from domain import analysis, audit, batches, clock, events, jobs
from domain.access import Viewer, get_visible, hidden, require
from domain.errors import DomainError, ErrorCode
from domain.pricing import (
    BillingDraft,
    ChargeIn,
    ContractIn,
    DatedPriceIn,
    OneOffIn,
    ServiceChangeIn,
    TaxIn,
    price_contract,
    price_one_offs,
)
from domain.transactions import in_transaction
from models import reads
from models.bulk import allocate_ids, insert_rows, set_where_null
from models.enums import (
    AdjustmentKind,
    BatchStatus,
    BillingStatus,
    DetailKind,
    JobKind,
    Permission,
    Severity,
    WorkOrderStatus,
)

# ---------------------------------------------------------------- starting, from the API


async def start_processing(viewer: Viewer, batch_id: int) -> models.Job:
    """Refuse or start: analysis runs first, and unresolved ERROR findings block (UNRESOLVED_FINDINGS)."""
    require(viewer, Permission.BILLING_ACCESS)
    batch = await get_visible(viewer, models.BillingBatch, batch_id, "Billing batch")
    if batch.status != BatchStatus.NOT_STARTED:
        raise DomainError(ErrorCode.INVALID_STATUS,
                          f"Only a NOT_STARTED batch can be processed; this one is {batch.status.value}.", "batchId")
    await analysis.analyze(batch)
    await analysis.refuse_if_blocked(viewer, batch.id)
    async with in_transaction():
        updated = await models.BillingBatch.filter(id=batch.id, status=BatchStatus.NOT_STARTED).update(
            status=BatchStatus.PROCESSING, version=batch.version + 1)
        if not updated:
            raise DomainError(ErrorCode.CONCURRENT_UPDATE, "The batch changed meanwhile; reload it.", "batchId")
        job = await jobs.create(JobKind.PROCESS, batch_id=batch.id, created_by=viewer.user_id)
        await audit.record(viewer, "BillingBatch", batch.id, {"status": (batch.status, BatchStatus.PROCESSING)},
                           "PROCESS", batch_id=batch.id)
        await events.batch_status_changed(batch.id, batch.status, BatchStatus.PROCESSING, job_id=job.id)
    jobs.start(job)
    return job


# ---------------------------------------------------------------- the job: its chunks, in a worker


async def _chunks(job: models.Job) -> list[jobs.Chunk]:
    """Contracts in scope, then accounts with one-off items, in slices of BILLRUN_CHUNK_SIZE; HOLD billings
    waiting for an account of the batch join it first (in the same planning transaction)."""
    size = get_settings().chunk_size
    batch = jobs.batch_of(job)
    await _adopt_held_billings(batch)
    contract_ids = sorted(cast(list[int], await batches.contracts_in_scope(batch).values_list("id", flat=True)))
    account_ids = sorted(await _accounts_with_one_offs(batch))
    return ([jobs.Chunk(len(part), {"contract_ids": part}) for part in _slices(contract_ids, size)]
            + [jobs.Chunk(len(part), {"account_ids": part}) for part in _slices(account_ids, size)])


def _slices(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


async def _adopt_held_billings(batch: models.BillingBatch) -> None:
    """HOLD billings that left a posted batch join the next batch processed for their account (docs/POSTING.md)."""
    held = models.PeriodicBilling.filter(batch_id=None, account_id__in=Subquery(
        batches.accounts_in_scope(batch).values("id")))
    adopted = await held.values_list("id", "account_id")
    for billing_id, account_id in adopted:
        await audit.record(None, "PeriodicBilling", billing_id, {"batch_id": (None, batch.id)}, "ADOPT",
                           batch_id=batch.id, billing_id=billing_id, account_id=account_id)
    await held.update(batch_id=batch.id)
    if adopted:
        await events.billings_moved(len(adopted), None, batch.id, None)


async def _accounts_with_one_offs(batch: models.BillingBatch) -> set[int]:
    in_scope = Subquery(batches.accounts_in_scope(batch).values("id"))
    found: set[int] = set()
    for query in (models.WorkOrder.filter(**_pending_work_orders(batch)),
                  models.ManualCharge.filter(billed_on_id=None, charge_date__lte=batch.as_of_date),
                  models.InvoiceAdjustment.filter(billed_on_id=None, approved=True)):
        found |= set(cast(list[int], await query.filter(account_id__in=in_scope).distinct().values_list(
            "account_id", flat=True)))
    return found


def _pending_work_orders(batch: models.BillingBatch) -> dict:
    return {"billed_on_id": None, "status": WorkOrderStatus.COMPLETED, "rate__isnull": False,
            "performed_on__lte": batch.as_of_date}


# ---------------------------------------------------------------- loading and pricing (shared with preview)


@dataclass
class Inputs:
    contracts: list[ContractIn] = field(default_factory=list)
    billed_starts: dict[int, set[date]] = field(default_factory=lambda: defaultdict(set))
    billed_changes: set[int] = field(default_factory=set)
    taxes: dict[int, tuple[str, TaxIn | None]] = field(default_factory=dict)
    currencies: dict[int, str] = field(default_factory=dict)  # by account: lines round to its minor unit
    one_offs: dict[int, list[OneOffIn]] = field(default_factory=lambda: defaultdict(list))


async def _load_contracts(contract_ids: Sequence[int], inputs: Inputs) -> set[int]:
    rows = await reads.contract_rows(contract_ids)
    dated: dict[int, list[DatedPriceIn]] = defaultdict(list)
    for pid, charge_id, first, last, price in rows.dated_prices:
        dated[charge_id].append(DatedPriceIn(pid, first, last, price))
    changes: dict[int, list[ServiceChangeIn]] = defaultdict(list)
    for cid, charge_id, effective, price, billed in rows.service_changes:
        changes[charge_id].append(ServiceChangeIn(cid, effective, price))
        if billed is not None:
            inputs.billed_changes.add(cid)
    by_contract: dict[int, list[ChargeIn]] = defaultdict(list)
    for cid, contract_id, description, price, quantity, revenue in rows.charges:
        by_contract[contract_id].append(ChargeIn(cid, description, price, quantity, revenue,
                                                 tuple(dated[cid]), tuple(changes[cid])))
    for contract_id, start in rows.billed_starts:
        inputs.billed_starts[contract_id].add(start)
    for cid, account_id, frequency, start, end, anchor in rows.contracts:
        inputs.contracts.append(ContractIn(cid, account_id, frequency, start, end, anchor,
                                           tuple(by_contract[cid])))
    return {row[1] for row in rows.contracts}


async def _load_one_offs(batch: models.BillingBatch, account_ids: Sequence[int], inputs: Inputs) -> None:
    for wo in await models.WorkOrder.filter(account_id__in=account_ids, **_pending_work_orders(batch)).values(
            "id", "account_id", "description", "performed_on", "quantity", "rate", "revenue_account_id",
            "charge__revenue_account_id"):
        inputs.one_offs[wo["account_id"]].append(OneOffIn(
            DetailKind.WORK_ORDER, "WorkOrder", wo["id"], wo["description"], wo["performed_on"],
            wo["quantity"] * wo["rate"], wo["revenue_account_id"] or wo["charge__revenue_account_id"],
            quantity=wo["quantity"], unit_price=wo["rate"]))
    for mc in await models.ManualCharge.filter(account_id__in=account_ids, billed_on_id=None,
                                               charge_date__lte=batch.as_of_date).values_list(
            "id", "account_id", "description", "charge_date", "amount", "revenue_account_id"):
        inputs.one_offs[mc[1]].append(OneOffIn(DetailKind.MANUAL, "ManualCharge", mc[0], mc[2], mc[3], mc[4], mc[5]))
    for adj in await models.InvoiceAdjustment.filter(account_id__in=account_ids, billed_on_id=None,
                                                     approved=True).values_list(
            "id", "account_id", "description", "approved_at", "kind", "amount", "revenue_account_id"):
        signed = adj[5] if adj[4] == AdjustmentKind.DEBIT else -adj[5]
        day = min(adj[3].date(), batch.as_of_date) if adj[3] else batch.as_of_date
        inputs.one_offs[adj[1]].append(OneOffIn(DetailKind.ADJUSTMENT, "InvoiceAdjustment", adj[0], adj[2], day,
                                                signed, adj[6]))


async def _load_accounts(account_ids: Iterable[int], inputs: Inputs) -> None:
    """Each account's currency, tax location and the location's rate."""
    accounts, rates = await reads.account_rows(list(account_ids))
    taxes = {loc: TaxIn(loc, rate, ledger) for loc, rate, ledger in rates}
    for account_id, location, currency in accounts:
        inputs.taxes[account_id] = (location, taxes.get(location))
        inputs.currencies[account_id] = currency


async def load_inputs(batch: models.BillingBatch, *, contract_ids: Sequence[int] = (),
                      account_ids: Sequence[int] = ()) -> Inputs:
    """Everything pricing needs for these contracts / accounts, in a fixed number of queries."""
    inputs = Inputs()
    accounts = set(account_ids)
    if contract_ids:
        accounts |= await _load_contracts(contract_ids, inputs)
    if account_ids:
        await _load_one_offs(batch, account_ids, inputs)
    await _load_accounts(accounts, inputs)
    return inputs


def price(batch: models.BillingBatch, inputs: Inputs) -> list[BillingDraft]:
    """Pure: the billings these inputs make for this batch."""
    drafts: list[BillingDraft] = []
    for contract in inputs.contracts:
        location, tax = inputs.taxes[contract.account_id]
        for draft in price_contract(contract, currency=inputs.currencies[contract.account_id],
                                    as_of=batch.as_of_date,
                                    billed_starts=frozenset(inputs.billed_starts.get(contract.id, ())),
                                    tax=tax, tax_location=location):
            draft.lines = [line for line in draft.lines
                           if not (line.source_type == "ServiceChange" and line.source_id in inputs.billed_changes)]
            drafts.append(draft)
    for account_id, items in inputs.one_offs.items():
        location, tax = inputs.taxes[account_id]
        one_offs = price_one_offs(account_id, items, currency=inputs.currencies[account_id], as_of=batch.as_of_date,
                                  tax=tax, tax_location=location)
        if one_offs is not None:
            drafts.append(one_offs)
    return drafts


# ---------------------------------------------------------------- one chunk, in a worker

BILLING_COLUMNS = ("id", "batch_id", "contract_id", "account_id", "frequency", "period_start", "period_end",
                   "billing_start", "billing_end", "as_of_date", "amount", "status", "tax_location",
                   "internal_comment", "external_comment", "version", "created_at", "updated_at")
DETAIL_COLUMNS = ("id", "billing_id", "position", "kind", "description", "amount", "days_billed", "days_in_period",
                  "price_source", "charge_id", "dated_price_id", "source_type", "source_id", "revenue_account_id",
                  "trace", "created_at")
DISTRIBUTION_COLUMNS = ("detail_id", "revenue_account_id", "amount")
ITEM_TABLES = {"WorkOrder": "work_order", "ManualCharge": "manual_charge", "ServiceChange": "service_change",
               "InvoiceAdjustment": "invoice_adjustment"}


async def _bill_chunk(tx: BaseDBAsyncClient, job: models.Job, chunk: models.JobChunk) -> None:
    """The work of one chunk, inside its transaction: load, price and write its billings."""
    batch = jobs.batch_of(job)
    inputs = await load_inputs(batch, contract_ids=chunk.params.get("contract_ids", ()),
                               account_ids=chunk.params.get("account_ids", ()))
    await write_drafts(tx, batch, price(batch, inputs))


async def write_drafts(tx: BaseDBAsyncClient, batch: models.BillingBatch, drafts: list[BillingDraft]) -> int:
    """Write billings, details, distributions and findings; mark the billed items. Returns billings written."""
    if not drafts:
        return 0
    now = clock.now()
    billing_ids = await allocate_ids(tx, "periodic_billing", len(drafts))
    lines = [(bid, pos, line) for bid, draft in zip(billing_ids, drafts, strict=True)
             for pos, line in enumerate(draft.lines)]
    detail_ids = await allocate_ids(tx, "billing_detail", len(lines))
    await insert_rows(tx, "periodic_billing", BILLING_COLUMNS, [
        (bid, batch.id, d.contract_id, d.account_id, d.frequency.value if d.frequency else None, d.period_start,
         d.period_end, d.billing_start, d.billing_end, d.as_of, d.amount, d.status.value, d.tax_location, "", "", 1,
         now, now)
        for bid, d in zip(billing_ids, drafts, strict=True)])
    await insert_rows(tx, "billing_detail", DETAIL_COLUMNS, [
        (did, bid, pos, line.kind.value, line.description[:200], line.amount, line.days_billed, line.days_in_period,
         line.price_source.value if line.price_source else None, line.charge_id, line.dated_price_id,
         line.source_type, line.source_id, line.revenue_account_id, line.trace, now)
        for did, (bid, pos, line) in zip(detail_ids, lines, strict=True)])
    await insert_rows(tx, "revenue_distribution", DISTRIBUTION_COLUMNS, [
        (did, account, amount) for did, (_, _, line) in zip(detail_ids, lines, strict=True)
        for account, amount in line.distributions if account is not None])
    await _mark_items_billed(tx, lines)
    await models.Finding.bulk_create([
        models.Finding(batch_id=batch.id, billing_id=bid, account_id=d.account_id, kind=p.kind,
                       severity=Severity.ERROR, key=f"{p.kind}:PeriodicBilling:{bid}", message=p.message,
                       subject_type="PeriodicBilling", subject_id=bid)
        for bid, d in zip(billing_ids, drafts, strict=True) for p in d.problems])
    return len(drafts)


async def _mark_items_billed(tx: BaseDBAsyncClient, lines: list) -> None:
    by_table: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for billing_id, _, line in lines:
        if line.source_type in ITEM_TABLES:
            by_table[ITEM_TABLES[line.source_type]].append((line.source_id, billing_id))
    for table, pairs in by_table.items():
        changed = await set_where_null(tx, table, "billed_on_id", pairs)
        if changed != len(pairs):  # someone billed one of these items meanwhile: roll back and retry
            raise RuntimeError(f"{len(pairs) - changed} {table} row(s) were billed concurrently")


# ---------------------------------------------------------------- finishing, in the last chunk's transaction


async def _processed(tx: BaseDBAsyncClient, job: models.Job) -> list[models.Job]:
    """The batch is PROCESSED (audited, announced) and its analysis runs again, as a job of its own queued
    here, so a worker dying right after this commit cannot lose it."""
    batch_id = jobs.batch_of(job).id
    if not await models.BillingBatch.filter(id=batch_id, status=BatchStatus.PROCESSING).update(
            status=BatchStatus.PROCESSED, processed_at=clock.now()):
        return []  # not PROCESSING any more: nothing to finish here
    await audit.record(None, "BillingBatch", batch_id, {"status": (BatchStatus.PROCESSING, BatchStatus.PROCESSED)},
                       "PROCESS", batch_id=batch_id)
    await events.batch_status_changed(batch_id, BatchStatus.PROCESSING, BatchStatus.PROCESSED, job_id=job.id)
    return [await jobs.follow_up(JobKind.ANALYZE, batch_id=batch_id, created_by=job.created_by_id)]


JOB = jobs.Chunked(JobKind.PROCESS, jobs.PROCESS_CHUNK, chunks=_chunks, work=_bill_chunk, finish=_processed,
                   batch_status=BatchStatus.PROCESSING)


# ---------------------------------------------------------------- preview


@dataclass
class AccountPreview:
    account_id: int
    billing_count: int = 0
    amount: Decimal = Decimal("0.00")


@dataclass
class Preview:
    """Counts and amounts of the accounts the viewer may see; the others only as `hidden_billing_count`."""

    billing_count: int = 0
    amount: Decimal = Decimal("0.00")
    rejected_count: int = 0
    accounts: list[AccountPreview] = field(default_factory=list)
    hidden_billing_count: int = 0


async def preview_drafts(batch: models.BillingBatch) -> list[BillingDraft]:
    """Every billing processing would create now, with its lines and their traces, by the same loading and
    pricing as the job's chunks, writing nothing."""
    size = get_settings().chunk_size
    contract_ids = sorted(cast(list[int], await batches.contracts_in_scope(batch).values_list("id", flat=True)))
    account_ids = sorted(await _accounts_with_one_offs(batch))
    drafts: list[BillingDraft] = []
    for i in range(0, max(len(contract_ids), len(account_ids)), size):
        inputs = await load_inputs(batch, contract_ids=contract_ids[i:i + size], account_ids=account_ids[i:i + size])
        drafts += price(batch, inputs)
    return drafts


async def preview(batch: models.BillingBatch, viewer: Viewer) -> Preview:
    """What processing would create now (`preview_drafts`), counted. Billings of accounts hidden from the viewer
    are priced all the same, and only counted."""
    unseen = set(cast(list[int], await hidden(viewer, models.Account).values_list("id", flat=True)))  # few
    result = Preview()
    per_account: dict[int, AccountPreview] = {}
    for draft in await preview_drafts(batch):
        if draft.account_id in unseen:
            result.hidden_billing_count += 1
            continue
        entry = per_account.setdefault(draft.account_id, AccountPreview(draft.account_id))
        entry.billing_count += 1
        entry.amount += draft.amount
        result.billing_count += 1
        result.amount += draft.amount
        result.rejected_count += draft.status == BillingStatus.REJECTED_WITH_ERRORS
    result.accounts = sorted(per_account.values(), key=lambda a: a.account_id)
    return result

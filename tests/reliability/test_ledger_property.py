"""The ledger under random work: hypothesis draws small worlds (1 to 4 accounts, contracts, price schedules,
one-off items, auto-pay tokens that succeed, decline, fail transiently or lose their answer) and then a sequence
of steps — processing, reversing, dispositions, mass updates, detail edits, revenue splits and misc charges,
posting, payments and their retries, the sweeper settling lost answers, credit notes (whole or partial, credit
or refund, issued or voided), re-billing a credited period, the next month's batch that adopts held billings and
uses account credit.

After every step: every journal entry balances (the largest imbalance found is 0), the trial balance is zero,
the receivables of the example's accounts equal their invoices' open balances less what is owed back to the
customers (available account credit, refunds not made), and the journal rows seen so far are unchanged — only
appended (a digest of every entry and line row, `domain.ledger.journal_digest`); and every journal amount is
whole in the currency's minor unit (JPY worlds too).

The steps go through the GraphQL API as a client would; the worker jobs they start (processing, analysis,
posting, export, auto-pay, credit notes) run in this process through the domain calls the actors make
(`tests/support/inline_jobs.py`), and so do the sweeper's settlements — a worker process per message hop would
not fit 500 examples into the suite's time. Seeded (`derandomize`), bounded in examples and steps.
"""

import os
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models
from domain import credit_notes, ledger, payments
from models.bulk import money_sums
from models.enums import BatchStatus, CreditNoteStatus, CreditStatus, DetailKind, PaymentStatus
from tests.reliability import worlds
from tests.reliability.results import record
from tests.support import inline_jobs
from tests.support.api import Api

EXAMPLES = int(os.environ.get("BILLRUN_RELIABILITY_LEDGER_EXAMPLES", "500"))
MAX_STEPS = 10

CREATE_BATCH = """mutation($input: CreateBillingBatchInput!) { createBillingBatch(input: $input) {
  billingBatch { id } errors { code field message } } }"""
PROCESS = """mutation($id: ID!) { processBillingBatch(input: {batchId: $id}) { job { id } errors { code } } }"""
REVERSE = """mutation($id: ID!) { reverseBillingBatch(input: {batchId: $id}) { job { id } errors { code } } }"""
RESOLVE = """mutation($id: ID!) { resolveFinding(input: {id: $id, note: "checked"}) { errors { code } } }"""
STATUS = """mutation($id: ID!, $status: BillingStatus!) { updateBillingStatus(input: {billingId: $id,
  status: $status}) { errors { code } } }"""
MASS = """mutation($batch: ID!, $status: BillingStatus!, $from: [BillingStatus!]) { massUpdateBillingStatus(
  input: {batchId: $batch, status: $status, filter: {status: $from}}) { changedCount errors { code } } }"""
EDIT = """mutation($id: ID!, $amount: Decimal!) { updateBillingDetail(input: {id: $id, billingAmount: $amount}) {
  errors { code } } }"""
SPLIT = """mutation($id: ID!, $amount: Decimal!, $splits: [DistributionInput!]!) { updateBillingDetail(input: {
  id: $id, billingAmount: $amount, distributions: $splits}) { errors { code } } }"""
MISC = """mutation($id: ID!, $amount: Decimal!, $revenue: ID!) { addMiscCharge(input: {billingId: $id,
  description: "Extra", amount: $amount, revenueAccountId: $revenue}) { errors { code } } }"""
POST = """mutation($id: ID!) { postBillingBatch(input: {batchId: $id, mode: EXPORT}) { job { id }
  errors { code message } } }"""
CREATE_NOTE = """mutation($input: CreateCreditNoteInput!) { createCreditNote(input: $input) {
  creditNote { id } errors { code } } }"""
ISSUE_NOTE = """mutation($id: ID!) { issueCreditNote(input: {id: $id}) { errors { code } } }"""
VOID_NOTE = """mutation($id: ID!) { voidCreditNote(input: {id: $id}) { errors { code } } }"""
CARD = """mutation($id: ID!) { updateAccount(input: {id: $id, paymentMethodToken: "tok_ok"}) { errors { code } } }"""
RETRY = """mutation($id: ID!) { retryPayment(input: {invoiceId: $id}) { errors { code } } }"""
BOOKS = """{ trialBalance { totalDebit totalCredit balanced } }"""

TARGETS = ("APPROVED", "APPROVED", "HOLD", "CANCELLED", "REJECTED", "APPROVAL_IN_PROCESS", "NEW")
STEPS = ("process", "reverse", "dispose", "mass", "edit", "split", "misc", "post", "credit", "void", "retry", "sweep",
         "rebill", "next")


@dataclass
class Figures:
    examples: int = 0
    steps: int = 0
    steps_by_kind: dict[str, int] = field(default_factory=dict)
    refusals: int = 0
    entries_checked: int = 0
    entries_written: int = 0
    max_imbalance: Decimal = Decimal("0.00")
    unbalanced_entries: int = 0
    trial_balance_off: int = 0
    receivable_mismatches: int = 0
    journal_rows_mutated: int = 0
    amounts_below_minor_unit: int = 0
    invoices: int = 0
    payments_succeeded: int = 0
    credit_notes_issued: int = 0
    started: float = field(default_factory=time.monotonic)


@pytest.fixture
async def books(admin: Api, alone: None):
    """The chart (once for the whole run), and the figures, recorded when the run ends."""
    figures = Figures()
    accounts = await worlds.chart(admin)
    digest, _ = await ledger.journal_digest()
    yield admin, accounts, figures, [digest]
    wall = time.monotonic() - figures.started
    record("ledger_property", {
        "examples": figures.examples, "steps": figures.steps, "steps_by_kind": figures.steps_by_kind,
        "refused_steps": figures.refusals, "entries_checked": figures.entries_checked,
        "entries_written": figures.entries_written, "max_imbalance": str(figures.max_imbalance),
        "unbalanced_entries": figures.unbalanced_entries, "trial_balance_off": figures.trial_balance_off,
        "receivable_mismatches": figures.receivable_mismatches,
        "journal_rows_mutated": figures.journal_rows_mutated,
        "amounts_below_minor_unit": figures.amounts_below_minor_unit, "invoices": figures.invoices,
        "payments_succeeded": figures.payments_succeeded, "credit_notes_issued": figures.credit_notes_issued,
        "wall_seconds": round(wall, 1)},
        lost=figures.receivable_mismatches, duplicated=figures.unbalanced_entries,
        leaked=figures.journal_rows_mutated,
        held=["every journal entry balances after every step (max imbalance 0)",
              "the trial balance is zero after every step",
              "receivables equal open invoice balances less account credit and refunds owed",
              "journal rows are only appended: the digest of the rows seen so far never changes",
              "every journal amount is whole in the currency's minor unit (no fractional cents or yen)"])


class Example:
    """One example's state: its world, its batches (the last is the current one) and the checks."""

    def __init__(self, api: Api, accounts: dict[str, str], figures: Figures, digest: list, data: st.DataObject,
                 built: worlds.Built) -> None:
        self.api, self.accounts, self.figures, self.digest, self.data = api, accounts, figures, digest, data
        self.built = built
        self.batches: list[int] = []
        self.month = 5  # the current batch bills up to the end of this month of 2026

    def draw(self, strategy: st.SearchStrategy, label: str):
        return self.data.draw(strategy, label=label)

    async def mutate(self, name: str, query: str, variables: dict) -> dict:
        payload = (await self.api.ok(query, variables))[name]
        if payload["errors"]:  # a typed refusal: the rules said no, and nothing may have changed
            self.figures.refusals += 1
        return payload

    @property
    def batch(self) -> int:
        return self.batches[-1]

    async def batch_status(self) -> BatchStatus:
        return (await models.BillingBatch.get(id=self.batch)).status

    async def new_batch(self) -> None:
        invoice_date = worlds.month_end(date(2026, self.month, 1))
        payload = await self.api.mutate("createBillingBatch", CREATE_BATCH, {"input": {
            "name": f"{self.built.bill_group} {self.month}", "billGroup": self.built.bill_group, "division": "D",
            "currency": self.built.currency, "invoiceDate": invoice_date.isoformat(),
            "asOfDate": invoice_date.isoformat()}})
        self.batches.append(int(worlds.db_id(payload["billingBatch"]["id"])))

    async def run_jobs(self) -> None:
        await inline_jobs.run_pending(self.batches)

    # ------------------------------------------------------------ the steps

    async def available(self) -> list[str]:
        status = await self.batch_status()
        found = []
        if status == BatchStatus.NOT_STARTED:
            found.append("process")
        if status == BatchStatus.PROCESSED:
            found += ["reverse", "dispose", "dispose", "mass", "edit", "split", "misc", "post", "post"]
        if await models.Invoice.filter(batch_id__in=self.batches).exists():
            found += ["credit", "credit", "void", "retry", "sweep", "rebill"]
        if status in (BatchStatus.POSTED, BatchStatus.COMPLETED) and self.month < 12:
            found += ["next", "next"]
        return found

    async def step(self, kind: str) -> None:
        await getattr(self, f"_{kind}")()
        await self.run_jobs()

    async def _process(self) -> None:
        gid = worlds.gid("BillingBatch", self.batch)
        payload = (await self.api.ok(PROCESS, {"id": gid}))["processBillingBatch"]
        if any(e["code"] == "UNRESOLVED_FINDINGS" for e in payload["errors"]):
            for finding_id in await models.Finding.filter(batch_id=self.batch, severity="ERROR", resolved_at=None,
                                                          billing_id=None).values_list("id", flat=True):
                await self.api.ok(RESOLVE, {"id": worlds.gid("Finding", finding_id)})
            payload = (await self.api.ok(PROCESS, {"id": gid}))["processBillingBatch"]
        assert payload["errors"] == [], payload

    async def _reverse(self) -> None:
        await self.mutate("reverseBillingBatch", REVERSE, {"id": worlds.gid("BillingBatch", self.batch)})

    async def _billing(self, **filters: object) -> int | None:
        ids = await models.PeriodicBilling.filter(batch_id=self.batch, **filters).order_by("id").values_list(
            "id", flat=True)
        return self.draw(st.sampled_from(ids), "billing") if ids else None

    async def _dispose(self) -> None:
        billing = await self._billing()
        if billing is not None:
            await self.mutate("updateBillingStatus", STATUS, {"id": worlds.gid("PeriodicBilling", billing),
                                                              "status": self.draw(st.sampled_from(TARGETS), "to")})

    async def _mass(self) -> None:
        target = self.draw(st.sampled_from(["APPROVED", "HOLD", "APPROVAL_IN_PROCESS"]), "to")
        await self.mutate("massUpdateBillingStatus", MASS, {"batch": worlds.gid("BillingBatch", self.batch),
                                                            "status": target, "from": ["NEW"]})

    def _amount(self, high: str = "900") -> str:
        places = 0 if self.built.currency == "JPY" else 2
        return str(self.draw(worlds.money(places, low="0", high=high), "amount"))

    async def _edit(self) -> None:
        details = await models.BillingDetail.filter(billing__batch_id=self.batch).exclude(
            kind=DetailKind.TAX).order_by("id").values_list("id", flat=True)
        if details:
            await self.mutate("updateBillingDetail", EDIT, {"id": worlds.gid("BillingDetail", self.draw(
                st.sampled_from(details), "detail")), "amount": self._amount()})

    async def _split(self) -> None:
        """A line's revenue split over both revenue accounts (a partial credit then spreads over both)."""
        details = await models.BillingDetail.filter(billing__batch_id=self.batch).exclude(
            kind=DetailKind.TAX).order_by("id").values_list("id", "amount")
        if details:
            detail, amount = self.draw(st.sampled_from(details), "detail")
            share = self.draw(st.sampled_from([Decimal("0.5"), Decimal("0.3"), Decimal("0.07")]), "share")
            first = (amount * share).quantize(self.minor)
            await self.mutate("updateBillingDetail", SPLIT, {"id": worlds.gid("BillingDetail", detail),
                                                             "amount": str(amount), "splits": [
                {"revenueAccountId": self.accounts["4000"], "amount": str(first)},
                {"revenueAccountId": self.accounts["4100"], "amount": str(amount - first)}]})

    @property
    def minor(self) -> Decimal:
        return Decimal(1) if self.built.currency == "JPY" else Decimal("0.01")

    async def _misc(self) -> None:
        billing = await self._billing()
        if billing is not None:
            await self.mutate("addMiscCharge", MISC, {"id": worlds.gid("PeriodicBilling", billing),
                                                      "amount": self._amount("300"),
                                                      "revenue": self.accounts["4100"]})

    async def _post(self) -> None:
        batch = worlds.gid("BillingBatch", self.batch)
        await self.mutate("massUpdateBillingStatus", MASS, {"batch": batch, "status": "APPROVED",
                                                            "from": ["NEW", "APPROVAL_IN_PROCESS"]})
        payload = await self.mutate("postBillingBatch", POST, {"id": batch})
        assert payload["errors"] == [], payload

    async def _invoice(self) -> models.Invoice | None:
        ids = await models.Invoice.filter(batch_id__in=self.batches).order_by("id").values_list("id", flat=True)
        return await models.Invoice.get(id=self.draw(st.sampled_from(ids), "invoice")) if ids else None

    async def _credit(self) -> None:
        invoice = await self._invoice()
        if invoice is None:
            return
        data: dict = {"invoiceId": worlds.gid("Invoice", invoice.id), "reason": "ORDER_CHANGE",
                      "creditDate": invoice.invoice_date.isoformat()}
        if self.draw(st.booleans(), "whole"):
            data["wholeInvoice"] = True
        else:
            details = await models.BillingDetail.filter(billing_id=invoice.billing_id).order_by("id").values_list(
                "id", "amount")
            detail, amount = self.draw(st.sampled_from(details), "line")
            share = self.draw(st.sampled_from([None, Decimal("0.5"), Decimal("0.1")]), "share")
            part = None if share is None else str((amount * share).quantize(self.minor))
            data["lines"] = [{"invoiceLineId": worlds.gid("BillingDetail", detail), "amount": part}]
        if invoice.amount_paid > 0 and self.draw(st.booleans(), "refund"):
            data["refundAmount"] = str(invoice.amount_paid)  # all of it; refused when more than is returned
        created = await self.mutate("createCreditNote", CREATE_NOTE, {"input": data})
        if created["errors"] or self.draw(st.integers(0, 4), "keep draft") == 0:
            return
        await self.mutate("issueCreditNote", ISSUE_NOTE, {"id": created["creditNote"]["id"]})

    async def _void(self) -> None:
        drafts = await models.CreditNote.filter(batch_id__in=self.batches, status=CreditNoteStatus.DRAFT).order_by(
            "id").values_list("id", flat=True)
        if drafts:
            await self.mutate("voidCreditNote", VOID_NOTE, {"id": worlds.gid("CreditNote", self.draw(
                st.sampled_from(drafts), "draft"))})

    async def _retry(self) -> None:
        failed = await models.Payment.filter(invoice__batch_id__in=self.batches, status__in=[
            PaymentStatus.DECLINED, PaymentStatus.FAILED]).order_by("id").values_list("invoice_id",
                                                                                    "invoice__account_id")
        if failed:
            invoice_id, account_id = self.draw(st.sampled_from(failed), "payment")
            await self.mutate("updateAccount", CARD, {"id": worlds.gid("Account", account_id)})
            await self.mutate("retryPayment", RETRY, {"id": worlds.gid("Invoice", invoice_id)})

    async def _sweep(self) -> None:
        """The sweeper's settlements: ask the gateway about lost answers (payments and refunds)."""
        await payments.settle_unknown(timedelta(0))
        await credit_notes.settle_unknown(timedelta(0))

    async def _rebill(self) -> None:
        """Credit, reject, re-run: a fully credited invoice's billing REJECTED, to be billed again next batch."""
        credited = [i for i in await models.Invoice.filter(batch_id__in=self.batches).order_by("id")
                    if i.amount > 0 and i.amount_credited >= i.amount]
        if credited:
            invoice = self.draw(st.sampled_from(credited), "credited")
            await self.mutate("updateBillingStatus", STATUS, {"id": worlds.gid("PeriodicBilling", invoice.billing_id),
                                                              "status": "REJECTED"})

    async def _next(self) -> None:
        self.month += 1
        await self.new_batch()

    # ------------------------------------------------------------ the invariants

    async def check(self) -> None:
        f = self.figures
        totals = await money_sums(models.JournalLine.all(), "entry_id", "debit", "credit")
        f.entries_checked += len(totals)
        off = [abs(debit - credit) for _, debit, credit in totals.values()]
        f.max_imbalance = max([f.max_imbalance, *off])
        f.unbalanced_entries += sum(1 for d in off if d != 0)
        # The trial balance's totals are the sums of the entries' (the API's trialBalance is read per example).
        debits = sum((debit for _, debit, _ in totals.values()), Decimal(0))
        credits = sum((credit for _, _, credit in totals.values()), Decimal(0))
        f.trial_balance_off += debits != credits
        digest, unchanged = await ledger.journal_digest(self.digest[0])
        f.entries_written += digest.last_entry_id - self.digest[0].last_entry_id
        f.journal_rows_mutated += not unchanged
        self.digest[0] = digest
        receivable, expected = await self.receivables()
        f.receivable_mismatches += receivable != expected
        fractional = [amount for pair in await models.JournalLine.filter(
            entry__invoice__account_id__in=self.built.account_ids).values_list("debit", "credit")
            for amount in pair if amount != amount.quantize(self.minor)]
        f.amounts_below_minor_unit += len(fractional)
        assert max(off, default=0) == 0 and debits == credits, (max(off, default=0), debits, credits)
        assert unchanged, "a journal row seen earlier changed"
        assert receivable == expected, (receivable, expected)
        assert not fractional, f"journal amounts finer than the {self.built.currency} minor unit: {fractional}"

    async def receivables(self) -> tuple[Decimal, Decimal]:
        """The receivables account's balance over the example's accounts, and what it should be: their
        invoices' open balances less account credit still available and refunds not made (docs/CREDIT_NOTES.md)."""
        receivable = (await ledger.posting_accounts()).receivable_id
        sums = await money_sums(models.JournalLine.filter(
            ledger_account_id=receivable, entry__invoice__account_id__in=self.built.account_ids), "ledger_account_id",
            "debit", "credit")
        _, debit, credit = sums.get(receivable, (0, Decimal(0), Decimal(0)))
        invoices = await models.Invoice.filter(account_id__in=self.built.account_ids)
        notes = await models.CreditNote.filter(account_id__in=self.built.account_ids, status=CreditNoteStatus.ISSUED)
        owed_back = sum((n.credit_remaining for n in notes if n.credit_status == CreditStatus.AVAILABLE), Decimal(0))
        owed_back += sum((n.refund_amount for n in notes if n.refund_status not in (None, "SUCCEEDED")), Decimal(0))
        return debit - credit, sum((ledger.open_balance(i) for i in invoices), Decimal(0)) - owed_back

    async def tally(self) -> None:
        f = self.figures
        f.invoices += await models.Invoice.filter(batch_id__in=self.batches).count()
        f.payments_succeeded += await models.Payment.filter(invoice__batch_id__in=self.batches,
                                                            status=PaymentStatus.SUCCEEDED).count()
        f.credit_notes_issued += await models.CreditNote.filter(batch_id__in=self.batches,
                                                                status=CreditNoteStatus.ISSUED).count()
        books = (await self.api.ok(BOOKS))["trialBalance"]
        assert books["balanced"] and books["totalDebit"] == books["totalCredit"], books


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
          phases=worlds.PHASES,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(world=worlds.worlds(), data=st.data())
async def test_the_ledger_holds_under_random_work(books, world: worlds.World, data: st.DataObject) -> None:
    api, accounts, figures, digest = books
    figures.examples += 1
    example = Example(api, accounts, figures, digest, data, await worlds.build(world, accounts))
    await example.new_batch()
    for _ in range(data.draw(st.integers(2, MAX_STEPS), label="steps")):
        kinds = await example.available()
        if not kinds:
            break
        kind = data.draw(st.sampled_from(kinds), label="step")
        await example.step(kind)
        figures.steps += 1
        figures.steps_by_kind[kind] = figures.steps_by_kind.get(kind, 0) + 1
        await example.check()
    await example.tally()

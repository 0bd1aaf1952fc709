"""The double-entry ledger (docs/DATA_MODEL.md): which journal lines an invoice or a payment makes, and the
balances they add up to.

An invoice's entry debits receivables with the invoice total and credits each revenue account with its share
of the lines' distributions and the tax-payable account with the tax; a payment's entry debits cash and
credits receivables. Lines are netted per ledger account and put on the side their sign says (a credit line
makes a debit to revenue). `entry_lines` refuses an entry whose debits and credits differ, so an unbalanced
entry is never written; PostgreSQL checks it again with a trigger (models/constraints.py), and journal rows
are never updated or deleted.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise import connections

import models
from domain.access import Viewer, require, visible
from domain.errors import DomainError, ErrorCode
from models import sql
from models.bulk import money_sums
from models.enums import LedgerAccountKind, Permission

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Line:
    """One journal line: a debit or a credit (never both) to one ledger account."""

    ledger_account_id: int
    debit: Decimal
    credit: Decimal
    memo: str


class UnbalancedEntry(Exception):
    """An entry whose debits and credits differ: a programming or data error, never written."""


def entry_lines(amounts: Iterable[tuple[int, Decimal, str]]) -> list[Line]:
    """Journal lines from signed amounts (positive: debit, negative: credit) per ledger account, netted per
    account and memo; zero nets make no line. Raises UnbalancedEntry unless debits equal credits."""
    net: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    for account_id, amount, memo in amounts:
        net[(account_id, memo)] += amount
    lines = [Line(account_id, amount if amount > 0 else ZERO, -amount if amount < 0 else ZERO, memo)
             for (account_id, memo), amount in net.items() if amount != 0]
    debits, credits = sum((ln.debit for ln in lines), ZERO), sum((ln.credit for ln in lines), ZERO)
    if debits != credits:
        raise UnbalancedEntry(f"debits {debits} != credits {credits}")
    return lines


def invoice_lines(receivable_id: int, total: Decimal, revenue: Iterable[tuple[int, Decimal]],
                  tax: Iterable[tuple[int, Decimal]]) -> list[Line]:
    """Dr receivables (the total); Cr revenue per distribution; Cr tax payable."""
    return entry_lines([(receivable_id, total, "Receivable"),
                        *((account, -amount, "Revenue") for account, amount in revenue),
                        *((account, -amount, "Tax") for account, amount in tax)])


def credit_note_lines(receivable_id: int, total: Decimal, revenue: Iterable[tuple[int, Decimal]],
                      tax: Iterable[tuple[int, Decimal]]) -> list[Line]:
    """The mirror of an invoice's entry for the credited amounts: Dr revenue per distribution; Dr tax payable;
    Cr receivables (the credit note's total)."""
    return entry_lines([(receivable_id, -total, "Receivable"),
                        *((account, amount, "Revenue") for account, amount in revenue),
                        *((account, amount, "Tax") for account, amount in tax)])


def refund_lines(cash_id: int, receivable_id: int, amount: Decimal) -> list[Line]:
    """A refund: Dr receivables; Cr cash (the mirror of a payment)."""
    return entry_lines([(receivable_id, amount, "Receivable"), (cash_id, -amount, "Cash")])


def payment_lines(cash_id: int, receivable_id: int, amount: Decimal) -> list[Line]:
    """Dr cash; Cr receivables."""
    return entry_lines([(cash_id, amount, "Cash"), (receivable_id, -amount, "Receivable")])


@dataclass(frozen=True)
class PostingAccounts:
    """The ledger accounts posting and payments write to besides revenue and tax."""

    receivable_id: int
    cash_id: int


async def posting_accounts() -> PostingAccounts:
    """The active RECEIVABLE and CASH accounts of the chart (the lowest code of each kind), or a refusal
    naming what is missing."""
    found: dict[LedgerAccountKind, int] = {}
    for account_id, kind in await models.LedgerAccount.filter(  # one query: the lowest code of each kind
            kind__in=[LedgerAccountKind.RECEIVABLE, LedgerAccountKind.CASH], active=True).order_by(
            "-code").values_list("id", "kind"):
        found[LedgerAccountKind(kind)] = account_id
    missing = [k.value for k in (LedgerAccountKind.RECEIVABLE, LedgerAccountKind.CASH) if k not in found]
    if missing:
        raise DomainError(ErrorCode.LEDGER_NOT_CONFIGURED,
                          f"The chart of accounts needs an active {' and an active '.join(missing)} account.",
                          "batchId")
    return PostingAccounts(found[LedgerAccountKind.RECEIVABLE], found[LedgerAccountKind.CASH])


# ---------------------------------------------------------------- balances


@dataclass
class Balance:
    """Debits and credits posted to one ledger account; balance = debits - credits."""

    ledger_account_id: int
    debit: Decimal = ZERO
    credit: Decimal = ZERO

    @property
    def balance(self) -> Decimal:
        return self.debit - self.credit


async def balances(ledger_account_ids: list[int] | None = None, as_of: date | None = None, *,
                   viewer: Viewer | None = None) -> dict[int, Balance]:
    """Totals per ledger account (all, or these), entries up to `as_of` when given. With a `viewer`, over the
    journal lines it may see (the entries of invoices and payments of accounts visible to it); without one, the
    company's books (the system's own checks). PostgreSQL sums in SQL (exact NUMERIC); SQLite sums decimals as
    floats, so there the embedded default's small ledger is summed in Python."""
    query = models.JournalLine.all() if viewer is None else visible(viewer, models.JournalLine)
    if ledger_account_ids is not None:
        query = query.filter(ledger_account_id__in=ledger_account_ids)
    if as_of is not None:
        query = query.filter(entry__entry_date__lte=as_of)
    return {account_id: Balance(account_id, debit, credit)
            for account_id, (_, debit, credit) in (await money_sums(query, "ledger_account_id", "debit",
                                                                    "credit")).items()}


async def unbalanced_entries() -> list[int]:
    """Ids of journal entries whose debits differ from their credits (always none: a check for operators and
    the test suite's invariant)."""
    totals = await money_sums(models.JournalLine.all(), "entry_id", "debit", "credit")
    return sorted(entry_id for entry_id, (_, debit, credit) in totals.items() if debit != credit)


@dataclass
class TrialBalance:
    """Every ledger account's debits and credits (entries up to `as_of`), ordered by account code."""

    as_of: date | None
    rows: list[Balance]
    total_debit: Decimal
    total_credit: Decimal


async def trial_balance(viewer: Viewer, as_of: date | None = None) -> TrialBalance:
    """The books as the viewer may see them: over the journal entries of the invoices and payments it may see
    (an admin's, and a user granted every restricted account's, are the company's). Every entry balances, so a
    scoped trial balance balances too."""
    require(viewer, Permission.BILLING_ACCESS)
    found = await balances(as_of=as_of, viewer=viewer)
    codes = dict(await models.LedgerAccount.filter(id__in=list(found)).values_list("id", "code"))
    rows = sorted(found.values(), key=lambda b: codes.get(b.ledger_account_id, ""))
    return TrialBalance(as_of, rows, sum((r.debit for r in rows), ZERO), sum((r.credit for r in rows), ZERO))


def open_balance(invoice: models.Invoice) -> Decimal:
    """What is still to pay on an invoice: its amount less payments, credit notes and account credit applied."""
    return max(Decimal("0.00"), invoice.amount - invoice.amount_paid - invoice.amount_credited - invoice.credit_applied)


# ---------------------------------------------------------------- append-only, checked


@dataclass(frozen=True)
class JournalDigest:
    """The journal as it stood: the highest entry and line ids and a digest of every entry and line row."""

    last_entry_id: int = 0
    last_line_id: int = 0
    entries: str = ""
    lines: str = ""


async def journal_digest(since: JournalDigest | None = None) -> tuple[JournalDigest, bool]:
    """The journal's digest now, and whether every row `since` covered is still exactly as it was (journal rows
    are only ever appended: a check for operators and the reliability suite)."""
    conn = connections.get("default")
    since = since or JournalDigest()
    last_entry, entries_then, entries = await sql.journal_digest(conn, "journal_entry", since.last_entry_id)
    last_line, lines_then, lines = await sql.journal_digest(conn, "journal_line", since.last_line_id)
    unchanged = not since.entries or (entries_then, lines_then) == (since.entries, since.lines)
    return JournalDigest(last_entry, last_line, entries, lines), unchanged

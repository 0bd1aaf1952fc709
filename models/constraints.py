"""Rules the database itself holds, beyond keys and uniques declared on the models.

Tortoise's migrations do not create `Meta.constraints` with a new table, and SQLite cannot add a CHECK to an
existing table, so these are applied by migration `0002_constraints` with SQL for each dialect:
PostgreSQL gets real CHECK constraints, SQLite gets triggers that abort the same writes. Partial unique
indexes are written the same way on both. The statements are idempotent: Tortoise rebuilds a SQLite table
(dropping its indexes) on some later alterations, so a migration that alters these tables ends with
`RunPython(apply_constraints)` again (docs/MIGRATIONS.md).
"""

import re
from dataclasses import dataclass

from tortoise.migrations.schema_editor.base import BaseSchemaEditor


@dataclass(frozen=True)
class Check:
    table: str
    name: str
    condition: str
    needs: str | None = None  # a column added by a later migration: applied once it exists


@dataclass(frozen=True)
class PartialUnique:
    table: str
    name: str
    columns: tuple[str, ...]
    where: str
    needs: str | None = None  # a column added by a later migration: applied once it exists


CHECKS = (
    Check("account", "account_terms_nonnegative", "payment_terms_days >= 0"),
    Check("sales_contract", "contract_dates_ordered", "end_date IS NULL OR end_date >= start_date"),
    Check("dated_price", "dated_price_window_ordered",
          "last_effective_date IS NULL OR last_effective_date >= first_effective_date"),
    Check("dated_price", "dated_price_nonnegative", "periodic_price >= 0"),
    Check("recurring_charge", "charge_price_nonnegative", "periodic_price >= 0"),
    Check("tax_rate", "tax_rate_range", "rate >= 0 AND rate < 1"),
    Check("invoice_adjustment", "adjustment_amount_positive", "amount > 0"),
    Check("periodic_billing", "billing_period_ordered", "period_end >= period_start"),
    # A credit invoice (amount below zero) is never paid; any other is paid up to its amount.
    Check("invoice", "invoice_paid_up_to_amount", "amount_paid >= 0 AND (amount_paid <= amount OR amount_paid = 0)"),
    Check("invoice", "invoice_due_after_date", "due_date >= invoice_date"),
    Check("journal_line", "journal_line_one_side", "debit >= 0 AND credit >= 0 AND (debit = 0 OR credit = 0)"),
    Check("journal_line", "journal_line_not_empty", "debit > 0 OR credit > 0"),
    Check("job", "job_progress_within_total", "progress_done >= 0 AND progress_done <= progress_total"),
    Check("payment", "payment_amount_positive", "amount > 0"),
    # Credit notes (docs/CREDIT_NOTES.md): a positive total, whose credit and refund parts fit in it.
    Check("credit_note", "credit_note_amount_positive", "amount > 0", needs="refund_amount"),
    Check("credit_note", "credit_note_parts_within_amount",
          "credit_amount >= 0 AND refund_amount >= 0 AND credit_remaining >= 0 AND credit_remaining <= credit_amount "
          "AND credit_amount + refund_amount <= amount", needs="refund_amount"),
    Check("invoice", "invoice_credited_within_amount", "amount_credited >= 0 AND amount_credited <= amount "
          "OR amount_credited = 0", needs="amount_credited"),
    Check("invoice", "invoice_credit_applied_within_amount", "credit_applied >= 0 AND credit_applied <= amount "
          "OR credit_applied = 0", needs="credit_applied"),
)

# Checks replaced by a later version under a new name: dropped where they exist.
RETIRED_CHECKS = (Check("invoice", "invoice_paid_within_amount", ""),)

PARTIAL_UNIQUES = (
    # A contract period is billed once unless its billing was rejected (re-billing, docs/REVIEW.md).
    PartialUnique("periodic_billing", "billing_once_per_contract_period", ("contract_id", "period_start"),
                  "status <> 'REJECTED' AND contract_id IS NOT NULL"),
    # One successful charge per invoice: a second success is refused by the database.
    PartialUnique("payment", "payment_one_success_per_invoice", ("invoice_id",), "status = 'SUCCEEDED'"),
    # One delivery in flight or sent per invoice: a worker claims an invoice by inserting its SENDING row, so
    # two workers (a redelivered message) never send the same invoice, and a sent one is never sent again.
    # The same for each of its credit notes (a delivery names the credit note it sends, if it sends one).
    PartialUnique("delivery", "delivery_once_per_invoice_document", ("invoice_id",),
                  "status IN ('SENDING', 'SENT') AND credit_note_id IS NULL", needs="credit_note_id"),
    PartialUnique("delivery", "delivery_once_per_credit_note", ("credit_note_id",),
                  "status IN ('SENDING', 'SENT') AND credit_note_id IS NOT NULL", needs="credit_note_id"),
)

# Indexes replaced by a later version under a new name: dropped where they exist.
RETIRED_INDEXES = ("delivery_one_sent_per_invoice",)
# Replaced once the column a successor needs exists (the successor is created in the same run).
SUPERSEDED_INDEXES = (("delivery_once_per_invoice", "delivery", "credit_note_id"),)

# Re-billing (docs/CREDIT_NOTES.md): a posted (INVOICED) billing may become REJECTED — which lets the next
# processing bill its period again (billing_once_per_contract_period) — only once its invoice is fully credited
# (its invoice's amount_credited reaches its amount).
REBILL_ONLY_WHEN_CREDITED = (
    "EXISTS (SELECT 1 FROM invoice i WHERE i.billing_id = {row}.id AND {amount_credited} < {amount})")
REBILL_POSTGRES = [
    "CREATE OR REPLACE FUNCTION billing_rebill_only_when_credited() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF OLD.status = 'INVOICED' AND NEW.status = 'REJECTED' AND "
    + REBILL_ONLY_WHEN_CREDITED.format(row="NEW", amount_credited="i.amount_credited", amount="i.amount")
    + " THEN RAISE EXCEPTION 'an invoiced billing is rejected only once its invoice is fully credited'; END IF; "
    "RETURN NEW; END $$",
    "DROP TRIGGER IF EXISTS billing_rebill_only_when_credited ON periodic_billing",
    "CREATE TRIGGER billing_rebill_only_when_credited BEFORE UPDATE OF status ON periodic_billing "
    "FOR EACH ROW EXECUTE FUNCTION billing_rebill_only_when_credited()",
]
REBILL_SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS billing_rebill_only_when_credited BEFORE UPDATE OF status ON periodic_billing "
    "WHEN OLD.status = 'INVOICED' AND NEW.status = 'REJECTED' AND "
    + REBILL_ONLY_WHEN_CREDITED.format(row="NEW", amount_credited="CAST(i.amount_credited AS REAL)",
                                       amount="CAST(i.amount AS REAL)")
    + " BEGIN SELECT RAISE(ABORT, 'an invoiced billing is rejected only once its invoice is fully credited'); END",
]


# Tables whose rows are never updated or deleted (docs/DATA_MODEL.md), enforced below the ORM.
APPEND_ONLY = ("audit", "journal_entry", "journal_line")

# Debits equal credits in every journal entry (PostgreSQL): the lines each statement adds must balance per entry.
# Journal rows are never updated or deleted (above), so an entry is the sum of such balanced additions and
# balances at all times. Statement-level, over the transition table only: posting 100,000 entries costs one
# grouped pass over the new rows, whatever the size of the journal.
JOURNAL_BALANCED_POSTGRES = [
    "CREATE OR REPLACE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE unbalanced bigint; BEGIN "
    "SELECT entry_id INTO unbalanced FROM new_lines "
    "GROUP BY entry_id HAVING SUM(debit) <> SUM(credit) LIMIT 1; "
    "IF unbalanced IS NOT NULL THEN "
    "RAISE EXCEPTION 'journal entry % does not balance: debits must equal credits', unbalanced; "
    "END IF; RETURN NULL; END $$",
    "DROP TRIGGER IF EXISTS journal_entry_balanced ON journal_line",
    "CREATE TRIGGER journal_entry_balanced AFTER INSERT ON journal_line REFERENCING NEW TABLE AS new_lines "
    "FOR EACH STATEMENT EXECUTE FUNCTION journal_entry_balanced()",
]


def _append_only_postgres(table: str) -> list[str]:
    return [
        f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"RAISE EXCEPTION '{table} rows are never updated or deleted'; END $$",
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
    ]


def append_only_sqlite(table: str) -> list[str]:
    return [f"CREATE TRIGGER IF NOT EXISTS {table}_no_{event.lower()} BEFORE {event} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} rows are never updated or deleted'); END"
            for event in ("UPDATE", "DELETE")]


def _partial_unique_sql(rule: PartialUnique) -> str:
    columns = ", ".join(rule.columns)
    return f"CREATE UNIQUE INDEX IF NOT EXISTS {rule.name} ON {rule.table} ({columns}) WHERE {rule.where}"


Present = frozenset[tuple[str, str]]  # (table, column) pairs that exist


def _ready(rule: Check | PartialUnique, present: Present | None) -> bool:
    return rule.needs is None or present is None or (rule.table, rule.needs) in present


def _superseded(present: Present | None) -> list[str]:
    return [f"DROP INDEX IF EXISTS {name}" for name, table, column in SUPERSEDED_INDEXES
            if present is None or (table, column) in present]


def _credit_notes_ready(present: Present | None) -> bool:
    return present is None or ("invoice", "amount_credited") in present


def postgres_sql(present: Present | None = None) -> list[str]:
    """Every statement; with `present`, only those whose columns exist (a migration before they were added)."""
    checks = [f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = '{c.name}') "
              f"THEN "
              f"ALTER TABLE {c.table} ADD CONSTRAINT {c.name} CHECK ({c.condition}); END IF; END $$"
              for c in CHECKS if _ready(c, present)]
    retired = ([f"ALTER TABLE {c.table} DROP CONSTRAINT IF EXISTS {c.name}" for c in RETIRED_CHECKS]
               + [f"DROP INDEX IF EXISTS {name}" for name in RETIRED_INDEXES] + _superseded(present))
    append_only = [sql for table in APPEND_ONLY for sql in _append_only_postgres(table)]
    rebill = REBILL_POSTGRES if _credit_notes_ready(present) else []
    return (retired + checks + [_partial_unique_sql(u) for u in PARTIAL_UNIQUES if _ready(u, present)]
            + append_only + JOURNAL_BALANCED_POSTGRES + rebill)


def sqlite_sql(present: Present | None = None) -> list[str]:
    """SQLite has no statement-level triggers: there the domain's check (domain/ledger.py) keeps entries
    balanced, and the test suite's ledger invariant verifies it."""
    statements = [f"DROP TRIGGER IF EXISTS {c.name}_{event}" for c in RETIRED_CHECKS for event in ("insert", "update")]
    statements += [f"DROP INDEX IF EXISTS {name}" for name in RETIRED_INDEXES] + _superseded(present)
    for c in CHECKS:
        if not _ready(c, present):
            continue
        for event in ("INSERT", "UPDATE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {c.name}_{event.lower()} BEFORE {event} ON {c.table} "
                f"WHEN NOT ({_qualify(c.condition)}) "
                f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {c.name}'); END")
    append_only = [sql for table in APPEND_ONLY for sql in append_only_sqlite(table)]
    rebill = REBILL_SQLITE if _credit_notes_ready(present) else []
    return (statements + [_partial_unique_sql(u) for u in PARTIAL_UNIQUES if _ready(u, present)] + append_only
            + rebill)


# SQLite keeps decimals as text, and text compares greater than any number: compare them as numbers.
SQLITE_NUMERIC_TEXT = {"periodic_price", "rate", "amount", "amount_paid", "debit", "credit", "credit_amount",
                       "refund_amount", "credit_remaining", "credit_applied", "amount_credited"}


def _qualify(condition: str) -> str:
    """Column names in a trigger's WHEN refer to the new row."""
    keywords = {"IS", "NULL", "NOT", "AND", "OR"}

    def column(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.upper() in keywords:
            return name
        return f"CAST(NEW.{name} AS REAL)" if name in SQLITE_NUMERIC_TEXT else f"NEW.{name}"

    return re.sub(r"\b([a-z_]+)\b", column, condition)


async def _present_columns(schema_editor: BaseSchemaEditor) -> Present:
    """The (table, column) pairs the later rules need that exist at this point of the migrations."""
    client = schema_editor.client
    wanted = {(r.table, r.needs) for r in (*CHECKS, *PARTIAL_UNIQUES) if r.needs} | {("invoice", "amount_credited")}
    wanted |= {(table, column) for _, table, column in SUPERSEDED_INDEXES}
    found = set()
    for table, column in wanted:
        if schema_editor.DIALECT == "sqlite":
            rows = await client.execute_query_dict(f"PRAGMA table_info({table})")
            names = {row["name"] for row in rows}
        else:
            rows = await client.execute_query_dict(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1", [table])
            names = {row["column_name"] for row in rows}
        if column in names:
            found.add((table, column))
    return frozenset(found)


async def apply_constraints(apps: object, schema_editor: BaseSchemaEditor) -> None:
    """Create every rule above that is missing and whose columns exist yet (RunPython callable for
    migrations: an early migration skips the rules of tables and columns added after it)."""
    present = await _present_columns(schema_editor)
    statements = sqlite_sql(present) if schema_editor.DIALECT == "sqlite" else postgres_sql(present)
    for statement in statements:
        await schema_editor.client.execute_script(statement)

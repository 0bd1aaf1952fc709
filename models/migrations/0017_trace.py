"""A line's `trace` keeps only what its columns do not hold (docs/BILLING.md, "The trace"): existing rows lose
the keys that their line's and billing's columns (and the distribution rows) already hold, so they read the
same, composed, as before. Set-based: one UPDATE per key, in PostgreSQL's JSONB or SQLite's JSON functions.

A key goes only where the columns give back exactly its value: the price source, days billed and in period,
the period and the days billed of it, the charge, the tax location, the distribution (always read from its
rows), the price record when the columns name the same one (a service change that priced a recurring line
stays, in the compact `record` form), the reason when it is the charge's own price's (its only input is the
billing starting date) and the proration formula when it is the two-decimals text of the columns. Any other
value stays in the row and wins on read (domain/trace.py).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

TIMES = "\u00d7"
CHARGE_WHY = ("No dated price contains the billing starting date {start} and no service change applies: the "
              "charge''s own periodic price is used")

# key: (PostgreSQL condition, SQLite condition) under which the stored value equals what the columns compose.
# `d` is the line, `b` its billing; in PostgreSQL `t(k)` is `d.trace->>'k'`, in SQLite `json_extract`.
PG_PRICE_RECORD = """(
  (d.dated_price_id IS NOT NULL AND d.trace->'price_record'->>'type' = 'DatedPrice'
     AND d.trace->'price_record'->>'id' = d.dated_price_id::text)
  OR (d.dated_price_id IS NULL AND d.source_type IS NOT NULL AND d.trace->'price_record'->>'type' = d.source_type
     AND d.trace->'price_record'->>'id' = d.source_id::text)
  OR (d.dated_price_id IS NULL AND d.source_type IS NULL AND d.kind = 'TAX'
     AND d.trace->'price_record'->>'type' = 'TaxRate')
  OR (d.dated_price_id IS NULL AND d.source_type IS NULL AND d.kind <> 'TAX'
     AND d.trace->'price_record'->>'type' = 'RecurringCharge' AND d.trace->'price_record'->>'id' = d.charge_id::text))"""
SQLITE_PRICE_RECORD = """(
  (d.dated_price_id IS NOT NULL AND json_extract(d.trace, '$.price_record.type') = 'DatedPrice'
     AND json_extract(d.trace, '$.price_record.id') = d.dated_price_id)
  OR (d.dated_price_id IS NULL AND d.source_type IS NOT NULL
     AND json_extract(d.trace, '$.price_record.type') = d.source_type
     AND json_extract(d.trace, '$.price_record.id') = d.source_id)
  OR (d.dated_price_id IS NULL AND d.source_type IS NULL AND d.kind = 'TAX'
     AND json_extract(d.trace, '$.price_record.type') = 'TaxRate')
  OR (d.dated_price_id IS NULL AND d.source_type IS NULL AND d.kind <> 'TAX'
     AND json_extract(d.trace, '$.price_record.type') = 'RecurringCharge'
     AND json_extract(d.trace, '$.price_record.id') = d.charge_id))"""

STRIPPED = {
    "price_source": ("d.trace->>'price_source' IS NOT DISTINCT FROM d.price_source",
                     "json_extract(d.trace, '$.price_source') IS d.price_source"),
    "days_billed": ("d.trace->>'days_billed' IS NOT DISTINCT FROM d.days_billed::text",
                    "json_extract(d.trace, '$.days_billed') IS d.days_billed"),
    "days_in_period": ("d.trace->>'days_in_period' IS NOT DISTINCT FROM d.days_in_period::text",
                       "json_extract(d.trace, '$.days_in_period') IS d.days_in_period"),
    "period": ("d.trace->'period'->>'start' = b.period_start::text AND d.trace->'period'->>'end' = b.period_end::text",
               "json_extract(d.trace, '$.period.start') = b.period_start "
               "AND json_extract(d.trace, '$.period.end') = b.period_end"),
    "billing_starting_date": ("d.trace->>'billing_starting_date' = b.billing_start::text",
                              "json_extract(d.trace, '$.billing_starting_date') = b.billing_start"),
    "billing_ending_date": ("d.trace->>'billing_ending_date' = b.billing_end::text",
                            "json_extract(d.trace, '$.billing_ending_date') = b.billing_end"),
    "location": ("d.trace->>'location' = b.tax_location", "json_extract(d.trace, '$.location') = b.tax_location"),
    "charge_id": ("TRUE", "1"),  # never read: the line's `charge_id` column is its charge
    "distribution": ("TRUE", "1"),  # never read: the distribution rows are
    "price_record": (PG_PRICE_RECORD, SQLITE_PRICE_RECORD),
    "why": ("d.kind = 'RECURRING' AND d.dated_price_id IS NULL AND d.trace->'price_record'->>'type' = "
            "'RecurringCharge' AND d.trace->>'why' = '" + CHARGE_WHY.format(start="' || b.billing_start::text || '")
            + "'",
            "d.kind = 'RECURRING' AND d.dated_price_id IS NULL AND json_extract(d.trace, '$.price_record.type') = "
            "'RecurringCharge' AND json_extract(d.trace, '$.why') = '" + CHARGE_WHY.format(
                start="' || b.billing_start || '") + "'"),
    "formula": (f"d.kind = 'RECURRING' AND d.trace->>'formula' = (d.trace->>'unit_price') || ' {TIMES} ' || "
                f"(d.trace->>'quantity') || ' {TIMES} ' || d.days_billed || '/' || d.days_in_period || ' = ' || "
                "to_char(d.amount, 'FM999999999990.00')",
                f"d.kind = 'RECURRING' AND json_extract(d.trace, '$.formula') = json_extract(d.trace, '$.unit_price') "
                f"|| ' {TIMES} ' || json_extract(d.trace, '$.quantity') || ' {TIMES} ' || d.days_billed || '/' || "
                "d.days_in_period || ' = ' || printf('%.2f', d.amount)"),
}
# The reason and the formula are compared with the keys they are composed from still there: strip them first.
ORDER = ("why", "formula", "price_record", *(k for k in STRIPPED if k not in ("why", "formula", "price_record")))

PG_RECORD = ("UPDATE billing_detail d SET trace = (d.trace - 'price_record') || jsonb_build_object('record', "
             "jsonb_build_array(d.trace->'price_record'->'type', d.trace->'price_record'->'id')) "
             "WHERE d.trace->'price_record'->>'type' = 'ServiceChange' AND d.kind = 'RECURRING'")
SQLITE_RECORD = ("UPDATE billing_detail AS d SET trace = json_set(json_remove(d.trace, '$.price_record'), '$.record', "
                 "json_array(json_extract(d.trace, '$.price_record.type'), json_extract(d.trace, '$.price_record.id'))) "
                 "WHERE json_extract(d.trace, '$.price_record.type') = 'ServiceChange' AND d.kind = 'RECURRING'")


def statements(dialect: str) -> list[str]:
    """The UPDATEs, in order, for `dialect` ("postgres" or "sqlite")."""
    found: list[str] = []
    for key in ORDER:
        pg, sqlite = STRIPPED[key]
        if dialect == "sqlite":
            found.append(f"UPDATE billing_detail AS d SET trace = json_remove(d.trace, '$.{key}') FROM periodic_billing "
                         f"AS b WHERE b.id = d.billing_id AND json_type(d.trace, '$.{key}') IS NOT NULL AND ({sqlite})")
        else:
            found.append(f"UPDATE billing_detail d SET trace = d.trace - '{key}' FROM periodic_billing b "
                         f"WHERE b.id = d.billing_id AND d.trace ? '{key}' AND ({pg})")
        if key == "price_record":  # what is left of it is a service change's: kept as `record`
            found.append(SQLITE_RECORD if dialect == "sqlite" else PG_RECORD)
    return found


async def compact_traces(apps: object, schema_editor) -> None:
    for statement in statements("sqlite" if schema_editor.DIALECT == "sqlite" else "postgres"):
        await schema_editor.client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [('models', '0016_credit_notes')]

    initial = False

    operations = [ops.RunPython(compact_traces)]

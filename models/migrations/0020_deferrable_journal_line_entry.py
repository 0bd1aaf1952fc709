"""A journal line's reference to its entry may be checked at commit (PostgreSQL: DEFERRABLE, still checked at
once unless a transaction defers it). Posting writes an invoice chunk's journal lines before it takes the
invoice numbers and writes the invoices and entries, so the lines are out of the section that posting chunks
run one at a time (docs/POSTING.md). SQLite defers its foreign keys per transaction (`defer_foreign_keys`)."""

from tortoise import migrations
from tortoise.migrations import operations as ops

DEFERRABLE = ("ALTER TABLE journal_line ALTER CONSTRAINT journal_line_entry_id_fkey "
              "DEFERRABLE INITIALLY IMMEDIATE")


async def deferrable(apps: object, schema_editor) -> None:
    if schema_editor.DIALECT != "sqlite":
        await schema_editor.client.execute_script(DEFERRABLE)


class Migration(migrations.Migration):
    dependencies = [('models', '0019_bill_to_address')]

    initial = False

    operations = [ops.RunPython(deferrable)]

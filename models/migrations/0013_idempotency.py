"""Idempotency records keep the response as text (byte for byte: jsonb would reorder keys) and are found by
`expires_at` (the purge, and the end of a claim's lease). SQLite rebuilds the table for these changes and the
rebuild keeps neither the (caller, key) unique index nor the new one: both are created again, idempotently."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# The names Tortoise gives them on PostgreSQL, where they already exist after the operations above.
INDEXES = (
    'CREATE UNIQUE INDEX IF NOT EXISTS "uid_idempotency_caller_29ee2c" ON "idempotency_record" ("caller", "key")',
    'CREATE INDEX IF NOT EXISTS "idx_idempotency_expires_d7c672" ON "idempotency_record" ("expires_at")',
)


async def restore_indexes(apps: object, schema_editor) -> None:
    if schema_editor.DIALECT == "sqlite":
        for statement in INDEXES:
            await schema_editor.client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [('models', '0012_job_protocol')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='IdempotencyRecord',
            options={'table': 'idempotency_record', 'app': 'models', 'unique_together': (('caller', 'key'),), 'pk_attr': 'id', 'table_description': "A mutation's response per caller (a bearer token) and idempotency key: a claim while its request runs"},
        ),
        ops.AlterField(
            model_name='IdempotencyRecord',
            name='expires_at',
            field=fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
        ),
        # Tortoise alters no column type: the column is replaced (nothing stored a response before this).
        ops.RemoveField(
            model_name='IdempotencyRecord',
            name='response',
        ),
        ops.AddField(
            model_name='IdempotencyRecord',
            name='response',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.RunPython(restore_indexes),
    ]

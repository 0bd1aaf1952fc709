"""The database-held rules of models/constraints.py: CHECKs (triggers on SQLite) and partial unique indexes."""

from tortoise import migrations
from tortoise.migrations import operations as ops

from models.constraints import postgres_sql, sqlite_sql


async def apply(apps, schema_editor) -> None:
    statements = sqlite_sql() if schema_editor.DIALECT == "sqlite" else postgres_sql()
    for statement in statements:
        await schema_editor.client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [ops.RunPython(apply)]

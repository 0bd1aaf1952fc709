"""The database-held rules of models/constraints.py: CHECKs (triggers on SQLite) and partial unique indexes."""

from tortoise import migrations
from tortoise.migrations import operations as ops

from models.constraints import apply_constraints


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [ops.RunPython(apply_constraints)]

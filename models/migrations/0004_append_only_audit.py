"""Audit rows are never updated or deleted: triggers on both dialects (models/constraints.py)."""

from tortoise import migrations
from tortoise.migrations import operations as ops

from models.constraints import apply_constraints


class Migration(migrations.Migration):
    dependencies = [("models", "0003_analysis_links")]

    operations = [ops.RunPython(apply_constraints)]

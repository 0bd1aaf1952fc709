"""A billing keeps the days it bills (`billing_start`/`billing_end`) beside its period's bounds; existing rows are
backfilled with their period's bounds, which is what they showed before. Rules re-applied after SQLite's table
rebuild (models/constraints.py)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

from models.constraints import apply_constraints

class Migration(migrations.Migration):
    dependencies = [('models', '0008_ledger_indexes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='PeriodicBilling',
            name='billing_end',
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name='PeriodicBilling',
            name='billing_start',
            field=fields.DateField(null=True),
        ),
        ops.RunSQL("UPDATE periodic_billing SET billing_start = period_start, billing_end = period_end"),
        ops.AlterField(
            model_name='PeriodicBilling',
            name='billing_end',
            field=fields.DateField(),
        ),
        ops.AlterField(
            model_name='PeriodicBilling',
            name='billing_start',
            field=fields.DateField(),
        ),
        ops.RunPython(apply_constraints),
    ]

"""An audit row names the account its record belongs to, so it is hidden with that account (docs/ACCESS.md).

Audit rows are append-only by trigger on both dialects (models/constraints.py): the backfill lifts those
triggers inside this migration and `apply_constraints` puts them back. Rows are filled from the billing they
name (`billing_id`), from the billing itself, from a detail's billing, or from the notification they audit;
rows whose billing was deleted before this migration keep a null account (docs/DATA_MODEL.md).
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from models.constraints import apply_constraints

BILLING_ACCOUNT = "SELECT b.account_id FROM periodic_billing b WHERE b.id = audit.{column}"
BACKFILL = (
    f"UPDATE audit SET account_id = ({BILLING_ACCOUNT.format(column='billing_id')}) "
    "WHERE account_id IS NULL AND billing_id IS NOT NULL",
    f"UPDATE audit SET account_id = ({BILLING_ACCOUNT.format(column='entity_id')}) "
    "WHERE account_id IS NULL AND entity = 'PeriodicBilling'",
    "UPDATE audit SET account_id = (SELECT b.account_id FROM billing_detail d JOIN periodic_billing b "
    "ON b.id = d.billing_id WHERE d.id = audit.entity_id) "
    "WHERE account_id IS NULL AND entity IN ('BillingDetail', 'RevenueDistribution')",
    "UPDATE audit SET account_id = (SELECT n.account_id FROM notification n WHERE n.id = audit.entity_id) "
    "WHERE account_id IS NULL AND entity = 'Notification'",
)
LIFT_APPEND_ONLY = {
    "postgres": ("DROP TRIGGER IF EXISTS audit_append_only ON audit",),
    "sqlite": ("DROP TRIGGER IF EXISTS audit_no_update", "DROP TRIGGER IF EXISTS audit_no_delete"),
}


async def backfill_account(apps: object, schema_editor) -> None:
    """Fill `account_id` of existing rows with the append-only triggers lifted (restored right after)."""
    for statement in LIFT_APPEND_ONLY["sqlite" if schema_editor.DIALECT == "sqlite" else "postgres"]:
        await schema_editor.client.execute_script(statement)
    for statement in BACKFILL:
        await schema_editor.client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [('models', '0009_billing_dates')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Audit',
            name='account_id',
            field=fields.IntField(null=True),
        ),
        ops.RunPython(backfill_account),
        ops.RunPython(apply_constraints),
    ]

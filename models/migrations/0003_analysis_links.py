from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

from models.constraints import apply_constraints

class Migration(migrations.Migration):
    dependencies = [('models', '0002_constraints')]

    initial = False

    operations = [
        ops.AddField(
            model_name='AccountingPeriod',
            name='reopen_reason',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Finding',
            name='key',
            field=fields.CharField(db_default='', max_length=128),
        ),
        ops.AddIndex(
            model_name='Finding',
            index=Index(fields=['batch_id', 'key']),
        ),
        ops.AddField(
            model_name='ServiceChange',
            name='created_by',
            field=fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='service_changes', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='WorkOrder',
            name='charge',
            field=fields.ForeignKeyField('models.RecurringCharge', source_field='charge_id', null=True, db_constraint=True, to_field='id', related_name='work_orders', on_delete=OnDelete.SET_NULL),
        ),
        ops.RunPython(apply_constraints),  # SQLite may rebuild altered tables without their indexes
    ]

"""Posting: HOLD billings may wait outside a batch, the sandbox gateway's books, balanced and append-only
journal, one SENT delivery per invoice, credit invoices (models/constraints.py)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import ExportFormat, JobKind, PaymentStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

from models.constraints import apply_constraints

class Migration(migrations.Migration):
    dependencies = [('models', '0004_append_only_audit')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SandboxCharge',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('idempotency_key', fields.CharField(unique=True, max_length=64)),
                ('token', fields.CharField(max_length=128)),
                ('amount', fields.DecimalField(max_digits=14, decimal_places=2)),
                ('currency', fields.CharField(max_length=3)),
                ('status', fields.CharEnumField(description='PENDING: PENDING\nSUCCEEDED: SUCCEEDED\nDECLINED: DECLINED\nFAILED: FAILED\nUNKNOWN: UNKNOWN', enum_type=PaymentStatus, max_length=16)),
                ('reference', fields.CharField(unique=True, max_length=64)),
                ('calls', fields.IntField(default=1)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'sandbox_charge', 'app': 'models', 'pk_attr': 'id', 'table_description': "The built-in sandbox gateway's own books: what it charged, per idempotency key (as a payment provider"},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Export',
            name='format',
            field=fields.CharEnumField(description='INVOICES_CSV: INVOICES_CSV\nJOURNAL_CSV: JOURNAL_CSV', enum_type=ExportFormat, max_length=32),
        ),
        ops.AlterModelOptions(
            name='Invoice',
            options={'table': 'invoice', 'app': 'models', 'pk_attr': 'id', 'table_description': "A posted billing: numbered from a gap-free sequence, one per billing, its amount the billing's."},
        ),
        ops.AlterField(
            model_name='Job',
            name='kind',
            field=fields.CharEnumField(description='PROCESS: PROCESS\nREVERSE: REVERSE\nPOST: POST\nSEND: SEND\nAUTO_PAY: AUTO_PAY\nEXPORT: EXPORT\nMASS_UPDATE: MASS_UPDATE', enum_type=JobKind, max_length=16),
        ),
        ops.AlterModelOptions(
            name='JournalLine',
            options={'table': 'journal_line', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One side of a journal entry: a debit or a credit to one ledger account, never both, never changed.'},
        ),
        ops.AddField(
            model_name='Payment',
            name='settled_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='PeriodicBilling',
            name='batch',
            field=fields.ForeignKeyField('models.BillingBatch', source_field='batch_id', null=True, db_constraint=True, to_field='id', related_name='billings', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='PeriodicBilling',
            name='held_from_batch_id',
            field=fields.IntField(null=True),
        ),
        ops.RunPython(apply_constraints),
    ]

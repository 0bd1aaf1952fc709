"""Credit notes (docs/CREDIT_NOTES.md): the credit note and its lines; what invoices were credited and settled
by account credit; journal entries of credit notes and their refunds (one refund entry per credit note, a unique
key); deliveries of credit notes. The rules of models/constraints.py are applied again: the credit note checks,
one delivery per document, and the trigger that lets a posted billing be rejected only once its invoice is
fully credited (after SQLite's table rebuilds, too)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import CreditNoteReason, CreditNoteStatus, CreditStatus, JobKind, RefundStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

from models.constraints import apply_constraints

class Migration(migrations.Migration):
    dependencies = [('models', '0015_webhooks')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CreditNote',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('number', fields.CharField(null=True, unique=True, max_length=32)),
                ('invoice', fields.ForeignKeyField('models.Invoice', source_field='invoice_id', db_index=True, db_constraint=True, to_field='id', related_name='credit_notes', on_delete=OnDelete.RESTRICT)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_index=True, db_constraint=True, to_field='id', related_name='credit_notes', on_delete=OnDelete.RESTRICT)),
                ('batch', fields.ForeignKeyField('models.BillingBatch', source_field='batch_id', db_index=True, db_constraint=True, to_field='id', related_name='credit_notes', on_delete=OnDelete.RESTRICT)),
                ('reason', fields.CharEnumField(description='DUPLICATED_CHARGE: DUPLICATED_CHARGE\nPRODUCT_UNSATISFACTORY: PRODUCT_UNSATISFACTORY\nORDER_CHANGE: ORDER_CHANGE\nORDER_CANCELLATION: ORDER_CANCELLATION\nFRAUDULENT_CHARGE: FRAUDULENT_CHARGE\nOTHER: OTHER', enum_type=CreditNoteReason, max_length=32)),
                ('description', fields.TextField(default='', unique=False)),
                ('status', fields.CharEnumField(default=CreditNoteStatus.DRAFT, db_index=True, description='DRAFT: DRAFT\nISSUED: ISSUED\nVOIDED: VOIDED', enum_type=CreditNoteStatus, max_length=8)),
                ('currency', fields.CharField(max_length=3)),
                ('amount', fields.DecimalField(max_digits=14, decimal_places=2)),
                ('tax_amount', fields.DecimalField(default=0, max_digits=14, decimal_places=2)),
                ('credit_amount', fields.DecimalField(default=0, max_digits=14, decimal_places=2)),
                ('credit_remaining', fields.DecimalField(default=0, max_digits=14, decimal_places=2)),
                ('credit_status', fields.CharEnumField(null=True, db_index=True, description='AVAILABLE: AVAILABLE\nCONSUMED: CONSUMED\nVOIDED: VOIDED', enum_type=CreditStatus, max_length=16)),
                ('refund_amount', fields.DecimalField(default=0, max_digits=14, decimal_places=2)),
                ('refund_status', fields.CharEnumField(null=True, db_index=True, description='PENDING: PENDING\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED\nUNKNOWN: UNKNOWN', enum_type=RefundStatus, max_length=16)),
                ('refund_key', fields.CharField(null=True, unique=True, max_length=64)),
                ('refund_reference', fields.CharField(null=True, max_length=64)),
                ('refund_attempts', fields.IntField(default=0)),
                ('refund_error', fields.TextField(null=True, unique=False)),
                ('refund_updated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('job_id', fields.IntField(null=True)),
                ('credit_date', fields.DateField(null=True)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='credit_notes', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('issued_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('voided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credit_note', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A correction of a posted invoice: numbered from its own gap-free sequence at issue, journaled as the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditNoteLine',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('credit_note', fields.ForeignKeyField('models.CreditNote', source_field='credit_note_id', db_index=True, db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('detail', fields.ForeignKeyField('models.BillingDetail', source_field='detail_id', db_index=True, db_constraint=True, to_field='id', related_name='credit_note_lines', on_delete=OnDelete.RESTRICT)),
                ('position', fields.IntField(default=0)),
                ('description', fields.CharField(max_length=200)),
                ('kind', fields.CharField(max_length=16)),
                ('amount', fields.DecimalField(max_digits=14, decimal_places=2)),
            ],
            options={'table': 'credit_note_line', 'app': 'models', 'pk_attr': 'id', 'table_description': 'How much of one invoice line (a billing detail) a credit note credits.'},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='Delivery',
            options={'table': 'delivery', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An invoice (or a credit note of it) sent: by SMTP, or written to the outbox folder.'},
        ),
        ops.AddField(
            model_name='Delivery',
            name='credit_note',
            field=fields.ForeignKeyField('models.CreditNote', source_field='credit_note_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Invoice',
            name='amount_credited',
            field=fields.DecimalField(default=0, db_default=0, max_digits=14, decimal_places=2),
        ),
        ops.AddField(
            model_name='Invoice',
            name='credit_applied',
            field=fields.DecimalField(default=0, db_default=0, max_digits=14, decimal_places=2),
        ),
        ops.AlterField(
            model_name='Job',
            name='kind',
            field=fields.CharEnumField(description='PROCESS: PROCESS\nANALYZE: ANALYZE\nREVERSE: REVERSE\nPOST: POST\nSEND: SEND\nAUTO_PAY: AUTO_PAY\nEXPORT: EXPORT\nMASS_UPDATE: MASS_UPDATE\nCREDIT_NOTE: CREDIT_NOTE', enum_type=JobKind, max_length=16),
        ),
        ops.AddField(
            model_name='JournalEntry',
            name='credit_note',
            field=fields.ForeignKeyField('models.CreditNote', source_field='credit_note_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='journal_entries', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='JournalEntry',
            name='refund_of',
            field=fields.OneToOneField('models.CreditNote', source_field='refund_of_id', null=True, db_constraint=True, to_field='id', related_name='refund_entry', on_delete=OnDelete.RESTRICT),
        ),
        ops.RunPython(apply_constraints),
    ]

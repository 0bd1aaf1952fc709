"""Indexes on the foreign keys posting and its readers join on (journal lines by entry: the balance trigger;
invoices by batch and account; payments and deliveries by invoice); rules re-applied after SQLite's table
rebuilds (models/constraints.py)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

from models.constraints import apply_constraints

class Migration(migrations.Migration):
    dependencies = [('models', '0007_delivery_claim_bill_to')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Delivery',
            name='invoice',
            field=fields.ForeignKeyField('models.Invoice', source_field='invoice_id', db_index=True, db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='Export',
            name='batch',
            field=fields.ForeignKeyField('models.BillingBatch', source_field='batch_id', db_index=True, db_constraint=True, to_field='id', related_name='exports', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='Invoice',
            name='account',
            field=fields.ForeignKeyField('models.Account', source_field='account_id', db_index=True, db_constraint=True, to_field='id', related_name='invoices', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='Invoice',
            name='batch',
            field=fields.ForeignKeyField('models.BillingBatch', source_field='batch_id', db_index=True, db_constraint=True, to_field='id', related_name='invoices', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='JournalEntry',
            name='batch',
            field=fields.ForeignKeyField('models.BillingBatch', source_field='batch_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='journal_entries', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='JournalEntry',
            name='invoice',
            field=fields.ForeignKeyField('models.Invoice', source_field='invoice_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='journal_entries', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='JournalLine',
            name='entry',
            field=fields.ForeignKeyField('models.JournalEntry', source_field='entry_id', db_index=True, db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='JournalLine',
            name='ledger_account',
            field=fields.ForeignKeyField('models.LedgerAccount', source_field='ledger_account_id', db_index=True, db_constraint=True, to_field='id', related_name='journal_lines', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='Notification',
            name='batch',
            field=fields.ForeignKeyField('models.BillingBatch', source_field='batch_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='Payment',
            name='invoice',
            field=fields.ForeignKeyField('models.Invoice', source_field='invoice_id', db_index=True, db_constraint=True, to_field='id', related_name='payments', on_delete=OnDelete.RESTRICT),
        ),
        ops.RunPython(apply_constraints),
    ]

"""The event stream: `event` replaces the `batch_event` outbox (its rows are not carried over: they had no
commit-ordered cursor, no account for visibility and untyped payloads). An event's id is its cursor, taken at
commit from the `event` row of `number_sequence` (created with the first event)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0013_idempotency')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Event',
            fields=[
                ('id', fields.BigIntField(generated=False, primary_key=True, unique=True, db_index=True)),
                ('type', fields.CharField(max_length=40)),
                ('batch_id', fields.IntField(null=True)),
                ('job_id', fields.IntField(null=True)),
                ('billing_id', fields.IntField(null=True)),
                ('invoice_id', fields.IntField(null=True)),
                ('account_id', fields.IntField(null=True)),
                ('payload', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'event', 'app': 'models', 'indexes': [Index(fields=['batch_id', 'id']), Index(fields=['job_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One fact of the event stream, written in the transaction of the change it reports (docs/EVENTS.md).'},
            bases=['Model'],
        ),
        ops.DeleteModel(name='BatchEvent'),
    ]

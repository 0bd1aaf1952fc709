"""An account's postal bill-to address (optional), copied onto each invoice at posting like its name and
e-mail, and printed on the invoice and its credit notes (docs/POSTING.md, "The invoice PDF")."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0018_rules')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Account',
            name='billing_address',
            field=fields.CharField(default='', db_default='', max_length=500),
        ),
        ops.AddField(
            model_name='Invoice',
            name='bill_to_address',
            field=fields.CharField(default='', db_default='', max_length=500),
        ),
    ]

"""Login attempts are reserved before the password is checked (`succeeded` null until the verdict) and counted
per client address too (an index on `remote_addr`)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_audit_account')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='LoginAttempt',
            options={'table': 'login_attempt', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Every password check (a sign-in or a password change), limited per e-mail and per client address.'},
        ),
        ops.AlterField(
            model_name='LoginAttempt',
            name='remote_addr',
            field=fields.CharField(default='', db_index=True, max_length=64),
        ),
        ops.AlterField(
            model_name='LoginAttempt',
            name='succeeded',
            field=fields.BooleanField(null=True),
        ),
    ]

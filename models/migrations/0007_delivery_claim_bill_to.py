"""A delivery is claimed (SENDING) before its e-mail goes out, one in flight or sent per invoice
(models/constraints.py); an invoice keeps its bill-to as posted."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import DeliveryStatus
from tortoise import fields

from models.constraints import apply_constraints

class Migration(migrations.Migration):
    dependencies = [('models', '0006_notification_account')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Delivery',
            name='status',
            field=fields.CharEnumField(description='SENDING: SENDING\nSENT: SENT\nFAILED: FAILED', enum_type=DeliveryStatus, max_length=8),
        ),
        ops.AddField(
            model_name='Invoice',
            name='bill_to_email',
            field=fields.CharField(default='', max_length=254),
        ),
        ops.AddField(
            model_name='Invoice',
            name='bill_to_name',
            field=fields.CharField(default='', max_length=200),
        ),
        ops.RunPython(apply_constraints),
    ]

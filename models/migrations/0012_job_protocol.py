"""The job protocol: a heartbeat on every job (`updated_at`, touched by each chunk done, read by the sweeper;
the epoch for jobs from before, a constant default because SQLite adds columns only with one), and the ANALYZE
job kind (the analysis after processing, queued with the batch's PROCESSED status); rules re-applied after
SQLite's table rebuild (models/constraints.py)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import JobKind
from tortoise.fields.db_defaults import SqlDefault
from tortoise import fields

from models.constraints import apply_constraints

class Migration(migrations.Migration):
    dependencies = [('models', '0011_login_limits')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Job',
            name='kind',
            field=fields.CharEnumField(description='PROCESS: PROCESS\nANALYZE: ANALYZE\nREVERSE: REVERSE\nPOST: POST\nSEND: SEND\nAUTO_PAY: AUTO_PAY\nEXPORT: EXPORT\nMASS_UPDATE: MASS_UPDATE', enum_type=JobKind, max_length=16),
        ),
        ops.AddField(
            model_name='Job',
            name='updated_at',
            field=fields.DatetimeField(db_default=SqlDefault("'1970-01-01 00:00:00+00:00'"), auto_now=True, auto_now_add=False),
        ),
        ops.RunPython(apply_constraints),
    ]

"""Rules after the run: teams (and account grants to teams), four-eyes approval rules with the last editor of a
billing and a batch's posting request, billing schedules with their unique key (schedule, due date) on the batch."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import ApprovalRuleKind, AutoAdvance, Cadence, PostMode
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

from models.constraints import apply_constraints

class Migration(migrations.Migration):
    dependencies = [('models', '0017_trace')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ApprovalRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='BILLING_AMOUNT_ABOVE: BILLING_AMOUNT_ABOVE\nCHANGE_FROM_PREVIOUS_ABOVE_PERCENT: CHANGE_FROM_PREVIOUS_ABOVE_PERCENT\nBATCH_TOTAL_ABOVE: BATCH_TOTAL_ABOVE', enum_type=ApprovalRuleKind, max_length=40)),
                ('threshold', fields.DecimalField(max_digits=14, decimal_places=2)),
                ('currency', fields.CharField(null=True, max_length=3)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='approval_rules', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'approval_rule', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A company-level four-eyes rule (docs/APPROVALS.md): amounts are in `currency` and apply to billings and'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BillingSchedule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=150)),
                ('bill_group', fields.CharField(null=True, max_length=64)),
                ('division', fields.CharField(null=True, max_length=64)),
                ('currency', fields.CharField(max_length=3)),
                ('cadence', fields.CharEnumField(description='MONTHLY: MONTHLY\nWEEKLY: WEEKLY\nQUARTERLY: QUARTERLY', enum_type=Cadence, max_length=16)),
                ('day', fields.IntField()),
                ('auto_advance', fields.CharEnumField(default=AutoAdvance.CREATE, description='CREATE: CREATE\nANALYZE: ANALYZE\nPROCESS: PROCESS', enum_type=AutoAdvance, max_length=16)),
                ('paused', fields.BooleanField(default=False)),
                ('next_run_on', fields.DateField(db_index=True)),
                ('last_run_on', fields.DateField(null=True)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='schedules', on_delete=OnDelete.SET_NULL)),
                ('version', fields.IntField(default=1)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'billing_schedule', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Batches created on a calendar (docs/SCHEDULES.md): one per due date, advanced as far as `auto_advance`.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Team',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'team', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A named group of users that account restrictions can grant to at once (docs/ACCESS.md).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AccountTeamGrant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='team_grants', on_delete=OnDelete.CASCADE)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='account_grants', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'account_team_grant', 'app': 'models', 'unique_together': (('account', 'team'),), 'pk_attr': 'id', 'table_description': 'One team allowed to see a restricted account: every member sees it while a member (docs/ACCESS.md).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TeamMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='team_memberships', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'team_member', 'app': 'models', 'unique_together': (('team', 'user'),), 'pk_attr': 'id', 'table_description': 'One user in one team.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='BillingBatch',
            name='post_requested_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='BillingBatch',
            name='post_requested_by',
            field=fields.ForeignKeyField('models.User', source_field='post_requested_by_id', null=True, db_constraint=True, to_field='id', related_name='post_requests', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='BillingBatch',
            name='post_requested_mode',
            field=fields.CharEnumField(null=True, description='SEND: SEND\nEXPORT: EXPORT', enum_type=PostMode, max_length=8),
        ),
        ops.AddField(
            model_name='BillingBatch',
            name='schedule',
            field=fields.ForeignKeyField('models.BillingSchedule', source_field='schedule_id', null=True, db_constraint=True, to_field='id', related_name='runs', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='BillingBatch',
            name='scheduled_for',
            field=fields.DateField(null=True),
        ),
        ops.AddConstraint(
            model_name='BillingBatch',
            constraint=UniqueConstraint(fields=('schedule', 'scheduled_for'), name=None),
        ),
        ops.AddField(
            model_name='PeriodicBilling',
            name='last_edited_by_id',
            field=fields.IntField(null=True),
        ),
        ops.RunPython(apply_constraints),  # SQLite may rebuild altered tables without their indexes
    ]

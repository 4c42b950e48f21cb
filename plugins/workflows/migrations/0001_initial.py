from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Execution',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('workflow_id', fields.UUIDField(db_index=True)),
                ('workflow_version', fields.IntField()),
                ('status', fields.CharField(default='pending', db_index=True, max_length=16)),
                ('input_data', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('context', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('output_data', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('error_message', fields.TextField(null=True, unique=False)),
                ('progress', fields.IntField(default=0)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.UUIDField(null=True)),
                ('job_id', fields.UUIDField(null=True)),
                ('rerun_of', fields.UUIDField(null=True)),
                ('cancel_requested', fields.BooleanField(default=False)),
                ('metrics', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'workflows_execution', 'app': 'workflows', 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='ExecutionStep',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('execution_id', fields.UUIDField(db_index=True)),
                ('node_id', fields.CharField(max_length=64)),
                ('node_name', fields.CharField(max_length=200)),
                ('node_type', fields.CharField(max_length=100)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('attempt', fields.IntField(default=0)),
                ('reused', fields.BooleanField(default=False)),
                ('input_data', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('output_data', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('error_message', fields.TextField(null=True, unique=False)),
                ('usage', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('duration_ms', fields.FloatField(null=True)),
            ],
            options={'table': 'workflows_execution_step', 'app': 'workflows', 'unique_together': (('execution_id', 'node_id'),), 'pk_attr': 'id', 'table_description': 'One node of one execution: written when it starts and when it ends, before anything'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Workflow',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.TextField(null=True, unique=False)),
                ('category', fields.CharField(null=True, db_index=True, max_length=100)),
                ('is_active', fields.BooleanField(default=True)),
                ('version', fields.IntField(default=1)),
                ('definition', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_by', fields.UUIDField(null=True)),
            ],
            options={'table': 'workflows_workflow', 'app': 'workflows', 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='WorkflowVersion',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('workflow_id', fields.UUIDField(db_index=True)),
                ('version', fields.IntField()),
                ('name', fields.CharField(max_length=200)),
                ('definition', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_by', fields.UUIDField(null=True)),
            ],
            options={'table': 'workflows_version', 'app': 'workflows', 'unique_together': (('workflow_id', 'version'),), 'pk_attr': 'id', 'table_description': 'Every saved version, kept: an execution runs the version it started with.'},
            bases=['TenantModel'],
        ),
    ]

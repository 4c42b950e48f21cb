from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Agent',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('type', fields.CharField(default='general', max_length=32)),
                ('status', fields.CharField(default='active', max_length=16)),
                ('capabilities', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('system_prompt', fields.TextField(default='', unique=False)),
                ('model', fields.CharField(null=True, max_length=200)),
                ('temperature', fields.FloatField(default=0.0)),
                ('max_tokens', fields.IntField(default=512)),
                ('mode', fields.CharField(default='execute', max_length=16)),
                ('tool_choice', fields.CharField(default='auto', max_length=64)),
                ('max_steps', fields.IntField(default=4)),
                ('timeout_seconds', fields.FloatField(default=60.0)),
                ('created_by', fields.UUIDField(null=True)),
            ],
            options={'table': 'llm_agent', 'app': 'llm', 'indexes': [Index(fields=['org_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='AgentRun',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('agent_id', fields.UUIDField()),
                ('agent_name', fields.CharField(max_length=200)),
                ('user_id', fields.UUIDField(null=True)),
                ('api_key_id', fields.UUIDField(null=True)),
                ('mode', fields.CharField(max_length=16)),
                ('status', fields.CharField(default='running', max_length=16)),
                ('success', fields.BooleanField(default=False)),
                ('error_code', fields.CharField(null=True, max_length=64)),
                ('error_message', fields.TextField(null=True, unique=False)),
                ('input', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('response', fields.TextField(null=True, unique=False)),
                ('actions', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('executed_actions', fields.IntField(default=0)),
                ('lead_actions', fields.IntField(default=0)),
                ('steps', fields.IntField(default=0)),
                ('prompt_tokens', fields.IntField(default=0)),
                ('completion_tokens', fields.IntField(default=0)),
                ('cost', fields.FloatField(default=0.0)),
                ('latency_ms', fields.FloatField(default=0.0)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'llm_agent_run', 'app': 'llm', 'indexes': [Index(fields=['org_id', 'created_at']), Index(fields=['org_id', 'agent_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]

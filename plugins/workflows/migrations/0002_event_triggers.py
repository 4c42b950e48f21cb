"""Event triggers (plugins/workflows/event_triggers.py): workflows_event_trigger, the index of
active workflows by the event types they listen to, and Execution.trigger_event_id, unique per
workflow, so an event delivered twice starts one execution."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('workflows', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EventTrigger',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('workflow_id', fields.UUIDField(db_index=True)),
                ('event_type', fields.CharField(max_length=100)),
                ('data_filter', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'workflows_event_trigger', 'app': 'workflows', 'indexes': [Index(fields=['org_id', 'event_type'])], 'pk_attr': 'id', 'table_description': 'One event trigger of the current version of an active workflow, kept on every save'},
            bases=['TenantModel'],
        ),
        ops.AddField(
            model_name='Execution',
            name='trigger_event_id',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddConstraint(
            model_name='Execution',
            constraint=UniqueConstraint(fields=('workflow_id', 'trigger_event_id'), name=None),
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AnalyticsQuery',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('project_uuid', fields.UUIDField()),
                ('explore', fields.CharField(max_length=100)),
                ('status', fields.CharField(default='ready', max_length=16)),
                ('metric_query', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('fields_map', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('columns', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('rows', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('error', fields.TextField(null=True, unique=False)),
                ('execution_ms', fields.FloatField(default=0)),
            ],
            options={'table': 'analytics_query', 'app': 'analytics', 'indexes': [Index(fields=['org_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]

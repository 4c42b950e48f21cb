from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Job',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('type', fields.CharField(db_index=True, max_length=100)),
                ('status', fields.CharField(default='pending', db_index=True, max_length=16)),
                ('progress', fields.IntField(default=0)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('result', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('error', fields.TextField(null=True, unique=False)),
                ('attempts', fields.IntField(default=0)),
                ('max_attempts', fields.IntField(default=3)),
                ('timeout_seconds', fields.IntField(null=True)),
                ('user_id', fields.UUIDField(null=True)),
                ('cancel_requested', fields.BooleanField(default=False)),
                ('run_after', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('worker', fields.CharField(null=True, max_length=100)),
                ('heartbeat_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'core_job', 'app': 'core', 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='UsageCounter',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('day', fields.DateField()),
                ('metric', fields.CharField(max_length=64)),
                ('value', fields.BigIntField(default=0)),
            ],
            options={'table': 'core_usage_counter', 'app': 'core', 'unique_together': (('org_id', 'day', 'metric'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Webhook',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('url', fields.CharField(max_length=2048)),
                ('events', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('secret', fields.CharField(max_length=255)),
                ('is_active', fields.BooleanField(default=True)),
                ('description', fields.CharField(default='', max_length=255)),
                ('created_by', fields.UUIDField(null=True)),
            ],
            options={'table': 'core_webhook', 'app': 'core', 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('webhook_id', fields.UUIDField(db_index=True)),
                ('event', fields.CharField(max_length=100)),
                ('event_id', fields.CharField(max_length=64)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('response_status', fields.IntField(null=True)),
                ('response_body', fields.TextField(null=True, unique=False)),
                ('error', fields.TextField(null=True, unique=False)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('job_id', fields.UUIDField(null=True)),
                ('attempt_log', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'core_webhook_delivery', 'app': 'core', 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]

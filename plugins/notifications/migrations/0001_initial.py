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
            name='Notification',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('user_id', fields.UUIDField()),
                ('sender_id', fields.UUIDField(null=True)),
                ('type', fields.CharField(max_length=50)),
                ('channel', fields.CharField(max_length=16)),
                ('priority', fields.CharField(default='normal', max_length=16)),
                ('title', fields.CharField(max_length=200)),
                ('message', fields.TextField(unique=False)),
                ('metadata', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('is_read', fields.BooleanField(default=False)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('delivery', fields.CharField(default='delivered', max_length=16)),
                ('message_id', fields.CharField(null=True, max_length=36)),
                ('error', fields.CharField(null=True, max_length=500)),
                ('visible', fields.BooleanField(default=True)),
                ('event_id', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'notifications_notifications', 'app': 'notifications', 'unique_together': (('org_id', 'user_id', 'event_id'),), 'indexes': [Index(fields=['org_id', 'user_id', 'is_read'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Preference',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('user_id', fields.UUIDField()),
                ('email_enabled', fields.BooleanField(default=True)),
                ('in_app_enabled', fields.BooleanField(default=True)),
                ('sms_enabled', fields.BooleanField(default=False)),
                ('phone', fields.CharField(null=True, max_length=24)),
                ('digest', fields.BooleanField(default=False)),
                ('types', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'notifications_preferences', 'app': 'notifications', 'unique_together': (('org_id', 'user_id'),), 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]

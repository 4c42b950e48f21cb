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
            name='Message',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('channel', fields.CharField(max_length=10)),
                ('provider', fields.CharField(max_length=30)),
                ('status', fields.CharField(db_index=True, max_length=20)),
                ('recipients', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('sender', fields.CharField(null=True, max_length=320)),
                ('subject', fields.CharField(null=True, max_length=998)),
                ('template_id', fields.UUIDField(null=True)),
                ('payload', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('provider_message_id', fields.CharField(null=True, db_index=True, max_length=255)),
                ('error', fields.CharField(null=True, max_length=1000)),
                ('attempts', fields.IntField(default=0)),
                ('job_id', fields.UUIDField(null=True)),
                ('created_by', fields.UUIDField(null=True)),
                ('history', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'messaging_message', 'app': 'messaging', 'pk_attr': 'id', 'table_description': 'One email or SMS. `payload` is what the send job delivers (rendered content, attachments'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='MessageTemplate',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('channel', fields.CharField(max_length=10)),
                ('description', fields.CharField(default='', max_length=1000)),
                ('subject', fields.TextField(null=True, unique=False)),
                ('html', fields.TextField(null=True, unique=False)),
                ('text', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'messaging_template', 'app': 'messaging', 'unique_together': (('org_id', 'name'),), 'pk_attr': 'id', 'table_description': 'A Jinja2 template of an organization, rendered in a sandbox (templates.py).'},
            bases=['TenantModel'],
        ),
    ]

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
            name='N8nCredential',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('type', fields.CharField(max_length=200)),
                ('identity', fields.CharField(max_length=200)),
                ('secret_hash', fields.CharField(max_length=200)),
            ],
            options={'table': 'n8n_credential', 'app': 'n8n', 'pk_attr': 'id', 'table_description': 'A credential a Webhook node checks callers against (httpBasicAuth, httpHeaderAuth): only a'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='N8nWebhook',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('workflow_id', fields.UUIDField(db_index=True)),
                ('method', fields.CharField(max_length=10)),
                ('path', fields.CharField(db_index=True, max_length=500)),
                ('node_name', fields.CharField(max_length=200)),
                ('active', fields.BooleanField(default=False, db_index=True)),
                ('owner_id', fields.UUIDField(null=True)),
                ('scopes', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('parameters', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'n8n_webhook', 'app': 'n8n', 'pk_attr': 'id', 'table_description': "One path a workflow listens on. `path` is n8n's (`orders/new`, or `<webhookId>/:id/...` for"},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='N8nWorkflow',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('workflow_id', fields.UUIDField(unique=True)),
                ('hub_version', fields.IntField()),
                ('source', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'n8n_workflow', 'app': 'n8n', 'pk_attr': 'id', 'table_description': 'The n8n JSON of a workflow saved through the n8n API, as of the Hub version it became.'},
            bases=['TenantModel'],
        ),
    ]

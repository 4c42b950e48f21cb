from tortoise import migrations
from tortoise.migrations import operations as ops
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0006_files')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StoredCredential',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('owner', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=128)),
                ('ciphertext', fields.TextField()),
            ],
            options={'table': 'core_stored_credential', 'app': 'core', 'unique_together': (('org_id', 'owner', 'name'),), 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='IntegrationConnection',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('integration', fields.CharField(max_length=64)),
                ('status', fields.CharField(default='connected', max_length=16)),
                ('config', fields.JSONField(default=dict)),
                ('connected_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_sync_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(null=True)),
                ('last_error_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'core_integration_connection', 'app': 'core', 'unique_together': (('org_id', 'integration'),), 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]

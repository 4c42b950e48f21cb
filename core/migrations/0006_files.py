from tortoise import migrations
from tortoise.migrations import operations as ops
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0005_job_priority')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StoredFile',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('name', fields.CharField(max_length=255)),
                ('content_type', fields.CharField(max_length=128)),
                ('declared_type', fields.CharField(null=True, max_length=128)),
                ('size', fields.BigIntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('storage_key', fields.CharField(max_length=255)),
                ('purpose', fields.CharField(default='upload', db_index=True, max_length=64)),
                ('owner_id', fields.CharField(null=True, db_index=True, max_length=64)),
                ('shared', fields.BooleanField(default=True)),
                ('created_by', fields.UUIDField(null=True)),
            ],
            options={'table': 'core_stored_file', 'app': 'core', 'pk_attr': 'id', 'table_description': 'A file in the store (its bytes under `storage_key`, never under the name it came with).'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='StorageUsage',
            fields=[
                ('org_id', fields.UUIDField(primary_key=True, unique=True, db_index=True)),
                ('used_bytes', fields.BigIntField(default=0)),
            ],
            options={'table': 'core_storage_usage', 'app': 'core', 'pk_attr': 'org_id', 'table_description': 'Bytes stored per organization, changed in the transaction that adds or removes a file'},
            bases=['Model'],
        ),
    ]

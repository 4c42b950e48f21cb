from tortoise import migrations
from tortoise.migrations import operations as ops
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('messaging', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Suppression',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('address', fields.CharField(max_length=320)),
                ('reason', fields.CharField(max_length=20)),
                ('provider', fields.CharField(null=True, max_length=30)),
                ('message_id', fields.UUIDField(null=True)),
                ('detail', fields.CharField(default='', max_length=500)),
            ],
            options={'table': 'messaging_suppression', 'app': 'messaging', 'unique_together': (('org_id', 'address'),), 'pk_attr': 'id', 'table_description': 'An address the organization no longer sends to: it bounced, complained, unsubscribed'},
            bases=['TenantModel'],
        ),
    ]

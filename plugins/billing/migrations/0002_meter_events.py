from tortoise import migrations
from tortoise.migrations import operations as ops
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('billing', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MeterCursor',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('unit', fields.CharField(max_length=64)),
                ('period', fields.CharField(max_length=7)),
                ('reported', fields.BigIntField(default=0)),
                ('pending_identifier', fields.CharField(null=True, max_length=100)),
                ('pending_value', fields.BigIntField(null=True)),
                ('pending_timestamp', fields.BigIntField(null=True)),
            ],
            options={'table': 'billing_meter_cursors', 'app': 'billing', 'unique_together': (('org_id', 'unit', 'period'),), 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.AddField(
            model_name='Customer',
            name='meter_window',
            field=fields.BigIntField(default=0),
        ),
    ]

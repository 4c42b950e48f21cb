from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0003_login_throttle')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OutboxEvent',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('org_id', fields.CharField(max_length=64)),
                ('type', fields.CharField(max_length=100)),
                ('data', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('timestamp', fields.CharField(max_length=40)),
                ('sequence', fields.BigIntField(default=0)),
                ('lease_until', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'core_event_outbox', 'app': 'core', 'pk_attr': 'id', 'table_description': 'An emitted event not yet handed to the plugins, sockets and webhooks (core/events/outbox.py).'},
            bases=['Model'],
        ),
    ]

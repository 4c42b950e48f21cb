from tortoise import migrations
from tortoise.migrations import operations as ops
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='SlackPost',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('source', fields.CharField(max_length=20)),
                ('rule_id', fields.UUIDField(null=True, db_index=True)),
                ('event_id', fields.CharField(null=True, max_length=64)),
                ('channel', fields.CharField(null=True, max_length=81)),
                ('text', fields.TextField(unique=False)),
                ('status', fields.CharField(default='queued', db_index=True, max_length=10)),
                ('error', fields.CharField(null=True, max_length=500)),
                ('attempts', fields.IntField(default=0)),
                ('slack_ts', fields.CharField(null=True, max_length=40)),
                ('job_id', fields.UUIDField(null=True)),
                ('created_by', fields.UUIDField(null=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'slack_posts', 'app': 'slack', 'unique_together': (('org_id', 'rule_id', 'event_id'),), 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='SlackRule',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('event_type', fields.CharField(db_index=True, max_length=100)),
                ('channel', fields.CharField(null=True, max_length=81)),
                ('template', fields.TextField(unique=False)),
                ('enabled', fields.BooleanField(default=True)),
                ('created_by', fields.UUIDField(null=True)),
                ('last_posted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'slack_rules', 'app': 'slack', 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]

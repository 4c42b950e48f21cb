from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Interaction',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('user_id', fields.CharField(max_length=128)),
                ('item_id', fields.CharField(max_length=128)),
                ('interaction_type', fields.CharField(max_length=20)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('context', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('metadata', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'recommender_interaction', 'app': 'recommender', 'indexes': [Index(fields=['org_id', 'user_id', 'occurred_at']), Index(fields=['org_id', 'occurred_at']), Index(fields=['org_id', 'item_id'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Item',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('item_id', fields.CharField(max_length=128)),
                ('title', fields.CharField(max_length=500)),
                ('description', fields.TextField(default='', unique=False)),
                ('category', fields.CharField(null=True, max_length=64)),
                ('tags', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('metadata', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('item_created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'recommender_item', 'app': 'recommender', 'unique_together': (('org_id', 'item_id'),), 'indexes': [Index(fields=['org_id', 'category']), Index(fields=['org_id', 'updated_at'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='ModelVersion',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('version', fields.CharField(max_length=32)),
                ('model_type', fields.CharField(max_length=32)),
                ('status', fields.CharField(default='queued', max_length=16)),
                ('is_active', fields.BooleanField(default=False)),
                ('job_id', fields.UUIDField(null=True)),
                ('hyperparameters', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('data_range', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('metrics', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('path', fields.CharField(null=True, max_length=1024)),
                ('dimension', fields.IntField(null=True)),
                ('item_count', fields.IntField(default=0)),
                ('interaction_count', fields.IntField(default=0)),
                ('error', fields.TextField(null=True, unique=False)),
                ('trained_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('activated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'recommender_model_version', 'app': 'recommender', 'unique_together': (('org_id', 'version'),), 'indexes': [Index(fields=['org_id', 'is_active']), Index(fields=['org_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='TenantSettings',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('allow_repurchase', fields.BooleanField(default=False)),
                ('default_model_type', fields.CharField(default='matrix_factorization', max_length=32)),
                ('embedding_dimension', fields.IntField(null=True)),
            ],
            options={'table': 'recommender_settings', 'app': 'recommender', 'unique_together': (('org_id',),), 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]

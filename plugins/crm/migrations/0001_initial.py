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
            name='AchievementProgress',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('user_id', fields.UUIDField()),
                ('code', fields.CharField(max_length=64)),
                ('current', fields.IntField(default=0)),
                ('unlocked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'crm_achievement_progress', 'app': 'crm', 'unique_together': (('org_id', 'user_id', 'code'),), 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Company',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('domain', fields.CharField(null=True, max_length=253)),
                ('industry', fields.CharField(null=True, max_length=100)),
                ('size', fields.CharField(null=True, max_length=32)),
                ('notes', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'crm_company', 'app': 'crm', 'indexes': [Index(fields=['org_id', 'name'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Contact',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('phone', fields.CharField(null=True, max_length=32)),
                ('company', fields.CharField(null=True, max_length=200)),
                ('company_id', fields.UUIDField(null=True)),
                ('position', fields.CharField(null=True, max_length=100)),
                ('tags', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharField(default='active', max_length=16)),
                ('notes', fields.TextField(null=True, unique=False)),
                ('last_contact_date', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lead_id', fields.UUIDField(null=True)),
                ('search_text', fields.CharField(default='', max_length=700)),
            ],
            options={'table': 'crm_contact', 'app': 'crm', 'indexes': [Index(fields=['org_id', 'name']), Index(fields=['org_id', 'company']), Index(fields=['org_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='ContactTag',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('contact_id', fields.UUIDField()),
                ('tag', fields.CharField(max_length=50)),
            ],
            options={'table': 'crm_contact_tag', 'app': 'crm', 'unique_together': (('contact_id', 'tag'),), 'indexes': [Index(fields=['org_id', 'tag'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Conversation',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('lead_id', fields.UUIDField(unique=True)),
                ('status', fields.CharField(default='active', max_length=16)),
                ('last_message_id', fields.UUIDField(null=True)),
                ('last_message_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('unread_count', fields.IntField(default=0)),
            ],
            options={'table': 'crm_conversation', 'app': 'crm', 'indexes': [Index(fields=['org_id', 'last_message_at'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Lead',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('phone', fields.CharField(null=True, max_length=32)),
                ('company', fields.CharField(null=True, max_length=200)),
                ('company_id', fields.UUIDField(null=True)),
                ('status', fields.CharField(default='new', max_length=16)),
                ('source', fields.CharField(default='other', max_length=32)),
                ('value', fields.FloatField(default=0)),
                ('notes', fields.TextField(null=True, unique=False)),
                ('owner_id', fields.UUIDField(null=True)),
                ('converted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'crm_lead', 'app': 'crm', 'indexes': [Index(fields=['org_id', 'status', 'created_at']), Index(fields=['org_id', 'source']), Index(fields=['org_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('lead_id', fields.UUIDField()),
                ('content', fields.TextField(unique=False)),
                ('sender', fields.CharField(max_length=16)),
                ('status', fields.CharField(default='delivered', max_length=16)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('author_id', fields.UUIDField(null=True)),
            ],
            options={'table': 'crm_message', 'app': 'crm', 'indexes': [Index(fields=['org_id', 'lead_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Ticket',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('user_id', fields.UUIDField()),
                ('title', fields.CharField(max_length=200)),
                ('description', fields.TextField(unique=False)),
                ('status', fields.CharField(default='open', db_index=True, max_length=20)),
                ('priority', fields.CharField(default='medium', db_index=True, max_length=10)),
                ('priority_rank', fields.SmallIntField(default=1)),
                ('category', fields.CharField(null=True, max_length=50)),
                ('assigned_to', fields.UUIDField(null=True)),
                ('first_response_due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolution_due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('first_responded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('first_response_breached_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolution_breached_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('attachment_bytes', fields.BigIntField(default=0)),
            ],
            options={'table': 'support_tickets', 'app': 'support', 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='TicketAttachment',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('ticket_id', fields.UUIDField(db_index=True)),
                ('name', fields.CharField(max_length=255)),
                ('content_type', fields.CharField(max_length=255)),
                ('size', fields.BigIntField()),
                ('uploaded_by', fields.UUIDField(null=True)),
            ],
            options={'table': 'support_ticket_attachments', 'app': 'support', 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='TicketComment',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('ticket_id', fields.UUIDField(db_index=True)),
                ('author_id', fields.UUIDField(null=True)),
                ('comment', fields.TextField(unique=False)),
                ('is_internal', fields.BooleanField(default=False)),
            ],
            options={'table': 'support_ticket_comments', 'app': 'support', 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]

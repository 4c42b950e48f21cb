from tortoise import migrations
from tortoise.migrations import operations as ops
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Theme',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('name', fields.CharField(null=True, max_length=100)),
                ('primary_color', fields.CharField(null=True, max_length=64)),
                ('secondary_color', fields.CharField(null=True, max_length=64)),
                ('accent_color', fields.CharField(null=True, max_length=64)),
                ('background_color', fields.CharField(null=True, max_length=64)),
                ('text_color', fields.CharField(null=True, max_length=64)),
                ('font_family', fields.CharField(null=True, max_length=200)),
                ('heading_font_family', fields.CharField(null=True, max_length=200)),
                ('custom_css', fields.TextField(default='', unique=False)),
                ('is_active', fields.BooleanField(default=True)),
                ('logo_file_id', fields.UUIDField(null=True)),
            ],
            options={'table': 'themes_themes', 'app': 'themes', 'unique_together': (('org_id',),), 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0002_runtime')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LoginClient',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(max_length=254)),
                ('address', fields.CharField(max_length=64)),
                ('last_success_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'core_login_client', 'app': 'core', 'unique_together': (('email', 'address'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LoginThrottle',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=320)),
                ('failures', fields.IntField(default=0)),
                ('window_started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'core_login_throttle', 'app': 'core', 'pk_attr': 'key'},
            bases=['Model'],
        ),
        ops.DeleteModel(name='LoginFailure'),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('notifications', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Preference',
            name='slack_channel',
            field=fields.CharField(null=True, max_length=81),
        ),
        ops.AddField(
            model_name='Preference',
            name='slack_enabled',
            field=fields.BooleanField(default=True, db_default=True),
        ),
    ]

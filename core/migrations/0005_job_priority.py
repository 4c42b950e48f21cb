from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0004_event_outbox')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Job',
            name='priority',
            field=fields.SmallIntField(default=5),
        ),
    ]

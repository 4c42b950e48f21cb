"""`allow_repurchase` becomes `repurchase` ("auto" | "always" | "never"; tenants that had turned
it on keep "always", the others get the new default "auto"), what training measured about it,
and deletable catalog items (`deleted_at`)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('recommender', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='TenantSettings',
            name='repurchase',
            field=fields.CharField(default='auto', max_length=8),
        ),
        ops.AddField(
            model_name='TenantSettings',
            name='repeat_purchase_rate',
            field=fields.FloatField(null=True),
        ),
        ops.AddField(
            model_name='TenantSettings',
            name='repurchase_decision',
            field=fields.CharField(null=True, max_length=8),
        ),
        ops.RunSQL("UPDATE recommender_settings SET repurchase = 'always' WHERE allow_repurchase"),
        ops.RemoveField(model_name='TenantSettings', name='allow_repurchase'),
        ops.AddField(
            model_name='Item',
            name='deleted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]

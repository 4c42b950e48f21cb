from tortoise import migrations
from tortoise.migrations import operations as ops
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Customer',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('stripe_customer_id', fields.CharField(unique=True, max_length=255)),
                ('email', fields.CharField(null=True, max_length=254)),
            ],
            options={'table': 'billing_customers', 'app': 'billing', 'unique_together': (('org_id',),), 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Invoice',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('stripe_invoice_id', fields.CharField(unique=True, max_length=255)),
                ('stripe_subscription_id', fields.CharField(null=True, max_length=255)),
                ('number', fields.CharField(null=True, max_length=255)),
                ('status', fields.CharField(max_length=32)),
                ('currency', fields.CharField(default='usd', max_length=3)),
                ('amount_due', fields.BigIntField(default=0)),
                ('amount_paid', fields.BigIntField(default=0)),
                ('amount_remaining', fields.BigIntField(default=0)),
                ('hosted_invoice_url', fields.CharField(null=True, max_length=2048)),
                ('invoice_pdf', fields.CharField(null=True, max_length=2048)),
                ('period_start', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('period_end', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('stripe_created', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('state_at', fields.BigIntField(default=0)),
            ],
            options={'table': 'billing_invoices', 'app': 'billing', 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='StripeEvent',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('event_id', fields.CharField(unique=True, max_length=255)),
                ('type', fields.CharField(max_length=100)),
                ('org_id', fields.UUIDField(null=True)),
                ('event_created', fields.BigIntField(default=0)),
            ],
            options={'table': 'billing_stripe_events', 'app': 'billing', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Subscription',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('org_id', fields.UUIDField(db_index=True)),
                ('provider', fields.CharField(default='stripe', max_length=16)),
                ('stripe_subscription_id', fields.CharField(null=True, unique=True, max_length=255)),
                ('stripe_customer_id', fields.CharField(null=True, max_length=255)),
                ('plan', fields.CharField(max_length=32)),
                ('status', fields.CharField(max_length=32)),
                ('cancel_at_period_end', fields.BooleanField(default=False)),
                ('current_period_start', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('current_period_end', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('canceled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('past_due_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('state_at', fields.BigIntField(default=0)),
            ],
            options={'table': 'billing_subscriptions', 'app': 'billing', 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]

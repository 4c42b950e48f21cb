"""The billing plugin's tables: the organization's Stripe customer, its subscriptions and
invoices (mirrors of Stripe's objects, kept current by the webhook), and the Stripe events
already processed (each event id once)."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel, TimestampedModel


class Customer(TenantModel):
    # One Stripe customer per organization.
    stripe_customer_id = fields.CharField(max_length=255, unique=True)
    email = fields.CharField(max_length=254, null=True)

    class Meta:
        table = "billing_customers"
        unique_together = (("org_id",),)


class Subscription(TenantModel):
    # provider: stripe | local. status: Stripe's (active, trialing, past_due, unpaid, canceled,
    # incomplete, incomplete_expired, paused)
    provider = fields.CharField(max_length=16, default="stripe")
    stripe_subscription_id = fields.CharField(max_length=255, unique=True, null=True)
    stripe_customer_id = fields.CharField(max_length=255, null=True)
    plan = fields.CharField(max_length=32)
    status = fields.CharField(max_length=32)
    cancel_at_period_end = fields.BooleanField(default=False)
    current_period_start = fields.DatetimeField(null=True)
    current_period_end = fields.DatetimeField(null=True)
    canceled_at = fields.DatetimeField(null=True)
    past_due_since = fields.DatetimeField(null=True)  # the grace period runs from here
    # `created` (unix seconds) of the newest Stripe event applied: older ones never move it back
    state_at = fields.BigIntField(default=0)

    class Meta:
        table = "billing_subscriptions"


class Invoice(TenantModel):
    stripe_invoice_id = fields.CharField(max_length=255, unique=True)
    stripe_subscription_id = fields.CharField(max_length=255, null=True)
    number = fields.CharField(max_length=255, null=True)
    status = fields.CharField(max_length=32)  # draft, open, paid, uncollectible, void
    currency = fields.CharField(max_length=3, default="usd")
    amount_due = fields.BigIntField(default=0)  # in the currency's smallest unit (cents)
    amount_paid = fields.BigIntField(default=0)
    amount_remaining = fields.BigIntField(default=0)
    hosted_invoice_url = fields.CharField(max_length=2048, null=True)
    invoice_pdf = fields.CharField(max_length=2048, null=True)
    period_start = fields.DatetimeField(null=True)
    period_end = fields.DatetimeField(null=True)
    stripe_created = fields.DatetimeField(null=True)
    state_at = fields.BigIntField(default=0)

    class Meta:
        table = "billing_invoices"


class StripeEvent(TimestampedModel):
    # A Stripe event processed once: a replay finds its id here and changes nothing.
    event_id = fields.CharField(max_length=255, unique=True)
    type = fields.CharField(max_length=100)
    org_id = fields.UUIDField(null=True)
    event_created = fields.BigIntField(default=0)

    class Meta:
        table = "billing_stripe_events"

"""The billing plugin's tables: the organization's Stripe customer, its subscriptions and
invoices (mirrors of Stripe's objects, kept current by the webhook), the Stripe events
already processed (each event id once), and how much metered usage Stripe has accepted."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel, TimestampedModel


class Customer(TenantModel):
    # One Stripe customer per organization.
    stripe_customer_id = fields.CharField(max_length=255, unique=True)
    email = fields.CharField(max_length=254, null=True)
    # the last report window (unix seconds // meter_interval_seconds) a process claimed for this
    # organization's metered usage: one report job per window, however many processes tick
    meter_window = fields.BigIntField(default=0)

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


class MeterCursor(TenantModel):
    # How much of one metered unit of one month (UTC, "YYYY-MM") Stripe has accepted. A report in
    # flight is written here before it is sent (pending_*), and sent again as it is (the same
    # identifier, which Stripe counts once) until Stripe accepts it: a crash neither loses nor
    # repeats units.
    unit = fields.CharField(max_length=64)
    period = fields.CharField(max_length=7)
    reported = fields.BigIntField(default=0)  # units of the month Stripe accepted
    pending_identifier = fields.CharField(max_length=100, null=True)
    pending_value = fields.BigIntField(null=True)
    pending_timestamp = fields.BigIntField(null=True)  # unix seconds, the meter event's time

    class Meta:
        table = "billing_meter_cursors"
        unique_together = (("org_id", "unit", "period"),)

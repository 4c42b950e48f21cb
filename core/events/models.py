"""The webhook tables: an organization's endpoints and every delivery attempt."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from core.kernel.models import TenantModel


class Webhook(TenantModel):
    # An organization's endpoint for signed event deliveries. The secret signs payloads,
    # so it must be readable by the Hub (unlike passwords and API keys).
    url = fields.CharField(max_length=2048)
    events = fields.JSONField(default=list)  # event types, "*" or "lead.*" patterns
    secret = fields.CharField(max_length=255)
    is_active = fields.BooleanField(default=True)
    description = fields.CharField(max_length=255, default="")
    created_by = fields.UUIDField(null=True)

    class Meta:
        table = "core_webhook"


class WebhookDelivery(TenantModel):
    webhook_id = fields.UUIDField(db_index=True)
    event = fields.CharField(max_length=100)
    event_id = fields.CharField(max_length=64)
    payload = fields.JSONField()
    status = fields.CharField(max_length=16, default="pending")  # pending | succeeded | failed
    attempts = fields.IntField(default=0)
    response_status = fields.IntField(null=True)
    response_body = fields.TextField(null=True)
    error = fields.TextField(null=True)
    next_attempt_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    job_id = fields.UUIDField(null=True)
    # One entry per attempt: {attempt, at, status_code, error, response_body, duration_ms}.
    attempt_log = fields.JSONField(default=list)

    class Meta:
        table = "core_webhook_delivery"


class OutboxEvent(Model):
    """An emitted event not yet handed to the plugins, sockets and webhooks (core/events/outbox.py).

    Written in the same transaction as the change it announces, deleted once dispatched. The
    process that wrote it owns it until `lease_until`; after that, any process may take it
    over (its owner died, or fell behind), so an event is dispatched at least once."""

    id = fields.CharField(max_length=32, primary_key=True)  # the event id
    org_id = fields.CharField(max_length=64)
    type = fields.CharField(max_length=100)
    data = fields.JSONField()
    timestamp = fields.CharField(max_length=40)  # the event's own, ISO 8601
    sequence = fields.BigIntField(default=0)  # emit order within the emitting process
    lease_until = fields.DatetimeField(db_index=True)
    attempts = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "core_event_outbox"

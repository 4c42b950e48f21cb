"""The webhook tables: an organization's endpoints and every delivery attempt."""

from __future__ import annotations

from tortoise import fields

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

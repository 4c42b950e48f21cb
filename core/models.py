"""The core's tables: organizations, users, tokens, API keys, per-organization plugin state.

`TenantModel` is the base of every tenant-owned row in every plugin: it carries `org_id`
and the only query entry points a route should use (`for_org`, `get_for_org`).
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from tortoise import fields
from tortoise.models import Model

from core.errors import not_found

T = TypeVar("T", bound="TenantModel")

ROLES = ("admin", "developer", "member", "viewer")


class TimestampedModel(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


class TenantModel(TimestampedModel):
    # A row that belongs to one organization. Query it only through `for_org`.

    org_id = fields.UUIDField(db_index=True)

    class Meta:
        abstract = True

    @classmethod
    def for_org(cls: type[T], org_id: Any):
        return cls.filter(org_id=org_id)

    @classmethod
    async def get_for_org(cls: type[T], org_id: Any, object_id: Any, what: str | None = None) -> T:
        """The row with this id in this organization, or a 404 (also for malformed ids and
        for ids of other organizations, which must be indistinguishable)."""
        try:
            object_id = uuid.UUID(str(object_id))
        except ValueError:
            raise not_found(what or cls.__name__) from None
        row = await cls.filter(org_id=org_id, id=object_id).first()
        if row is None:
            raise not_found(what or cls.__name__)
        return row


class Organization(TimestampedModel):
    name = fields.CharField(max_length=200)
    plan = fields.CharField(max_length=32, default="starter")
    status = fields.CharField(max_length=16, default="active")  # active | suspended
    settings = fields.JSONField(default=dict)

    class Meta:
        table = "core_organization"


class User(TimestampedModel):
    org_id = fields.UUIDField(db_index=True)
    email = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=255, null=True)  # null until an invitation is accepted
    first_name = fields.CharField(max_length=100)
    last_name = fields.CharField(max_length=100)
    role = fields.CharField(max_length=16, default="viewer")
    is_active = fields.BooleanField(default=True)
    invite_token_hash = fields.CharField(max_length=64, null=True, unique=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "core_user"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class RefreshToken(Model):
    # Opaque refresh tokens, stored as hashes. Each use rotates the token; reusing a
    # rotated token revokes its whole family (the sign of a stolen token).

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    token_hash = fields.CharField(max_length=64, unique=True)
    family = fields.UUIDField(db_index=True)
    user_id = fields.UUIDField(db_index=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "core_refresh_token"


class RevokedToken(Model):
    # Access-token ids (`jti`) revoked before they expire (logout, member removal).

    jti = fields.CharField(max_length=64, primary_key=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "core_revoked_token"


class LoginFailure(Model):
    # Consecutive failed logins per email: each failure past the threshold doubles the wait.

    email = fields.CharField(max_length=254, primary_key=True)
    failures = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "core_login_failure"


class ApiKey(TenantModel):
    user_id = fields.UUIDField(db_index=True)
    name = fields.CharField(max_length=100)
    key_hash = fields.CharField(max_length=64, unique=True)
    key_prefix = fields.CharField(max_length=32)
    scopes = fields.JSONField(default=list)
    is_active = fields.BooleanField(default=True)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    usage_count = fields.BigIntField(default=0)

    class Meta:
        table = "core_api_key"


class ApiKeyUsage(Model):
    # Per key and endpoint (the route pattern, not the raw path) request counters.

    id = fields.IntField(primary_key=True)
    key_id = fields.UUIDField(db_index=True)
    endpoint = fields.CharField(max_length=255)
    requests = fields.BigIntField(default=0)
    successes = fields.BigIntField(default=0)
    failures = fields.BigIntField(default=0)
    total_duration_ms = fields.FloatField(default=0)

    class Meta:
        table = "core_api_key_usage"
        unique_together = (("key_id", "endpoint"),)


class PluginState(Model):
    # A plugin switched on or off for one organization (absent row: on).

    id = fields.IntField(primary_key=True)
    org_id = fields.UUIDField(db_index=True)
    plugin = fields.CharField(max_length=100)
    enabled = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "core_plugin_state"
        unique_together = (("org_id", "plugin"),)


JOB_STATUSES = ("pending", "running", "completed", "failed", "cancelled", "timeout")


class Job(TenantModel):
    # Every background job is a row before it is sent to a worker, so none is lost when a
    # process dies: unfinished rows are re-sent at start.
    type = fields.CharField(max_length=100, db_index=True)
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    progress = fields.IntField(default=0)
    payload = fields.JSONField(default=dict)
    result = fields.JSONField(null=True)
    error = fields.TextField(null=True)
    attempts = fields.IntField(default=0)
    max_attempts = fields.IntField(default=3)
    timeout_seconds = fields.IntField(null=True)
    user_id = fields.UUIDField(null=True)
    cancel_requested = fields.BooleanField(default=False)
    run_after = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    worker = fields.CharField(max_length=100, null=True)
    heartbeat_at = fields.DatetimeField(null=True)

    class Meta:
        table = "core_job"


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


class UsageCounter(Model):
    # Metered units per organization and day (api_calls, ai_tokens, ...), added to atomically.
    id = fields.IntField(primary_key=True)
    org_id = fields.UUIDField(db_index=True)
    day = fields.DateField()
    metric = fields.CharField(max_length=64)
    value = fields.BigIntField(default=0)

    class Meta:
        table = "core_usage_counter"
        unique_together = (("org_id", "day", "metric"),)

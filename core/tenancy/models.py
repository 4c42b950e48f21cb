"""The tenancy tables: organizations, users, refresh and revoked tokens, failed logins, API keys
and their usage, and the per-organization plugin switches."""

from __future__ import annotations

import uuid

from tortoise import fields
from tortoise.models import Model

from core.kernel.models import TenantModel, TimestampedModel

ROLES = ("admin", "developer", "member", "viewer")


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


class LoginThrottle(Model):
    # Failed logins, counted per (email, client address) - consecutive failures, each one past the
    # threshold doubling the wait - and per email over all addresses within a window (key "email|*").

    key = fields.CharField(max_length=320, primary_key=True)
    failures = fields.IntField(default=0)
    window_started_at = fields.DatetimeField(null=True)
    locked_until = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "core_login_throttle"


class LoginClient(Model):
    # Addresses an account logged in from: they keep logging in while the account's email is
    # locked against everyone else (a lock-out attack from other addresses).

    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254)
    address = fields.CharField(max_length=64)
    last_success_at = fields.DatetimeField()

    class Meta:
        table = "core_login_client"
        unique_together = (("email", "address"),)


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


class StoredCredential(TenantModel):
    # An integration's credentials for one organization, encrypted (core.tenancy.credentials):
    # `owner` is the plugin that keeps them, `name` its own label ("smtp", "twilio", ...).

    owner = fields.CharField(max_length=64)
    name = fields.CharField(max_length=128)
    ciphertext = fields.TextField()

    class Meta:
        table = "core_stored_credential"
        unique_together = (("org_id", "owner", "name"),)


class IntegrationConnection(TenantModel):
    # An organization's connection to an integration (core.builtin.integrations); its
    # credentials are a StoredCredential of the integration's plugin, named by `integration`.

    integration = fields.CharField(max_length=64)
    status = fields.CharField(max_length=16, default="connected")  # connected | error
    config = fields.JSONField(default=dict)
    connected_at = fields.DatetimeField()
    last_sync_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    last_error_at = fields.DatetimeField(null=True)

    class Meta:
        table = "core_integration_connection"
        unique_together = (("org_id", "integration"),)

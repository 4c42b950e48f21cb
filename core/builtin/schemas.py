"""Request and response models of the core's routes (seeds 001, 002, 003, 004)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from core.http.pagination import Pagination


class StrictModel(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


Role = Literal["admin", "developer", "member", "viewer"]
# Names are trimmed; passwords never are (a trailing space is part of the secret).
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LongName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Password = Field(min_length=8, max_length=256)
Email = Annotated[EmailStr, Field(max_length=254)]  # the column's length (and email-validator's limit)


# -- auth ------------------------------------------------------------------------------------


class RegisterRequest(StrictModel):
    email: Email
    password: str = Password
    first_name: Name
    last_name: Name
    organization_name: LongName | None = None


class LoginRequest(StrictModel):
    email: Email
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(StrictModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class LogoutRequest(StrictModel):
    refresh_token: str | None = Field(default=None, max_length=512)


class AcceptInvitationRequest(StrictModel):
    token: str = Field(min_length=1, max_length=512)
    password: str = Password


class UserResponse(BaseModel):
    id: UUID
    email: str
    name: str
    first_name: str
    last_name: str
    role: Role
    permissions: list[str]
    organization_id: UUID
    tenant_id: UUID
    is_active: bool
    created_at: datetime


class LoginUser(BaseModel):
    id: UUID
    email: str
    name: str
    first_name: str
    last_name: str
    role: Role
    permissions: list[str]
    tenant_id: UUID
    organization_id: UUID


class LoginResponse(BaseModel):
    """Seed 001 AuthTokens + seed 003 `user` + seed 004 `token`, in one body."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    token: str
    user: LoginUser


class RefreshResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


# -- tenant and members ------------------------------------------------------------------------


class TenantResponse(BaseModel):
    tenant_id: UUID
    name: str
    plan: str
    status: Literal["active", "suspended"]
    created_at: datetime
    settings: dict


class TenantUpdate(StrictModel):
    name: LongName | None = None
    # the organization's own settings, replaced whole; bounded by the request body's size alone
    settings: dict | None = Field(default=None, json_schema_extra={
        "x-bounded-by": "the request body's size ([http] max_body_bytes); stored as one JSON document"})


class MemberResponse(BaseModel):
    id: UUID
    email: str
    name: str
    first_name: str
    last_name: str
    role: Role
    status: Literal["active", "invited"]
    created_at: datetime
    last_login_at: datetime | None
    invite_token: str | None = Field(default=None, description="Shown once, when the invitation is created")


class MemberList(BaseModel):
    members: list[MemberResponse]
    total: int
    pagination: Pagination


class MemberCreate(StrictModel):
    email: Email
    first_name: Name
    last_name: Name
    role: Role = "viewer"
    password: str | None = Field(default=None, min_length=8, max_length=256)  # none: an invitation


class MemberUpdate(StrictModel):
    role: Role


# -- API keys ----------------------------------------------------------------------------------

Scope = Annotated[str, Field(min_length=1, max_length=100)]  # a level, a permission or "plugin.*"


class KeyCreate(StrictModel):
    name: Name
    scopes: list[Scope] = Field(default_factory=lambda: ["read"], min_length=1, max_length=50)
    expires_days: int | None = Field(default=None, ge=1, le=3650)


class KeyUpdate(StrictModel):
    name: Name | None = None
    scopes: list[Scope] | None = Field(default=None, min_length=1, max_length=50)
    is_active: bool | None = None
    expires_days: int | None = Field(default=None, ge=1, le=3650)


class KeyResponse(BaseModel):
    id: UUID
    organization_id: UUID
    user_id: UUID
    name: str
    key_prefix: str
    scopes: list[str]
    is_active: bool
    status: Literal["active", "revoked", "expired", "inactive"]
    expires_at: datetime | None
    usage_count: int
    last_used_at: datetime | None
    created_at: datetime


class KeyCreated(KeyResponse):
    key: str = Field(description="The full key. Shown only in this response.")


class KeyUsage(BaseModel):
    total_requests: int
    success_requests: int
    failed_requests: int
    avg_response_time_ms: float
    requests_by_endpoint: dict[str, int]


class ApiKeyCreate(StrictModel):
    """Seed 003's form: `permissions` are the key's scopes."""

    name: Name
    permissions: list[Scope] = Field(default_factory=lambda: ["read"], min_length=1, max_length=50)


class ApiKeySummary(BaseModel):
    id: UUID
    name: str
    key_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    status: Literal["active", "revoked"]


class ApiKeyList(BaseModel):
    keys: list[ApiKeySummary]


class ApiKeyCreated(BaseModel):
    id: UUID
    name: str
    key: str
    created_at: datetime


# -- plugins and health ------------------------------------------------------------------------


class PluginResponse(BaseModel):
    name: str
    version: str
    source: str
    mount: str
    hooks: list[str]
    requires: list[str]
    enabled: bool
    can_be_disabled: bool


class PluginList(BaseModel):
    plugins: list[PluginResponse]
    total: int
    pagination: Pagination


class PluginUpdate(StrictModel):
    enabled: bool


class HealthResponse(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    version: str
    uptime_seconds: int
    checks: dict[str, str]


class ReadyResponse(BaseModel):
    ready: bool


# -- events (hub_event_types of the core) -----------------------------------------------------------


class JobEvent(BaseModel):
    """A background job changed state; `id` and `job_id` are the same (seed 002 calls it job_id)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    job_id: str
    job_type: str
    status: Literal["pending", "running", "completed", "failed", "cancelled", "timeout"]
    progress: int | None = Field(default=None, ge=0, le=100)
    attempt: int
    message: str | None = None  # job.progressed: what the job is doing
    error: str | None = None  # job.retry_scheduled, job.failed
    next_attempt_at: str | None = None  # job.retry_scheduled


JOB_EVENTS = (
    ("job.started", "A worker took the job and started an attempt"),
    ("job.progressed", "The job reported progress (percentage and, optionally, a message)"),
    ("job.retry_scheduled", "An attempt failed; the job runs again at next_attempt_at"),
    ("job.completed", "The job finished; its result is on GET /api/v1/jobs/{id}"),
    ("job.failed", "The job failed for good (no attempts left, or it gave up)"),
    ("job.timed_out", "The job's last attempt ran out of time"),
    ("job.cancel_requested", "A running job was asked to stop"),
    ("job.cancelled", "The job was cancelled"),
)

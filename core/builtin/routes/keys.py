"""API keys: seed 002's `/api/v1/keys` and seed 003's `/api/v1/api-keys`.

A key acts for the member who created it, narrowed to its scopes, inside that member's
organization. Members see and manage their own keys; admins all of the organization's.
Keys cannot manage keys (a leaked key must not mint more).
"""

from __future__ import annotations

from datetime import timedelta

from quart import Blueprint
from quart_schema import document_response, validate_request, validate_response

from core.http.auth import current_principal, require
from core.http.pagination import OffsetQuery, SkipQuery
from core.http.query import validate_query
from core.kernel.errors import not_found, validation_error
from core.tenancy.models import ApiKey, ApiKeyUsage
from core.builtin.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeySummary,
    KeyCreate,
    KeyCreated,
    KeyResponse,
    KeyUpdate,
    KeyUsage,
)
from core.tenancy.security import hash_token, mask_key, new_token, now
from core.kernel.hub import current_hub

bp = Blueprint("core_keys", __name__)


def key_status(key: ApiKey) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now():
        return "expired"
    return "active" if key.is_active else "inactive"


def key_body(key: ApiKey) -> dict:
    return {
        "id": key.id, "organization_id": key.org_id, "user_id": key.user_id, "name": key.name,
        "key_prefix": key.key_prefix, "scopes": key.scopes, "is_active": key.is_active,
        "status": key_status(key), "expires_at": key.expires_at, "usage_count": key.usage_count,
        "last_used_at": key.last_used_at, "created_at": key.created_at,
    }


def _check_scopes(scopes: list[str], field: str) -> list[str]:
    registry = current_hub().permissions
    for index, scope in enumerate(scopes):
        if not registry.is_valid_scope(scope):
            raise validation_error(f"{field}.{index}", f"unknown scope {scope!r}")
    return sorted(set(scopes))


def _visible_keys():
    principal = current_principal()
    query = ApiKey.for_org(principal.org_id)
    if not principal.can("keys.admin"):
        query = query.filter(user_id=principal.user_id)
    return query


async def _visible_key(key_id: str) -> ApiKey:
    key = await ApiKey.get_for_org(current_principal().org_id, key_id, "API key")
    principal = current_principal()
    if key.user_id != principal.user_id and not principal.can("keys.admin"):
        raise not_found("API key")  # the same answer as for an unknown id
    return key


async def create_key(name: str, scopes: list[str], expires_days: int | None) -> tuple[ApiKey, str]:
    hub = current_hub()
    principal = current_principal()
    prefix = hub.settings.auth.api_key_prefix
    secret = new_token(prefix)
    key = await ApiKey.create(
        org_id=principal.org_id, user_id=principal.user_id, name=name, scopes=scopes,
        key_hash=hash_token(hub.signing_key, secret), key_prefix=mask_key(secret, prefix),
        expires_at=now() + timedelta(days=expires_days) if expires_days else None,
    )
    return key, secret


# -- seed 002 ---------------------------------------------------------------------------------


@bp.post("/api/v1/keys")
@require("keys.manage", allow_api_keys=False)
@validate_request(KeyCreate)
@validate_response(KeyCreated, 201)
async def create(data: KeyCreate):
    """Create an API key; the key itself is shown only in this response."""
    key, secret = await create_key(data.name, _check_scopes(data.scopes, "scopes"), data.expires_days)
    return KeyCreated(**key_body(key), key=secret), 201


@bp.get("/api/v1/keys")
@require("keys.manage", allow_api_keys=False)
@validate_query(SkipQuery)
@document_response(list[KeyResponse])
async def list_keys(query_args: SkipQuery):
    """The caller's API keys (an admin's: the organization's), newest first, as a bare list
    (seed 002); the total is in X-Total-Count."""
    page = query_args.page(default_limit=100)
    keys, total = await page.fetch(_visible_keys(), "-created_at")
    return page.respond([KeyResponse(**key_body(k)).model_dump(mode="json") for k in keys], total)


@bp.get("/api/v1/keys/<key_id>")
@require("keys.manage", allow_api_keys=False)
@validate_response(KeyResponse)
async def get_key(key_id: str):
    """One API key (never the key itself)."""
    return KeyResponse(**key_body(await _visible_key(key_id)))


@bp.put("/api/v1/keys/<key_id>")
@require("keys.manage", allow_api_keys=False)
@validate_request(KeyUpdate)
@validate_response(KeyResponse)
async def update_key(key_id: str, data: KeyUpdate):
    """Rename a key, change its scopes or expiry, or switch it off and on."""
    key = await _visible_key(key_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("scopes") is not None:
        key.scopes = _check_scopes(changes["scopes"], "scopes")
    if changes.get("name") is not None:
        key.name = changes["name"]
    if changes.get("is_active") is not None:
        if changes["is_active"] and key.revoked_at is not None:
            raise validation_error("is_active", "a revoked key cannot be reactivated")
        key.is_active = changes["is_active"]
    if changes.get("expires_days") is not None:
        key.expires_at = now() + timedelta(days=changes["expires_days"])
    await key.save()
    await current_hub().invalidations.publish("key", key.id)
    return KeyResponse(**key_body(key))


@bp.delete("/api/v1/keys/<key_id>")
@require("keys.manage", allow_api_keys=False)
@document_response(None, 204)
async def revoke_key(key_id: str):
    """Revoke a key for good."""
    key = await _visible_key(key_id)
    key.is_active = False
    key.revoked_at = key.revoked_at or now()
    await key.save(update_fields=["is_active", "revoked_at", "updated_at"])
    await current_hub().invalidations.publish("key", key.id)
    return "", 204


@bp.get("/api/v1/keys/<key_id>/usage")
@require("keys.manage", allow_api_keys=False)
@validate_response(KeyUsage)
async def key_usage(key_id: str):
    """Requests made with a key: totals, failures, latency, and counts per endpoint."""
    key = await _visible_key(key_id)
    await current_hub().extensions["key_usage"].flush()
    rows = await ApiKeyUsage.filter(key_id=key.id).order_by("endpoint")
    total = sum(r.requests for r in rows)
    return KeyUsage(
        total_requests=total,
        success_requests=sum(r.successes for r in rows),
        failed_requests=sum(r.failures for r in rows),
        avg_response_time_ms=round(sum(r.total_duration_ms for r in rows) / total, 2) if total else 0.0,
        requests_by_endpoint={r.endpoint: r.requests for r in rows},
    )


# -- seed 003 ---------------------------------------------------------------------------------


@bp.get("/api/v1/api-keys")
@require("keys.manage", allow_api_keys=False)
@validate_query(OffsetQuery)
@document_response(ApiKeyList)
async def list_api_keys(query_args: OffsetQuery):
    """The caller's API keys in seed 003's shape, newest first; the total is in X-Total-Count."""
    page = query_args.page(default_limit=100)
    keys, total = await page.fetch(_visible_keys(), "-created_at")
    body = ApiKeyList(keys=[
        ApiKeySummary(
            id=k.id, name=k.name, key_prefix=k.key_prefix, created_at=k.created_at, last_used_at=k.last_used_at,
            status="active" if key_status(k) == "active" else "revoked",
        )
        for k in keys
    ])
    return page.respond(body.model_dump(mode="json"), total)


@bp.post("/api/v1/api-keys")
@require("keys.manage", allow_api_keys=False)
@validate_request(ApiKeyCreate)
@validate_response(ApiKeyCreated, 201)
async def create_api_key(data: ApiKeyCreate):
    """Create an API key in seed 003's form (`permissions` are its scopes)."""
    key, secret = await create_key(data.name, _check_scopes(data.permissions, "permissions"), None)
    return ApiKeyCreated(id=key.id, name=key.name, key=secret, created_at=key.created_at), 201

"""Who is calling, and may they? `require(permission)` and `public` mark every view.

Put `require` directly under the route decorator, so a caller is authenticated before
the body is validated:

    @bp.post("/api/things")
    @require("things.write")
    @validate_request(ThingIn)
    async def create_thing(data: ThingIn): ...
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Callable

from quart import g, request
from quart_schema import security_scheme

from core.errors import HubError, not_found
from core.models import ApiKey, RevokedToken, User
from core.security import decode_access_token, hash_token, now
from core.state import current_hub

ACCESS_ATTRIBUTE = "_hub_access"
SECURITY = [{"bearerAuth": []}, {"apiKeyHeader": []}]


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" or "api_key"
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: str
    email: str
    permissions: frozenset[str]
    api_key_id: uuid.UUID | None = None
    token: dict[str, Any] = field(default_factory=dict, compare=False)

    def can(self, permission: str) -> bool:
        return permission in self.permissions


def require(permission: str, *, allow_api_keys: bool = True) -> Callable:
    """Only callers holding `permission` (and, for plugin routes, in an organization where
    the plugin is on) reach the view; others get 401, 403 or 404."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = await authenticate()
            if principal.kind == "api_key" and not allow_api_keys:
                raise HubError("FORBIDDEN", "This endpoint cannot be used with an API key")
            await check_plugin_enabled(principal)
            if not principal.can(permission):
                raise HubError(
                    "FORBIDDEN", "Insufficient permissions", {"permission": permission, "role": principal.role}
                )
            for guard in current_hub().request_guards:  # rate limits, quotas
                await guard(principal)
            return await view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTRIBUTE, ("permission", permission))
        return security_scheme(SECURITY)(wrapper)

    return decorator


def public(view: Callable) -> Callable:
    """Mark a view as reachable without credentials (health checks, login, ...)."""
    setattr(view, ACCESS_ATTRIBUTE, ("public", None))
    return view


def current_principal() -> Principal:
    principal = getattr(g, "principal", None)
    if principal is None:
        raise HubError("AUTHENTICATION_FAILED", "Authentication required")
    return principal


def current_org_id() -> Any:
    """The organization the current request acts in (every tenant-scoped query starts here)."""
    return current_principal().org_id


async def check_plugin_enabled(principal: Principal) -> None:
    hub = current_hub()
    owner = hub.blueprint_owner.get(request.blueprint or "")
    if owner and not await hub.plugin_enabled_for(principal.org_id, owner):
        raise not_found("The requested URL")  # indistinguishable from an unknown route


def credentials_from_headers(headers) -> str | None:
    api_key = headers.get("X-API-Key")
    if api_key:
        return api_key.strip()
    authorization = headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def authenticate() -> Principal:
    """Resolve the request's credentials once; cached on `g`."""
    if getattr(g, "principal", None) is not None:
        return g.principal
    credential = credentials_from_headers(request.headers)
    if credential is None:
        raise HubError(
            "AUTHENTICATION_FAILED",
            "Authentication required",
            headers={"WWW-Authenticate": 'Bearer realm="hub"'},
        )
    principal = await principal_from_credential(credential)
    g.principal = principal
    return principal


async def principal_from_credential(credential: str) -> Principal:
    hub = current_hub()
    if credential.startswith(hub.settings.auth.api_key_prefix):
        return await _principal_from_api_key(credential)
    return await _principal_from_jwt(credential)


async def _principal_from_jwt(token: str) -> Principal:
    hub = current_hub()
    payload = decode_access_token(token, secret_key=hub.signing_key, algorithm=hub.settings.auth.jwt_algorithm)
    if await RevokedToken.filter(jti=payload["jti"]).exists():
        raise HubError("TOKEN_REVOKED", "Access token has been revoked")
    user = await _active_user(payload["sub"])
    if user is None or str(user.org_id) != payload["org_id"]:
        raise HubError("AUTHENTICATION_FAILED", "Invalid access token")
    # The current role counts, not the one in the token: a demoted member loses rights now.
    return Principal(
        "user", user.id, user.org_id, user.role, user.email, frozenset(hub.permissions.for_role(user.role)),
        token=payload,
    )


async def _principal_from_api_key(key: str) -> Principal:
    hub = current_hub()
    api_key = await ApiKey.filter(key_hash=hash_token(hub.signing_key, key)).first()
    if api_key is None or not api_key.is_active or api_key.revoked_at is not None:
        raise HubError("AUTHENTICATION_FAILED", "Invalid or revoked API key")
    if api_key.expires_at is not None and api_key.expires_at <= now():
        raise HubError("AUTHENTICATION_FAILED", "API key has expired", {"expired_at": api_key.expires_at.isoformat()})
    user = await _active_user(api_key.user_id)
    if user is None or user.org_id != api_key.org_id:
        raise HubError("AUTHENTICATION_FAILED", "Invalid or revoked API key")
    permissions = hub.permissions.for_role(user.role) & hub.permissions.for_scopes(api_key.scopes)
    return Principal("api_key", user.id, user.org_id, user.role, user.email, frozenset(permissions), api_key.id)


async def _active_user(user_id: Any) -> User | None:
    try:
        user_id = uuid.UUID(str(user_id))
    except ValueError:
        return None
    return await User.filter(id=user_id, is_active=True).first()

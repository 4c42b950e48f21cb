"""Who is calling, and may they? `require(permission)` and `public` mark every view.

Put `require` directly under the route decorator, so a caller is authenticated before
the body is validated:

    @bp.post("/api/things")
    @require("things.write")
    @validate_request(ThingIn)
    async def create_thing(data: ThingIn): ...
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Awaitable, Callable

from quart import g, request
from quart_schema import security_scheme

from core.kernel.errors import HubError, not_found
from core.kernel.hub import current_hub
from core.tenancy.principals import Principal, principal_from_credential

ACCESS_ATTRIBUTE = "_hub_access"
SECURITY = [{"bearerAuth": []}, {"apiKeyHeader": []}]
# OpenAPI security scheme name -> header, for routes that take the API key in a header of their
# own (require(key_header=...)); the OpenAPI document declares each of them.
KEY_HEADER_SCHEMES: dict[str, str] = {}


def key_header_scheme(header: str) -> str:
    name = "apiKey_" + "".join(c if c.isalnum() else "_" for c in header)
    KEY_HEADER_SCHEMES[name] = header
    return name


def require(permission: str, *, allow_api_keys: bool = True, key_header: str | None = None,
            authenticate_with: Callable[[], Awaitable[Principal | None]] | None = None) -> Callable:
    """Only callers holding `permission` (and, for plugin routes, in an organization where
    the plugin is on) reach the view; others get 401, 403 or 404. `key_header`: the API key
    comes in this header and nowhere else (a product the Hub imitates, e.g. n8n's
    `X-N8N-API-KEY`); without it: 401 "'<header>' header required". `authenticate_with`: an
    async callable reading the request's credentials in a product's own scheme (e.g. Mautic's
    HTTP Basic or its OAuth2 tokens, with `principal_from_password` / `principal_for_api_key`):
    it returns the Principal, raises a 401 HubError for bad credentials, or returns None to
    leave the request to the Hub's own Bearer / X-API-Key resolution."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = None
            if authenticate_with is not None and getattr(g, "principal", None) is None:
                principal = await authenticate_with()
                if principal is not None:
                    g.principal = principal
            if principal is None:
                principal = await authenticate(key_header)
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
        if key_header is not None:
            return security_scheme([{key_header_scheme(key_header): []}])(wrapper)
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


async def authenticate(key_header: str | None = None) -> Principal:
    """Resolve the request's credentials once; cached on `g`."""
    if getattr(g, "principal", None) is not None:
        return g.principal
    if key_header is not None:
        credential = (request.headers.get(key_header) or "").strip() or None
        if credential is None:
            raise HubError("AUTHENTICATION_FAILED", f"'{key_header}' header required")
        principal = await principal_from_credential(credential)
        if principal.kind != "api_key":
            raise HubError("AUTHENTICATION_FAILED", f"'{key_header}' must carry an API key")
        g.principal = principal
        return principal
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

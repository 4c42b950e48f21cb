"""Who is calling: a user (JWT) or an API key, resolved to a `Principal` with the current
role's permissions (a demoted member loses rights at once) narrowed by the key's scopes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from core.kernel.errors import HubError
from core.kernel.hub import current_hub
from core.tenancy.models import ApiKey, RefreshToken, RevokedToken, User
from core.tenancy.security import decode_access_token, hash_token, now, token_family


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
    family = token_family(payload)
    if family is not None and await RefreshToken.filter(family=family, revoked=True).exists():
        raise HubError("TOKEN_REVOKED", "The session of this access token has ended")
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

"""Who is calling: a user (JWT) or an API key, resolved to a `Principal` with the current
role's permissions (a demoted member loses rights at once) narrowed by the key's scopes.

Resolving costs database reads (the revocation lists, the user, the key), so each process keeps
what it resolved in a `PrincipalCache` for `[auth] principal_cache_seconds` - never past the
token's or the key's own expiry - and drops it the moment anything that decides it changes:
every such change is announced on the one invalidation path (core/tenancy/invalidation.py:
"user", "key", "session", "token"), which every process hears. A revoked key, a logout, a
demotion or a removal therefore take effect at once, in every process.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from core.kernel.errors import HubError
from core.kernel.hub import Hub, current_hub
from core.tenancy.accounts import login, normalise_email
from core.tenancy.invalidation import RESET
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


@dataclass(frozen=True)
class _Cached:
    principal: Principal
    fresh_until: float  # monotonic: the cache's own expiry
    not_after: float | None  # unix seconds: the token's `exp` or the key's `expires_at`
    family: str | None
    jti: str | None


class PrincipalCache:
    """Resolved credentials of one process, keyed by a hash of the credential (the cache keeps
    no token or key), bounded in size, least recently used out first."""

    def __init__(self, ttl_seconds: float, size: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.size = size
        self._entries: OrderedDict[bytes, _Cached] = OrderedDict()
        self.stats = {"hits": 0, "misses": 0, "dropped": 0}

    @staticmethod
    def key(credential: str) -> bytes:
        return hashlib.sha256(credential.encode()).digest()

    def get(self, credential: str) -> Principal | None:
        key = self.key(credential)
        entry = self._entries.get(key)
        if entry is None or entry.fresh_until <= time.monotonic() or (
                entry.not_after is not None and entry.not_after <= time.time()):
            if entry is not None:  # stale, or the credential expired: resolve again (and refuse it)
                del self._entries[key]
            self.stats["misses"] += 1
            return None
        self._entries.move_to_end(key)
        self.stats["hits"] += 1
        return entry.principal

    def put(self, credential: str, principal: Principal, not_after: float | None) -> None:
        if self.ttl <= 0:
            return
        payload = principal.token or {}
        family = token_family(payload)
        self._entries[self.key(credential)] = _Cached(
            principal, time.monotonic() + self.ttl, not_after, family.hex if family else None, payload.get("jti"))
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def drop(self, matches) -> None:
        for key in [key for key, entry in self._entries.items() if matches(entry)]:
            del self._entries[key]
            self.stats["dropped"] += 1

    def listen(self, invalidations: Any) -> None:
        invalidations.on("user", lambda user_id: self.drop(lambda e: str(e.principal.user_id) == user_id))
        invalidations.on("key", lambda key_id: self.drop(lambda e: str(e.principal.api_key_id) == key_id))
        invalidations.on("session", lambda family: self.drop(lambda e: e.family == uuid.UUID(family).hex))
        invalidations.on("token", lambda jti: self.drop(lambda e: e.jti == jti))
        invalidations.on(RESET, lambda _: self._entries.clear())


def principal_cache(hub: Hub) -> PrincipalCache:
    cache = hub.extensions.get("principals")
    if cache is None:
        cache = hub.extensions["principals"] = PrincipalCache(hub.settings.auth.principal_cache_seconds)
        if hub.invalidations is not None:
            cache.listen(hub.invalidations)
    return cache


async def principal_from_credential(credential: str, hub: Hub | None = None) -> Principal:
    hub = hub or current_hub()
    cache = principal_cache(hub)
    principal = cache.get(credential)
    if principal is not None:
        return principal
    generation = hub.invalidations.generation if hub.invalidations is not None else 0
    if credential.startswith(hub.settings.auth.api_key_prefix):
        principal, not_after = await _principal_from_api_key(hub, credential)
    else:
        principal, not_after = await _principal_from_jwt(hub, credential)
    if hub.invalidations is None or hub.invalidations.generation == generation:
        cache.put(credential, principal, not_after)  # else a change landed meanwhile: don't keep a stale answer
    return principal


async def _principal_from_jwt(hub: Hub, token: str) -> tuple[Principal, float | None]:
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
    ), float(payload["exp"])


async def _principal_from_api_key(hub: Hub, key: str) -> tuple[Principal, float | None]:
    api_key = await ApiKey.filter(key_hash=hash_token(hub.signing_key, key)).first()
    if api_key is None or not api_key.is_active or api_key.revoked_at is not None:
        raise HubError("AUTHENTICATION_FAILED", "Invalid or revoked API key")
    if api_key.expires_at is not None and api_key.expires_at <= now():
        raise HubError("AUTHENTICATION_FAILED", "API key has expired", {"expired_at": api_key.expires_at.isoformat()})
    user = await _active_user(api_key.user_id)
    if user is None or user.org_id != api_key.org_id:
        raise HubError("AUTHENTICATION_FAILED", "Invalid or revoked API key")
    principal = _principal_of(hub, user, api_key.scopes, api_key.id)
    return principal, api_key.expires_at.timestamp() if api_key.expires_at is not None else None


async def principal_for_user(user_id: Any, org_id: Any, *, scopes: list[str] | None = None,
                             hub: Hub | None = None) -> Principal | None:
    """The principal of an active user of `org_id` with their current role's permissions
    (narrowed by an API key's `scopes` when given), or None: for work done later on someone's
    behalf (a workflow step, a scheduled job), checked when it runs, not when it was asked for."""
    user = await _active_user(user_id)
    if user is None or str(user.org_id) != str(org_id):
        return None
    return _principal_of(hub or current_hub(), user, scopes)


async def principal_for_api_key(api_key_id: Any, *, hub: Hub | None = None) -> Principal | None:
    """The principal of an API key by its id (its current scopes and its user's current role),
    or None when the key is unknown, revoked, expired or its user inactive: for a product's own
    token that stands for a Hub API key (e.g. an OAuth2 access token issued to the key)."""
    try:
        api_key_id = uuid.UUID(str(api_key_id))
    except ValueError:
        return None
    api_key = await ApiKey.filter(id=api_key_id).first()
    if api_key is None or not api_key.is_active or api_key.revoked_at is not None or (
            api_key.expires_at is not None and api_key.expires_at <= now()):
        return None
    user = await _active_user(api_key.user_id)
    if user is None or user.org_id != api_key.org_id:
        return None
    return _principal_of(hub or current_hub(), user, api_key.scopes, api_key.id)


async def principal_from_password(email: str, password: str, address: str = "unknown", *,
                                  hub: Hub | None = None) -> Principal:
    """A user's principal from their email and password (HTTP Basic auth of a product the Hub
    imitates), checked like a login (slowed after failures, 429 while locked); kept in the
    principal cache like any credential, so a request does not hash the password each time."""
    hub = hub or current_hub()
    cache = principal_cache(hub)
    # keyed by a keyed hash: no password is kept in memory as a cache key
    credential = "basic\0" + hash_token(hub.signing_key, normalise_email(email) + "\0" + password)
    principal = cache.get(credential)
    if principal is not None:
        return principal
    generation = hub.invalidations.generation if hub.invalidations is not None else 0
    user = await login(hub, email, password, address)
    principal = _principal_of(hub, user)
    if hub.invalidations is None or hub.invalidations.generation == generation:
        cache.put(credential, principal, None)
    return principal


def _principal_of(hub: Hub, user: User, scopes: list[str] | None = None, api_key_id: Any = None) -> Principal:
    """A user's principal: their current role's permissions, narrowed by a key's scopes."""
    permissions = hub.permissions.for_role(user.role)
    if scopes is None:
        return Principal("user", user.id, user.org_id, user.role, user.email, frozenset(permissions))
    permissions &= hub.permissions.for_scopes(scopes)
    return Principal("api_key", user.id, user.org_id, user.role, user.email, frozenset(permissions), api_key_id)


async def _active_user(user_id: Any) -> User | None:
    try:
        user_id = uuid.UUID(str(user_id))
    except ValueError:
        return None
    return await User.filter(id=user_id, is_active=True).first()

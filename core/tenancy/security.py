"""Secrets: argon2 password hashes, JWT access tokens, opaque refresh/API-key tokens.

API keys and refresh tokens are long random strings, so a keyed SHA-256 (HMAC with the
server secret) is a safe and fast way to store them: the lookup happens on every request,
where argon2's deliberate slowness would be a denial-of-service lever.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.kernel.errors import HubError

class Passwords:
    """argon2id at the Hub's cost (`[auth] password_*`; argon2-cffi's RFC 9106 profile by
    default), computed in a thread: a hash takes a few hundred milliseconds of CPU by design,
    which must not stop the event loop from serving other requests meanwhile."""

    def __init__(self, settings: Any) -> None:
        self._hasher = PasswordHasher(time_cost=settings.password_time_cost, memory_cost=settings.password_memory_kib,
                                      parallelism=settings.password_parallelism)
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches; an unknown account (`None`) is checked against a dummy
        hash, so both answers cost the same time."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))
        try:
            matched = await asyncio.to_thread(self._hasher.verify, password_hash or self._dummy, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


def passwords(hub: Any) -> Passwords:
    """The Hub's password hasher."""
    hasher = hub.extensions.get("passwords")
    if hasher is None:
        hasher = hub.extensions["passwords"] = Passwords(hub.settings.auth)
    return hasher


def hash_token(secret_key: str, token: str) -> str:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def new_token(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def mask_key(key: str, prefix: str) -> str:
    """`hub_Ab3...xYz`: enough to recognise a key, useless to use it."""
    body = key[len(prefix):]
    return f"{prefix}{body[:4]}...{body[-3:]}"


def now() -> datetime:
    return datetime.now(timezone.utc)


def create_access_token(
    *, secret_key: str, algorithm: str, minutes: int, user_id: Any, email: str, org_id: Any, role: str,
    permissions: list[str], family: uuid.UUID | None = None,
) -> tuple[str, dict[str, Any]]:
    """A signed access token with exactly seed 001's claims. Its `jti` starts with the session's
    refresh family (32 hex digits), so revoking the family (logout, a reused refresh token)
    revokes the session's access tokens too, without another claim in the payload."""
    issued = int(now().timestamp())
    payload = {
        "sub": str(user_id),
        "email": email,
        "org_id": str(org_id),
        "role": role,
        "permissions": permissions,
        "iat": issued,
        "exp": issued + minutes * 60,
        "jti": (family.hex if family else "") + uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret_key, algorithm=algorithm), payload


def decode_access_token(token: str, *, secret_key: str, algorithm: str) -> dict[str, Any]:
    """The verified payload, or HubError TOKEN_EXPIRED / AUTHENTICATION_FAILED.

    Only the configured algorithm is accepted, which rules out `alg: none` and
    algorithm-confusion tokens."""
    try:
        return jwt.decode(
            token,
            secret_key,
            algorithms=[algorithm],
            options={"require": ["sub", "org_id", "role", "iat", "exp", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        expired_at = None
        try:
            expired_at = jwt.decode(token, options={"verify_signature": False}).get("exp")
        except jwt.PyJWTError:
            pass
        details = {}
        if isinstance(expired_at, int):
            details["expired_at"] = datetime.fromtimestamp(expired_at, timezone.utc).isoformat().replace("+00:00", "Z")
        raise HubError("TOKEN_EXPIRED", "Access token has expired", details) from None
    except jwt.PyJWTError:
        raise HubError("AUTHENTICATION_FAILED", "Invalid access token") from None


def token_family(payload: dict[str, Any]) -> uuid.UUID | None:
    """The refresh family an access token belongs to (None for tokens without one)."""
    jti = str(payload.get("jti", ""))
    if len(jti) != 64:
        return None
    try:
        return uuid.UUID(jti[:32])
    except ValueError:
        return None


def refresh_expiry(days: int) -> datetime:
    return now() + timedelta(days=days)

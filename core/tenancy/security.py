"""Secrets: argon2 password hashes, JWT access tokens, opaque refresh/API-key tokens.

API keys and refresh tokens are long random strings, so a keyed SHA-256 (HMAC with the
server secret) is a safe and fast way to store them: the lookup happens on every request,
where argon2's deliberate slowness would be a denial-of-service lever.
"""

from __future__ import annotations

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

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


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
    permissions: list[str],
) -> tuple[str, dict[str, Any]]:
    issued = int(now().timestamp())
    payload = {
        "sub": str(user_id),
        "email": email,
        "org_id": str(org_id),
        "role": role,
        "permissions": permissions,
        "iat": issued,
        "exp": issued + minutes * 60,
        "jti": uuid.uuid4().hex,
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


def refresh_expiry(days: int) -> datetime:
    return now() + timedelta(days=days)

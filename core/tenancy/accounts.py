"""Accounts: registration, login (slowed after repeated failures), token rotation,
logout, invitations. Callable without HTTP."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core.kernel.errors import HubError, validation_error
from core.tenancy.models import LoginFailure, Organization, RefreshToken, RevokedToken, User
from core.tenancy.security import (
    create_access_token,
    hash_password,
    hash_token,
    needs_rehash,
    new_token,
    now,
    refresh_expiry,
    verify_password,
)
from core.kernel.hub import Hub

REFRESH_PREFIX = "rt_"
INVITE_PREFIX = "inv_"


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def register(hub: Hub, *, email: str, password: str, first_name: str, last_name: str,
                   organization_name: str | None) -> User:
    """A new organization with this user as its admin."""
    email = normalise_email(email)
    if await User.filter(email=email).exists():
        raise validation_error("email", "already registered", "Email already registered")
    password_hash = hash_password(password)
    try:
        async with in_transaction():
            organization = await Organization.create(name=organization_name or f"{first_name} {last_name}".strip())
            return await User.create(
                org_id=organization.id, email=email, password_hash=password_hash,
                first_name=first_name, last_name=last_name, role="admin",
            )
    except IntegrityError:  # a concurrent registration won the race
        raise validation_error("email", "already registered", "Email already registered") from None


async def login(hub: Hub, email: str, password: str) -> User:
    email = normalise_email(email)
    failure = await LoginFailure.filter(email=email).first()
    if failure and failure.locked_until and failure.locked_until > now():
        wait = max(1, int((failure.locked_until - now()).total_seconds() + 0.999))
        raise HubError(
            "RATE_LIMIT_EXCEEDED", "Too many failed logins; try again later",
            {"retry_after": wait}, headers={"Retry-After": str(wait)},
        )
    user = await User.filter(email=email).first()
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        await _record_failure(hub, email)
        raise HubError("INVALID_CREDENTIALS", "Invalid email or password")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now()
    await user.save(update_fields=["password_hash", "last_login_at"])
    await LoginFailure.filter(email=email).delete()
    return user


async def _record_failure(hub: Hub, email: str) -> None:
    """Past `login_max_failures` consecutive failures, every further one doubles the wait."""
    settings = hub.settings.auth
    failure, _ = await LoginFailure.get_or_create(email=email)
    failure.failures += 1
    over = failure.failures - settings.login_max_failures
    if over >= 0:
        failure.locked_until = now() + timedelta(seconds=min(2**over, settings.login_max_lockout_seconds))
    await failure.save()


def _access_token(hub: Hub, user: User) -> tuple[str, dict[str, Any]]:
    settings = hub.settings.auth
    return create_access_token(
        secret_key=hub.signing_key, algorithm=settings.jwt_algorithm, minutes=settings.access_token_minutes,
        user_id=user.id, email=user.email, org_id=user.org_id, role=user.role,
        permissions=sorted(hub.permissions.for_role(user.role)),
    )


async def issue_tokens(hub: Hub, user: User, family: uuid.UUID | None = None) -> dict[str, Any]:
    access, _ = _access_token(hub, user)
    refresh = new_token(REFRESH_PREFIX)
    await RefreshToken.create(
        token_hash=hash_token(hub.signing_key, refresh), family=family or uuid.uuid4(), user_id=user.id,
        expires_at=refresh_expiry(hub.settings.auth.refresh_token_days),
    )
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": hub.settings.auth.access_token_minutes * 60,
    }


async def refresh(hub: Hub, refresh_token: str) -> dict[str, Any]:
    """Trade a refresh token for a new pair. A token is good once: presenting a used one
    again means it leaked, so its whole family is revoked."""
    invalid = HubError("AUTHENTICATION_FAILED", "Invalid or expired refresh token")
    token_hash = hash_token(hub.signing_key, refresh_token)
    reused = False
    async with in_transaction():
        row = await RefreshToken.filter(token_hash=token_hash).select_for_update().first()
        if row is None or row.revoked or row.expires_at <= now():
            raise invalid
        if row.used_at is not None:
            # Raised only after the block: an exception inside it would roll the revocation back.
            await RefreshToken.filter(family=row.family).update(revoked=True)
            reused = True
        else:
            claimed = await RefreshToken.filter(id=row.id, used_at=None).update(used_at=now())
            if not claimed:  # a concurrent refresh used it first
                raise invalid
    if reused:
        raise invalid
    user = await User.filter(id=row.user_id, is_active=True).first()
    if user is None:
        raise invalid
    return await issue_tokens(hub, user, family=row.family)


async def logout(hub: Hub, token_payload: dict[str, Any], refresh_token: str | None) -> None:
    expires_at = datetime.fromtimestamp(token_payload["exp"], tz=now().tzinfo)
    await RevokedToken.get_or_create(jti=token_payload["jti"], defaults={"expires_at": expires_at})
    if refresh_token:
        row = await RefreshToken.filter(
            token_hash=hash_token(hub.signing_key, refresh_token), user_id=token_payload["sub"]
        ).first()
        if row is not None:
            await RefreshToken.filter(family=row.family).update(revoked=True)


async def revoke_all_sessions(user_id: Any) -> None:
    await RefreshToken.filter(user_id=user_id).update(revoked=True)


async def create_member(hub: Hub, org_id: Any, *, email: str, first_name: str, last_name: str, role: str,
                        password: str | None) -> tuple[User, str | None]:
    """Add a member; without a password they are invited and get a one-time token."""
    email = normalise_email(email)
    if await User.filter(email=email).exists():
        raise validation_error("email", "already registered", "Email already registered")
    invite_token = None if password else new_token(INVITE_PREFIX)
    try:
        user = await User.create(
            org_id=org_id, email=email, first_name=first_name, last_name=last_name, role=role,
            password_hash=hash_password(password) if password else None,
            invite_token_hash=hash_token(hub.signing_key, invite_token) if invite_token else None,
        )
    except IntegrityError:
        raise validation_error("email", "already registered", "Email already registered") from None
    return user, invite_token


async def accept_invitation(hub: Hub, token: str, password: str) -> User:
    invalid = HubError("AUTHENTICATION_FAILED", "Invalid or used invitation")
    token_hash = hash_token(hub.signing_key, token)
    user = await User.filter(invite_token_hash=token_hash, is_active=True).first()
    if user is None:
        raise invalid
    values = {"password_hash": hash_password(password), "invite_token_hash": None, "last_login_at": now()}
    # Claim the token atomically: of concurrent acceptances, only one may set the password.
    claimed = await User.filter(id=user.id, invite_token_hash=token_hash, is_active=True).update(
        **values, updated_at=now()
    )
    if not claimed:
        raise invalid
    for name, value in values.items():
        setattr(user, name, value)
    return user

"""Accounts: registration, login (slowed after repeated failures), token rotation,
logout, invitations. Callable without HTTP."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core.kernel.errors import HubError, validation_error
from core.tenancy.models import LoginClient, LoginThrottle, Organization, RefreshToken, RevokedToken, User
from core.tenancy.security import (
    create_access_token,
    hash_token,
    new_token,
    now,
    passwords,
    refresh_expiry,
    token_family,
)
from core.kernel.hub import Hub

REFRESH_PREFIX = "rt_"
INVITE_PREFIX = "inv_"


async def member_count(org_id: Any) -> int:
    """How many members the organization has (a seat each: invited users not yet in count,
    removed ones do not), e.g. for a plan's `collaborators` limit."""
    return await User.filter(org_id=org_id, is_active=True).count()


async def member_ids(org_id: Any, roles: tuple[str, ...] | None = None) -> list[uuid.UUID]:
    """The ids of the organization's active members, of these roles when given (e.g. `("admin",)`
    for whom to tell about the organization's own business, such as a failed payment)."""
    members = User.filter(org_id=org_id, is_active=True)
    if roles is not None:
        members = members.filter(role__in=list(roles))
    return list(await members.order_by("created_at", "id").values_list("id", flat=True))


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def register(hub: Hub, *, email: str, password: str, first_name: str, last_name: str,
                   organization_name: str | None) -> User:
    """A new organization with this user as its admin."""
    email = normalise_email(email)
    if await User.filter(email=email).exists():
        raise validation_error("email", "already registered", "Email already registered")
    password_hash = await passwords(hub).hash(password)
    try:
        async with in_transaction():
            organization = await Organization.create(name=organization_name or f"{first_name} {last_name}".strip())
            return await User.create(
                org_id=organization.id, email=email, password_hash=password_hash,
                first_name=first_name, last_name=last_name, role="admin",
            )
    except IntegrityError:  # a concurrent registration won the race
        raise validation_error("email", "already registered", "Email already registered") from None


async def login(hub: Hub, email: str, password: str, address: str = "unknown") -> User:
    """Check the password, slowed after repeated failures.

    Two counters keep guessing slow without letting anyone lock a known user out:
    * per email and client address: past `login_max_failures` failures in a row, each further
      one doubles the wait (1 s, 2 s, ... up to `login_max_lockout_seconds`). One address cannot
      guess fast, and what it does to the counter only slows that address down.
    * per email over every address: `login_max_failures_per_email` failures within
      `login_failure_window_seconds` lock the email for the rest of the window, except from
      addresses that logged in to it successfully before: a guesser with many addresses gets
      few tries an hour, and the real user, on a device they used before, still gets in.
    The trade-off: during such a distributed attack the user cannot log in from a new address
    until the window ends. Answers while locked are 429 with `Retry-After`, the same whether the
    password was right or not."""
    email = normalise_email(email)
    address = address[:64]
    throttles = {row.key: row for row in await LoginThrottle.filter(key__in=[_client_key(email, address),
                                                                             _email_key(email)])}
    _refuse_if_locked(throttles.get(_client_key(email, address)))
    email_lock = throttles.get(_email_key(email))
    if email_lock is not None and email_lock.locked_until and email_lock.locked_until > now() \
            and not await _known_client(hub, email, address):
        _refuse_if_locked(email_lock)
    user = await User.filter(email=email).first()
    ok = await passwords(hub).verify(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        await _record_failure(hub, email, address)
        raise HubError("INVALID_CREDENTIALS", "Invalid email or password")
    if passwords(hub).needs_rehash(user.password_hash):
        user.password_hash = await passwords(hub).hash(password)
    user.last_login_at = now()
    await user.save(update_fields=["password_hash", "last_login_at"])
    await LoginThrottle.filter(key__in=[_client_key(email, address), _email_key(email)]).delete()
    updated = await LoginClient.filter(email=email, address=address).update(last_success_at=now())
    if not updated:
        try:
            await LoginClient.create(email=email, address=address, last_success_at=now())
        except IntegrityError:  # a concurrent login from the same address recorded it
            pass
    return user


def _client_key(email: str, address: str) -> str:
    return f"{email}|{address}"


def _email_key(email: str) -> str:
    return f"{email}|*"


def _refuse_if_locked(throttle: LoginThrottle | None) -> None:
    if throttle is None or not throttle.locked_until or throttle.locked_until <= now():
        return
    wait = max(1, int((throttle.locked_until - now()).total_seconds() + 0.999))
    raise HubError(
        "RATE_LIMIT_EXCEEDED", "Too many failed logins; try again later",
        {"retry_after": wait}, headers={"Retry-After": str(wait)},
    )


async def _known_client(hub: Hub, email: str, address: str) -> bool:
    since = now() - timedelta(days=hub.settings.auth.login_known_client_days)
    return await LoginClient.filter(email=email, address=address, last_success_at__gte=since).exists()


async def _record_failure(hub: Hub, email: str, address: str) -> None:
    settings = hub.settings.auth
    at = now()
    client, _ = await LoginThrottle.get_or_create(key=_client_key(email, address))
    client.failures += 1
    over = client.failures - settings.login_max_failures
    if over >= 0:
        client.locked_until = at + timedelta(seconds=min(2**over, settings.login_max_lockout_seconds))
    await client.save()
    window = timedelta(seconds=settings.login_failure_window_seconds)
    overall, _ = await LoginThrottle.get_or_create(key=_email_key(email), defaults={"window_started_at": at})
    if overall.window_started_at is None or overall.window_started_at + window <= at:
        overall.failures, overall.window_started_at, overall.locked_until = 0, at, None
    overall.failures += 1
    if overall.failures >= settings.login_max_failures_per_email:
        overall.locked_until = overall.window_started_at + window
    await overall.save()


def _access_token(hub: Hub, user: User, family: uuid.UUID) -> tuple[str, dict[str, Any]]:
    settings = hub.settings.auth
    return create_access_token(
        secret_key=hub.signing_key, algorithm=settings.jwt_algorithm, minutes=settings.access_token_minutes,
        user_id=user.id, email=user.email, org_id=user.org_id, role=user.role,
        permissions=sorted(hub.permissions.for_role(user.role)), family=family,
    )


async def issue_tokens(hub: Hub, user: User, family: uuid.UUID | None = None) -> dict[str, Any]:
    """A new session (or the next pair of session `family`): an access token and a refresh token
    of the same family."""
    family = family or uuid.uuid4()
    access, _ = _access_token(hub, user, family)
    refresh = new_token(REFRESH_PREFIX)
    await RefreshToken.create(
        token_hash=hash_token(hub.signing_key, refresh), family=family, user_id=user.id,
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
        await hub.invalidations.publish("session", row.family)
        raise invalid
    user = await User.filter(id=row.user_id, is_active=True).first()
    if user is None:
        raise invalid
    return await issue_tokens(hub, user, family=row.family)


async def logout(hub: Hub, token_payload: dict[str, Any], refresh_token: str | None) -> None:
    """End the session: this access token, and the session's refresh family (so neither its
    refresh token nor its other access tokens work any more); a `refresh_token` given as well
    ends that token's session too."""
    expires_at = datetime.fromtimestamp(token_payload["exp"], tz=now().tzinfo)
    await RevokedToken.get_or_create(jti=token_payload["jti"], defaults={"expires_at": expires_at})
    await hub.invalidations.publish("token", token_payload["jti"])
    family = token_family(token_payload)
    if family is not None:
        await RefreshToken.filter(family=family, user_id=token_payload["sub"]).update(revoked=True)
        await hub.invalidations.publish("session", family)
    if refresh_token:
        row = await RefreshToken.filter(
            token_hash=hash_token(hub.signing_key, refresh_token), user_id=token_payload["sub"]
        ).first()
        if row is not None:
            await RefreshToken.filter(family=row.family).update(revoked=True)
            await hub.invalidations.publish("session", row.family)


async def revoke_all_sessions(hub: Hub, user_id: Any) -> None:
    await RefreshToken.filter(user_id=user_id).update(revoked=True)
    await hub.invalidations.publish("user", user_id)


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
            password_hash=await passwords(hub).hash(password) if password else None,
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
    values = {"password_hash": await passwords(hub).hash(password), "invite_token_hash": None, "last_login_at": now()}
    # Claim the token atomically: of concurrent acceptances, only one may set the password.
    claimed = await User.filter(id=user.id, invite_token_hash=token_hash, is_active=True).update(
        **values, updated_at=now()
    )
    if not claimed:
        raise invalid
    for name, value in values.items():
        setattr(user, name, value)
    return user

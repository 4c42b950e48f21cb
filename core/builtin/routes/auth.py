"""Register, login, refresh, logout, invitations (seeds 001, 003, 004)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import document_request, document_response, validate_request, validate_response

from core.tenancy import accounts
from core.http.client import client_address
from core.http.auth import current_principal, public, require
from core.http.openapi import document_errors
from core.http.schemas import optional_body
from core.tenancy.models import User
from core.builtin.schemas import (
    AcceptInvitationRequest,
    LoginRequest,
    LoginResponse,
    LogoutRequest,
    RefreshRequest,
    RefreshResponse,
    RegisterRequest,
    UserResponse,
)
from core.kernel.hub import Hub, current_hub

bp = Blueprint("core_auth", __name__)


def user_body(hub: Hub, user: User) -> dict:
    return {
        "id": user.id, "email": user.email, "name": user.name, "first_name": user.first_name,
        "last_name": user.last_name, "role": user.role, "permissions": sorted(hub.permissions.for_role(user.role)),
        "organization_id": user.org_id, "tenant_id": user.org_id, "is_active": user.is_active,
        "created_at": user.created_at,
    }


async def login_body(hub: Hub, user: User) -> LoginResponse:
    tokens = await accounts.issue_tokens(hub, user)
    return LoginResponse(**tokens, token=tokens["access_token"], user=user_body(hub, user))


@bp.post("/api/auth/register")
@public
@validate_request(RegisterRequest)
@validate_response(UserResponse, 201)
async def register(data: RegisterRequest):
    """Create an account and, with it, a new organization whose admin it is."""
    hub = current_hub()
    user = await accounts.register(hub, **data.model_dump())
    return UserResponse(**user_body(hub, user)), 201


# The seed-003 paths (/api/v1/...) get views of their own: one view on two paths would
# give two OpenAPI operations the same operationId.


@bp.post("/api/auth/login")
@public
@validate_request(LoginRequest)
@validate_response(LoginResponse)
@document_errors(401)
async def login(data: LoginRequest):
    """Log in with email and password: an access token, a refresh token and the user."""
    return await _login(data)


@bp.post("/api/v1/auth/login")
@public
@validate_request(LoginRequest)
@validate_response(LoginResponse)
@document_errors(401)
async def login_v1(data: LoginRequest):
    """Log in (seed 003's path): an access token, a refresh token and the user."""
    return await _login(data)


async def _login(data: LoginRequest) -> LoginResponse:
    hub = current_hub()
    address = client_address(hub.settings.rate_limits.trusted_proxies)
    return await login_body(hub, await accounts.login(hub, data.email, data.password, address))


@bp.post("/api/auth/refresh")
@public
@validate_request(RefreshRequest)
@validate_response(RefreshResponse)
@document_errors(401)
async def refresh(data: RefreshRequest):
    """A new access token (and refresh token) for a refresh token, which is used up."""
    return await _refresh(data)


@bp.post("/api/v1/auth/refresh")
@public
@validate_request(RefreshRequest)
@validate_response(RefreshResponse)
@document_errors(401)
async def refresh_v1(data: RefreshRequest):
    """A new access token for a refresh token (seed 003's path)."""
    return await _refresh(data)


async def _refresh(data: RefreshRequest) -> RefreshResponse:
    return RefreshResponse(**await accounts.refresh(current_hub(), data.refresh_token))


@bp.post("/api/auth/logout")
@require("profile.read", allow_api_keys=False)
@document_request(LogoutRequest)  # optional body, read by hand below
@document_response(None, 204)
async def logout():
    """End the session: the access token is revoked, and the refresh token if it is given."""
    data = await optional_body(LogoutRequest)  # a refresh_token sent chunked is not ignored either
    await accounts.logout(current_hub(), current_principal().token, data.refresh_token)
    return "", 204


@bp.get("/api/auth/me")
@require("profile.read")
@validate_response(UserResponse)
async def me():
    """The calling user, with their role and permissions."""
    principal = current_principal()
    user = await User.get(id=principal.user_id)
    return UserResponse(**user_body(current_hub(), user))


@bp.post("/api/auth/invitations/accept")
@public
@validate_request(AcceptInvitationRequest)
@validate_response(LoginResponse)
@document_errors(401)
async def accept_invitation(data: AcceptInvitationRequest):
    """Join an organization with an invitation token, choosing a password; logs in."""
    hub = current_hub()
    return await login_body(hub, await accounts.accept_invitation(hub, data.token, data.password))

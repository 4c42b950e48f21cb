"""The caller's organization (seed 003 `GET /api/v1/tenant`) and its members."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import document_response, validate_request, validate_response
from tortoise.transactions import in_transaction

from core.tenancy import accounts
from core.http.auth import current_principal, require
from core.http.openapi import document_errors
from core.http.pagination import OffsetQuery
from core.http.query import validate_query
from core.kernel.errors import HubError, not_found
from core.tenancy.models import ApiKey, Organization, User
from core.builtin.schemas import (
    MemberCreate,
    MemberList,
    MemberResponse,
    MemberUpdate,
    TenantResponse,
    TenantUpdate,
)
from core.tenancy.security import now
from core.kernel.hub import current_hub

bp = Blueprint("core_tenant", __name__)


def tenant_body(organization: Organization) -> TenantResponse:
    return TenantResponse(
        tenant_id=organization.id, name=organization.name, plan=organization.plan,
        status=organization.status, created_at=organization.created_at, settings=organization.settings,
    )


def member_body(user: User, invite_token: str | None = None) -> MemberResponse:
    return MemberResponse(
        id=user.id, email=user.email, name=user.name, first_name=user.first_name, last_name=user.last_name,
        role=user.role, status="active" if user.password_hash else "invited", created_at=user.created_at,
        last_login_at=user.last_login_at, invite_token=invite_token,
    )


@bp.get("/api/v1/tenant")
@require("tenant.read")
@validate_response(TenantResponse)
async def get_tenant():
    """The caller's organization."""
    return tenant_body(await Organization.get(id=current_principal().org_id))


@bp.put("/api/v1/tenant")
@require("tenant.manage")
@validate_request(TenantUpdate)
@validate_response(TenantResponse)
async def update_tenant(data: TenantUpdate):
    """Rename the organization or replace its settings."""
    organization = await Organization.get(id=current_principal().org_id)
    for field, value in data.model_dump(exclude_none=True).items():
        setattr(organization, field, value)
    await organization.save()
    return tenant_body(organization)


def _members():
    return User.filter(org_id=current_principal().org_id, is_active=True)


async def _member(user_id: str) -> User:
    import uuid

    try:
        user_id = uuid.UUID(user_id)
    except ValueError:
        raise not_found("Member") from None
    user = await _members().filter(id=user_id).first()
    if user is None:
        raise not_found("Member")
    return user


@bp.get("/api/v1/tenant/members")
@require("members.read")
@validate_query(OffsetQuery)
@document_response(MemberList)
async def list_members(query_args: OffsetQuery):
    """The organization's members, oldest first (invited ones too)."""
    page = query_args.page()
    users, total = await page.fetch(_members(), "created_at")
    return page.listing("members", [member_body(u).model_dump(mode="json") for u in users], total)


@bp.post("/api/v1/tenant/members")
@require("members.manage", allow_api_keys=False)
@validate_request(MemberCreate)
@validate_response(MemberResponse, 201)
async def add_member(data: MemberCreate):
    """Add a member with a password, or invite one (the invitation token is shown once)."""
    user, invite_token = await accounts.create_member(
        current_hub(), current_principal().org_id, **data.model_dump()
    )
    return member_body(user, invite_token), 201


async def _lock_organization() -> None:
    """Serialise role changes and removals within one organization (call inside a
    transaction): otherwise two admins demoting each other at once both see a second
    admin, and the organization is left with none."""
    await Organization.filter(id=current_principal().org_id).select_for_update().first()


async def _ensure_an_admin_remains(user: User) -> None:
    if user.role == "admin" and await _members().filter(role="admin").count() <= 1:
        raise HubError("CONFLICT", "An organization must keep at least one admin", {"field": "role"})


@bp.put("/api/v1/tenant/members/<user_id>")
@require("members.manage", allow_api_keys=False)
@validate_request(MemberUpdate)
@validate_response(MemberResponse)
@document_errors(409)
async def change_role(user_id: str, data: MemberUpdate):
    """Give a member another role (409 when that would leave the organization without an admin)."""
    async with in_transaction():
        await _lock_organization()
        user = await _member(user_id)
        if data.role != "admin":
            await _ensure_an_admin_remains(user)
        user.role = data.role
        await user.save(update_fields=["role", "updated_at"])
    await current_hub().invalidations.publish("user", user.id)  # their next request, anywhere, has the new role
    return member_body(user)


@bp.delete("/api/v1/tenant/members/<user_id>")
@require("members.manage", allow_api_keys=False)
@document_response(None, 204)
@document_errors(409)
async def remove_member(user_id: str):
    """Remove a member: their sessions and API keys end (409 for the last admin)."""
    async with in_transaction():
        await _lock_organization()
        user = await _member(user_id)
        await _ensure_an_admin_remains(user)
        user.is_active = False
        # The email is freed for a later registration; the row stays for audit and ownership.
        user.email = f"removed+{user.id.hex}@{user.email.rsplit('@', 1)[-1]}"[:254]
        await user.save(update_fields=["is_active", "email", "updated_at"])
        # Their keys die with the membership; say so rather than list them as "active".
        await ApiKey.for_org(user.org_id).filter(user_id=user.id, revoked_at=None).update(
            is_active=False, revoked_at=now()
        )
    await accounts.revoke_all_sessions(current_hub(), user.id)
    return "", 204



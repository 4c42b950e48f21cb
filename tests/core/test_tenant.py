"""The caller's organization (seed 003 `GET /api/v1/tenant`, `PUT /api/v1/tenant`) and its
members (`/api/v1/tenant/members`): roles, the last admin, removal, isolation."""

from __future__ import annotations

import uuid
from datetime import datetime

from tests.helpers import PASSWORD, add_member, assert_error, create_key, login, unique_email

SEED_003_TENANT = {"tenant_id", "name", "plan", "status", "created_at", "settings"}
MEMBER_FIELDS = {"id", "email", "name", "first_name", "last_name", "role", "status", "created_at", "last_login_at"}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def call(client, method: str, path: str, headers: dict, **kwargs):
    response = await getattr(client, method)(path, headers=headers, **kwargs)
    body = await response.get_json() if response.status_code != 204 else None
    return response, body


def member_payload(role: str = "developer", **overrides) -> dict:
    return {"email": unique_email(role), "first_name": "Grace", "last_name": "Hopper", "role": role,
            "password": PASSWORD, **overrides}


# -- the tenant --------------------------------------------------------------------------------


async def test_get_tenant_seed_003_shape(client, admin):
    response, body = await call(client, "get", "/api/v1/tenant", admin.headers)
    assert response.status_code == 200, body
    assert SEED_003_TENANT <= set(body), body
    assert body["tenant_id"] == admin.org_id
    uuid.UUID(body["tenant_id"])
    assert body["name"] == "Acme"
    assert body["plan"] in {"starter", "pro", "enterprise"}
    assert body["status"] == "active"
    assert isinstance(body["settings"], dict)
    created = parse_time(body["created_at"])
    assert created.tzinfo is not None


async def test_every_role_can_read_the_tenant(client, admin):
    for role in ("developer", "member", "viewer"):
        account = await add_member(client, admin, role)
        assert account.role == role
        response, body = await call(client, "get", "/api/v1/tenant", account.headers)
        assert response.status_code == 200, body
        assert body["tenant_id"] == admin.org_id


async def test_get_tenant_requires_authentication(client):
    response, body = await call(client, "get", "/api/v1/tenant", {})
    assert_error(response.status_code, body, 401, "AUTHENTICATION_FAILED")
    response, body = await call(client, "get", "/api/v1/tenant", {"Authorization": "Bearer garbage"})
    assert_error(response.status_code, body, 401, "AUTHENTICATION_FAILED")


async def test_admin_updates_name_and_settings(client, admin, other_admin):
    settings = {"default_model": "two_tower", "embedding_dimension": 128, "nested": {"a": [1, 2]}}
    response, body = await call(client, "put", "/api/v1/tenant", admin.headers, json={"name": "Acme Corp", "settings": settings})
    assert response.status_code == 200, body
    assert body["name"] == "Acme Corp"
    assert body["settings"] == settings
    assert body["tenant_id"] == admin.org_id

    response, body = await call(client, "get", "/api/v1/tenant", admin.headers)
    assert body["name"] == "Acme Corp"
    assert body["settings"] == settings

    # A partial update leaves the rest alone.
    response, body = await call(client, "put", "/api/v1/tenant", admin.headers, json={"name": "Acme Two"})
    assert response.status_code == 200, body
    assert body["settings"] == settings
    response, body = await call(client, "put", "/api/v1/tenant", admin.headers, json={"settings": {"x": True}})
    assert body["name"] == "Acme Two"
    assert body["settings"] == {"x": True}

    # Only the caller's organization changed.
    response, body = await call(client, "get", "/api/v1/tenant", other_admin.headers)
    assert body["name"] == "Globex"
    assert body["settings"] == {}


async def test_update_tenant_cannot_change_plan_or_status(client, admin):
    for payload in ({"plan": "enterprise"}, {"status": "suspended"}, {"tenant_id": str(uuid.uuid4())},
                    {"name": "ok", "bogus": 1}):
        response, body = await call(client, "put", "/api/v1/tenant", admin.headers, json=payload)
        assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"] == next(k for k in payload if k != "name"), body
    response, body = await call(client, "get", "/api/v1/tenant", admin.headers)
    assert body["name"] == "Acme"
    assert body["plan"] == "starter"
    assert body["status"] == "active"


async def test_update_tenant_validation(client, admin):
    for payload, field in [({"name": ""}, "name"), ({"name": "x" * 201}, "name"), ({"settings": [1, 2]}, "settings"),
                           ({"settings": "text"}, "settings")]:
        response, body = await call(client, "put", "/api/v1/tenant", admin.headers, json=payload)
        assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"] == field, body
    response = await client.put("/api/v1/tenant", headers={**admin.headers, "Content-Type": "application/json"},
                                data="{not json")
    assert_error(response.status_code, await response.get_json(), 400, "VALIDATION_ERROR")


async def test_non_admins_cannot_update_tenant(client, admin):
    for role in ("developer", "member", "viewer"):
        account = await add_member(client, admin, role)
        response, body = await call(client, "put", "/api/v1/tenant", account.headers, json={"name": "Mine now"})
        assert_error(response.status_code, body, 403, "FORBIDDEN")
        assert body["error"]["details"].get("permission") == "tenant.manage"
    response, body = await call(client, "get", "/api/v1/tenant", admin.headers)
    assert body["name"] == "Acme"


# -- members: list -----------------------------------------------------------------------------


async def test_list_members_shape_and_pagination(client, admin):
    added = [await add_member(client, admin, role) for role in ("developer", "viewer", "member")]

    response, body = await call(client, "get", "/api/v1/tenant/members", admin.headers)
    assert response.status_code == 200, body
    assert set(body) >= {"members", "total"}
    assert body["total"] == 4
    assert response.headers["X-Total-Count"] == "4"
    by_id = {m["id"]: m for m in body["members"]}
    assert set(by_id) == {admin.user_id, *(a.user_id for a in added)}
    for member in body["members"]:
        assert MEMBER_FIELDS <= set(member), member
        assert "password_hash" not in member and "password" not in member
        assert member["status"] == "active"
        assert member.get("invite_token") is None
    assert by_id[admin.user_id]["role"] == "admin"
    assert by_id[admin.user_id]["email"] == admin.email
    assert by_id[admin.user_id]["name"] == "Ada Admin"
    for account in added:
        assert by_id[account.user_id]["role"] == account.role
        assert by_id[account.user_id]["email"] == account.email
        assert by_id[account.user_id]["last_login_at"] is not None  # they logged in

    seen = []
    for offset in (0, 2, 4):
        response, page = await call(client, "get", f"/api/v1/tenant/members?limit=2&offset={offset}", admin.headers)
        assert response.status_code == 200, page
        assert response.headers["X-Total-Count"] == "4"
        assert page["total"] == 4
        seen.append([m["id"] for m in page["members"]])
    assert [len(ids) for ids in seen] == [2, 2, 0]
    assert sorted(seen[0] + seen[1]) == sorted(by_id)

    for query, field in [("offset=-1", "offset"), ("limit=0", "limit"), ("limit=x", "limit")]:
        response, body = await call(client, "get", f"/api/v1/tenant/members?{query}", admin.headers)
        assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"] == field


async def test_viewer_can_list_members(client, admin):
    viewer = await add_member(client, admin, "viewer")
    response, body = await call(client, "get", "/api/v1/tenant/members", viewer.headers)
    assert response.status_code == 200, body
    assert {m["id"] for m in body["members"]} == {admin.user_id, viewer.user_id}


# -- members: add ------------------------------------------------------------------------------


async def test_add_member_with_password_can_log_in_with_role(client, admin):
    payload = member_payload("developer")
    response, body = await call(client, "post", "/api/v1/tenant/members", admin.headers, json=payload)
    assert response.status_code == 201, body
    assert MEMBER_FIELDS <= set(body)
    assert body["email"] == payload["email"]
    assert body["role"] == "developer"
    assert body["status"] == "active"
    assert body["first_name"] == "Grace"
    assert body["name"] == "Grace Hopper"
    assert body.get("invite_token") is None
    assert PASSWORD not in str(body)

    member = await login(client, payload["email"])
    assert member.role == "developer"
    assert member.org_id == admin.org_id
    assert member.user_id == body["id"]
    response, me = await call(client, "get", "/api/auth/me", member.headers)
    assert me["role"] == "developer"
    # a developer may create keys (keys.manage), but not manage members
    await create_key(client, member)
    response, denied = await call(client, "post", "/api/v1/tenant/members", member.headers, json=member_payload("viewer"))
    assert_error(response.status_code, denied, 403, "FORBIDDEN")


async def test_add_member_email_is_normalised_and_unique(client, admin, other_admin):
    payload = member_payload("viewer")
    response, body = await call(client, "post", "/api/v1/tenant/members", admin.headers, json=payload)
    assert response.status_code == 201, body

    for email in (payload["email"], payload["email"].upper(), f"  {payload['email']}  ", admin.email,
                  other_admin.email):
        response, body = await call(
            client, "post", "/api/v1/tenant/members", admin.headers, json=member_payload("viewer", email=email)
        )
        assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"] == "email", body

    # the same email in another organization is also taken (emails are global logins)
    response, body = await call(
        client, "post", "/api/v1/tenant/members", other_admin.headers, json=member_payload("viewer", email=payload["email"])
    )
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")

    response, listed = await call(client, "get", "/api/v1/tenant/members", admin.headers)
    assert listed["total"] == 2


async def test_add_member_validation(client, admin):
    for payload, field in [
        (member_payload(role="owner"), "role"),
        (member_payload(email="not-an-email"), "email"),
        (member_payload(password="short"), "password"),
        ({**member_payload(), "is_admin": True}, "is_admin"),
        ({k: v for k, v in member_payload().items() if k != "email"}, "email"),
    ]:
        response, body = await call(client, "post", "/api/v1/tenant/members", admin.headers, json=payload)
        assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"] == field, (payload, body)
    response, listed = await call(client, "get", "/api/v1/tenant/members", admin.headers)
    assert listed["total"] == 1


async def test_add_member_without_password_field_is_an_invitation(client, admin):
    # MemberCreate.password is optional by design (no password: an invitation), so
    # leaving the field out must work like sending null.
    payload = member_payload("viewer")
    del payload["password"]
    response, body = await call(client, "post", "/api/v1/tenant/members", admin.headers, json=payload)
    assert response.status_code == 201, body
    assert body["status"] == "invited"
    assert body["invite_token"]


async def test_add_member_with_null_password_is_an_invitation(client, admin):
    payload = member_payload("viewer", password=None)
    response, body = await call(client, "post", "/api/v1/tenant/members", admin.headers, json=payload)
    assert response.status_code == 201, body
    assert body["status"] == "invited"
    assert body["invite_token"].startswith("inv_")
    response, denied = await call(client, "post", "/api/auth/login", {},
                                  json={"email": payload["email"], "password": PASSWORD})
    assert response.status_code == 401, denied  # no password yet

    response, listed = await call(client, "get", "/api/v1/tenant/members", admin.headers)
    invited = next(m for m in listed["members"] if m["id"] == body["id"])
    assert invited["status"] == "invited"
    assert invited.get("invite_token") is None  # shown once

    response, accepted = await call(client, "post", "/api/auth/invitations/accept", {},
                                    json={"token": body["invite_token"], "password": PASSWORD})
    assert response.status_code == 200, accepted
    assert accepted["user"]["role"] == "viewer"
    assert accepted["user"]["tenant_id"] == admin.org_id
    response, listed = await call(client, "get", "/api/v1/tenant/members", admin.headers)
    assert next(m for m in listed["members"] if m["id"] == body["id"])["status"] == "active"
    response, again = await call(client, "post", "/api/auth/invitations/accept", {},
                                 json={"token": body["invite_token"], "password": PASSWORD})
    assert response.status_code == 401, again  # one use only


async def test_non_admins_cannot_add_members(client, admin):
    for role in ("viewer", "developer", "member"):
        account = await add_member(client, admin, role)
        payload = member_payload("admin")
        response, body = await call(client, "post", "/api/v1/tenant/members", account.headers, json=payload)
        assert_error(response.status_code, body, 403, "FORBIDDEN")
        response, body = await call(client, "post", "/api/auth/login", {},
                                    json={"email": payload["email"], "password": PASSWORD})
        assert response.status_code == 401


# -- members: change role ----------------------------------------------------------------------


async def test_change_role_applies_to_existing_token(client, admin):
    developer = await add_member(client, admin, "developer")
    await create_key(client, developer)  # allowed while a developer

    response, body = await call(
        client, "put", f"/api/v1/tenant/members/{developer.user_id}", admin.headers, json={"role": "viewer"}
    )
    assert response.status_code == 200, body
    assert body["role"] == "viewer"
    assert body["id"] == developer.user_id

    # Same access token as before: the new role counts now.
    response, body = await call(client, "post", "/api/v1/keys", developer.headers, json={"name": "x", "scopes": ["read"]})
    assert_error(response.status_code, body, 403, "FORBIDDEN")
    response, body = await call(client, "get", "/api/v1/keys", developer.headers)
    assert_error(response.status_code, body, 403, "FORBIDDEN")
    response, me = await call(client, "get", "/api/auth/me", developer.headers)
    assert me["role"] == "viewer"
    assert "keys.manage" not in me["permissions"]

    response, listed = await call(client, "get", "/api/v1/tenant/members", admin.headers)
    assert next(m for m in listed["members"] if m["id"] == developer.user_id)["role"] == "viewer"

    # Promotion works just as immediately.
    response, body = await call(
        client, "put", f"/api/v1/tenant/members/{developer.user_id}", admin.headers, json={"role": "admin"}
    )
    assert response.status_code == 200, body
    response, body = await call(client, "put", "/api/v1/tenant", developer.headers, json={"name": "Promoted"})
    assert response.status_code == 200, body
    response, body = await call(client, "post", "/api/v1/tenant/members", developer.headers, json=member_payload())
    assert response.status_code == 201, body


async def test_change_role_validation(client, admin):
    member = await add_member(client, admin, "developer")
    path = f"/api/v1/tenant/members/{member.user_id}"
    for payload, field in [({"role": "owner"}, "role"), ({}, "role"), ({"role": "viewer", "email": "a@b.co"}, "email")]:
        response, body = await call(client, "put", path, admin.headers, json=payload)
        assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"] == field, (payload, body)
    response, listed = await call(client, "get", "/api/v1/tenant/members", admin.headers)
    assert next(m for m in listed["members"] if m["id"] == member.user_id)["role"] == "developer"


async def test_last_admin_cannot_be_demoted_or_removed(client, admin):
    for role in ("developer", "member", "viewer"):
        response, body = await call(
            client, "put", f"/api/v1/tenant/members/{admin.user_id}", admin.headers, json={"role": role}
        )
        assert_error(response.status_code, body, 409, "CONFLICT")
    response, body = await call(client, "delete", f"/api/v1/tenant/members/{admin.user_id}", admin.headers)
    assert_error(response.status_code, body, 409, "CONFLICT")

    # still the admin
    response, body = await call(client, "put", "/api/v1/tenant", admin.headers, json={"name": "Still mine"})
    assert response.status_code == 200, body
    # re-affirming the admin role is fine
    response, body = await call(
        client, "put", f"/api/v1/tenant/members/{admin.user_id}", admin.headers, json={"role": "admin"}
    )
    assert response.status_code == 200, body

    # With a second admin, one of them may step down - and then the other is the last.
    second = await add_member(client, admin, "admin")
    response, body = await call(
        client, "put", f"/api/v1/tenant/members/{admin.user_id}", second.headers, json={"role": "developer"}
    )
    assert response.status_code == 200, body
    response, body = await call(
        client, "put", f"/api/v1/tenant/members/{second.user_id}", second.headers, json={"role": "viewer"}
    )
    assert_error(response.status_code, body, 409, "CONFLICT")
    response, body = await call(client, "delete", f"/api/v1/tenant/members/{second.user_id}", second.headers)
    assert_error(response.status_code, body, 409, "CONFLICT")


async def test_other_organizations_admins_do_not_count(client, admin, other_admin):
    # other_admin's organization has an admin, but it is not this one's.
    response, body = await call(
        client, "put", f"/api/v1/tenant/members/{admin.user_id}", admin.headers, json={"role": "viewer"}
    )
    assert_error(response.status_code, body, 409, "CONFLICT")


async def test_removed_admin_does_not_count_as_remaining(client, admin):
    second = await add_member(client, admin, "admin")
    response = await client.delete(f"/api/v1/tenant/members/{second.user_id}", headers=admin.headers)
    assert response.status_code == 204
    response, body = await call(
        client, "put", f"/api/v1/tenant/members/{admin.user_id}", admin.headers, json={"role": "viewer"}
    )
    assert_error(response.status_code, body, 409, "CONFLICT")


# -- members: remove ---------------------------------------------------------------------------


async def test_remove_member(client, admin):
    member = await add_member(client, admin, "developer")
    response, body = await call(client, "get", "/api/v1/tenant", member.headers)
    assert response.status_code == 200

    response = await client.delete(f"/api/v1/tenant/members/{member.user_id}", headers=admin.headers)
    assert response.status_code == 204
    assert await response.get_data() == b""

    # Their session is over: access token and refresh token.
    response, body = await call(client, "get", "/api/v1/tenant", member.headers)
    assert_error(response.status_code, body, 401, "AUTHENTICATION_FAILED")
    response, body = await call(client, "post", "/api/auth/refresh", {}, json={"refresh_token": member.refresh_token})
    assert response.status_code == 401, body
    response, body = await call(client, "post", "/api/auth/login", {}, json={"email": member.email, "password": PASSWORD})
    assert response.status_code == 401, body

    response, listed = await call(client, "get", "/api/v1/tenant/members", admin.headers)
    assert member.user_id not in {m["id"] for m in listed["members"]}
    assert listed["total"] == 1
    assert response.headers["X-Total-Count"] == "1"

    # Gone means gone: a second removal or a role change is a 404.
    response, body = await call(client, "delete", f"/api/v1/tenant/members/{member.user_id}", admin.headers)
    assert_error(response.status_code, body, 404, "NOT_FOUND")
    response, body = await call(
        client, "put", f"/api/v1/tenant/members/{member.user_id}", admin.headers, json={"role": "admin"}
    )
    assert_error(response.status_code, body, 404, "NOT_FOUND")

    # The email is free again: a fresh registration (a new user, a new organization)...
    response, body = await call(client, "post", "/api/auth/register", {}, json={
        "email": member.email, "password": PASSWORD, "first_name": "Re", "last_name": "Turn",
        "organization_name": "Comeback",
    })
    assert response.status_code == 201, body
    again = await login(client, member.email)
    assert again.user_id != member.user_id
    assert again.org_id != admin.org_id
    assert again.role == "admin"


async def test_removed_email_can_be_added_again(client, admin):
    member = await add_member(client, admin, "viewer")
    response = await client.delete(f"/api/v1/tenant/members/{member.user_id}", headers=admin.headers)
    assert response.status_code == 204
    response, body = await call(client, "post", "/api/v1/tenant/members", admin.headers,
                                json=member_payload("developer", email=member.email))
    assert response.status_code == 201, body
    assert body["id"] != member.user_id
    back = await login(client, member.email)
    assert back.role == "developer"
    response, listed = await call(client, "get", "/api/v1/tenant/members", admin.headers)
    assert [m["email"] for m in listed["members"]].count(member.email) == 1


async def test_admin_may_remove_another_admin_and_self_when_not_last(client, admin):
    second = await add_member(client, admin, "admin")
    response = await client.delete(f"/api/v1/tenant/members/{admin.user_id}", headers=second.headers)
    assert response.status_code == 204
    response, body = await call(client, "get", "/api/v1/tenant", admin.headers)
    assert response.status_code == 401


async def test_non_admins_cannot_change_or_remove_members(client, admin):
    developer = await add_member(client, admin, "developer")
    viewer = await add_member(client, admin, "viewer")
    for actor, target in ((developer, viewer), (viewer, developer), (developer, developer)):
        response, body = await call(
            client, "put", f"/api/v1/tenant/members/{target.user_id}", actor.headers, json={"role": "admin"}
        )
        assert_error(response.status_code, body, 403, "FORBIDDEN")
        response, body = await call(client, "delete", f"/api/v1/tenant/members/{target.user_id}", actor.headers)
        assert_error(response.status_code, body, 403, "FORBIDDEN")
    response, listed = await call(client, "get", "/api/v1/tenant/members", admin.headers)
    roles = {m["id"]: m["role"] for m in listed["members"]}
    assert roles == {admin.user_id: "admin", developer.user_id: "developer", viewer.user_id: "viewer"}


# -- isolation ---------------------------------------------------------------------------------


async def test_other_organizations_member_is_404(client, admin, other_admin):
    foreign = await add_member(client, other_admin, "developer")
    for target in (foreign.user_id, other_admin.user_id):
        response, body = await call(
            client, "put", f"/api/v1/tenant/members/{target}", admin.headers, json={"role": "viewer"}
        )
        assert_error(response.status_code, body, 404, "NOT_FOUND")
        response, body = await call(client, "delete", f"/api/v1/tenant/members/{target}", admin.headers)
        assert_error(response.status_code, body, 404, "NOT_FOUND")

    # Untouched: both can still work in their own organization, with their roles.
    response, body = await call(client, "post", "/api/v1/keys", foreign.headers, json={"name": "x", "scopes": ["read"]})
    assert response.status_code == 201, body
    response, body = await call(client, "put", "/api/v1/tenant", other_admin.headers, json={"name": "Globex Two"})
    assert response.status_code == 200, body


async def test_malformed_member_id_is_404(client, admin):
    for target in ("not-a-uuid", "1", str(uuid.uuid4())):
        response, body = await call(
            client, "put", f"/api/v1/tenant/members/{target}", admin.headers, json={"role": "viewer"}
        )
        assert_error(response.status_code, body, 404, "NOT_FOUND")
        response, body = await call(client, "delete", f"/api/v1/tenant/members/{target}", admin.headers)
        assert_error(response.status_code, body, 404, "NOT_FOUND")


async def test_cross_tenant_isolation(client, admin, other_admin):
    member = await add_member(client, admin, "developer")
    key = await create_key(client, member)
    own_key = await create_key(client, admin)
    their_key = await create_key(client, other_admin)

    response, body = await call(client, "get", "/api/v1/tenant", other_admin.headers)
    assert body["tenant_id"] == other_admin.org_id
    assert body["tenant_id"] != admin.org_id

    response, body = await call(client, "get", "/api/v1/tenant/members", other_admin.headers)
    assert [m["id"] for m in body["members"]] == [other_admin.user_id]
    assert body["total"] == 1
    assert response.headers["X-Total-Count"] == "1"
    assert admin.email not in str(body) and member.email not in str(body)

    response, body = await call(client, "get", "/api/v1/keys", other_admin.headers)
    assert [k["id"] for k in body] == [their_key["id"]]
    response, body = await call(client, "get", "/api/v1/api-keys", other_admin.headers)
    assert [k["id"] for k in body["keys"]] == [their_key["id"]]

    response, body = await call(client, "get", "/api/v1/tenant/members", admin.headers)
    assert {m["id"] for m in body["members"]} == {admin.user_id, member.user_id}
    response, body = await call(client, "get", "/api/v1/keys", admin.headers)
    assert {k["id"] for k in body} == {key["id"], own_key["id"]}

    # Changing one organization leaves the other alone.
    await call(client, "put", "/api/v1/tenant", other_admin.headers, json={"name": "Globex Renamed"})
    response, body = await call(client, "get", "/api/v1/tenant", admin.headers)
    assert body["name"] == "Acme"


async def test_concurrent_demotions_keep_an_admin(client, admin):
    import asyncio

    second = await add_member(client, admin, "admin")
    responses = await asyncio.gather(
        client.put(f"/api/v1/tenant/members/{admin.user_id}", headers=second.headers, json={"role": "viewer"}),
        client.put(f"/api/v1/tenant/members/{second.user_id}", headers=admin.headers, json={"role": "viewer"}),
    )
    # One wins; the other finds the last admin (409) or, when it authenticates after the
    # first one committed, its own caller already demoted (403).
    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] == 200 and statuses[1] in (403, 409), statuses
    from core.tenancy.models import User

    assert await User.filter(org_id=admin.org_id, role="admin", is_active=True).count() == 1


async def test_concurrent_removals_keep_an_admin(client, admin):
    import asyncio

    second = await add_member(client, admin, "admin")
    responses = await asyncio.gather(
        client.delete(f"/api/v1/tenant/members/{admin.user_id}", headers=second.headers),
        client.delete(f"/api/v1/tenant/members/{second.user_id}", headers=admin.headers),
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] == 204 and statuses[1] in (401, 409), statuses  # 401: its caller was removed first
    from core.tenancy.models import User

    assert await User.filter(org_id=admin.org_id, role="admin", is_active=True).count() == 1

"""Authentication: register, login (seeds 001/003/004), JWT access tokens, refresh-token
rotation, logout, slowed logins, invitations, /api/auth/me, password storage."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from tests.helpers import (
    PASSWORD,
    Account,
    add_member,
    assert_error,
    create_key,
    login,
    register_and_login,
    unique_email,
)

LOGIN_PATHS = ["/api/auth/login", "/api/v1/auth/login"]
REFRESH_PATHS = ["/api/auth/refresh", "/api/v1/auth/refresh"]
JWT_KEYS = {"sub", "email", "org_id", "role", "permissions", "iat", "exp", "jti"}  # seed 001 JWTPayload


# -- helpers -----------------------------------------------------------------------------------


def register_body(**overrides):
    body = {
        "email": unique_email("reg"),
        "password": PASSWORD,
        "first_name": "Grace",
        "last_name": "Hopper",
        "organization_name": "Navy",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


async def post(client, path, body=None, headers=None):
    response = await client.post(path, json=body, headers=headers or {})
    return response, await response.get_json()


async def me(client, token: str):
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    return response, await response.get_json()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(account: Account, **overrides) -> dict:
    issued = int(time.time())
    claims = {
        "sub": account.user_id,
        "email": account.email,
        "org_id": account.org_id,
        "role": account.role,
        "permissions": [],
        "iat": issued,
        "exp": issued + 1800,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return claims


def assert_validation_error(response, body, field: str) -> None:
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == field, body


async def invite(client, admin: Account, role: str = "developer", *, omit_password: bool = False):
    body = {"email": unique_email("invitee"), "first_name": "In", "last_name": "Vitee", "role": role}
    if not omit_password:
        body["password"] = None
    response, data = await post(client, "/api/v1/tenant/members", body, admin.headers)
    assert response.status_code == 201, data
    return data


# -- register ----------------------------------------------------------------------------------


async def test_register_returns_user_response(client):
    body = register_body(email=unique_email("Mixed.Case").replace("example.com", "Example.COM"))
    response, data = await post(client, "/api/auth/register", body)
    assert response.status_code == 201, data
    assert set(data) == {
        "id", "email", "name", "first_name", "last_name", "role", "permissions",
        "organization_id", "tenant_id", "is_active", "created_at",
    }
    uuid.UUID(data["id"])
    uuid.UUID(data["tenant_id"])
    assert data["email"] == body["email"].lower()
    assert data["name"] == "Grace Hopper"
    assert (data["first_name"], data["last_name"]) == ("Grace", "Hopper")
    assert data["role"] == "admin"
    assert data["is_active"] is True
    assert data["organization_id"] == data["tenant_id"]
    assert "members.manage" in data["permissions"] and "profile.read" in data["permissions"]
    datetime.fromisoformat(data["created_at"].replace("Z", "+00:00"))
    assert "password" not in json.dumps(data)

    # the new organization carries the given name and the user can log in to it
    account = await login(client, body["email"])
    assert account.user_id == data["id"] and account.org_id == data["tenant_id"]
    response = await client.get("/api/v1/tenant", headers=account.headers)
    assert (await response.get_json())["name"] == "Navy"


async def test_register_without_organization_name_uses_the_users_name(client):
    body = register_body(organization_name=...)
    response, data = await post(client, "/api/auth/register", body)
    assert response.status_code == 201, data
    account = await login(client, body["email"])
    response = await client.get("/api/v1/tenant", headers=account.headers)
    assert (await response.get_json())["name"] == "Grace Hopper"


async def test_each_registration_creates_its_own_organization(client, admin, other_admin):
    assert admin.org_id != other_admin.org_id


async def test_register_duplicate_email(client, admin):
    response, data = await post(client, "/api/auth/register", register_body(email=admin.email))
    assert_validation_error(response, data, "email")


async def test_register_duplicate_email_is_case_insensitive(client, admin):
    local, domain = admin.email.split("@")
    for variant in (admin.email.upper(), f"{local.upper()}@{domain}", f"  {admin.email}  "):
        response, data = await post(client, "/api/auth/register", register_body(email=variant))
        assert_validation_error(response, data, "email")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@"}, "email"),
        ({"email": ""}, "email"),
        ({"email": ...}, "email"),
        ({"password": "short7!"}, "password"),
        ({"password": ""}, "password"),
        ({"password": ...}, "password"),
        ({"password": 12345678901}, "password"),
        ({"password": ["correct horse battery"]}, "password"),
        ({"first_name": ...}, "first_name"),
        ({"first_name": ""}, "first_name"),
        ({"first_name": "   "}, "first_name"),
        ({"first_name": 42}, "first_name"),
        ({"last_name": ...}, "last_name"),
        ({"last_name": None}, "last_name"),
        ({"organization_name": 7}, "organization_name"),
        ({"role": "admin"}, "role"),
        ({"is_admin": True}, "is_admin"),
    ],
)
async def test_register_validation(client, overrides, field):
    body = register_body(**overrides)
    response, data = await post(client, "/api/auth/register", body)
    assert_validation_error(response, data, field)
    if isinstance(body.get("email"), str) and "@example.com" in body["email"]:
        # nothing was created: the same email can still register
        response, data = await post(client, "/api/auth/register", register_body(email=body["email"]))
        assert response.status_code == 201, data


async def test_register_rejects_non_object_and_non_json_bodies(client):
    response, data = await post(client, "/api/auth/register", ["not", "an", "object"])
    assert_error(response.status_code, data, 400, "VALIDATION_ERROR")

    response = await client.post(
        "/api/auth/register", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response.status_code, await response.get_json(), 400, "VALIDATION_ERROR")

    response = await client.post(  # the test client sets no Content-Length by itself; a server does
        "/api/auth/register", data=b"email=x", headers={"Content-Type": "text/plain", "Content-Length": "7"}
    )
    assert_error(response.status_code, await response.get_json(), 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_password_is_stored_as_argon2_hash(client, admin):
    from core.tenancy.models import User

    user = await User.get(id=admin.user_id)
    assert user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash


# -- login -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LOGIN_PATHS)
async def test_login_body_satisfies_seeds_001_003_004(client, hub, path):
    body = register_body()
    response, registered = await post(client, "/api/auth/register", body)
    assert response.status_code == 201, registered

    response, data = await post(client, path, {"email": body["email"], "password": PASSWORD})
    assert response.status_code == 200, data
    # seed 001 AuthTokens
    assert isinstance(data["access_token"], str) and data["access_token"]
    assert isinstance(data["refresh_token"], str) and data["refresh_token"]
    assert data["refresh_token"] != data["access_token"]
    assert data["token_type"] == "bearer"
    assert data["expires_in"] == 1800
    # seed 003 user
    user = data["user"]
    assert user["id"] == registered["id"]
    assert user["email"] == body["email"]
    assert user["tenant_id"] == registered["tenant_id"]
    assert user["role"] == "admin"
    # seed 004
    assert data["token"] == data["access_token"]
    assert user["name"] == "Grace Hopper"

    # the token is a working bearer token for that user
    response, profile = await me(client, data["access_token"])
    assert response.status_code == 200, profile
    assert profile["id"] == registered["id"]


async def test_login_email_is_case_insensitive(client, admin):
    response, data = await post(client, "/api/auth/login", {"email": admin.email.upper(), "password": PASSWORD})
    assert response.status_code == 200, data
    assert data["user"]["id"] == admin.user_id
    assert data["user"]["email"] == admin.email


@pytest.mark.parametrize("path", LOGIN_PATHS)
async def test_login_wrong_password(client, admin, path):
    response, data = await post(client, path, {"email": admin.email, "password": PASSWORD + "!"})
    assert_error(response.status_code, data, 401, "INVALID_CREDENTIALS")
    assert "access_token" not in json.dumps(data)


@pytest.mark.parametrize("path", LOGIN_PATHS)
async def test_login_unknown_email(client, path):
    response, data = await post(client, path, {"email": unique_email("nobody"), "password": PASSWORD})
    assert_error(response.status_code, data, 401, "INVALID_CREDENTIALS")


async def test_login_unknown_email_and_wrong_password_look_the_same(client, admin):
    _, wrong = await post(client, "/api/auth/login", {"email": admin.email, "password": "wrong password"})
    _, unknown = await post(client, "/api/auth/login", {"email": unique_email(), "password": "wrong password"})
    assert wrong["error"]["message"] == unknown["error"]["message"]
    assert wrong["error"]["details"] == unknown["error"]["details"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "email"),
        ({"email": "user@example.com"}, "password"),
        ({"email": "user@example.com", "password": 123456789}, "password"),
        ({"email": "user@example.com", "password": ""}, "password"),
        ({"email": "user@example.com", "password": PASSWORD, "remember": True}, "remember"),
    ],
)
async def test_login_validation(client, body, field):
    response, data = await post(client, "/api/auth/login", body)
    assert_validation_error(response, data, field)


async def test_each_login_gets_distinct_tokens(client, admin):
    second = await login(client, admin.email)
    assert second.access_token != admin.access_token
    assert second.refresh_token != admin.refresh_token


# -- the JWT -----------------------------------------------------------------------------------


async def test_jwt_payload_has_exactly_seed_001_claims(client, hub, admin):
    header = jwt.get_unverified_header(admin.access_token)
    assert header["alg"] == hub.settings.auth.jwt_algorithm == "HS256"
    payload = jwt.decode(admin.access_token, hub.signing_key, algorithms=["HS256"])
    assert set(payload) == JWT_KEYS
    assert payload["sub"] == admin.user_id
    assert payload["email"] == admin.email
    assert payload["org_id"] == admin.org_id
    assert payload["role"] == "admin"
    assert isinstance(payload["permissions"], list)
    assert all(isinstance(p, str) for p in payload["permissions"])
    assert {"profile.read", "members.manage", "tenant.manage"} <= set(payload["permissions"])
    assert isinstance(payload["iat"], int) and isinstance(payload["exp"], int)
    assert payload["exp"] - payload["iat"] == 30 * 60
    assert abs(payload["iat"] - time.time()) < 60
    assert isinstance(payload["jti"], str) and payload["jti"]

    other = jwt.decode((await login(client, admin.email)).access_token, hub.signing_key, algorithms=["HS256"])
    assert other["jti"] != payload["jti"]


async def test_jwt_permissions_follow_the_role(client, hub, admin):
    viewer = await add_member(client, admin, "viewer")
    payload = jwt.decode(viewer.access_token, hub.signing_key, algorithms=["HS256"])
    assert payload["role"] == "viewer"
    assert "profile.read" in payload["permissions"]
    assert "members.manage" not in payload["permissions"]
    assert payload["org_id"] == admin.org_id


# -- access tokens -----------------------------------------------------------------------------


async def test_missing_token(client):
    response = await client.get("/api/auth/me")
    assert_error(response.status_code, await response.get_json(), 401, "AUTHENTICATION_FAILED")
    assert "Bearer" in response.headers.get("WWW-Authenticate", "")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer not-a-jwt", "Bearer a.b.c"],
)
async def test_malformed_authorization(client, authorization):
    response = await client.get("/api/auth/me", headers={"Authorization": authorization})
    assert_error(response.status_code, await response.get_json(), 401, "AUTHENTICATION_FAILED")


async def test_bearer_scheme_is_case_insensitive(client, admin):
    response = await client.get("/api/auth/me", headers={"Authorization": f"bearer {admin.access_token}"})
    assert response.status_code == 200


async def test_expired_token(client, hub, admin):
    expired = int(time.time()) - 120
    token = jwt.encode(claims_for(admin, iat=expired - 1800, exp=expired), hub.signing_key, algorithm="HS256")
    response, data = await me(client, token)
    assert_error(response.status_code, data, 401, "TOKEN_EXPIRED")
    expected = datetime.fromtimestamp(expired, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["error"]["details"]["expired_at"] == expected


async def test_freshly_crafted_token_with_the_right_key_works(client, hub, admin):
    """The control for the forgery tests below: only the signature/algorithm differs."""
    token = jwt.encode(claims_for(admin), hub.signing_key, algorithm="HS256")
    response, data = await me(client, token)
    assert response.status_code == 200, data
    assert data["id"] == admin.user_id


async def test_token_signed_with_wrong_key(client, admin):
    token = jwt.encode(claims_for(admin), "another-secret-key-that-is-long-enough!!", algorithm="HS256")
    response, data = await me(client, token)
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


async def test_expired_token_with_wrong_key_is_not_reported_as_expired(client, admin):
    expired = int(time.time()) - 120
    token = jwt.encode(claims_for(admin, iat=expired - 1800, exp=expired), "x" * 48, algorithm="HS256")
    response, data = await me(client, token)
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("header", [{"alg": "none", "typ": "JWT"}, {"alg": "None"}, {"alg": "NONE", "typ": "JWT"}])
async def test_alg_none_token(client, admin, header):
    payload = claims_for(admin)
    for signature in ("", b64url(b"anything")):
        token = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}.{signature}"
        response, data = await me(client, token)
        assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_other_hmac_algorithm_with_right_key_is_rejected(client, hub, admin):
    token = jwt.encode(claims_for(admin), hub.signing_key, algorithm="HS512")
    response, data = await me(client, token)
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


async def test_tampered_payload(client, hub, admin):
    viewer = await add_member(client, admin, "viewer")
    header, _, signature = viewer.access_token.split(".")
    claims = jwt.decode(viewer.access_token, hub.signing_key, algorithms=["HS256"])
    claims["sub"] = admin.user_id  # try to become the admin, keeping the viewer's signature
    token = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"
    response, data = await me(client, token)
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("missing", ["sub", "org_id", "jti", "exp"])
async def test_token_missing_a_claim(client, hub, admin, missing):
    claims = claims_for(admin)
    del claims[missing]
    response, data = await me(client, jwt.encode(claims, hub.signing_key, algorithm="HS256"))
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


async def test_token_for_unknown_user_or_wrong_org(client, hub, admin, other_admin):
    for claims in (
        claims_for(admin, sub=str(uuid.uuid4())),
        claims_for(admin, sub="not-a-uuid"),
        claims_for(admin, org_id=other_admin.org_id),  # a user moved into another org
    ):
        response, data = await me(client, jwt.encode(claims, hub.signing_key, algorithm="HS256"))
        assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


async def test_token_of_removed_member(client, admin):
    member = await add_member(client, admin, "developer")
    response, data = await me(client, member.access_token)
    assert response.status_code == 200, data

    response = await client.delete(f"/api/v1/tenant/members/{member.user_id}", headers=admin.headers)
    assert response.status_code == 204

    response, data = await me(client, member.access_token)
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")
    response, data = await post(client, "/api/auth/refresh", {"refresh_token": member.refresh_token})
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")
    response, data = await post(client, "/api/auth/login", {"email": member.email, "password": PASSWORD})
    assert_error(response.status_code, data, 401, "INVALID_CREDENTIALS")
    # the admin is unaffected
    response, _ = await me(client, admin.access_token)
    assert response.status_code == 200


async def test_demoted_user_loses_rights_with_the_old_token(client, admin):
    second_admin = await add_member(client, admin, "admin")
    response = await client.get("/api/v1/tenant/members", headers=second_admin.headers)
    assert response.status_code == 200
    response = await client.put(
        f"/api/v1/tenant/members/{second_admin.user_id}", headers=admin.headers, json={"role": "viewer"}
    )
    assert response.status_code == 200, await response.get_json()
    response, data = await post(
        client, "/api/v1/tenant/members", {"email": unique_email(), "first_name": "A", "last_name": "B",
                                           "role": "viewer", "password": PASSWORD}, second_admin.headers,
    )
    assert_error(response.status_code, data, 403, "FORBIDDEN")
    response, data = await me(client, second_admin.access_token)
    assert response.status_code == 200 and data["role"] == "viewer"


# -- refresh -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", REFRESH_PATHS)
async def test_refresh_returns_a_working_new_pair(client, hub, admin, path):
    response, data = await post(client, path, {"refresh_token": admin.refresh_token})
    assert response.status_code == 200, data
    assert data["token_type"] == "bearer"
    assert data["expires_in"] == 1800
    assert data["access_token"] != admin.access_token
    assert data["refresh_token"] != admin.refresh_token

    payload = jwt.decode(data["access_token"], hub.signing_key, algorithms=["HS256"])
    assert set(payload) == JWT_KEYS
    assert payload["sub"] == admin.user_id and payload["org_id"] == admin.org_id
    assert payload["exp"] - payload["iat"] == 1800

    response, profile = await me(client, data["access_token"])
    assert response.status_code == 200, profile
    assert profile["id"] == admin.user_id

    # the new refresh token rotates in turn
    response, again = await post(client, path, {"refresh_token": data["refresh_token"]})
    assert response.status_code == 200, again


@pytest.mark.parametrize("path", REFRESH_PATHS)
async def test_refresh_token_reuse_revokes_the_family(client, admin, path):
    response, first = await post(client, path, {"refresh_token": admin.refresh_token})
    assert response.status_code == 200, first
    response, second = await post(client, path, {"refresh_token": first["refresh_token"]})
    assert response.status_code == 200, second

    # replaying an already-rotated token: refused ...
    response, data = await post(client, path, {"refresh_token": admin.refresh_token})
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")
    # ... and the newest token of the family, never used, is dead too
    response, data = await post(client, path, {"refresh_token": second["refresh_token"]})
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")
    # and so is the intermediate one
    response, data = await post(client, path, {"refresh_token": first["refresh_token"]})
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


async def test_refresh_reuse_does_not_touch_other_sessions(client, admin):
    other_session = await login(client, admin.email)
    response, first = await post(client, "/api/auth/refresh", {"refresh_token": admin.refresh_token})
    assert response.status_code == 200
    response, _ = await post(client, "/api/auth/refresh", {"refresh_token": admin.refresh_token})
    assert response.status_code == 401
    response, data = await post(client, "/api/auth/refresh", {"refresh_token": other_session.refresh_token})
    assert response.status_code == 200, data


async def test_concurrent_refresh_with_one_token_succeeds_once(client, admin):
    results = await asyncio.gather(
        *(post(client, "/api/auth/refresh", {"refresh_token": admin.refresh_token}) for _ in range(4))
    )
    statuses = sorted(response.status_code for response, _ in results)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 401}, statuses


@pytest.mark.parametrize(
    "token",
    ["garbage", "rt_" + "A" * 43, "x" * 512],
)
async def test_refresh_with_garbage(client, token):
    response, data = await post(client, "/api/auth/refresh", {"refresh_token": token})
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


async def test_refresh_token_is_not_an_access_token_and_vice_versa(client, admin):
    response, data = await post(client, "/api/auth/refresh", {"refresh_token": admin.access_token})
    # an access token is longer than any refresh token, so it may already fail validation
    assert response.status_code in (400, 401), data
    assert data["error"]["code"] in ("VALIDATION_ERROR", "AUTHENTICATION_FAILED"), data
    response, data = await me(client, admin.refresh_token)
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


async def test_expired_refresh_token(client, hub, admin):
    from core.tenancy.models import RefreshToken
    from core.tenancy.security import hash_token

    updated = await RefreshToken.filter(token_hash=hash_token(hub.signing_key, admin.refresh_token)).update(
        expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)
    )
    assert updated == 1
    response, data = await post(client, "/api/auth/refresh", {"refresh_token": admin.refresh_token})
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("path", REFRESH_PATHS)
@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "refresh_token"), ({"refresh_token": ""}, "refresh_token"), ({"refresh_token": 5}, "refresh_token"),
     ({"refresh_token": "x", "extra": 1}, "extra")],
)
async def test_refresh_validation(client, path, body, field):
    response, data = await post(client, path, body)
    assert_validation_error(response, data, field)


# -- logout ------------------------------------------------------------------------------------


async def test_logout_revokes_the_access_token(client, admin):
    response = await client.post("/api/auth/logout", headers=admin.headers)
    assert response.status_code == 204
    response, data = await me(client, admin.access_token)
    assert_error(response.status_code, data, 401, "TOKEN_REVOKED")
    response = await client.post("/api/auth/logout", headers=admin.headers)
    assert_error(response.status_code, await response.get_json(), 401, "TOKEN_REVOKED")


async def test_logout_leaves_other_sessions_alone(client, admin):
    other_session = await login(client, admin.email)
    response = await client.post("/api/auth/logout", headers=admin.headers)
    assert response.status_code == 204
    response, _ = await me(client, other_session.access_token)
    assert response.status_code == 200


async def test_logout_with_refresh_token_revokes_it(client, admin):
    response = await client.post(
        "/api/auth/logout", headers=admin.headers, json={"refresh_token": admin.refresh_token}
    )
    assert response.status_code == 204
    for path in REFRESH_PATHS:
        response, data = await post(client, path, {"refresh_token": admin.refresh_token})
        assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


async def test_logout_with_refresh_token_in_a_body_without_content_length(client, admin):
    """Chunked uploads carry no Content-Length; the refresh token must be revoked all the same."""
    response = await client.post(
        "/api/auth/logout",
        data=json.dumps({"refresh_token": admin.refresh_token}).encode(),
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 204
    response, data = await post(client, "/api/auth/refresh", {"refresh_token": admin.refresh_token})
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


async def test_logout_without_refresh_token_ends_it_too(client, admin):
    # (the hardening issue, item 6: it used to keep working for 7 days)
    response = await client.post("/api/auth/logout", headers=admin.headers, json={})
    assert response.status_code == 204
    response, data = await post(client, "/api/auth/refresh", {"refresh_token": admin.refresh_token})
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


async def test_logout_cannot_revoke_someone_elses_refresh_token(client, admin, other_admin):
    response = await client.post(
        "/api/auth/logout", headers=admin.headers, json={"refresh_token": other_admin.refresh_token}
    )
    assert response.status_code == 204
    response, data = await post(client, "/api/auth/refresh", {"refresh_token": other_admin.refresh_token})
    assert response.status_code == 200, data


async def test_logout_without_auth(client, admin):
    response = await client.post("/api/auth/logout")
    assert_error(response.status_code, await response.get_json(), 401, "AUTHENTICATION_FAILED")
    response = await client.post("/api/auth/logout", json={"refresh_token": admin.refresh_token})
    assert_error(response.status_code, await response.get_json(), 401, "AUTHENTICATION_FAILED")
    # nothing was revoked
    response, data = await post(client, "/api/auth/refresh", {"refresh_token": admin.refresh_token})
    assert response.status_code == 200, data


async def test_logout_with_an_expired_token(client, hub, admin):
    expired = int(time.time()) - 10
    token = jwt.encode(claims_for(admin, iat=expired - 1800, exp=expired), hub.signing_key, algorithm="HS256")
    response = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert_error(response.status_code, await response.get_json(), 401, "TOKEN_EXPIRED")


async def test_logout_with_an_api_key_is_refused(client, admin):
    key = await create_key(client, admin)
    response = await client.post("/api/auth/logout", headers={"X-API-Key": key["key"]})
    assert_error(response.status_code, await response.get_json(), 403, "FORBIDDEN")


async def test_logout_with_bad_body(client, admin):
    response = await client.post("/api/auth/logout", headers=admin.headers, json={"refresh_token": 5})
    assert_error(response.status_code, await response.get_json(), 400, "VALIDATION_ERROR")
    response = await client.post("/api/auth/logout", headers=admin.headers, json={"refresh": admin.refresh_token})
    assert_error(response.status_code, await response.get_json(), 400, "VALIDATION_ERROR")
    response = await client.post(
        "/api/auth/logout", data=b'{"refresh_token": ', headers={**admin.headers, "Content-Type": "application/json"}
    )
    assert_error(response.status_code, await response.get_json(), 400, "VALIDATION_ERROR")
    response = await client.post(
        "/api/auth/logout", data=b"refresh_token=x", headers={**admin.headers, "Content-Type": "text/plain"}
    )
    assert_error(response.status_code, await response.get_json(), 415, "UNSUPPORTED_MEDIA_TYPE")
    response, _ = await me(client, admin.access_token)
    assert response.status_code == 200  # a rejected logout revoked nothing


# -- slowed logins -----------------------------------------------------------------------------


async def fail_login(client, email: str, times: int, path: str = "/api/auth/login") -> None:
    for _ in range(times):
        response, data = await post(client, path, {"email": email, "password": "wrong password"})
        assert_error(response.status_code, data, 401, "INVALID_CREDENTIALS")


async def test_repeated_failures_are_slowed(client, settings, admin):
    assert settings.auth.login_max_failures == 5
    await fail_login(client, admin.email, 5)

    # even the right password is refused now, with the same answer for a wrong one
    for password in (PASSWORD, "wrong password"):
        response, data = await post(client, "/api/auth/login", {"email": admin.email, "password": password})
        assert_error(response.status_code, data, 429, "RATE_LIMIT_EXCEEDED")
        assert response.headers["Retry-After"] == "1"
        assert data["error"]["details"]["retry_after"] == 1
    # on the other path and with another spelling of the email too
    response, data = await post(client, "/api/v1/auth/login", {"email": admin.email.upper(), "password": PASSWORD})
    assert_error(response.status_code, data, 429, "RATE_LIMIT_EXCEEDED")

    # another account is unaffected
    other = await register_and_login(client)
    assert other.access_token
    # tokens already issued keep working
    response, _ = await me(client, admin.access_token)
    assert response.status_code == 200

    # once the wait is over, the next failure doubles it
    await asyncio.sleep(1.05)
    await fail_login(client, admin.email, 1)
    response, data = await post(client, "/api/auth/login", {"email": admin.email, "password": PASSWORD})
    assert_error(response.status_code, data, 429, "RATE_LIMIT_EXCEEDED")
    assert response.headers["Retry-After"] == "2"


async def test_failures_for_unknown_emails_are_slowed_too(client):
    email = unique_email("ghost")
    await fail_login(client, email, 5, "/api/v1/auth/login")
    response, data = await post(client, "/api/auth/login", {"email": email, "password": PASSWORD})
    assert_error(response.status_code, data, 429, "RATE_LIMIT_EXCEEDED")
    assert int(response.headers["Retry-After"]) >= 1


async def test_successful_login_resets_the_counter(client, admin):
    await fail_login(client, admin.email, 4)
    await login(client, admin.email)
    await fail_login(client, admin.email, 4)  # 8 failures in all, but only 4 since the success
    await login(client, admin.email)
    await fail_login(client, admin.email, 4)
    response, data = await post(client, "/api/auth/login", {"email": admin.email, "password": "wrong password"})
    assert_error(response.status_code, data, 401, "INVALID_CREDENTIALS")  # the 5th: still a plain 401
    response, data = await post(client, "/api/auth/login", {"email": admin.email, "password": PASSWORD})
    assert_error(response.status_code, data, 429, "RATE_LIMIT_EXCEEDED")


async def test_login_after_the_wait_succeeds_and_resets(client, admin):
    await fail_login(client, admin.email, 5)
    response, _ = await post(client, "/api/auth/login", {"email": admin.email, "password": PASSWORD})
    assert response.status_code == 429
    await asyncio.sleep(1.05)
    await login(client, admin.email)
    await fail_login(client, admin.email, 4)
    await login(client, admin.email)


# -- invitations -------------------------------------------------------------------------------


async def test_invite_without_password_field(client, admin):
    """The contract: a member added without a password is invited."""
    invited = await invite(client, admin, omit_password=True)
    assert invited["status"] == "invited"
    assert invited["invite_token"]


async def test_invitation_flow(client, hub, admin):
    invited = await invite(client, admin, role="developer")
    assert invited["status"] == "invited"
    token = invited["invite_token"]
    assert isinstance(token, str) and len(token) >= 32

    # not shown again
    response = await client.get("/api/v1/tenant/members", headers=admin.headers)
    listed = [m for m in (await response.get_json())["members"] if m["id"] == invited["id"]]
    assert listed and listed[0]["status"] == "invited" and not listed[0].get("invite_token")

    # an invited user has no password yet: no password logs them in
    for password in (PASSWORD, "x"):
        response, data = await post(client, "/api/auth/login", {"email": invited["email"], "password": password})
        assert_error(response.status_code, data, 401, "INVALID_CREDENTIALS")

    new_password = "brand new password"
    response, data = await post(client, "/api/auth/invitations/accept", {"token": token, "password": new_password})
    assert response.status_code == 200, data
    assert data["token"] == data["access_token"]
    assert data["token_type"] == "bearer" and data["expires_in"] == 1800 and data["refresh_token"]
    assert data["user"]["id"] == invited["id"]
    assert data["user"]["email"] == invited["email"]
    assert data["user"]["tenant_id"] == admin.org_id
    assert data["user"]["role"] == "developer"
    assert data["user"]["name"] == "In Vitee"
    payload = jwt.decode(data["access_token"], hub.signing_key, algorithms=["HS256"])
    assert set(payload) == JWT_KEYS and payload["sub"] == invited["id"]
    response, profile = await me(client, data["access_token"])
    assert response.status_code == 200 and profile["id"] == invited["id"]

    # the token is spent
    response, again = await post(client, "/api/auth/invitations/accept", {"token": token, "password": "another password"})
    assert_error(response.status_code, again, 401, "AUTHENTICATION_FAILED")

    # the chosen password works (and the second attempt did not overwrite it)
    account = await login(client, invited["email"], new_password)
    assert account.user_id == invited["id"]
    response, data = await post(client, "/api/auth/login", {"email": invited["email"], "password": "another password"})
    assert_error(response.status_code, data, 401, "INVALID_CREDENTIALS")

    response = await client.get("/api/v1/tenant/members", headers=admin.headers)
    listed = [m for m in (await response.get_json())["members"] if m["id"] == invited["id"]]
    assert listed[0]["status"] == "active"

    from core.tenancy.models import User

    user = await User.get(id=invited["id"])
    assert user.password_hash.startswith("$argon2")


async def test_invitation_token_used_concurrently_works_once(client, admin):
    invited = await invite(client, admin)
    results = await asyncio.gather(*(
        post(client, "/api/auth/invitations/accept", {"token": invited["invite_token"], "password": f"password-{i}"})
        for i in range(3)
    ))
    statuses = [response.status_code for response, _ in results]
    assert sorted(statuses) == [200, 401, 401], statuses
    winner = statuses.index(200)
    await login(client, invited["email"], f"password-{winner}")


async def test_invitation_accept_errors(client, admin):
    invited = await invite(client, admin)
    response, data = await post(client, "/api/auth/invitations/accept", {"token": "inv_bogus", "password": PASSWORD})
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")
    response, data = await post(client, "/api/auth/invitations/accept", {"token": invited["invite_token"], "password": "short"})
    assert_validation_error(response, data, "password")
    response, data = await post(client, "/api/auth/invitations/accept", {"password": PASSWORD})
    assert_validation_error(response, data, "token")
    # the failed attempts did not spend the token
    response, data = await post(
        client, "/api/auth/invitations/accept", {"token": invited["invite_token"], "password": PASSWORD}
    )
    assert response.status_code == 200, data


async def test_invitation_of_a_removed_member_cannot_be_accepted(client, admin):
    invited = await invite(client, admin)
    response = await client.delete(f"/api/v1/tenant/members/{invited['id']}", headers=admin.headers)
    assert response.status_code == 204
    response, data = await post(
        client, "/api/auth/invitations/accept", {"token": invited["invite_token"], "password": PASSWORD}
    )
    assert_error(response.status_code, data, 401, "AUTHENTICATION_FAILED")


async def test_member_added_with_password_is_active(client, admin):
    email = unique_email("direct")
    response, data = await post(
        client, "/api/v1/tenant/members",
        {"email": email, "first_name": "Di", "last_name": "Rect", "role": "viewer", "password": PASSWORD},
        admin.headers,
    )
    assert response.status_code == 201, data
    assert data["status"] == "active" and data.get("invite_token") is None
    account = await login(client, email)
    assert account.role == "viewer" and account.org_id == admin.org_id


# -- /api/auth/me ------------------------------------------------------------------------------


async def test_me_returns_the_current_user(client, admin):
    response, data = await me(client, admin.access_token)
    assert response.status_code == 200, data
    assert data["id"] == admin.user_id
    assert data["email"] == admin.email
    assert data["tenant_id"] == data["organization_id"] == admin.org_id
    assert data["role"] == "admin"
    assert data["name"] == "Ada Admin"
    assert data["is_active"] is True


async def test_me_for_a_member_and_other_org(client, admin, other_admin):
    viewer = await add_member(client, admin, "viewer")
    response, data = await me(client, viewer.access_token)
    assert response.status_code == 200, data
    assert data["id"] == viewer.user_id and data["role"] == "viewer" and data["tenant_id"] == admin.org_id
    assert "members.manage" not in data["permissions"]
    response, data = await me(client, other_admin.access_token)
    assert data["id"] == other_admin.user_id and data["tenant_id"] == other_admin.org_id


async def test_me_with_an_api_key(client, admin):
    key = await create_key(client, admin)
    response = await client.get("/api/auth/me", headers={"X-API-Key": key["key"]})
    data = await response.get_json()
    assert response.status_code == 200, data
    assert data["id"] == admin.user_id

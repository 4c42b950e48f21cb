"""API keys: seed 002 `/api/v1/keys` (create/list/get/update/delete/usage) and seed 003
`/api/v1/api-keys`, plus how keys authenticate, are scoped, stored and counted."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from tests.helpers import add_member, assert_error, create_key, unique_email

PREFIX = "hub_"
SEED_002_CREATED = {
    "id", "organization_id", "user_id", "name", "key", "key_prefix", "scopes", "is_active",
    "expires_at", "usage_count", "created_at",
}
SEED_002_LISTED = {"id", "key_prefix", "name", "scopes", "usage_count", "last_used_at"}
SEED_003_LISTED = {"id", "name", "key_prefix", "created_at", "last_used_at", "status"}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def key_headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def call(client, method: str, path: str, headers: dict, **kwargs):
    response = await getattr(client, method)(path, headers=headers, **kwargs)
    body = await response.get_json() if response.status_code != 204 else None
    return response, body


# -- create ------------------------------------------------------------------------------------


async def test_create_returns_full_key_once_with_seed_002_fields(client, admin):
    response, body = await call(
        client, "post", "/api/v1/keys", admin.headers,
        json={"name": "My API Key", "scopes": ["read", "write"], "expires_days": 365},
    )
    assert response.status_code == 201, body
    assert SEED_002_CREATED <= set(body), body
    assert body["name"] == "My API Key"
    assert body["organization_id"] == admin.org_id
    assert body["user_id"] == admin.user_id
    assert sorted(body["scopes"]) == ["read", "write"]
    assert body["is_active"] is True
    assert body["status"] == "active"
    assert body["usage_count"] == 0
    assert body["last_used_at"] is None
    uuid.UUID(body["id"])

    key = body["key"]
    assert key.startswith(PREFIX)
    assert len(key) > len(PREFIX) + 20  # a real secret, not just the prefix
    masked = body["key_prefix"]
    assert masked.startswith(PREFIX)
    assert key not in masked
    assert key[len(PREFIX):] not in masked
    assert len(masked) < len(key)
    assert "..." in masked

    created = parse_time(body["created_at"])
    expires = parse_time(body["expires_at"])
    assert timedelta(days=364) < expires - created < timedelta(days=366)

    # Never shown again: not by get, not by list.
    response, got = await call(client, "get", f"/api/v1/keys/{body['id']}", admin.headers)
    assert response.status_code == 200, got
    assert "key" not in got
    assert got["key_prefix"] == masked
    assert key not in str(got)
    response, listed = await call(client, "get", "/api/v1/keys", admin.headers)
    assert response.status_code == 200
    assert key not in str(listed)


async def test_each_key_is_different(client, admin):
    first = await create_key(client, admin)
    second = await create_key(client, admin)
    assert first["key"] != second["key"]
    assert first["id"] != second["id"]


async def test_create_without_expiry_and_default_scopes(client, admin):
    response, body = await call(client, "post", "/api/v1/keys", admin.headers, json={"name": "defaults"})
    assert response.status_code == 201, body
    assert body["expires_at"] is None
    assert body["scopes"] == ["read"]


async def test_create_validation(client, admin):
    for payload, field in [
        ({"scopes": ["read"]}, "name"),
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["read"], "expires_days": 0}, "expires_days"),
        ({"name": "x", "scopes": ["read"], "unknown": 1}, "unknown"),
    ]:
        response, body = await call(client, "post", "/api/v1/keys", admin.headers, json=payload)
        assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"].startswith(field), (payload, body)


async def test_unknown_scope_names_its_index(client, admin):
    response, body = await call(
        client, "post", "/api/v1/keys", admin.headers, json={"name": "x", "scopes": ["read", "write", "bogus"]}
    )
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == "scopes.2"
    assert "bogus" in body["error"]["details"]["reason"]

    # Nothing was created.
    response, listed = await call(client, "get", "/api/v1/keys", admin.headers)
    assert listed == []
    assert response.headers["X-Total-Count"] == "0"


async def test_create_requires_authentication(client):
    response, body = await call(client, "post", "/api/v1/keys", {}, json={"name": "x", "scopes": ["read"]})
    assert_error(response.status_code, body, 401, "AUTHENTICATION_FAILED")


async def test_viewer_cannot_create_keys(client, admin):
    viewer = await add_member(client, admin, "viewer")
    response, body = await call(client, "post", "/api/v1/keys", viewer.headers, json={"name": "x", "scopes": ["read"]})
    assert_error(response.status_code, body, 403, "FORBIDDEN")


# -- authentication with a key -----------------------------------------------------------------


async def test_key_accepted_as_bearer_and_x_api_key(client, admin):
    key = (await create_key(client, admin))["key"]
    for headers in (bearer(key), key_headers(key)):
        response, body = await call(client, "get", "/api/v1/tenant", headers)
        assert response.status_code == 200, body
        assert body["tenant_id"] == admin.org_id


async def test_wrong_key_is_401(client, admin):
    key = (await create_key(client, admin))["key"]
    for wrong in (key[:-1] + ("A" if key[-1] != "A" else "B"), PREFIX + "nope", key + "x"):
        for headers in (bearer(wrong), key_headers(wrong)):
            response, body = await call(client, "get", "/api/v1/tenant", headers)
            assert_error(response.status_code, body, 401, "AUTHENTICATION_FAILED")


async def test_database_stores_only_a_hash(client, admin):
    from core.tenancy.models import ApiKey

    created = await create_key(client, admin)
    key = created["key"]
    secret = key[len(PREFIX):]
    row = await ApiKey.get(id=created["id"])
    assert row.key_hash != key
    assert row.key_hash != secret
    for name in row._meta.fields_map:
        value = str(getattr(row, name))
        assert key not in value, name
        assert secret not in value, name
        assert secret[:-3] not in value, name  # not even most of it


async def test_expired_key_is_401(client, admin, hub):
    from core.tenancy.models import ApiKey
    from core.tenancy.security import now

    created = await create_key(client, admin, expires_days=30)
    response, _ = await call(client, "get", "/api/v1/tenant", key_headers(created["key"]))
    assert response.status_code == 200

    # Thirty days pass (the row is moved instead; the cache hears of it as of any change to a key).
    await ApiKey.filter(id=created["id"]).update(expires_at=now() - timedelta(minutes=1))
    await hub.invalidations.publish("key", created["id"])
    for headers in (key_headers(created["key"]), bearer(created["key"])):
        response, body = await call(client, "get", "/api/v1/tenant", headers)
        assert_error(response.status_code, body, 401, "AUTHENTICATION_FAILED")

    response, got = await call(client, "get", f"/api/v1/keys/{created['id']}", admin.headers)
    assert got["status"] == "expired"


async def test_update_expires_days_extends_expiry(client, admin):
    from core.tenancy.models import ApiKey
    from core.tenancy.security import now

    created = await create_key(client, admin)
    await ApiKey.filter(id=created["id"]).update(expires_at=now() - timedelta(minutes=1))
    response, _ = await call(client, "get", "/api/v1/tenant", key_headers(created["key"]))
    assert response.status_code == 401

    response, body = await call(client, "put", f"/api/v1/keys/{created['id']}", admin.headers, json={"expires_days": 10})
    assert response.status_code == 200, body
    assert body["status"] == "active"
    assert parse_time(body["expires_at"]) > datetime.now(timezone.utc) + timedelta(days=9)
    response, _ = await call(client, "get", "/api/v1/tenant", key_headers(created["key"]))
    assert response.status_code == 200


# -- list --------------------------------------------------------------------------------------


async def test_list_is_masked_paginated_and_counted(client, admin):
    created = [await create_key(client, admin, name=f"key {i}") for i in range(3)]

    response, body = await call(client, "get", "/api/v1/keys", admin.headers)
    assert response.status_code == 200, body
    assert isinstance(body, list)
    assert response.headers["X-Total-Count"] == "3"
    assert {item["id"] for item in body} == {c["id"] for c in created}
    for item in body:
        assert SEED_002_LISTED <= set(item), item
        assert "key" not in item
        assert "key_hash" not in item
        assert item["key_prefix"].startswith(PREFIX)
    for c in created:
        assert c["key"] not in str(body)

    pages = []
    for skip in range(4):
        response, page = await call(client, "get", f"/api/v1/keys?skip={skip}&limit=1", admin.headers)
        assert response.status_code == 200, page
        assert response.headers["X-Total-Count"] == "3"
        pages.append(page)
    assert [len(p) for p in pages] == [1, 1, 1, 0]
    assert {p[0]["id"] for p in pages[:3]} == {c["id"] for c in created}  # no duplicates, none missed

    response, page = await call(client, "get", "/api/v1/keys?skip=1&limit=5", admin.headers)
    assert len(page) == 2
    assert [item["id"] for item in page] == [item["id"] for item in body[1:]]


async def test_list_limit_is_capped_at_100(client, admin):
    from core.tenancy.models import ApiKey

    await ApiKey.bulk_create([
        ApiKey(org_id=admin.org_id, user_id=admin.user_id, name=f"bulk {i}", key_hash=uuid.uuid4().hex,
               key_prefix="hub_xxxx...yyy", scopes=["read"])
        for i in range(105)
    ])
    response, body = await call(client, "get", "/api/v1/keys?limit=1000", admin.headers)
    assert response.status_code == 200, body
    assert len(body) == 100
    assert response.headers["X-Total-Count"] == "105"
    # seed 002's default limit is 100
    response, body = await call(client, "get", "/api/v1/keys", admin.headers)
    assert len(body) == 100
    response, body = await call(client, "get", "/api/v1/keys?skip=100&limit=100", admin.headers)
    assert len(body) == 5


async def test_list_rejects_bad_pagination(client, admin):
    for query, field in [("skip=-1", "skip"), ("limit=0", "limit"), ("limit=-5", "limit"), ("skip=abc", "skip"),
                         ("limit=1.5", "limit")]:
        response, body = await call(client, "get", f"/api/v1/keys?{query}", admin.headers)
        assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"] == field, (query, body)


async def test_member_sees_own_keys_admin_sees_all(client, admin):
    developer = await add_member(client, admin, "developer")
    other_developer = await add_member(client, admin, "developer")
    admin_key = await create_key(client, admin)
    dev_key = await create_key(client, developer)
    other_key = await create_key(client, other_developer)

    response, body = await call(client, "get", "/api/v1/keys", developer.headers)
    assert [k["id"] for k in body] == [dev_key["id"]]
    assert response.headers["X-Total-Count"] == "1"
    response, body = await call(client, "get", "/api/v1/api-keys", developer.headers)
    assert [k["id"] for k in body["keys"]] == [dev_key["id"]]

    response, body = await call(client, "get", "/api/v1/keys", admin.headers)
    assert {k["id"] for k in body} == {admin_key["id"], dev_key["id"], other_key["id"]}
    assert response.headers["X-Total-Count"] == "3"

    # The developer cannot reach anyone else's key: it looks like an unknown id.
    for key_id in (admin_key["id"], other_key["id"]):
        for method, path, kwargs in [
            ("get", f"/api/v1/keys/{key_id}", {}),
            ("put", f"/api/v1/keys/{key_id}", {"json": {"name": "hijacked"}}),
            ("delete", f"/api/v1/keys/{key_id}", {}),
            ("get", f"/api/v1/keys/{key_id}/usage", {}),
        ]:
            response, body = await call(client, method, path, developer.headers, **kwargs)
            assert_error(response.status_code, body, 404, "NOT_FOUND")
    response, _ = await call(client, "get", "/api/v1/tenant", key_headers(admin_key["key"]))
    assert response.status_code == 200  # not revoked by the attempt

    # The admin manages the developer's key.
    response, body = await call(client, "put", f"/api/v1/keys/{dev_key['id']}", admin.headers, json={"name": "renamed"})
    assert response.status_code == 200, body
    assert body["name"] == "renamed"
    assert body["user_id"] == developer.user_id
    response, _ = await call(client, "delete", f"/api/v1/keys/{dev_key['id']}", admin.headers)
    assert response.status_code == 204
    response, _ = await call(client, "get", "/api/v1/tenant", key_headers(dev_key["key"]))
    assert response.status_code == 401


# -- get / update / delete ---------------------------------------------------------------------


async def test_get_key(client, admin):
    created = await create_key(client, admin, ["read", "write"])
    response, body = await call(client, "get", f"/api/v1/keys/{created['id']}", admin.headers)
    assert response.status_code == 200, body
    expected = {k: v for k, v in created.items() if k != "key"}
    assert body == expected


async def test_malformed_and_unknown_ids_are_404(client, admin):
    for key_id in ("not-a-uuid", "123", str(uuid.uuid4())):
        for method, path, kwargs in [
            ("get", f"/api/v1/keys/{key_id}", {}),
            ("put", f"/api/v1/keys/{key_id}", {"json": {"name": "x"}}),
            ("delete", f"/api/v1/keys/{key_id}", {}),
            ("get", f"/api/v1/keys/{key_id}/usage", {}),
        ]:
            response, body = await call(client, method, path, admin.headers, **kwargs)
            assert_error(response.status_code, body, 404, "NOT_FOUND")


async def test_other_organizations_key_is_404(client, admin, other_admin):
    foreign = await create_key(client, other_admin)
    for method, path, kwargs in [
        ("get", f"/api/v1/keys/{foreign['id']}", {}),
        ("put", f"/api/v1/keys/{foreign['id']}", {"json": {"name": "hijacked", "is_active": False}}),
        ("delete", f"/api/v1/keys/{foreign['id']}", {}),
        ("get", f"/api/v1/keys/{foreign['id']}/usage", {}),
    ]:
        response, body = await call(client, method, path, admin.headers, **kwargs)
        assert_error(response.status_code, body, 404, "NOT_FOUND")

    # Untouched.
    response, body = await call(client, "get", f"/api/v1/keys/{foreign['id']}", other_admin.headers)
    assert body["name"] == "test key"
    assert body["status"] == "active"
    response, body = await call(client, "get", "/api/v1/tenant", key_headers(foreign["key"]))
    assert response.status_code == 200
    assert body["tenant_id"] == other_admin.org_id


async def test_update_name_and_scopes(client, admin):
    created = await create_key(client, admin, ["read"])
    response, body = await call(client, "put", "/api/v1/tenant", key_headers(created["key"]), json={"name": "X"})
    assert_error(response.status_code, body, 403, "FORBIDDEN")

    response, body = await call(
        client, "put", f"/api/v1/keys/{created['id']}", admin.headers, json={"name": "Updated Name", "scopes": ["admin"]}
    )
    assert response.status_code == 200, body
    assert body["name"] == "Updated Name"
    assert body["scopes"] == ["admin"]
    assert body["key_prefix"] == created["key_prefix"]
    assert "key" not in body

    # The new scopes apply to the same key at once.
    response, body = await call(client, "put", "/api/v1/tenant", key_headers(created["key"]), json={"name": "Renamed"})
    assert response.status_code == 200, body
    assert body["name"] == "Renamed"

    response, got = await call(client, "get", f"/api/v1/keys/{created['id']}", admin.headers)
    assert got["name"] == "Updated Name"
    assert got["scopes"] == ["admin"]


async def test_update_validation(client, admin):
    created = await create_key(client, admin)
    for payload, field in [
        ({"scopes": ["read", "nope"]}, "scopes.1"),
        ({"scopes": []}, "scopes"),
        ({"name": ""}, "name"),
        ({"key": "hub_mine"}, "key"),
        ({"is_active": "maybe"}, "is_active"),
    ]:
        response, body = await call(client, "put", f"/api/v1/keys/{created['id']}", admin.headers, json=payload)
        assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"] == field, (payload, body)
    response, got = await call(client, "get", f"/api/v1/keys/{created['id']}", admin.headers)
    assert got["scopes"] == ["read"]
    assert got["name"] == "test key"


async def test_deactivate_and_reactivate(client, admin):
    created = await create_key(client, admin)
    path = f"/api/v1/keys/{created['id']}"
    response, body = await call(client, "put", path, admin.headers, json={"is_active": False})
    assert response.status_code == 200, body
    assert body["is_active"] is False
    assert body["status"] == "inactive"
    for headers in (key_headers(created["key"]), bearer(created["key"])):
        response, body = await call(client, "get", "/api/v1/tenant", headers)
        assert_error(response.status_code, body, 401, "AUTHENTICATION_FAILED")

    response, body = await call(client, "put", path, admin.headers, json={"is_active": True})
    assert response.status_code == 200, body
    assert body["status"] == "active"
    response, _ = await call(client, "get", "/api/v1/tenant", key_headers(created["key"]))
    assert response.status_code == 200


async def test_delete_revokes(client, admin):
    created = await create_key(client, admin)
    path = f"/api/v1/keys/{created['id']}"
    response = await client.delete(path, headers=admin.headers)
    assert response.status_code == 204
    assert await response.get_data() == b""

    for headers in (key_headers(created["key"]), bearer(created["key"])):
        response, body = await call(client, "get", "/api/v1/tenant", headers)
        assert_error(response.status_code, body, 401, "AUTHENTICATION_FAILED")

    response, body = await call(client, "get", path, admin.headers)
    assert response.status_code == 200, body
    assert body["status"] == "revoked"
    assert body["is_active"] is False

    # A revoked key stays revoked.
    response, body = await call(client, "put", path, admin.headers, json={"is_active": True})
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == "is_active"
    response, body = await call(client, "put", path, admin.headers, json={"expires_days": 30, "scopes": ["admin"]})
    assert response.status_code in (200, 400), body
    response, _ = await call(client, "get", "/api/v1/tenant", key_headers(created["key"]))
    assert response.status_code == 401
    response, body = await call(client, "get", path, admin.headers)
    assert body["status"] == "revoked"

    # Deleting again is harmless.
    response = await client.delete(path, headers=admin.headers)
    assert response.status_code == 204
    response, _ = await call(client, "get", "/api/v1/tenant", key_headers(created["key"]))
    assert response.status_code == 401

    response, body = await call(client, "get", "/api/v1/api-keys", admin.headers)
    assert [k["status"] for k in body["keys"] if k["id"] == created["id"]] == ["revoked"]


# -- scopes and roles --------------------------------------------------------------------------


async def test_read_scope_cannot_write_even_for_admin_owner(client, admin):
    key = (await create_key(client, admin, ["read"]))["key"]
    response, body = await call(client, "get", "/api/v1/tenant", key_headers(key))
    assert response.status_code == 200, body
    response, body = await call(client, "put", "/api/v1/tenant", key_headers(key), json={"name": "Pwned"})
    assert_error(response.status_code, body, 403, "FORBIDDEN")
    response, body = await call(client, "get", "/api/v1/tenant", admin.headers)
    assert body["name"] == "Acme"


async def test_key_scope_is_intersected_with_owner_role(client, admin):
    developer = await add_member(client, admin, "developer")
    key = await create_key(client, developer, ["admin"])
    response, body = await call(client, "put", "/api/v1/tenant", key_headers(key["key"]), json={"name": "Pwned"})
    assert_error(response.status_code, body, 403, "FORBIDDEN")
    response, body = await call(client, "get", "/api/v1/tenant", key_headers(key["key"]))
    assert response.status_code == 200

    # Once the owner is a viewer, the "admin" key of theirs is a viewer's key.
    response, body = await call(
        client, "put", f"/api/v1/tenant/members/{developer.user_id}", admin.headers, json={"role": "viewer"}
    )
    assert response.status_code == 200, body
    response, body = await call(client, "put", "/api/v1/tenant", key_headers(key["key"]), json={"name": "Pwned"})
    assert_error(response.status_code, body, 403, "FORBIDDEN")
    response, body = await call(
        client, "put", f"/api/v1/tenant/members/{admin.user_id}", key_headers(key["key"]), json={"role": "viewer"}
    )
    assert_error(response.status_code, body, 403, "FORBIDDEN")
    response, body = await call(client, "get", "/api/v1/tenant/members", key_headers(key["key"]))
    assert response.status_code == 200  # reading is still within both
    response, body = await call(client, "get", "/api/v1/tenant", admin.headers)
    assert body["name"] == "Acme"


async def test_permission_and_wildcard_scopes(client, admin):
    exact = (await create_key(client, admin, ["tenant.read"]))["key"]
    response, _ = await call(client, "get", "/api/v1/tenant", key_headers(exact))
    assert response.status_code == 200
    response, body = await call(client, "get", "/api/v1/tenant/members", key_headers(exact))
    assert_error(response.status_code, body, 403, "FORBIDDEN")  # members.read was not granted
    response, body = await call(client, "put", "/api/v1/tenant", key_headers(exact), json={"name": "x"})
    assert_error(response.status_code, body, 403, "FORBIDDEN")

    wildcard = await create_key(client, admin, ["tenant.*"])
    assert wildcard["scopes"] == ["tenant.*"]
    response, body = await call(client, "put", "/api/v1/tenant", key_headers(wildcard["key"]), json={"name": "Wild"})
    assert response.status_code == 200, body
    response, body = await call(client, "get", "/api/v1/tenant/members", key_headers(wildcard["key"]))
    assert_error(response.status_code, body, 403, "FORBIDDEN")

    for scopes, field in [(["nope.*"], "scopes.0"), (["read", "*"], "scopes.1"), (["tenant.rea"], "scopes.0"),
                          (["READ"], "scopes.0")]:
        response, body = await call(client, "post", "/api/v1/keys", admin.headers, json={"name": "x", "scopes": scopes})
        assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"] == field, (scopes, body)


async def test_admin_scope_key_of_admin_can_manage_tenant(client, admin):
    key = (await create_key(client, admin, ["admin"]))["key"]
    response, body = await call(client, "put", "/api/v1/tenant", key_headers(key), json={"settings": {"a": 1}})
    assert response.status_code == 200, body
    assert body["settings"] == {"a": 1}


async def test_api_keys_cannot_manage_keys_or_members(client, admin):
    created = await create_key(client, admin, ["admin"])
    headers = key_headers(created["key"])
    for method, path, kwargs in [
        ("post", "/api/v1/keys", {"json": {"name": "minted", "scopes": ["admin"]}}),
        ("get", "/api/v1/keys", {}),
        ("get", f"/api/v1/keys/{created['id']}", {}),
        ("put", f"/api/v1/keys/{created['id']}", {"json": {"name": "x"}}),
        ("delete", f"/api/v1/keys/{created['id']}", {}),
        ("get", f"/api/v1/keys/{created['id']}/usage", {}),
        ("post", "/api/v1/api-keys", {"json": {"name": "minted", "permissions": ["admin"]}}),
        ("get", "/api/v1/api-keys", {}),
        ("post", "/api/v1/tenant/members", {"json": {"email": unique_email(), "first_name": "A", "last_name": "B",
                                                     "role": "admin", "password": "long enough password"}}),
    ]:
        response, body = await call(client, method, path, headers, **kwargs)
        assert_error(response.status_code, body, 403, "FORBIDDEN")
    response, body = await call(client, "get", "/api/v1/keys", admin.headers)
    assert [k["id"] for k in body] == [created["id"]]  # nothing minted, nothing revoked
    assert body[0]["name"] == "test key"
    # the same with the key as a bearer token
    response, body = await call(client, "post", "/api/v1/keys", bearer(created["key"]), json={"name": "m"})
    assert_error(response.status_code, body, 403, "FORBIDDEN")


async def test_removed_owner_key_stops_working(client, admin):
    developer = await add_member(client, admin, "developer")
    key = (await create_key(client, developer))["key"]
    response, _ = await call(client, "get", "/api/v1/tenant", key_headers(key))
    assert response.status_code == 200
    response = await client.delete(f"/api/v1/tenant/members/{developer.user_id}", headers=admin.headers)
    assert response.status_code == 204
    response, body = await call(client, "get", "/api/v1/tenant", key_headers(key))
    assert_error(response.status_code, body, 401, "AUTHENTICATION_FAILED")
    # ...and the listing says so, rather than calling the dead key "active".
    response, body = await call(client, "get", "/api/v1/keys", admin.headers)
    assert [k["status"] for k in body if k["user_id"] == developer.user_id] == ["revoked"]
    response, body = await call(client, "get", "/api/v1/api-keys", admin.headers)
    assert [k["status"] for k in body["keys"]] == ["revoked"]


# -- usage -------------------------------------------------------------------------------------


async def test_usage_counts_requests(client, admin):
    created = await create_key(client, admin, ["read"])
    headers = key_headers(created["key"])
    for _ in range(3):
        response, _ = await call(client, "get", "/api/v1/tenant", headers)
        assert response.status_code == 200
    response, _ = await call(client, "get", "/api/v1/tenant/members", bearer(created["key"]))
    assert response.status_code == 200
    for _ in range(2):
        response, _ = await call(client, "put", "/api/v1/tenant", headers, json={"name": "x"})
        assert response.status_code == 403
    response, _ = await call(client, "get", f"/api/v1/keys/{created['id']}", headers)
    assert response.status_code == 403

    response, usage = await call(client, "get", f"/api/v1/keys/{created['id']}/usage", admin.headers)
    assert response.status_code == 200, usage
    assert set(usage) == {"total_requests", "success_requests", "failed_requests", "avg_response_time_ms",
                          "requests_by_endpoint"}
    assert usage["total_requests"] == 7
    assert usage["success_requests"] == 4
    assert usage["failed_requests"] == 3
    assert usage["avg_response_time_ms"] > 0
    assert usage["requests_by_endpoint"] == {
        "/api/v1/tenant": 5,
        "/api/v1/tenant/members": 1,
        "/api/v1/keys/<key_id>": 1,  # the route pattern, not the path with the id
    }

    response, body = await call(client, "get", f"/api/v1/keys/{created['id']}", admin.headers)
    assert body["usage_count"] == 7
    assert body["last_used_at"] is not None
    last_used = parse_time(body["last_used_at"])
    assert last_used >= parse_time(created["created_at"]) - timedelta(seconds=1)
    assert last_used <= datetime.now(timezone.utc) + timedelta(seconds=5)

    response, body = await call(client, "get", "/api/v1/api-keys", admin.headers)
    assert [k["last_used_at"] is not None for k in body["keys"] if k["id"] == created["id"]] == [True]

    # Reading usage (with a token) is not itself usage, and counts keep accumulating.
    response, _ = await call(client, "get", "/api/v1/tenant", headers)
    response, usage = await call(client, "get", f"/api/v1/keys/{created['id']}/usage", admin.headers)
    assert usage["total_requests"] == 8
    assert usage["requests_by_endpoint"]["/api/v1/tenant"] == 6
    response, body = await call(client, "get", f"/api/v1/keys/{created['id']}", admin.headers)
    assert body["usage_count"] == 8


async def test_usage_of_unused_key_and_isolation(client, admin):
    used = await create_key(client, admin)
    unused = await create_key(client, admin)
    await call(client, "get", "/api/v1/tenant", key_headers(used["key"]))

    response, usage = await call(client, "get", f"/api/v1/keys/{unused['id']}/usage", admin.headers)
    assert response.status_code == 200, usage
    assert usage == {"total_requests": 0, "success_requests": 0, "failed_requests": 0,
                     "avg_response_time_ms": 0.0, "requests_by_endpoint": {}}
    response, body = await call(client, "get", f"/api/v1/keys/{unused['id']}", admin.headers)
    assert body["usage_count"] == 0
    assert body["last_used_at"] is None

    response, usage = await call(client, "get", f"/api/v1/keys/{used['id']}/usage", admin.headers)
    assert usage["total_requests"] == 1


async def test_rejected_key_is_not_counted(client, admin):
    created = await create_key(client, admin)
    await call(client, "delete", f"/api/v1/keys/{created['id']}", admin.headers)
    response, _ = await call(client, "get", "/api/v1/tenant", key_headers(created["key"]))
    assert response.status_code == 401
    response, usage = await call(client, "get", f"/api/v1/keys/{created['id']}/usage", admin.headers)
    assert usage["total_requests"] == 0


# -- seed 003 /api/v1/api-keys -----------------------------------------------------------------


async def test_seed_003_create_and_list(client, admin):
    response, body = await call(
        client, "post", "/api/v1/api-keys", admin.headers, json={"name": "Staging Key", "permissions": ["read", "write"]}
    )
    assert response.status_code == 201, body
    assert set(body) == {"id", "name", "key", "created_at"}
    assert body["name"] == "Staging Key"
    assert body["key"].startswith(PREFIX)
    uuid.UUID(body["id"])
    parse_time(body["created_at"])

    response, tenant = await call(client, "get", "/api/v1/tenant", bearer(body["key"]))
    assert response.status_code == 200, tenant
    assert tenant["tenant_id"] == admin.org_id

    # The permissions are the key's scopes (visible through seed 002).
    response, got = await call(client, "get", f"/api/v1/keys/{body['id']}", admin.headers)
    assert sorted(got["scopes"]) == ["read", "write"]
    response, denied = await call(client, "put", "/api/v1/tenant", key_headers(body["key"]), json={"name": "x"})
    assert_error(response.status_code, denied, 403, "FORBIDDEN")

    second = await create_key(client, admin)
    await call(client, "delete", f"/api/v1/keys/{second['id']}", admin.headers)

    response, listed = await call(client, "get", "/api/v1/api-keys", admin.headers)
    assert response.status_code == 200, listed
    assert set(listed) == {"keys"}
    assert response.headers["X-Total-Count"] == "2"
    by_id = {k["id"]: k for k in listed["keys"]}
    assert set(by_id) == {body["id"], second["id"]}
    for item in listed["keys"]:
        assert set(item) == SEED_003_LISTED, item
        assert item["key_prefix"].startswith(PREFIX)
        assert "..." in item["key_prefix"]
    assert by_id[body["id"]]["status"] == "active"
    assert by_id[body["id"]]["name"] == "Staging Key"
    assert by_id[second["id"]]["status"] == "revoked"
    assert body["key"] not in str(listed)
    assert second["key"] not in str(listed)


async def test_seed_003_create_validation(client, admin):
    response, body = await call(
        client, "post", "/api/v1/api-keys", admin.headers, json={"name": "x", "permissions": ["read", "bogus"]}
    )
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == "permissions.1"
    response, body = await call(client, "post", "/api/v1/api-keys", admin.headers, json={"name": "x", "scopes": ["read"]})
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
    response, body = await call(client, "post", "/api/v1/api-keys", admin.headers, json={"permissions": ["read"]})
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
    response, listed = await call(client, "get", "/api/v1/api-keys", admin.headers)
    assert listed == {"keys": []}


async def test_seed_003_list_pagination(client, admin):
    for i in range(3):
        await create_key(client, admin, name=f"k{i}")
    response, body = await call(client, "get", "/api/v1/api-keys?limit=2", admin.headers)
    assert len(body["keys"]) == 2
    assert response.headers["X-Total-Count"] == "3"
    response, rest = await call(client, "get", "/api/v1/api-keys?limit=2&offset=2", admin.headers)
    assert len(rest["keys"]) == 1
    assert {k["id"] for k in body["keys"]} | {k["id"] for k in rest["keys"]} == {
        k["id"] for k in (await call(client, "get", "/api/v1/keys", admin.headers))[1]
    }
    response, body = await call(client, "get", "/api/v1/api-keys?offset=-1", admin.headers)
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")


# -- isolation ---------------------------------------------------------------------------------


async def test_other_organization_never_sees_keys(client, admin, other_admin):
    mine = await create_key(client, admin)
    theirs = await create_key(client, other_admin)

    response, body = await call(client, "get", "/api/v1/keys", other_admin.headers)
    assert [k["id"] for k in body] == [theirs["id"]]
    assert response.headers["X-Total-Count"] == "1"
    response, body = await call(client, "get", "/api/v1/api-keys", other_admin.headers)
    assert [k["id"] for k in body["keys"]] == [theirs["id"]]
    assert mine["id"] not in str(body)

    response, body = await call(client, "get", "/api/v1/keys", admin.headers)
    assert [k["id"] for k in body] == [mine["id"]]

    # A key only ever acts inside its own organization.
    response, body = await call(client, "get", "/api/v1/tenant/members", key_headers(mine["key"]))
    assert {m["id"] for m in body["members"]} == {admin.user_id}

"""Two `hub serve` processes on one database and one Redis: each keeps who a credential belongs
to and its organization's state in a per-process cache (core/tenancy/principals.py,
core/tenancy/context.py). A demotion, a key revocation, a plugin switched off or a logout made
through process A must take effect on process B's very next request, although B has the old
answer cached for another minute (`principal_cache_seconds`, `tenancy.cache_seconds`)."""

from __future__ import annotations

import httpx
import pytest

from tests.live_server import live_hub

REDIS = "redis://127.0.0.1:6379/3"
LEAD = {"name": "Ada Lovelace", "email": "ada@example.com"}


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    shared = tmp_path_factory.mktemp("shared")
    env = {
        "HUB_DATABASE_URL": f"sqlite://{shared / 'hub.sqlite3'}",
        "HUB_REDIS_URL": REDIS,
        "HUB_RATE_LIMITS__ENABLED": "false",
        "HUB_AUTH__PRINCIPAL_CACHE_SECONDS": "600",  # only an announcement can clear it in time
        "HUB_TENANCY__CACHE_SECONDS": "600",
    }
    with live_hub(tmp_path_factory.mktemp("a"), env=env) as a, live_hub(tmp_path_factory.mktemp("b"), env=env) as b:
        assert a.process.pid != b.process.pid
        with httpx.Client(base_url=a.url, timeout=30) as on_a, httpx.Client(base_url=b.url, timeout=30) as on_b:
            yield on_a, on_b


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_up(on_a: httpx.Client, email: str) -> dict[str, str]:
    password = "correct horse battery staple"
    response = on_a.post("/api/auth/register", json={
        "email": email, "password": password, "first_name": "Grace", "last_name": "Hopper",
        "organization_name": email.split("@")[1]})
    assert response.status_code == 201, response.text
    return log_in(on_a, email, password)


def log_in(client: httpx.Client, email: str, password: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def test_a_demotion_on_one_process_takes_effect_on_the_other(two_processes):
    on_a, on_b = two_processes
    admin = sign_up(on_a, "admin@demotion.example")
    password = "another horse battery staple"
    added = on_a.post("/api/v1/tenant/members", headers=admin, json={
        "email": "member@demotion.example", "first_name": "Ann", "last_name": "Member", "role": "member",
        "password": password})
    assert added.status_code == 201, added.text
    member = log_in(on_a, "member@demotion.example", password)

    assert on_b.post("/api/leads", headers=member, json=LEAD).status_code == 201  # B now caches "member"
    demoted = on_a.put(f"/api/v1/tenant/members/{added.json()['id']}", headers=admin, json={"role": "viewer"})
    assert demoted.status_code == 200, demoted.text

    refused = on_b.post("/api/leads", headers=member, json=LEAD)
    assert refused.status_code == 403, refused.text
    assert on_b.get("/api/leads", headers=member).status_code == 200  # a viewer still reads

    removed = on_a.delete(f"/api/v1/tenant/members/{added.json()['id']}", headers=admin)
    assert removed.status_code == 204, removed.text
    assert on_b.get("/api/leads", headers=member).status_code == 401


def test_a_key_revoked_on_one_process_is_refused_on_the_other(two_processes):
    on_a, on_b = two_processes
    admin = sign_up(on_a, "admin@keys.example")
    created = on_a.post("/api/v1/keys", headers=admin, json={"name": "ci", "scopes": ["read", "write"]})
    assert created.status_code == 201, created.text
    key = {"X-API-Key": created.json()["key"]}

    assert on_b.post("/api/leads", headers=key, json=LEAD).status_code == 201  # cached on B
    narrowed = on_a.put(f"/api/v1/keys/{created.json()['id']}", headers=admin, json={"scopes": ["read"]})
    assert narrowed.status_code == 200, narrowed.text
    assert on_b.post("/api/leads", headers=key, json=LEAD).status_code == 403
    assert on_b.get("/api/leads", headers=key).status_code == 200

    assert on_a.delete(f"/api/v1/keys/{created.json()['id']}", headers=admin).status_code == 204
    refused = on_b.get("/api/leads", headers=key)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["code"] == "AUTHENTICATION_FAILED"


def test_a_plugin_switched_off_on_one_process_is_gone_on_the_other(two_processes):
    on_a, on_b = two_processes
    admin = sign_up(on_a, "admin@plugins.example")

    assert on_b.get("/api/leads", headers=admin).status_code == 200  # B caches the organization
    assert on_a.put("/api/v1/plugins/crm", headers=admin, json={"enabled": False}).status_code == 200
    assert on_b.get("/api/leads", headers=admin).status_code == 404
    assert on_a.put("/api/v1/plugins/crm", headers=admin, json={"enabled": True}).status_code == 200
    assert on_b.get("/api/leads", headers=admin).status_code == 200


def test_a_logout_on_one_process_ends_the_token_on_the_other(two_processes):
    on_a, on_b = two_processes
    admin = sign_up(on_a, "admin@logout.example")
    assert on_b.get("/api/auth/me", headers=admin).status_code == 200  # cached on B
    assert on_a.post("/api/auth/logout", headers=admin).status_code in (200, 204)
    refused = on_b.get("/api/auth/me", headers=admin)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["code"] == "TOKEN_REVOKED"

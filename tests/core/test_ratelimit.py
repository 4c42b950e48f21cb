"""Rate limiting (core/ratelimit.py): GCRA rules per endpoint pattern and scope, plan
overrides through `hub_rate_limits`, headers, 429 with Retry-After, the memory and Redis
backends (the same tests run on both), the Redis-outage policy, and one limit shared by
two hypercorn worker processes.

Each test builds its own app with its own rules (`limited_app`): a Hub that is never
started, sharing the session's database (tortoise is process-wide) and, for Redis, using
Redis DB 1 with a key prefix of its own. Users are registered through the session app,
whose login rules are relaxed for the suite; their tokens are valid in every test app.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
import uuid
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from core.app import create_app
from core.ops.ratelimit import RuleSet, current_limiter
from core.kernel.settings import RateLimitRule, SettingsError, load_settings
from tests.helpers import PASSWORD, add_member, assert_error, create_key, make_settings, register_and_login

RATELIMIT_REDIS_URL = os.environ.get("HUB_TEST_RATELIMIT_REDIS_URL", "redis://127.0.0.1:6379/1")
ROOT = Path(__file__).resolve().parents[2]
TENANT = "/api/v1/tenant"


def redis_reachable(url: str = RATELIMIT_REDIS_URL) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1).close()
        return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rule(requests_per_minute: int, burst_size: int | None = None, scope: str = "user") -> dict:
    return {"requests_per_minute": requests_per_minute, "burst_size": burst_size, "scope": scope}


def from_ip(address: str) -> dict:
    return {"scope_base": {"client": (address, 40000)}}


@pytest.fixture(params=["memory", "redis"])
def backend(request) -> str:
    if request.param == "redis" and not redis_reachable():
        pytest.skip(f"no Redis at {RATELIMIT_REDIS_URL}")
    return request.param


@pytest.fixture
async def limited_app(app, tmp_path, backend):
    """`build(rules, plugins=(), **rate_limit_settings)` -> a fresh app with these rules
    (on top of config/hub.toml's) on the parametrized backend."""
    made = []

    def build(rules: dict, plugins=(), **options):
        values = {
            "backend": "auto" if backend == "redis" else "memory",
            "redis_url": RATELIMIT_REDIS_URL if backend == "redis" else None,
            "key_prefix": f"hubtest-rl-{uuid.uuid4().hex}",
            "rules": rules,
            **options,
        }
        application = create_app(make_settings(tmp_path / f"app{len(made)}", rate_limits=values), plugins=list(plugins))
        made.append(application)
        return application

    yield build
    for application in made:
        await current_limiter(application.extensions["hub"]).aclose()


async def get(client, path: str, headers: dict | None = None, **extra):
    response = await client.get(path, headers=headers or {}, **extra)
    return response, await response.get_json()


def limit_headers(response) -> tuple[int, int, int]:
    return (
        int(response.headers["X-RateLimit-Limit"]),
        int(response.headers["X-RateLimit-Remaining"]),
        int(response.headers["X-RateLimit-Reset"]),
    )


# -- the limit, its headers and the 429 --------------------------------------------------------


async def test_burst_is_allowed_then_429_with_retry_after(limited_app, client, backend):
    admin = await register_and_login(client)
    limited = limited_app({TENANT: rule(6, 3)}).test_client()  # one request per 10 s, 3 at once

    remaining = []
    for _ in range(3):
        before = time.time()
        response, body = await get(limited, TENANT, admin.headers)
        assert response.status_code == 200, body
        limit, left, reset = limit_headers(response)
        assert limit == 3
        remaining.append(left)
        # unix seconds at which the bucket is full again: at most 3 emission intervals away
        assert before <= reset <= time.time() + 3 * 10 + 1
    assert remaining == [2, 1, 0]

    response, body = await get(limited, TENANT, admin.headers)
    assert_error(response.status_code, body, 429, "RATE_LIMIT_EXCEEDED")
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 10
    assert body["error"]["details"] == {
        "retry_after": retry_after, "limit": 3, "requests_per_minute": 6, "scope": "user",
    }
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]
    limit, left, reset = limit_headers(response)  # the refused answer carries them too
    assert (limit, left) == (3, 0) and reset >= int(time.time())


async def test_burst_defaults_to_requests_per_minute(limited_app, client, backend):
    admin = await register_and_login(client)
    limited = limited_app({TENANT: rule(4)}).test_client()
    statuses = [(await limited.get(TENANT, headers=admin.headers)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]


async def test_unlimited_routes_carry_no_rate_limit_headers(limited_app, client, backend):
    admin = await register_and_login(client)
    limited = limited_app({TENANT: rule(0), "/healthz": rule(0)}).test_client()
    for _ in range(3):
        response = await limited.get(TENANT, headers=admin.headers)
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers
    response = await limited.get("/healthz")
    assert response.status_code == 200 and "X-RateLimit-Remaining" not in response.headers
    # a limited route nearby does carry them
    response = await limited.get("/api/auth/me", headers=admin.headers)
    assert response.status_code == 200 and "X-RateLimit-Limit" in response.headers


async def test_disabled_rate_limits_let_everything_through(limited_app, client, backend):
    admin = await register_and_login(client)
    limited = limited_app({TENANT: rule(1, 1)}, enabled=False).test_client()
    for _ in range(3):
        response = await limited.get(TENANT, headers=admin.headers)
        assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers


# -- scopes -------------------------------------------------------------------------------------


async def test_user_scope_gives_each_user_and_each_key_a_bucket(limited_app, client, backend):
    admin = await register_and_login(client)
    member = await add_member(client, admin, "member")
    key = (await create_key(client, admin, ["read"]))["key"]
    limited = limited_app({TENANT: rule(60, 2, "user")}).test_client()

    assert [(await limited.get(TENANT, headers=admin.headers)).status_code for _ in range(3)] == [200, 200, 429]
    # same organization, another user: a bucket of its own
    assert [(await limited.get(TENANT, headers=member.headers)).status_code for _ in range(3)] == [200, 200, 429]
    # an API key (of the exhausted admin) is counted on its own, as a service
    statuses = [(await limited.get(TENANT, headers={"X-API-Key": key})).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_organization_scope_is_shared_by_the_members(limited_app, client, backend):
    admin = await register_and_login(client)
    member = await add_member(client, admin, "viewer")
    outsider = await register_and_login(client, organization_name="Globex")
    limited = limited_app({TENANT: rule(60, 3, "organization")}).test_client()

    assert (await limited.get(TENANT, headers=admin.headers)).status_code == 200
    assert (await limited.get(TENANT, headers=member.headers)).status_code == 200
    assert (await limited.get(TENANT, headers=admin.headers)).status_code == 200
    response, body = await get(limited, TENANT, member.headers)
    assert_error(response.status_code, body, 429, "RATE_LIMIT_EXCEEDED")
    assert body["error"]["details"]["scope"] == "organization"
    # another organization is unaffected
    response = await limited.get(TENANT, headers=outsider.headers)
    assert response.status_code == 200 and limit_headers(response)[:2] == (3, 2)


async def test_global_scope_is_shared_by_everyone(limited_app, client, backend):
    first = await register_and_login(client)
    second = await register_and_login(client, organization_name="Initech")
    limited = limited_app({TENANT: rule(60, 2, "global")}).test_client()

    assert (await limited.get(TENANT, headers=first.headers)).status_code == 200
    assert (await limited.get(TENANT, headers=second.headers)).status_code == 200
    response, body = await get(limited, TENANT, first.headers)
    assert_error(response.status_code, body, 429, "RATE_LIMIT_EXCEEDED")
    response, body = await get(limited, TENANT, second.headers)
    assert_error(response.status_code, body, 429, "RATE_LIMIT_EXCEEDED")


async def test_ip_scope_on_an_authenticated_route(limited_app, client, backend):
    first = await register_and_login(client)
    second = await register_and_login(client)
    limited = limited_app({TENANT: rule(60, 2, "ip")}).test_client()

    assert (await limited.get(TENANT, headers=first.headers, **from_ip("10.1.0.1"))).status_code == 200
    assert (await limited.get(TENANT, headers=second.headers, **from_ip("10.1.0.1"))).status_code == 200
    assert (await limited.get(TENANT, headers=first.headers, **from_ip("10.1.0.1"))).status_code == 429
    assert (await limited.get(TENANT, headers=first.headers, **from_ip("10.1.0.2"))).status_code == 200


async def test_login_is_limited_by_client_ip(limited_app, client, backend):
    """The seed's `/api/auth/*` rule has scope user; login has no user yet: the client IP."""
    admin = await register_and_login(client)
    limited = limited_app({"/api/auth/*": rule(10, 3, "user")}).test_client()

    async def login(address: str, password: str = PASSWORD):
        response = await limited.post(
            "/api/auth/login", json={"email": admin.email, "password": password}, **from_ip(address)
        )
        return response, await response.get_json()

    response, body = await login("10.2.0.1")
    assert response.status_code == 200, body
    assert limit_headers(response)[:2] == (3, 2)
    response, _ = await login("10.2.0.1", "wrong password")  # failures count too
    assert response.status_code == 401
    response, _ = await login("10.2.0.1")
    assert response.status_code == 200
    response, body = await login("10.2.0.1")  # even with the right password
    assert_error(response.status_code, body, 429, "RATE_LIMIT_EXCEEDED")
    assert 1 <= int(response.headers["Retry-After"]) <= 6
    # other addresses are unaffected, and so are routes where a user is known
    response, _ = await login("10.2.0.2")
    assert response.status_code == 200
    response = await limited.post(
        "/api/auth/register", json={"email": f"x-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD,
                                    "first_name": "A", "last_name": "B", "organization_name": "O"},
        **from_ip("10.2.0.1"),
    )
    assert_error(response.status_code, await response.get_json(), 429, "RATE_LIMIT_EXCEEDED")  # same rule, same IP
    response = await limited.get(TENANT, headers=admin.headers, **from_ip("10.2.0.1"))
    assert response.status_code == 200


async def test_unknown_urls_are_limited_by_ip(limited_app, backend):
    limited = limited_app({"/nothing/*": rule(60, 2, "user")}).test_client()
    statuses = [(await limited.get("/nothing/here", **from_ip("10.3.0.1"))).status_code for _ in range(3)]
    assert statuses == [404, 404, 429]


async def test_x_forwarded_for_is_believed_only_from_trusted_proxies(limited_app, backend):
    rules = {"/api/auth/*": rule(10, 1, "ip")}
    body = {"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": "whatever"}
    spoofed = {"X-Forwarded-For": "10.4.0.9"}

    untrusting = limited_app(rules).test_client()
    assert (await untrusting.post("/api/auth/login", json=body, headers=spoofed, **from_ip("10.4.0.1"))).status_code == 401
    # a new forged address does not buy a new bucket
    response = await untrusting.post("/api/auth/login", json=body, headers={"X-Forwarded-For": "10.4.0.10"},
                                     **from_ip("10.4.0.1"))
    assert response.status_code == 429

    trusting = limited_app(rules, trusted_proxies=["10.4.0.0/30"]).test_client()
    for client_address in ("10.9.0.1", "10.9.0.2"):  # two clients behind one trusted proxy
        response = await trusting.post("/api/auth/login", json=body, headers={"X-Forwarded-For": client_address},
                                       **from_ip("10.4.0.1"))
        assert response.status_code == 401
    # the nearest untrusted address counts: a client cannot prepend its way out
    response = await trusting.post("/api/auth/login", json=body, headers={"X-Forwarded-For": "1.2.3.4, 10.9.0.1"},
                                   **from_ip("10.4.0.1"))
    assert response.status_code == 429


# -- rules ---------------------------------------------------------------------------------------


def test_the_most_specific_pattern_wins():
    rules = RuleSet({
        "*": RateLimitRule(requests_per_minute=1),
        "/api/*": RateLimitRule(requests_per_minute=2),
        "/api/auth/*": RateLimitRule(requests_per_minute=3),
        "/api/auth/me": RateLimitRule(requests_per_minute=4),
        "/api/workflows/*/execute": RateLimitRule(requests_per_minute=5),
        "/api/workflows/*": RateLimitRule(requests_per_minute=6),
    })
    chosen = {path: rules.match(path).requests_per_minute for path in (
        "/health", "/api/leads", "/api/auth/login", "/api/auth/me", "/api/workflows/42/execute", "/api/workflows/42",
    )}
    assert chosen == {
        "/health": 1, "/api/leads": 2, "/api/auth/login": 3, "/api/auth/me": 4,
        "/api/workflows/42/execute": 5, "/api/workflows/42": 6,
    }
    assert RuleSet({"/api/*": RateLimitRule(requests_per_minute=1)}).match("/ws") is None


async def test_each_rule_counts_on_its_own(limited_app, client, backend):
    admin = await register_and_login(client)
    limited = limited_app({TENANT: rule(60, 1), "/api/auth/me": rule(60, 1)}).test_client()
    assert (await limited.get(TENANT, headers=admin.headers)).status_code == 200
    assert (await limited.get("/api/auth/me", headers=admin.headers)).status_code == 200
    assert (await limited.get(TENANT, headers=admin.headers)).status_code == 429
    assert (await limited.get("/api/auth/me", headers=admin.headers)).status_code == 429


def test_config_defaults_follow_the_seeds():
    settings = load_settings(env="test")
    rules = settings.rate_limits.rules
    assert rules["/api/auth/*"] == RateLimitRule(requests_per_minute=10, burst_size=5, scope="user")  # seed 001
    assert rules["/api/workflows/*/execute"] == RateLimitRule(requests_per_minute=60, burst_size=10, scope="organization")
    assert rules["/api/ai/*"] == RateLimitRule(requests_per_minute=30, burst_size=5, scope="organization")
    assert rules["/health"].requests_per_minute == 0
    assert settings.rate_limits.enabled and settings.rate_limits.on_redis_error == "open"
    assert settings.rate_limits.trusted_proxies == []
    # the Python defaults and config/hub.toml say the same
    from core.kernel.settings import RateLimitSettings

    assert {p: r.model_dump() for p, r in RateLimitSettings().rules.items()} == {
        p: r.model_dump() for p, r in rules.items()
    }


def test_rules_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("HUB_RATE_LIMITS__RULES", json.dumps({TENANT: rule(5, 2, "organization")}))
    monkeypatch.setenv("HUB_RATE_LIMITS__ON_REDIS_ERROR", "closed")
    settings = load_settings(env="test")
    assert settings.rate_limits.rules[TENANT] == RateLimitRule(requests_per_minute=5, burst_size=2, scope="organization")
    assert "/api/auth/*" in settings.rate_limits.rules  # added to config's rules, not instead of them
    assert settings.rate_limits.on_redis_error == "closed"


@pytest.mark.parametrize("values, message", [
    ({"rules": {"/x": {"requests_per_minute": 5, "scope": "planet"}}}, r"rate_limits\.rules\./x\.scope"),
    ({"rules": {"/x": {"requests_per_minute": -1}}}, r"rate_limits\.rules\./x\.requests_per_minute"),
    ({"rules": {"/x": {"burst_size": 3}}}, r"rate_limits\.rules\./x\.requests_per_minute"),
    ({"rules": {"api/*": {"requests_per_minute": 5}}}, r"rate_limits\.rules.*must start with"),
    ({"on_redis_error": "maybe"}, r"rate_limits\.on_redis_error"),
    ({"trusted_proxies": ["10.0.0.0/33"]}, r"rate_limits\.trusted_proxies"),
])
def test_bad_rate_limit_settings_name_the_key(tmp_path, values, message):
    with pytest.raises(SettingsError, match=message):
        make_settings(tmp_path, rate_limits=values)


def test_backend_is_redis_when_a_redis_url_is_set_unless_memory_is_asked_for(tmp_path):
    def backend_of(**values) -> str:
        application = create_app(make_settings(tmp_path, rate_limits=values), plugins=[])
        return current_limiter(application.extensions["hub"]).backend

    assert backend_of(redis_url=RATELIMIT_REDIS_URL) == "redis"
    assert backend_of(redis_url=RATELIMIT_REDIS_URL, backend="memory") == "memory"
    assert backend_of(redis_url=None) == ("redis" if make_settings(tmp_path).redis_url else "memory")


# -- plans (hook hub_rate_limits) ----------------------------------------------------------------


def plan_plugin(name: str, by_plan: dict):
    module = types.ModuleType(name)

    def hub_rate_limits(plan):
        return by_plan.get(plan)

    module.hub_rate_limits = hub_rate_limits
    return module


async def test_hook_hub_rate_limits_overrides_rules_per_plan(limited_app, client, backend, caplog):
    from core.tenancy.models import Organization

    caplog.set_level(logging.ERROR, logger="hub.ratelimit")
    starter = await register_and_login(client)
    pro = await register_and_login(client, organization_name="Pro Inc")
    await Organization.filter(id=pro.org_id).update(plan="pro")

    async def enterprise_rules(plan):  # hooks may be coroutines too
        return {TENANT: {"burst_size": 6}, "/api/auth/me": {"requests_per_minute": 0}} if plan == "enterprise" else None

    billing = plan_plugin("billing", {"pro": {TENANT: {"requests_per_minute": 120, "burst_size": 4}}})
    later = types.ModuleType("later")
    later.hub_rate_limits = enterprise_rules
    broken = plan_plugin("broken", {"pro": {TENANT: {"requests_per_minute": -5}}})  # ignored, logged
    limited = limited_app({TENANT: rule(60, 2, "organization")}, plugins=[billing, broken, later]).test_client()

    statuses = [(await limited.get(TENANT, headers=starter.headers)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # config's rule
    responses = [await limited.get(TENANT, headers=pro.headers) for _ in range(5)]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]  # the pro plan's rule
    assert int(responses[0].headers["X-RateLimit-Limit"]) == 4
    body = await responses[-1].get_json()
    assert body["error"]["details"]["requests_per_minute"] == 120
    assert any("plugin broken" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records)

    enterprise = await register_and_login(client, organization_name="Big Corp")
    await Organization.filter(id=enterprise.org_id).update(plan="enterprise")
    statuses = [(await limited.get(TENANT, headers=enterprise.headers)).status_code for _ in range(7)]
    assert statuses == [200] * 6 + [429]  # a later plugin, partial override: burst only
    me = await limited.get("/api/auth/me", headers=enterprise.headers)
    assert me.status_code == 200 and "X-RateLimit-Limit" not in me.headers  # rpm 0: unlimited on this plan


async def test_hook_hub_rate_limits_later_plugins_win(limited_app, client, backend):
    from core.tenancy.models import Organization

    account = await register_and_login(client)
    await Organization.filter(id=account.org_id).update(plan="pro")
    first = plan_plugin("first", {"pro": {TENANT: {"requests_per_minute": 60, "burst_size": 5}}})
    second = plan_plugin("second", {"pro": {TENANT: {"requests_per_minute": 60, "burst_size": 1}}})
    limited = limited_app({TENANT: rule(60, 3)}, plugins=[first, second]).test_client()
    assert [(await limited.get(TENANT, headers=account.headers)).status_code for _ in range(2)] == [200, 429]


async def test_plan_changes_apply_once_the_cached_plan_expires(limited_app, client, backend):
    from core.tenancy.models import Organization

    account = await register_and_login(client)
    pro = plan_plugin("billing", {"pro": {TENANT: {"requests_per_minute": 60, "burst_size": 50}}})
    application = limited_app({TENANT: rule(60, 1)}, plugins=[pro])
    limited = application.test_client()
    assert [(await limited.get(TENANT, headers=account.headers)).status_code for _ in range(2)] == [200, 429]
    await Organization.filter(id=account.org_id).update(plan="pro")
    assert (await limited.get(TENANT, headers=account.headers)).status_code == 429  # cached: still starter
    await application.extensions["hub"].tenants.invalidate(uuid.UUID(account.org_id))
    assert (await limited.get(TENANT, headers=account.headers)).status_code == 200


# -- Redis outage ----------------------------------------------------------------------------------


@pytest.fixture
def dead_redis(limited_app):
    """An app whose limiter points at a port nobody listens on."""
    url = f"redis://127.0.0.1:{free_port()}/0"

    def build(policy: str):
        return limited_app({TENANT: rule(60, 1)}, redis_url=url, on_redis_error=policy)

    return build


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_redis_outage_fails_open_and_is_logged_once(dead_redis, client, caplog):
    caplog.set_level(logging.DEBUG, logger="hub.ratelimit")
    admin = await register_and_login(client)
    application = dead_redis("open")
    limited = application.test_client()
    for _ in range(3):  # over the limit of 1, but nothing can count: through, without headers
        response = await limited.get(TENANT, headers=admin.headers)
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers
    errors = [r for r in caplog.records if r.name == "hub.ratelimit" and r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "Redis is unreachable" in errors[0].getMessage() and "failing open" in errors[0].getMessage()
    assert current_limiter(application.extensions["hub"]).stats["store_errors"] >= 1


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_redis_outage_fails_closed_with_503(dead_redis, client, caplog):
    caplog.set_level(logging.ERROR, logger="hub.ratelimit")
    admin = await register_and_login(client)
    limited = dead_redis("closed").test_client()
    for _ in range(2):
        response = await limited.get(TENANT, headers=admin.headers)
        body = await response.get_json()
        assert_error(response.status_code, body, 503, "SERVICE_UNAVAILABLE")
        assert body["error"]["details"]["reason"] == "rate_limit_store_unavailable"
        assert int(response.headers["Retry-After"]) >= 1
    response = await limited.post("/api/auth/login", json={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 503  # public routes too
    assert any("failing closed" in r.getMessage() for r in caplog.records if r.name == "hub.ratelimit")


@pytest.fixture
def own_redis(tmp_path):
    """A throwaway redis-server of our own, on a free port, that the test can stop and restart."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    port = free_port()
    processes = []

    def start() -> None:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        for _ in range(100):  # bounded wait until it accepts connections
            if redis_reachable(f"redis://127.0.0.1:{port}/0"):
                return
            assert process.poll() is None, "redis-server did not start"
            time.sleep(0.05)
        pytest.fail("redis-server did not start listening")

    def stop() -> None:
        process = processes[-1]
        process.terminate()
        process.wait(timeout=10)

    start()
    yield types.SimpleNamespace(url=f"redis://127.0.0.1:{port}/0", start=start, stop=stop)
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_limiter_follows_redis_down_and_back_up(limited_app, client, own_redis, caplog):
    caplog.set_level(logging.INFO, logger="hub.ratelimit")
    admin = await register_and_login(client)
    limited = limited_app({TENANT: rule(60, 2)}, redis_url=own_redis.url, redis_retry_seconds=0).test_client()

    response = await limited.get(TENANT, headers=admin.headers)
    assert response.status_code == 200 and limit_headers(response)[:2] == (2, 1)

    own_redis.stop()
    for _ in range(2):
        response = await limited.get(TENANT, headers=admin.headers)
        assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers  # open

    own_redis.start()  # empty again: a fresh bucket
    response = await limited.get(TENANT, headers=admin.headers)
    assert response.status_code == 200 and limit_headers(response)[:2] == (2, 1)
    messages = [r.getMessage() for r in caplog.records if r.name == "hub.ratelimit"]
    assert any("unreachable" in m for m in messages) and any("reachable again" in m for m in messages), messages


# -- two worker processes, one limit ---------------------------------------------------------------


@pytest.mark.skipif(not redis_reachable(), reason=f"no Redis at {RATELIMIT_REDIS_URL}")
def test_limit_holds_across_two_hypercorn_workers(tmp_path):
    """A real hypercorn server with 2 worker processes (what `hub serve --workers 2` runs),
    sharing Redis: the requests accepted over both workers add up to the burst. The access
    log names the worker (pid) of every response, to show that both answered."""
    burst = 7
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}
    env.update(
        HUB_ENV="test",
        HUB_DATA_DIR=str(tmp_path / "data"),
        HUB_DATABASE_URL=f"sqlite://{tmp_path / 'hub.sqlite3'}",
        HUB_SECRET_KEY="rate-limit-test-secret-that-is-long-enough",
        HUB_REDIS_URL=RATELIMIT_REDIS_URL,
        HUB_RATE_LIMITS__KEY_PREFIX=f"hubtest-rl-{uuid.uuid4().hex}",
        # one request a minute, `burst` at once, for the whole organization
        HUB_RATE_LIMITS__RULES=json.dumps({TENANT: rule(1, burst, "organization")}),
        HUB_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    migrated = subprocess.run([sys.executable, str(ROOT / "hub.py"), "migrate"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    env["HUB_AUTO_MIGRATE"] = "false"
    log_path, err_path = tmp_path / "access.log", tmp_path / "server.err"
    with log_path.open("w") as out, err_path.open("w") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "hypercorn", "core.asgi:app", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--access-logfile", "-", "--access-logformat", "%(p)s %(s)s %(U)s"],
            cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):  # bounded wait for both workers to listen
            assert server.poll() is None, err_path.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        email = f"workers-{uuid.uuid4().hex[:8]}@example.com"
        with httpx.Client(base_url=base, timeout=10) as http:
            registered = http.post("/api/auth/register", json={
                "email": email, "password": PASSWORD, "first_name": "W", "last_name": "K", "organization_name": "Two",
            })
            assert registered.status_code == 201, registered.text
            login = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

        def pids_seen() -> dict[str, set[int]]:
            seen: dict[str, set[int]] = {}
            for line in log_path.read_text().splitlines():
                match = re.search(r"<(\d+)> (\d{3}) " + re.escape(TENANT) + "$", line.strip())
                if match:
                    seen.setdefault(match.group(1), set()).add(int(match.group(2)))
            return seen

        accepted = refused = 0
        # A new connection per request, so the kernel spreads them over both workers; keep
        # going (bounded) until both have answered. Refused requests do not add up.
        no_keepalive = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=base, timeout=10, limits=no_keepalive) as http:
            for round_number in range(40):
                for _ in range(10):
                    response = http.get(TENANT, headers=headers)
                    assert response.status_code in (200, 429), response.text
                    if response.status_code == 200:
                        accepted += 1
                    else:
                        refused += 1
                        assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
                        assert int(response.headers["Retry-After"]) >= 1
                if len(pids_seen()) >= 2 and round_number >= 1:
                    break
        seen = pids_seen()
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)  # our own child's group (start_new_session)
                server.wait(timeout=5)
    assert len(seen) == 2, (seen, err_path.read_text()[-2000:])
    assert accepted == burst, (accepted, refused, seen)
    # Had each worker counted for itself, the one answering second would have accepted too.
    assert refused >= 10

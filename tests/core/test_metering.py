"""Metering and quotas: API calls counted per organization, plugin units, plan limits from
config and the hub_plan_limits hook, 429 QUOTA_EXCEEDED, and GET /api/v1/usage (seed 003)."""

from __future__ import annotations

import types
import uuid
from datetime import date, timedelta

import pytest

from core.ops.metering import check_quota, consume_quota, record_usage
from core.kernel.errors import HubError
from core.ops.metering import API_CALLS, Metering, month_bounds, utc_today
from core.tenancy.models import Organization
from tests.helpers import add_member, assert_error, create_key, make_settings

REDIS_TEST_URL = "redis://127.0.0.1:6379/4"  # this module's own Redis database


def plugin_module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, function)
    return module


async def usage(client, account, query: str = "") -> tuple[int, dict]:
    response = await client.get(f"/api/v1/usage{query}", headers=account.headers)
    return response.status_code, await response.get_json()


async def set_plan(app, hub, org_id: str, plan: str) -> None:
    await Organization.filter(id=org_id).update(plan=plan)
    await hub.tenants.invalidate(org_id)


# -- counting -----------------------------------------------------------------------------------


async def test_usage_has_seed_003_shape_and_counts_api_calls(client, admin):
    for _ in range(3):
        assert (await client.get("/api/auth/me", headers=admin.headers)).status_code == 200
    status, body = await usage(client, admin)
    assert status == 200, body
    assert set(body) == {"period", "metrics", "quota", "plan", "limits"}  # seed 003's, and the plan's limits
    assert set(body["period"]) == {"start", "end"}
    assert set(body["metrics"]) == {"api_calls", "recommendations_served", "items_indexed", "average_latency_ms"}
    assert set(body["quota"]) == {"api_calls_limit", "api_calls_used", "percentage_used"}
    today = utc_today()
    assert body["period"] == {"start": month_bounds(today)[0].isoformat(), "end": today.isoformat()}
    # /api/auth/me three times; login and register are public, /api/v1/usage itself is exempt
    assert body["metrics"]["api_calls"] == 3
    assert body["metrics"]["recommendations_served"] == 0
    assert body["metrics"]["average_latency_ms"] > 0
    assert body["quota"] == {"api_calls_limit": 2_000_000, "api_calls_used": 3, "percentage_used": 0.0}
    assert body["limits"]["api_calls"] == {"limit": 2_000_000, "used": 3, "remaining": 1_999_997,
                                           "percentage_used": 0.0, "period": "month"}


async def test_requests_with_api_keys_count_for_the_organization_and_organizations_are_separate(
    client, admin, other_admin
):
    key = await create_key(client, admin, ["read"])
    for _ in range(2):
        response = await client.get("/api/v1/tenant", headers={"X-API-Key": key["key"]})
        assert response.status_code == 200
    developer = await add_member(client, admin, "developer")
    assert (await client.get("/api/auth/me", headers=developer.headers)).status_code == 200
    _, mine = await usage(client, admin)
    _, theirs = await usage(client, other_admin)
    # create key (1) + add member (1) + 2 keyed calls + the developer's call
    assert mine["metrics"]["api_calls"] == 5
    assert theirs["metrics"]["api_calls"] == 0


async def test_refused_requests_are_not_counted(client, admin):
    viewer = await add_member(client, admin, "viewer")
    denied = await client.put("/api/v1/tenant", headers=viewer.headers, json={"name": "nope"})
    assert denied.status_code == 403
    anonymous = await client.get("/api/v1/tenant")
    assert anonymous.status_code == 401
    _, body = await usage(client, admin)
    assert body["metrics"]["api_calls"] == 1  # adding the viewer


async def test_plugin_units_are_recorded_per_day_and_summed_over_the_period(app, client, admin):
    async with app.app_context():
        await record_usage(admin.org_id, "recommendations_served", 20, day=date(2025, 1, 1))
        await record_usage(admin.org_id, "recommendations_served", 5, day=date(2025, 1, 31))
        await record_usage(admin.org_id, "recommendations_served", 7, day=date(2025, 2, 1))
        await record_usage(uuid.UUID(admin.org_id), "items_indexed", 1000, day=date(2025, 1, 15))
        with pytest.raises(ValueError):
            await record_usage(admin.org_id, "Bad Metric", 1)
        with pytest.raises(ValueError):
            await record_usage(admin.org_id, "items_indexed", -5)
    status, body = await usage(client, admin, "?start_date=2025-01-01&end_date=2025-01-31")
    assert status == 200, body
    assert body["period"] == {"start": "2025-01-01", "end": "2025-01-31"}
    assert body["metrics"]["recommendations_served"] == 25
    assert body["metrics"]["items_indexed"] == 1000
    assert body["metrics"]["api_calls"] == 0
    assert body["metrics"]["average_latency_ms"] == 0
    _, one_day = await usage(client, admin, "?start_date=2025-02-01&end_date=2025-02-01")
    assert one_day["metrics"]["recommendations_served"] == 7


@pytest.mark.parametrize(
    "query, field",
    [
        ("?start_date=2025-13-01", "start_date"),
        ("?start_date=yesterday", "start_date"),
        ("?start_date=2025-1-1", "start_date"),
        ("?end_date=2025-02-30", "end_date"),
        ("?start_date=2025-02-01&end_date=2025-01-31", "end_date"),
    ],
)
async def test_bad_dates_are_400(client, admin, query, field):
    status, body = await usage(client, admin, query)
    assert_error(status, body, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == field


async def test_usage_needs_a_member_of_the_organization(client, admin):
    response = await client.get("/api/v1/usage")
    assert_error(response.status_code, await response.get_json(), 401, "AUTHENTICATION_FAILED")
    viewer = await add_member(client, admin, "viewer")
    status, _ = await usage(client, viewer)
    assert status == 200  # usage.read is a read permission


# -- quotas -------------------------------------------------------------------------------------


async def test_config_limits_apply_per_plan(app, hub, client, admin):
    meter = hub.extensions["metering"]
    async with app.app_context():
        assert await meter.limit_for(admin.org_id, API_CALLS) == 2_000_000  # starter
        await set_plan(app, hub, admin.org_id, "enterprise")
        assert await meter.limit_for(admin.org_id, API_CALLS) is None  # unlimited
        await set_plan(app, hub, admin.org_id, "some-unknown-plan")
        assert await meter.limits_for(admin.org_id) == hub.settings.quotas.default
    _, body = await usage(client, admin)
    assert body["quota"]["api_calls_limit"] == 2_000_000


def test_quota_settings_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_QUOTAS__PLANS__STARTER__API_CALLS", "5")
    settings = make_settings(tmp_path)
    assert settings.quotas.plans["starter"] == {"api_calls": 5}


async def test_hook_hub_plan_limits_sets_limits_and_over_them_requests_get_quota_exceeded(app, hub, client, admin):
    def hub_plan_limits(plan):
        if plan == "metering-test":
            return {"api_calls": 3, "ai_tokens": 100, "items_indexed": 10}

    def later_plan_limits(plan):  # a later plugin wins, and None lifts a limit
        if plan == "metering-test":
            return {"items_indexed": None}

    first = plugin_module("metering_limits", hub_plan_limits=hub_plan_limits)
    second = plugin_module("metering_limits_later", hub_plan_limits=later_plan_limits)
    hub.manager.register(first, name="metering_limits")
    hub.manager.register(second, name="metering_limits_later")
    try:
        await set_plan(app, hub, admin.org_id, "metering-test")
        async with app.app_context():
            limits = await hub.extensions["metering"].limits_for(admin.org_id)
        assert limits == {"api_calls": 3, "ai_tokens": 100}  # over [quotas] default, items_indexed lifted

        for _ in range(3):
            assert (await client.get("/api/auth/me", headers=admin.headers)).status_code == 200
        over = await client.get("/api/auth/me", headers=admin.headers)
        body = await over.get_json()
        assert_error(over.status_code, body, 429, "QUOTA_EXCEEDED")
        assert body["error"]["details"]["metric"] == "api_calls"
        assert body["error"]["details"]["limit"] == 3 and body["error"]["details"]["used"] == 3
        assert int(over.headers["Retry-After"]) > 0
        # one's usage stays visible over quota, and the refused call was not counted
        status, seen = await usage(client, admin)
        assert status == 200
        assert seen["quota"] == {"api_calls_limit": 3, "api_calls_used": 3, "percentage_used": 100.0}
        assert seen["metrics"]["api_calls"] == 3

        async with app.app_context():  # a plugin's own unit
            await check_quota(admin.org_id, "ai_tokens", 100)
            await consume_quota(admin.org_id, "ai_tokens", 60)
            with pytest.raises(HubError) as refused:
                await consume_quota(admin.org_id, "ai_tokens", 50)
            assert refused.value.code == "QUOTA_EXCEEDED" and refused.value.status == 429
            await consume_quota(admin.org_id, "ai_tokens", 40)
            with pytest.raises(HubError):
                await check_quota(admin.org_id, "ai_tokens", 1)
            await record_usage(admin.org_id, "ai_tokens", 5)  # recording never refuses
            assert await hub.extensions["metering"].used(admin.org_id, "ai_tokens") == 105
            await check_quota(admin.org_id, "items_indexed", 10**9)  # unlimited
    finally:
        hub.manager.unregister(first)
        hub.manager.unregister(second)
        await set_plan(app, hub, admin.org_id, "starter")
    assert (await client.get("/api/auth/me", headers=admin.headers)).status_code == 200


async def test_quotas_switched_off_count_but_never_refuse(app, hub, admin, tmp_path):
    from core.app import load_hub

    settings = make_settings(tmp_path, quotas={"enabled": False, "default": {"ai_tokens": 1}})
    meter = Metering(load_hub(settings))
    await Organization.filter(id=admin.org_id).update(plan="not-configured")
    await meter.consume(admin.org_id, "ai_tokens", 5)
    await meter.check(admin.org_id, "ai_tokens", 5)
    assert await meter.used(admin.org_id, "ai_tokens") == 5
    await meter.flush()
    assert (await meter.usage(admin.org_id, utc_today(), utc_today()))["ai_tokens"] == 5


async def test_counts_survive_a_flush_and_month_totals_stay_exact(app, hub, admin, tmp_path):
    """Without Redis: the month's total is the database's plus what is not written yet."""
    from core.app import load_hub

    settings = make_settings(tmp_path, redis_url=None, quotas={"plans": {"flush-test": {"units": 10}}})
    meter = Metering(load_hub(settings))
    await Organization.filter(id=admin.org_id).update(plan="flush-test")
    await meter.consume(admin.org_id, "units", 4)
    assert await meter.used(admin.org_id, "units") == 4
    await meter.flush()
    assert await meter.used(admin.org_id, "units") == 4  # moved from memory to the database, once
    await meter.consume(admin.org_id, "units", 6)
    with pytest.raises(HubError):
        await meter.consume(admin.org_id, "units", 1)
    await meter.record(admin.org_id, "units", 3, day=utc_today() - timedelta(days=40))  # another month
    await meter.flush()
    assert await meter.used(admin.org_id, "units") == 10
    second = Metering(load_hub(settings))  # another process reads the database
    assert await second.used(admin.org_id, "units") == 10
    with pytest.raises(HubError):
        await second.check(admin.org_id, "units", 1)


# -- Redis --------------------------------------------------------------------------------------


@pytest.fixture
async def redis_client():
    import redis.asyncio as redis

    client = redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as error:  # pragma: no cover - the CI machine has Redis
        await client.aclose()
        pytest.skip(f"no Redis at {REDIS_TEST_URL}: {error}")
    yield client
    await client.aclose()


async def test_with_redis_limits_hold_exactly_across_processes(app, admin, tmp_path, redis_client):
    """Two Metering instances with one Redis are two processes: together they never pass the
    limit, and a lost Redis counter is rebuilt from the database."""
    from core.app import load_hub

    prefix = f"hub-test-usage-{uuid.uuid4().hex[:8]}"
    settings = make_settings(tmp_path, redis_url=REDIS_TEST_URL,
                             quotas={"key_prefix": prefix, "plans": {"redis-test": {"ai_tokens": 10}}})
    hubs = [load_hub(settings) for _ in range(2)]
    for each in hubs:
        each.redis = redis_client
    one, two = (Metering(each) for each in hubs)
    await Organization.filter(id=admin.org_id).update(plan="redis-test")
    try:
        await one.consume(admin.org_id, "ai_tokens", 6)
        with pytest.raises(HubError) as refused:
            await two.consume(admin.org_id, "ai_tokens", 5)
        assert refused.value.details["used"] == 6
        await two.consume(admin.org_id, "ai_tokens", 4)
        with pytest.raises(HubError):
            await one.check(admin.org_id, "ai_tokens", 1)
        assert await one.used(admin.org_id, "ai_tokens") == 10
        await one.flush()
        await two.flush()
        assert (await one.usage(admin.org_id, utc_today(), utc_today()))["ai_tokens"] == 10

        await redis_client.delete(*[key async for key in redis_client.scan_iter(f"{prefix}:*")])
        assert await two.used(admin.org_id, "ai_tokens") == 10  # seeded from the database
        with pytest.raises(HubError):
            await two.consume(admin.org_id, "ai_tokens", 1)
        assert await redis_client.ttl(f"{prefix}:{admin.org_id}:{utc_today():%Y-%m}:ai_tokens") > 0
    finally:
        keys = [key async for key in redis_client.scan_iter(f"{prefix}:*")]
        if keys:
            await redis_client.delete(*keys)
        await Organization.filter(id=admin.org_id).update(plan="starter")

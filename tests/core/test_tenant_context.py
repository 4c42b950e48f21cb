"""One tenant context per request: the organization's plan, status and plugin switches are read
once per request through one cache (core/tenancy/context.py), which every runtime uses (rate
limits, quotas, WebSocket limits, plugin switches, events), with one invalidation path that
other processes hear through Redis."""

from __future__ import annotations

import asyncio

import pytest

from core.app import load_hub
from core.tenancy.models import Organization
from tests.helpers import make_settings

REDIS_TEST_URL = "redis://127.0.0.1:6379/5"  # this module's own Redis database


async def test_a_request_reads_its_organization_once_for_every_runtime(client, hub, admin):
    """Plugin switch, rate limit by plan, and quota all need the organization's state: one read."""
    await hub.tenants.invalidate(admin.org_id)
    before = hub.tenants.stats["misses"]
    response = await client.get("/api/leads", headers=admin.headers)  # a plugin route, rate-limited and metered
    assert response.status_code == 200
    assert hub.tenants.stats["misses"] == before + 1
    again = await client.get("/api/leads", headers=admin.headers)
    assert again.status_code == 200 and hub.tenants.stats["misses"] == before + 1  # cached


async def test_switching_a_plugin_off_invalidates_at_once(client, hub, admin):
    assert (await client.get("/api/leads", headers=admin.headers)).status_code == 200  # cached: crm on
    off = await client.put("/api/v1/plugins/crm", headers=admin.headers, json={"enabled": False})
    assert off.status_code == 200
    try:
        assert (await client.get("/api/leads", headers=admin.headers)).status_code == 404
    finally:
        await client.put("/api/v1/plugins/crm", headers=admin.headers, json={"enabled": True})
    assert (await client.get("/api/leads", headers=admin.headers)).status_code == 200


async def test_a_plan_change_reaches_quotas_and_the_websocket_limit_after_invalidate(client, hub, admin):
    from core.events.websocket.gateway import gateway_of

    assert await gateway_of(hub).connection_limit(admin.org_id) == ("starter", 5)
    await Organization.filter(id=admin.org_id).update(plan="pro")
    assert (await gateway_of(hub).connection_limit(admin.org_id))[0] == "starter"  # cached
    await hub.tenants.invalidate(admin.org_id)
    assert await gateway_of(hub).connection_limit(admin.org_id) == ("pro", 25)
    assert (await hub.extensions["metering"].limits_for(admin.org_id))["api_calls"] == 10_000_000


async def test_an_unknown_or_malformed_organization_has_an_empty_state(hub):
    assert (await hub.tenants.get("not-a-uuid")).status == "unknown"
    state = await hub.tenants.get("00000000-0000-0000-0000-000000000000")
    assert state.plan == "" and state.disabled_plugins == frozenset()


@pytest.fixture
async def redis_directories(tmp_path, app):
    """Two Hubs' tenant directories on one Redis: two processes' caches."""
    import redis.asyncio as redis

    probe = redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        await probe.ping()
    except Exception as error:  # pragma: no cover - CI and this machine have Redis
        pytest.skip(f"no Redis at {REDIS_TEST_URL}: {error}")
    finally:
        await probe.aclose()
    hubs = [load_hub(make_settings(tmp_path, redis_url=REDIS_TEST_URL, tenancy={"cache_seconds": 3600}))
            for _ in range(2)]
    for each in hubs:
        await each.invalidations.start()
    yield [each.tenants for each in hubs]
    for each in hubs:
        await each.invalidations.stop()


async def test_invalidation_reaches_the_other_process_through_redis(redis_directories, admin):
    here, there = redis_directories
    assert (await there.get(admin.org_id)).plan == "starter"
    await Organization.filter(id=admin.org_id).update(plan="enterprise")
    try:
        assert (await there.get(admin.org_id)).plan == "starter"  # cached for an hour
        await here.invalidate(admin.org_id)
        # announced and acknowledged: the other process has dropped it before invalidate returns
        assert admin.org_id not in there._cache
        assert (await there.get(admin.org_id)).plan == "enterprise"
    finally:
        await Organization.filter(id=admin.org_id).update(plan="starter")


async def test_a_process_that_never_confirms_delays_an_announcement_only_a_bounded_time(
        redis_directories, admin, monkeypatch):
    import redis.asyncio as redis

    from core.tenancy import invalidation

    monkeypatch.setattr(invalidation, "ACK_SECONDS", 0.2)
    here, there = redis_directories
    silent = redis.from_url(REDIS_TEST_URL).pubsub()  # subscribed, but never acknowledges
    await silent.subscribe(here.hub.invalidations.channel)
    try:
        await here.invalidate(admin.org_id)
        assert here.hub.invalidations.stats["unacknowledged"] == 1
        assert admin.org_id not in there._cache  # the processes that answer have still run it
    finally:
        await silent.aclose()

"""`/health` (seed 003 §4 shape plus plugin checks), `/ready`, `/healthz`.

Failing checks are added to the running app's registry (`hub.health_checks`, name ->
(plugin, async check)) for one test and removed afterwards: tortoise's state is
process-wide, so a second started app is not an option.
"""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import contextmanager

import pytest

from core.builtin.routes import health as health_module


@contextmanager
def extra_checks(hub, **checks):
    """Temporarily register `name=(plugin, async_fn)` checks on the running Hub."""
    for name in checks:
        assert name not in hub.health_checks, name
    hub.health_checks.update(checks)
    try:
        yield
    finally:
        for name in checks:
            hub.health_checks.pop(name, None)


@pytest.fixture(autouse=True)
def without_the_llm_check(hub):
    """These tests are about /health itself. The llm's check is unhealthy unless a model file is
    there, which depends on the test run (tests/plugins/ml/llm/test_runtime.py covers it)."""
    check = hub.health_checks.pop("llm", None)
    yield
    if check is not None:
        hub.health_checks["llm"] = check


async def get_health(client):
    response = await client.get("/health")
    return response, await response.get_json()


async def test_health_shape(client):
    response, body = await get_health(client)
    assert response.status_code == 200, body
    assert set(body) == {"status", "version", "uptime_seconds", "checks"}
    assert body["status"] == "healthy"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", body["version"])
    assert isinstance(body["uptime_seconds"], int) and body["uptime_seconds"] >= 0
    assert body["checks"]["database"] == "healthy"
    assert body["checks"]["cache"] == "healthy"
    assert body["checks"]["dependencies"] == "healthy"
    assert body["checks"]["example_notes"] == "healthy"  # the example plugin's own check
    assert set(body["checks"].values()) == {"healthy"}
    assert response.headers["X-Request-ID"]


async def test_health_version_is_the_hub_version(client):
    from core.kernel.plugins import HUB_VERSION

    _, body = await get_health(client)
    assert body["version"] == HUB_VERSION


async def test_health_needs_no_credentials_even_with_bad_ones(client):
    response = await client.get("/health", headers={"Authorization": "Bearer garbage"})
    assert response.status_code == 200


async def test_uptime_counts_from_start(client, hub):
    original = hub.started_at
    hub.started_at = time.time() - 125.7
    try:
        _, body = await get_health(client)
    finally:
        hub.started_at = original
    assert body["uptime_seconds"] in (125, 126)


async def test_ready(client):
    response = await client.get("/ready")
    assert response.status_code == 200
    assert (await response.get_json()) == {"ready": True}


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert (await response.get_json()) == {"status": "ok"}


async def test_failing_plugin_check_degrades(client, hub):
    async def broken() -> str:
        raise ConnectionError("upstream down")

    with extra_checks(hub, flaky_upstream=("example", broken)):
        response, body = await get_health(client)
    assert response.status_code == 200, body  # degraded still serves
    assert body["status"] == "degraded"
    assert body["checks"]["flaky_upstream"] == "unhealthy"
    assert body["checks"]["dependencies"] == "unhealthy"
    assert body["checks"]["database"] == "healthy"
    assert body["checks"]["example_notes"] == "healthy"
    # and back to healthy once the check is gone
    _, body = await get_health(client)
    assert body["status"] == "healthy"
    assert "flaky_upstream" not in body["checks"]


async def test_degraded_plugin_check_degrades(client, hub):
    async def slowish() -> str:
        return "degraded"

    with extra_checks(hub, slowish=("example", slowish)):
        response, body = await get_health(client)
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["slowish"] == "degraded"
    assert body["checks"]["dependencies"] == "degraded"


async def test_dependencies_is_the_worst_plugin_result(client, hub):
    async def degraded() -> str:
        return "degraded"

    async def unhealthy() -> str:
        return "unhealthy"

    with extra_checks(hub, dep_a=("example", degraded), dep_b=("other", unhealthy)):
        _, body = await get_health(client)
    assert body["checks"]["dependencies"] == "unhealthy"
    assert body["status"] == "degraded"


async def test_check_returning_nonsense_counts_as_unhealthy(client, hub):
    async def confused():
        return "fine, probably"

    with extra_checks(hub, confused=("example", confused)):
        _, body = await get_health(client)
    assert body["checks"]["confused"] == "unhealthy"
    assert body["status"] == "degraded"


async def test_hanging_check_times_out(client, hub, monkeypatch):
    monkeypatch.setattr(health_module, "CHECK_TIMEOUT_SECONDS", 0.2)

    async def hangs() -> str:
        await asyncio.sleep(30)
        return "healthy"

    started = time.perf_counter()
    with extra_checks(hub, hangs=("example", hangs)):
        response, body = await get_health(client)
    assert time.perf_counter() - started < 5
    assert response.status_code == 200
    assert body["checks"]["hangs"] == "unhealthy"
    assert body["status"] == "degraded"


async def test_checks_run_concurrently(client, hub):
    async def slow() -> str:
        await asyncio.sleep(0.4)
        return "healthy"

    with extra_checks(hub, **{f"slow_{i}": ("example", slow) for i in range(5)}):
        started = time.perf_counter()
        _, body = await get_health(client)
        elapsed = time.perf_counter() - started
    assert body["status"] == "healthy"
    assert elapsed < 1.5, elapsed  # 5 x 0.4 s one after another would be 2 s


async def test_failing_core_check_is_unhealthy_and_503(client, hub):
    async def broken() -> str:
        raise OSError("disk gone")

    with extra_checks(hub, storage=("core", broken)):
        response, body = await get_health(client)
    assert response.status_code == 503, body
    assert body["status"] == "unhealthy"
    assert body["checks"]["storage"] == "unhealthy"
    assert body["checks"]["dependencies"] == "healthy"  # plugins are fine
    assert set(body) == {"status", "version", "uptime_seconds", "checks"}  # same shape, not an error envelope


async def test_degraded_core_check_is_degraded_not_unhealthy(client, hub):
    async def meh() -> str:
        return "degraded"

    with extra_checks(hub, warm_cache=("core", meh)):
        response, body = await get_health(client)
    assert response.status_code == 200
    assert body["status"] == "degraded"


@pytest.mark.parametrize("path", ["/health", "/ready", "/healthz"])
async def test_probes_reject_other_methods(client, path):
    response = await client.post(path, json={})
    assert response.status_code == 405
    assert (await response.get_json())["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_check_leaking_a_cancellation_is_unhealthy(client, hub):
    # e.g. a client library that lets its own internal CancelledError escape
    async def cancels() -> str:
        raise asyncio.CancelledError()

    with extra_checks(hub, cancels=("example", cancels)):
        response, body = await get_health(client)
    assert response.status_code == 200, body
    assert body is not None and body["status"] == "degraded"
    assert body["checks"]["cancels"] == "unhealthy"


async def test_sync_check_counts_as_unhealthy_not_500(client, hub):
    def not_async() -> str:  # a plugin bug: checks must be async
        return "healthy"

    with extra_checks(hub, not_async=("example", not_async)):
        response, body = await get_health(client)
    assert response.status_code == 200, body
    assert body["checks"]["not_async"] == "unhealthy"

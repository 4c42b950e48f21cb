"""DMS connections: created per organization with the seed's configuration and authentication,
credentials encrypted at rest and only shown masked, shown in GET /api/integrations, tested
against the fake, refused when the configuration is bad (invalid URL, unknown provider, a
private address), another organization's ids are 404s, and permissions hold."""

from __future__ import annotations

import pytest

from core.tenancy.models import StoredCredential
from tests.plugins.dms.fake_dms import API_KEY, CLIENT_SECRET, connection_body


async def test_create_read_update_delete(api, connect, fake_dms, events, hub):
    fake = fake_dms("Reynolds", auth="api_key")
    created = await connect(fake, sync_frequency="daily")
    assert created["provider"] == "Reynolds" and created["status"] == "connected"
    assert created["configuration"]["base_url"] == fake.url
    assert created["configuration"]["rate_limit"] == {"requests_per_minute": 60_000, "burst_size": 1000}
    assert created["authentication"]["type"] == "api_key"
    assert API_KEY not in str(created) and set(created["authentication"]["credentials"]) == {"api_key"}
    assert created["endpoints"]["customers"] == "/customers"  # the adapter's defaults
    assert created["integration"] == "dms-reynolds" and created["next_sync_at"] is not None

    # encrypted at rest: the stored row holds no secret
    stored = await StoredCredential.get(org_id=api.org_id, owner="dms", name=f"connection:{created['id']}")
    assert API_KEY not in stored.ciphertext

    # in the integrations catalogue
    listed = await api.get("/api/integrations")
    rows = listed["integrations"] if isinstance(listed, dict) else listed
    [row] = [i for i in rows if i["id"] == "dms-reynolds"]
    assert row["status"] == "connected" and row["category"] == "dealership"
    await hub.bus.settle()
    assert any(e.data["integration"] == "dms-reynolds" for e in events.of(api.org_id, "integration.connected"))

    page = await api.get("/api/v1/dms/connections")
    assert [c["id"] for c in page["connections"]] == [created["id"]] and page["total"] == 1
    assert await api.get(f"/api/v1/dms/connections/{created['id']}") == created

    changed = await api.put(f"/api/v1/dms/connections/{created['id']}",
                            {"name": "Renamed", "configuration": {"base_url": fake.url, "retry_attempts": 5}})
    assert changed["name"] == "Renamed" and changed["configuration"]["retry_attempts"] == 5
    assert changed["authentication"] == created["authentication"]  # credentials kept

    assert (await api.post(f"/api/v1/dms/connections/{created['id']}/test", None, status=200))["ok"] is True
    await api.delete(f"/api/v1/dms/connections/{created['id']}")
    await api.error("GET", f"/api/v1/dms/connections/{created['id']}", status=404, code="NOT_FOUND")
    assert not await StoredCredential.filter(org_id=api.org_id, owner="dms").exists()
    listed = await api.get("/api/integrations")
    rows = listed["integrations"] if isinstance(listed, dict) else listed
    assert [i["status"] for i in rows if i["id"] == "dms-reynolds"] == ["disconnected"]


async def test_test_reports_refused_credentials(api, connect, fake_dms, events, hub):
    fake = fake_dms("CDK")
    body = connection_body(fake)
    body["authentication"]["credentials"]["client_secret"] = "wrong-secret-value"
    created = await api.post("/api/v1/dms/connections", body)
    result = await api.post(f"/api/v1/dms/connections/{created['id']}/test", None, status=200)
    assert result["ok"] is False and "401" in result["error"]
    assert "wrong-secret-value" not in str(result)
    after = await api.get(f"/api/v1/dms/connections/{created['id']}")
    assert after["status"] == "error" and after["last_error"]
    await hub.bus.settle()
    assert [e.data["integration"] for e in events.of(api.org_id, "integration.error")] == ["dms-cdk"]

    # right credentials: connected again
    await api.put(f"/api/v1/dms/connections/{created['id']}", {"authentication": connection_body(fake)[
        "authentication"]})
    assert (await api.post(f"/api/v1/dms/connections/{created['id']}/test", None, status=200))["ok"] is True
    assert (await api.get(f"/api/v1/dms/connections/{created['id']}"))["status"] == "connected"
    assert CLIENT_SECRET not in str(await api.get(f"/api/v1/dms/connections/{created['id']}"))


@pytest.mark.parametrize("change, field", [
    ({"configuration": {"base_url": "not a url"}}, "configuration.base_url"),
    ({"configuration": {"base_url": "ftp://dms.example.com"}}, "configuration.base_url"),
    ({"provider": "Autosoft"}, "provider"),
    ({"authentication": {"type": "api_key", "credentials": {}}}, "authentication"),
    ({"authentication": {"type": "token", "credentials": {"api_key": "x"}}}, "authentication.type"),
])
async def test_bad_configuration_is_a_400(api, fake_dms, change, field):
    body = {**connection_body(fake_dms("Reynolds", auth="api_key")), **change}
    error = await api.error("POST", "/api/v1/dms/connections", body, status=400)
    assert error["details"]["field"].startswith(field), error


@pytest.mark.parametrize("address", ["http://10.1.2.3", "http://169.254.169.254/latest", "http://[::1]:8080",
                                     "http://192.168.0.10:9000"])
async def test_private_addresses_are_refused_unless_allowlisted(api, fake_dms, address, dms_settings,
                                                                monkeypatch):
    body = connection_body(fake_dms("Reynolds", auth="api_key"))
    body["configuration"]["base_url"] = address
    error = await api.error("POST", "/api/v1/dms/connections", body, status=400, field="configuration.base_url")
    assert "refused" in error["details"]["reason"]
    monkeypatch.setattr(dms_settings, "allowlist", ["127.0.0.1", "10.0.0.0/8", "169.254.169.254", "::1",
                                                    "192.168.0.0/16"])
    await api.post("/api/v1/dms/connections", body)  # an on-premise DMS, listed by the operator


async def test_provider_rules(api, fake_dms):
    cdk = fake_dms("CDK")
    body = connection_body(cdk)
    body["authentication"] = {"type": "api_key", "credentials": {"api_key": "k"}}
    await api.error("POST", "/api/v1/dms/connections", body, status=400, field="authentication.type")
    custom = fake_dms("Custom", auth="api_key")
    body = connection_body(custom)
    del body["field_mapping"]["vehicles"]
    await api.error("POST", "/api/v1/dms/connections", body, status=400)
    body = connection_body(custom)
    body["field_mapping"]["customers"]["shoe_size"] = "shoes"
    await api.error("POST", "/api/v1/dms/connections", body, status=400)


async def test_tenancy_and_permissions(api, other_api, api_of, connect, fake_dms, assert_isolated):
    created = await connect(fake_dms("DealerSocket", auth="basic_auth"))
    path = f"/api/v1/dms/connections/{created['id']}"
    await assert_isolated(api, other_api, path, body={"name": "taken"})
    for suffix, method in (("/test", "POST"), ("/sync", "POST"), ("/syncs", "GET")):
        await other_api.error(method, path + suffix, {} if method == "POST" else None, status=404, code="NOT_FOUND")
    assert (await other_api.get("/api/v1/dms/connections"))["connections"] == []

    viewer = await api_of(role="viewer")
    assert [c["id"] for c in (await viewer.get("/api/v1/dms/connections"))["connections"]] == [created["id"]]
    await viewer.error("POST", "/api/v1/dms/connections", connection_body(fake_dms("Reynolds", auth="api_key")),
                       status=403, code="FORBIDDEN")
    await viewer.error("DELETE", path, status=403, code="FORBIDDEN")
    await viewer.error("POST", path + "/sync", {}, status=403, code="FORBIDDEN")


async def test_scheduled_syncs_start_when_due(api, connect, fake_dms, hub):
    from datetime import timedelta

    from core.kernel.times import utcnow
    from plugins.integrations.dms.service import run_due

    fake = fake_dms("Reynolds", auth="api_key", customers=3)
    hourly = await connect(fake, sync_frequency="hourly")
    manual = await connect(fake, name="Manual")
    assert manual["next_sync_at"] is None
    assert await run_due(hub) == 0  # not due yet
    later = utcnow() + timedelta(hours=1, minutes=1)
    assert await run_due(hub, now=later) == 1
    assert await run_due(hub, now=later) == 0  # claimed: once per due time
    [run] = (await api.get(f"/api/v1/dms/connections/{hourly['id']}/syncs"))["syncs"]
    assert run["trigger"] == "scheduled"
    await api.wait_for_job(run["job_id"])
    done = await api.get(f"/api/v1/dms/connections/{hourly['id']}/syncs/{run['id']}")
    assert done["status"] == "completed" and done["counts"]["customers"]["created"] == 3
    after = await api.get(f"/api/v1/dms/connections/{hourly['id']}")
    assert after["last_sync_at"] and after["next_sync_at"] > hourly["next_sync_at"]
    assert (await api.get(f"/api/v1/dms/connections/{manual['id']}/syncs"))["syncs"] == []


async def test_the_catalogue_test_tries_the_providers_connections(api, connect, fake_dms):
    await api.error("POST", "/api/integrations/dms-dealersocket/test", None, status=409, code="CONFLICT")
    fake = fake_dms("DealerSocket", auth="basic_auth")
    await connect(fake)
    tested = await api.call("POST", "/api/integrations/dms-dealersocket/test", None, status=200)
    assert tested["status"] == "connected"
    fake.fail_always = 500
    tested = await api.call("POST", "/api/integrations/dms-dealersocket/test", None, status=200)
    assert tested["status"] == "error" and "500" in tested["lastError"]

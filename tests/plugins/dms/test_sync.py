"""Syncs against the fake DMS of each provider: full then incremental, paging, the data lists,
CRM contacts and leads, the service-due event; OAuth2 token refresh (before expiry and on a
401); retries on 500; 429 Retry-After honoured; the rate limit obeyed (measured spacing); the
circuit breaker (status error, integration.error, a notification, 503 DMS_CONNECTION_FAILED)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from plugins.crm.models import Contact, ContactLink, Lead
from plugins.integrations.dms.adapters import vin_check_digit, vin_is_valid
from plugins.integrations.dms.client import forget_token
from tests.plugins.dms.fake_dms import make_vin

PROVIDERS = [("CDK", "oauth2"), ("Reynolds", "api_key"), ("DealerSocket", "basic_auth"), ("Custom", "api_key")]


@pytest.mark.parametrize("provider, auth", PROVIDERS)
async def test_full_then_incremental_sync(api, connect, sync, fake_dms, events, hub, provider, auth):
    fake = fake_dms(provider, auth=auth, customers=25)
    connection = await connect(fake)
    run = await sync(connection["id"], "full")
    assert run["status"] == "completed", run
    assert run["counts"]["customers"] == {"created": 25, "updated": 0}
    assert run["counts"]["vehicles"] == {"created": 25, "updated": 0}
    assert run["counts"]["service_appointments"]["created"] == 5
    assert run["counts"]["sales_opportunities"]["created"] == 3
    assert run["counts"]["inventory"]["created"] == 3
    assert run["pages"] >= 3 + 3 + 1 + 1 + 1  # 25 customers in pages of 10, then vehicles...

    customers = await api.get("/api/v1/dms/customers?limit=100")
    assert customers["total"] == 25
    first = next(c for c in customers["customers"] if c["dms_customer_id"] == "C3")
    assert (first["first_name"], first["last_name"], first["email"], first["phone"]) == (
        "First3", "Last3", "customer3@example.com", "+15550000003")
    assert [v["vin"] for v in first["vehicles"]] == [make_vin(3)]
    vehicles = await api.get("/api/v1/dms/vehicles?limit=100")
    assert vehicles["total"] == 25 and all(v["vin_valid"] for v in vehicles["vehicles"])
    assert (await api.get("/api/v1/dms/appointments"))["total"] == 5
    opportunities = await api.get("/api/v1/dms/opportunities")
    assert opportunities["total"] == 3 and all(o["lead_id"] for o in opportunities["records"])
    assert (await api.get("/api/v1/dms/inventory"))["total"] == 3

    # CRM: one contact per customer, linked back to the DMS id; one lead per opportunity
    source = f"dms:{connection['id']}"
    assert await ContactLink.for_org(api.org_id).filter(source=source).count() == 25
    contact = await api.get(f"/api/contacts/{first['contact_id']}")
    assert contact["email"] == "customer3@example.com" and "dms" in contact["tags"]
    leads = await Lead.for_org(api.org_id).filter(source="dms").values_list("email", flat=True)
    assert sorted(leads) == ["customer0@example.com", "customer10@example.com", "customer20@example.com"]
    await hub.bus.settle()
    created = [e for e in events.of(api.org_id, "contact.created") if e.data["source"] == source]
    assert len(created) == 25
    due = events.of(api.org_id, "dms.vehicle.service_needed")
    assert sorted(e.data["dms_vehicle_id"] for e in due) == ["V0", "V10", "V15", "V20", "V5"]
    assert all(e.data["contact_id"] and e.data["vin"] for e in due)
    [completed] = events.of(api.org_id, "dms.sync.completed")
    assert completed.data["counts"]["customers"]["created"] == 25

    # incremental: asks for what changed since the last sync began, and gets only that
    fake.log.clear()
    changed = fake.customers[7]
    changed["email"], changed["updated"] = "new7@example.com", datetime.now(timezone.utc) + timedelta(minutes=1)
    fake.seed(2, start=25, updated=datetime.now(timezone.utc) + timedelta(minutes=1))
    again = await sync(connection["id"], "incremental")
    assert again["mode"] == "incremental" and again["status"] == "completed"
    assert again["counts"]["customers"] == {"created": 2, "updated": 1}
    since_param = {"CDK": "lastModifiedSince", "Reynolds": "updatedSince", "DealerSocket": "modifiedSince",
                   "Custom": "changed_after"}[provider]
    assert all(since_param in entry.params for entry in fake.data_requests())
    assert (await api.get("/api/v1/dms/customers"))["total"] == 27
    assert (await api.get("/api/v1/dms/customers?email=new7@example.com"))["customers"][0]["dms_customer_id"] == "C7"
    assert await Contact.for_org(api.org_id).filter(email="new7@example.com").count() == 1
    assert await ContactLink.for_org(api.org_id).filter(source=source).count() == 27
    # no second notice for a due date already announced: only the new customer's vehicle V25
    await hub.bus.settle()
    due = [e.data["dms_vehicle_id"] for e in events.of(api.org_id, "dms.vehicle.service_needed")]
    assert len(due) == 6 and due[-1] == "V25"

    history = await api.get(f"/api/v1/dms/connections/{connection['id']}/syncs")
    assert [r["mode"] for r in history["syncs"]] == ["incremental", "full"]


async def test_lists_filter_and_check_vins(api, connect, sync, fake_dms):
    fake = fake_dms("Reynolds", customers=12)
    fake.vehicles[0]["vin"] = "1HGCM82633A00435X"[:16] + "7"  # a VIN whose check digit is wrong
    connection = await connect(fake)
    run = await sync(connection["id"], "full", resources=["customers", "vehicles"])
    assert run["resources"] == ["customers", "vehicles"]
    assert [e["resource"] for e in run["errors"]] == ["vehicles"] and "check digit" in run["errors"][0]["error"]
    vehicles = (await api.get("/api/v1/dms/vehicles?limit=50"))["vehicles"]
    assert [v["vin_valid"] for v in vehicles].count(False) == 1

    good = make_vin(4)
    found = await api.get(f"/api/v1/dms/vehicles?vin={good}")
    assert [v["dms_vehicle_id"] for v in found["vehicles"]] == ["V4"]
    bad = good[:8] + ("0" if good[8] != "0" else "1") + good[9:]
    await api.error("GET", f"/api/v1/dms/vehicles?vin={bad}", status=400, field="vin")
    await api.error("GET", "/api/v1/dms/vehicles?vin=1HGCM82633A0O4352", status=400, field="vin")  # an O
    assert (await api.get("/api/v1/dms/vehicles?model=civic&limit=50"))["total"] == 6
    assert (await api.get("/api/v1/dms/customers?search=last1"))["total"] == 3  # Last1, Last10, Last11
    assert (await api.get(f"/api/v1/dms/customers?connection_id={connection['id']}&limit=5"))["total"] == 12


def test_vin_check_digit():
    assert vin_is_valid("1M8GDM9AXKP042788")  # the textbook example: check digit X
    assert vin_is_valid("11111111111111111")
    assert not vin_is_valid("1M8GDM9A1KP042788")
    assert not vin_is_valid("1M8GDM9AXKP04278")  # 16 characters
    assert not vin_is_valid("IM8GDM9AXKP042788")  # I is never used
    assert vin_check_digit("1HGCM82633A004352") == "3"


async def test_oauth2_tokens_refresh_before_expiry_and_on_401(api, connect, sync, fake_dms, dms_settings,
                                                              monkeypatch):
    fake = fake_dms("CDK", customers=30, token_ttl=3600)
    connection = await connect(fake)
    forget_token(connection["id"])
    await sync(connection["id"], "full", resources=["customers"])
    assert fake.tokens_issued == 1  # one token for the whole sync

    # tokens that live 2 s with a refresh margin of 1.95 s: a new one every page or so,
    # asked for before the old one expires, so no request is refused
    fake.token_ttl = 2.0
    monkeypatch.setattr(dms_settings, "token_refresh_margin_seconds", 1.95)
    forget_token(connection["id"])
    fake.log.clear()
    run = await sync(connection["id"], "full", resources=["customers"])
    assert run["status"] == "completed"
    assert fake.tokens_issued >= 2
    assert [e.status for e in fake.data_requests()] == [200, 200, 200]

    # the DMS revokes every token: the next request gets a 401, a new token, and goes on
    monkeypatch.setattr(dms_settings, "token_refresh_margin_seconds", 0)
    fake.token_ttl = 3600
    fake.tokens.clear()
    issued, fake.log[:] = fake.tokens_issued, []
    run = await sync(connection["id"], "full", resources=["customers"])
    assert run["status"] == "completed"
    assert [e.status for e in fake.data_requests()][:2] == [401, 200]
    assert fake.tokens_issued == issued + 1


async def test_retries_500s_and_honours_retry_after(api, connect, sync, fake_dms):
    fake = fake_dms("DealerSocket", auth="basic_auth", customers=5)
    connection = await connect(fake, retry_attempts=3)
    fake.faults = [(500, None), (503, None), (429, 1)]
    run = await sync(connection["id"], "full", resources=["customers"])
    assert run["status"] == "completed" and run["counts"]["customers"]["created"] == 5
    statuses = [(e.status, e.at) for e in fake.data_requests()]
    assert [s for s, _ in statuses] == [500, 503, 429, 200]
    assert statuses[3][1] - statuses[2][1] >= 0.95  # waited the 1 s the 429 asked for


async def test_the_rate_limit_spaces_requests(api, connect, sync, fake_dms):
    # 600 requests a minute, bursts of 1: at least 0.1 s between requests
    fake = fake_dms("Reynolds", customers=50)
    connection = await connect(fake, rpm=600, burst=1)
    await sync(connection["id"], "full", resources=["customers"])
    times = [e.at for e in fake.data_requests()]
    assert len(times) == 6  # 50 customers in pages of 10, and the empty page that ends them
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.09, gaps


async def test_circuit_breaker(api, connect, sync, fake_dms, events, hub, dms_settings, monkeypatch, admin):
    monkeypatch.setattr(dms_settings, "breaker_failures", 2)
    fake = fake_dms("Reynolds", customers=5)
    connection = await connect(fake, retry_attempts=1)
    fake.fail_always = 500
    first = await sync(connection["id"], "full")
    assert first["status"] == "failed" and "500" in first["errors"][-1]["error"]
    assert (await api.get(f"/api/v1/dms/connections/{connection['id']}"))["circuit_open_until"] is None
    second = await sync(connection["id"], "full")
    assert second["status"] == "failed"
    assert len(fake.data_requests()) == 4  # each sync: the first try and one retry

    state = await api.get(f"/api/v1/dms/connections/{connection['id']}")
    assert state["status"] == "error" and state["circuit_open_until"] and "500" in state["last_error"]
    error = await api.error("POST", f"/api/v1/dms/connections/{connection['id']}/sync", {"mode": "full"},
                            status=503, code="DMS_CONNECTION_FAILED")
    assert error["details"]["code"] == "DMS_001"
    assert len(fake.data_requests()) == 4  # refused without calling the DMS
    listed = await api.get("/api/integrations")
    rows = listed["integrations"] if isinstance(listed, dict) else listed
    assert [i["status"] for i in rows if i["id"] == "dms-reynolds"] == ["error"]
    await hub.bus.settle()
    assert [e.data["integration"] for e in events.of(api.org_id, "integration.error")] == ["dms-reynolds"]
    assert len(events.of(api.org_id, "dms.connection.circuit_opened")) == 1
    assert len(events.of(api.org_id, "dms.sync.failed")) == 2
    [notice] = events.of(api.org_id, "notification.requested")
    assert notice.data["user_id"] == admin.user_id and "failing" in notice.data["title"]

    # the DMS recovers; after the cool-down one sync tries, succeeds and closes the circuit
    fake.fail_always = None
    from plugins.integrations.dms.models import DmsConnection

    await DmsConnection.filter(id=connection["id"]).update(circuit_open_until=datetime.now(timezone.utc))
    run = await sync(connection["id"], "full")
    assert run["status"] == "completed"
    state = await api.get(f"/api/v1/dms/connections/{connection['id']}")
    assert state["status"] == "connected" and state["circuit_open_until"] is None and state["last_error"] is None
    listed = await api.get("/api/integrations")
    rows = listed["integrations"] if isinstance(listed, dict) else listed
    assert [i["status"] for i in rows if i["id"] == "dms-reynolds"] == ["connected"]


async def test_slow_answers_time_out_and_are_retried(api, connect, sync, fake_dms):
    fake = fake_dms("Reynolds", customers=3, delay=0.3)
    connection = await connect(fake, retry_attempts=1)
    await api.put(f"/api/v1/dms/connections/{connection['id']}",
                  {"configuration": {"base_url": fake.url, "timeout_ms": 100}})
    run = await sync(connection["id"], "full", resources=["customers"])
    assert run["status"] == "failed" and "Timeout" in run["errors"][-1]["error"]
    assert len(fake.data_requests()) == 2
    fake.delay = 0
    run = await sync(connection["id"], "full", resources=["customers"])
    assert run["status"] == "completed"


async def test_one_sync_at_a_time_and_crm_off(api, connect, sync, fake_dms):
    fake = fake_dms("Reynolds", customers=3, delay=0.2)
    connection = await connect(fake)
    started = await api.call("POST", f"/api/v1/dms/connections/{connection['id']}/sync", {"mode": "full"},
                             status=202)
    error = await api.error("POST", f"/api/v1/dms/connections/{connection['id']}/sync", {}, status=409,
                            code="CONFLICT")
    assert error["details"]["sync_id"] == started["id"]
    await api.wait_for_job(started["job_id"])
    fake.delay = 0

    # the CRM switched off for the organization: the sync goes on without contacts
    await api.put("/api/v1/plugins/crm", {"enabled": False})
    fake.seed(2, start=3, updated=datetime.now(timezone.utc) + timedelta(minutes=1))
    run = await sync(connection["id"], "incremental", resources=["customers"])
    assert run["status"] == "completed" and run["counts"]["customers"]["created"] == 2
    assert any("CRM not used" in e["error"] for e in run["errors"])
    customers = (await api.get("/api/v1/dms/customers"))["customers"]
    assert sorted(c["dms_customer_id"] for c in customers if c["contact_id"] is None) == ["C3", "C4"]
    await api.put("/api/v1/plugins/crm", {"enabled": True})


async def test_a_cancelled_sync_ends_its_run_and_frees_the_connection(api, connect, sync, fake_dms):
    fake = fake_dms("Reynolds", customers=40, delay=0.1)
    connection = await connect(fake)
    started = await api.call("POST", f"/api/v1/dms/connections/{connection['id']}/sync", {"mode": "full"},
                             status=202)
    while not fake.data_requests():
        await asyncio.sleep(0.02)
    await api.call("DELETE", f"/api/v1/jobs/{started['job_id']}", status=202)  # asked of a running job
    job = await api.wait_for_job(started["job_id"])
    assert job["status"] == "cancelled"
    run = await api.get(f"/api/v1/dms/connections/{connection['id']}/syncs/{started['id']}")
    while run["status"] == "running":  # the job notices the cancel at its next page
        await asyncio.sleep(0.05)
        run = await api.get(f"/api/v1/dms/connections/{connection['id']}/syncs/{started['id']}")
    assert run["status"] == "failed" and run["counts"]["customers"]["created"] < 40
    fake.delay = 0
    again = await sync(connection["id"], "full", resources=["customers"])
    assert again["status"] == "completed" and again["counts"]["customers"] == {"created": 40 - run["counts"][
        "customers"]["created"], "updated": run["counts"]["customers"]["created"]}

"""CRM events (seed 004 "WebSocket Events"): lead.created, lead.updated, message.received,
metrics.update, observed by a real subscriber plugin; and on a real WebSocket of a real
`python hub.py serve`, where a socket of another organization receives none of them."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import httpx
import pytest

from plugins.crm.models import Lead
from tests.helpers import PASSWORD
from tests.live_server import live_hub
from tests.plugins.crm.support import SEED_EVENTS, parse_time, utcnow



def assert_seed_shaped(event, event_type: str) -> None:
    message = event.to_message()
    assert set(message) == {"type", "data", "timestamp"} and message["type"] == event_type
    parse_time(message["timestamp"])
    assert set(SEED_EVENTS.get(event_type, ())) <= set(event.data), (event_type, event.data)
    assert "user_id" not in event.data  # organization-wide events name no single recipient
    json.dumps(message)  # the wire form is plain JSON


async def test_lead_created_and_updated(api, events, admin, other_admin):
    lead = await api.lead(name="Jane Doe", email="jane@example.com", source="website", value=10)
    [created] = events.of(admin.org_id, "lead.created")
    assert_seed_shaped(created, "lead.created")
    assert {k: created.data[k] for k in SEED_EVENTS["lead.created"]} == {
        "id": lead["id"], "name": "Jane Doe", "email": "jane@example.com", "source": "website"}
    assert created.data["actorId"] == admin.user_id and created.data["status"] == "new"

    await api.put(f"/api/leads/{lead['id']}", {"status": "contacted", "notes": "called"})
    [updated] = events.of(admin.org_id, "lead.updated")
    assert_seed_shaped(updated, "lead.updated")  # seed 004 names it (webhooks) without a shape
    assert updated.data["id"] == lead["id"] and updated.data["status"] == "contacted"
    assert updated.data["previousStatus"] == "new" and updated.data["changes"] == ["notes", "status"]
    assert "user_id" not in updated.data

    await api.error("PUT", f"/api/leads/{lead['id']}", {"status": "converted"}, field="status")
    assert len(events.of(admin.org_id, "lead.updated")) == 1  # a refused change announces nothing
    await api.delete(f"/api/leads/{lead['id']}")
    assert [e.data["id"] for e in events.of(admin.org_id, "lead.deleted")] == [lead["id"]]
    assert events.of(other_admin.org_id) == []


async def test_message_received_and_sent(api, events, admin):
    lead = await api.lead()
    incoming = await api.message(lead["id"], "Hi, I'm interested in your product", sender="lead")
    [received] = events.of(admin.org_id, "message.received")
    assert_seed_shaped(received, "message.received")
    assert {k: received.data[k] for k in SEED_EVENTS["message.received"]} == {
        "id": incoming["id"], "leadId": lead["id"], "content": "Hi, I'm interested in your product", "sender": "lead"}
    assert received.data.get("actorId") is None  # the lead wrote it, not a member

    reply = await api.message(lead["id"], "Let me schedule a demo.", sender="agent")
    [sent] = events.of(admin.org_id, "message.sent")
    assert sent.data["id"] == reply["id"] and sent.data["sender"] == "agent" and sent.data["actorId"] == admin.user_id
    assert len(events.of(admin.org_id, "message.received")) == 1


async def test_metrics_update_counts_leads_today_against_yesterday(api, events, admin):
    first = await api.lead()
    metrics = events.of(admin.org_id, "metrics.update")
    assert_seed_shaped(metrics[-1], "metrics.update")
    assert set(metrics[-1].data) == set(SEED_EVENTS["metrics.update"])
    assert metrics[-1].data == {"metric": "leads_today", "value": 1, "change": "+1", "changeType": "increase"}

    yesterday = utcnow().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    await Lead.filter(id=first["id"]).update(created_at=yesterday)
    await api.lead()
    assert events.of(admin.org_id, "metrics.update")[-1].data == {
        "metric": "leads_today", "value": 1, "change": "+0", "changeType": "unchanged"}
    await api.lead()
    assert events.of(admin.org_id, "metrics.update")[-1].data == {
        "metric": "leads_today", "value": 2, "change": "+1", "changeType": "increase"}

    for lead in (await api.get("/api/leads"))["leads"]:  # now 3 yesterday, 0 today
        await Lead.filter(id=lead["id"]).update(created_at=yesterday)
    await Lead.bulk_create([Lead(org_id=admin.org_id, name="older", created_at=yesterday) for _ in range(2)])
    await api.lead()
    assert events.of(admin.org_id, "metrics.update")[-1].data == {
        "metric": "leads_today", "value": 1, "change": "-4", "changeType": "decrease"}


async def test_events_follow_the_request_that_caused_them(api, events, admin):
    lead = await api.lead()
    await api.put(f"/api/leads/{lead['id']}", {"status": "qualified"})
    await api.message(lead["id"], "hello", sender="lead")
    crm_types = [t for t in events.types(admin.org_id) if t.split(".")[0] in ("lead", "message", "metrics")]
    assert crm_types == ["lead.created", "metrics.update", "lead.updated", "message.received"]


# -- a real WebSocket on a real server ----------------------------------------------------------


@pytest.fixture(scope="module")
def served_hub(tmp_path_factory):
    """`python hub.py serve` on a temporary SQLite database."""
    with live_hub(tmp_path_factory.mktemp("served-hub"), env={"HUB_RATE_LIMITS__ENABLED": "false"}) as hub:
        yield hub.url


async def _account(http: httpx.AsyncClient) -> dict:
    email = f"ws-{uuid.uuid4().hex[:10]}@example.com"
    registered = await http.post("/api/auth/register", json={
        "email": email, "password": PASSWORD, "first_name": "W", "last_name": "S", "organization_name": email})
    assert registered.status_code == 201, registered.text
    login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    user = login.json()["user"]
    return {"token": token, "headers": {"Authorization": f"Bearer {token}"}, "org_id": user["tenant_id"],
            "user_id": user["id"]}


async def _next_event(ws, wanted: set[str], timeout: float = 10) -> dict:
    """The next message whose type is in `wanted` (pings and other events are skipped)."""
    async def read() -> dict:
        while True:
            message = json.loads(await ws.recv())
            if message["type"] in wanted:
                return message

    return await asyncio.wait_for(read(), timeout)


async def test_lead_created_reaches_a_websocket_of_its_organization_only(served_hub):
    import websockets

    ws_base = served_hub.replace("http://", "ws://")
    async with httpx.AsyncClient(base_url=served_hub, timeout=20) as http:
        alice, bob = await _account(http), await _account(http)
        async with websockets.connect(f"{ws_base}/ws?token={alice['token']}") as alice_ws, \
                websockets.connect(f"{ws_base}/ws?token={bob['token']}") as bob_ws:
            for ws, who in ((alice_ws, alice), (bob_ws, bob)):
                connected = await _next_event(ws, {"connected", "error"})
                assert connected["type"] == "connected", connected
                assert connected["data"]["org_id"] == who["org_id"]

            response = await http.post("/api/leads", headers=alice["headers"], json={
                "name": "Jane Doe", "email": "jane@example.com", "source": "website"})
            assert response.status_code == 201, response.text
            lead = response.json()

            message = await _next_event(alice_ws, {"lead.created"})
            assert set(message) == {"type", "data", "timestamp"}
            assert {k: message["data"][k] for k in SEED_EVENTS["lead.created"]} == {
                "id": lead["id"], "name": "Jane Doe", "email": "jane@example.com", "source": "website"}
            parse_time(message["timestamp"])
            metrics = await _next_event(alice_ws, {"metrics.update"})
            assert metrics["data"] == {"metric": "leads_today", "value": 1, "change": "+1", "changeType": "increase"}

            sent = await http.post("/api/messages", headers=alice["headers"], json={
                "leadId": lead["id"], "content": "Hi, I'm interested in your product", "sender": "lead"})
            assert sent.status_code == 201, sent.text
            received = await _next_event(alice_ws, {"message.received"})
            assert {k: received["data"][k] for k in SEED_EVENTS["message.received"]} == {
                "id": sent.json()["id"], "leadId": lead["id"], "content": "Hi, I'm interested in your product",
                "sender": "lead"}

            # Bob's socket is alive and gets Bob's own lead first: none of Alice's events came before it.
            own = await http.post("/api/leads", headers=bob["headers"], json={"name": "Bob's lead"})
            assert own.status_code == 201, own.text
            seen = []
            while True:
                message = json.loads(await asyncio.wait_for(bob_ws.recv(), 10))
                seen.append(message)
                if message["type"] == "lead.created":
                    break
            assert message["data"]["id"] == own.json()["id"]
            leaked = [m for m in seen if alice["user_id"] in json.dumps(m) or lead["id"] in json.dumps(m)]
            assert leaked == [], leaked
            # Bob's own first-lead achievement arrives before his lead.created (it is emitted
            # from the CRM's hub_on_event, which runs before the WebSocket sink), for Bob only.
            assert {m["type"] for m in seen} <= {"ping", "achievement.unlocked", "notification.created",
                                                  "lead.created"}, seen
            assert all(m["data"]["user_id"] == bob["user_id"] for m in seen
                       if m["type"] in ("achievement.unlocked", "notification.created"))
            # and Alice's socket does not get Bob's lead
            await http.post("/api/leads", headers=alice["headers"], json={"name": "Alice again"})
            mine = await _next_event(alice_ws, {"lead.created"})
            assert mine["data"]["name"] == "Alice again"

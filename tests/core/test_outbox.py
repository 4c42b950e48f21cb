"""Events after commit (core/events/outbox.py): `emit` records the event in the outbox with the
caller's change, the dispatcher delivers it once that change is committed, never when it is
rolled back, off the response path, and events whose process died are taken over."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from quart.testing import QuartClient
from tortoise.transactions import in_transaction

from core import emit, on_commit, transaction
from core.events.bus import Event
from core.events.models import OutboxEvent
from core.events.outbox import Outbox
from core.kernel.transactions import unit_of_work
from core.testing import plugin_module

TYPE = "test.outboxed"


@pytest.fixture(autouse=True)
def outboxed_type(event_types):
    event_types(TYPE)


def delivered(events, org_id) -> list[int]:
    return [e.data["n"] for e in events.of(org_id, TYPE)]


async def test_an_event_is_written_with_its_change_and_delivered_only_after_commit(app, hub, admin, events):
    async with app.app_context():
        async with transaction():
            event = await emit(admin.org_id, TYPE, {"n": 1})
            assert await OutboxEvent.filter(id=event.id).exists()  # in the same transaction
            await asyncio.sleep(0.05)  # the dispatcher is idle, not waiting for us to finish
            assert delivered(events, admin.org_id) == []
        await hub.bus.settle()
    assert [e.id for e in events.of(admin.org_id, TYPE)] == [event.id]
    assert not await OutboxEvent.filter(id=event.id).exists()  # gone once dispatched


async def test_a_rolled_back_change_emits_nothing(app, hub, admin, events):
    committed_callbacks = []
    async with app.app_context():
        with pytest.raises(RuntimeError):
            async with transaction():
                event = await emit(admin.org_id, TYPE, {"n": 1})
                on_commit(lambda: committed_callbacks.append("ran"))
                raise RuntimeError("the change fails")
        with pytest.raises(RuntimeError):
            async with unit_of_work():  # a request or a job, with a bare tortoise transaction
                async with in_transaction():
                    bare = await emit(admin.org_id, TYPE, {"n": 2})
                    raise RuntimeError("this one fails too")
        await hub.bus.settle()
    await asyncio.sleep(hub.settings.events.outbox_poll_seconds * 1.5)  # a poll finds nothing either
    assert delivered(events, admin.org_id) == []
    assert committed_callbacks == []
    assert not await OutboxEvent.filter(id__in=[event.id, bare.id]).exists()
    assert hub.bus.outbox.stats["rolled_back"] >= 1  # the bare one was confirmed, and found gone


async def test_a_failed_savepoint_drops_only_its_own_events(app, hub, admin, events):
    async with app.app_context():
        async with transaction():
            await emit(admin.org_id, TYPE, {"n": 1})
            with pytest.raises(ValueError):
                async with transaction():
                    await emit(admin.org_id, TYPE, {"n": 2})
                    raise ValueError("inner fails")
            async with transaction():
                await emit(admin.org_id, TYPE, {"n": 3})
        await hub.bus.settle()
    assert delivered(events, admin.org_id) == [1, 3]


async def test_a_bare_tortoise_transaction_is_dispatched_when_its_unit_of_work_ends(app, hub, admin, events):
    async with app.app_context():
        async with unit_of_work():
            async with in_transaction():
                await emit(admin.org_id, TYPE, {"n": 1})
            assert delivered(events, admin.org_id) == []  # its commit was not announced
        await hub.bus.settle()
        assert delivered(events, admin.org_id) == [1]
        async with in_transaction():  # no unit of work: a poll finds it once committed
            await emit(admin.org_id, TYPE, {"n": 2})
    await events.wait_for(admin.org_id, TYPE)
    deadline = time.monotonic() + 10
    while delivered(events, admin.org_id) != [1, 2]:
        assert time.monotonic() < deadline, delivered(events, admin.org_id)
        await asyncio.sleep(0.05)


async def test_events_of_one_organization_arrive_in_emit_order(app, hub, admin, other_admin, events):
    async with app.app_context():
        for n in range(30):
            await emit(admin.org_id if n % 2 else other_admin.org_id, TYPE, {"n": n})
        await hub.bus.settle()
    assert delivered(events, admin.org_id) == list(range(1, 30, 2))
    assert delivered(events, other_admin.org_id) == list(range(0, 30, 2))


async def test_handlers_run_after_the_response_is_sent(app, hub, admin):
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow_handler(event):
        if event.type == "example.note_created":
            started.set()
            await release.wait()

    listener = plugin_module("slow_listener", hub_on_event=slow_handler)
    hub.manager.register(listener, name="slow_listener")
    try:
        plain = QuartClient(app)  # not the kit's client, which waits for the dispatcher
        response = await asyncio.wait_for(
            plain.post("/api/example/notes", headers=admin.headers, json={"text": "fast answer"}), 10)
        assert response.status_code == 201  # answered while the handler is still waiting
        await asyncio.wait_for(started.wait(), 10)
        assert not release.is_set()
    finally:
        release.set()
        await hub.bus.settle()
        hub.manager.unregister(listener)


async def test_an_event_left_by_a_dead_process_is_taken_over_once(app, hub, admin, events):
    event_id = uuid.uuid4().hex
    await OutboxEvent.create(  # what a process killed after its commit leaves behind
        id=event_id, org_id=admin.org_id, type=TYPE, data={"n": 7}, timestamp="2026-01-01T00:00:00Z",
        lease_until=datetime.now(timezone.utc) - timedelta(seconds=1),
    )
    other_process = Outbox(hub.bus, hub.settings.events)
    try:
        taken = await asyncio.gather(hub.bus.outbox.take_over(), other_process.take_over())
        assert sorted(taken) == [0, 1] or sum(taken) == 0  # one claims it (or the poller was first)
        got = await events.wait_for(admin.org_id, TYPE)
        assert got.id == event_id and got.data == {"n": 7} and got.timestamp == "2026-01-01T00:00:00Z"
        await hub.bus.settle()
        await other_process.settle()
    finally:
        await other_process.stop(grace_seconds=5)
    assert [e.id for e in events.of(admin.org_id, TYPE)] == [event_id]  # delivered once
    assert not await OutboxEvent.filter(id=event_id).exists()


async def test_an_owner_past_its_lease_does_not_dispatch_what_another_took(app, hub, admin, events):
    async with app.app_context():
        async with transaction():
            event = await emit(admin.org_id, TYPE, {"n": 1})
            # Before the commit, another process takes the row over (as if our lease had ended).
            await OutboxEvent.filter(id=event.id).update(attempts=1)
        await hub.bus.settle()
    assert delivered(events, admin.org_id) == [1]  # it did not check: its lease was still good
    stale = Event(TYPE, admin.org_id, {"n": 2})
    await OutboxEvent.create(id=stale.id, org_id=stale.org_id, type=TYPE, data=stale.data,
                             timestamp=stale.timestamp, attempts=1,
                             lease_until=datetime.now(timezone.utc) + timedelta(seconds=60))
    hub.bus.outbox.push(stale, owned_until=time.time() - 1)  # our lease is over: claim first
    await hub.bus.settle()
    assert delivered(events, admin.org_id) == [1]  # the claim failed (someone else has it)
    assert await OutboxEvent.filter(id=stale.id).exists()
    await OutboxEvent.filter(id=stale.id).delete()


async def test_event_data_is_what_json_gives_back_in_every_process(app, hub, admin, events):
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    ident = uuid.uuid4()
    async with app.app_context():
        event = await emit(admin.org_id, TYPE, {"n": 1, "at": when, "id": ident, "tags": {"a"}})
        await hub.bus.settle()
    assert event.data == {"n": 1, "at": when.isoformat(), "id": str(ident), "tags": ["a"]}
    assert events.of(admin.org_id, TYPE)[0].data == event.data


# -- a real process killed between commit and dispatch ----------------------------------------------

from tests.core.test_webhooks import Receiver  # noqa: E402
from tests.live_server import live_hub  # noqa: E402

KILL_ENV = {
    "HUB_EVENTS__OUTBOX_LEASE_SECONDS": "2",  # a dead owner's events are anyone's after 2 s
    "HUB_WEBHOOKS__ALLOWLIST": "127.0.0.1",
    "HUB_WEBHOOKS__BACKOFF_BASE_SECONDS": "0.1",
    "HUB_RATE_LIMITS__ENABLED": "false",
}


def outbox_rows(data_dir) -> int:
    import sqlite3

    with sqlite3.connect(data_dir / "hub.sqlite3") as database:
        return database.execute("SELECT count(*) FROM core_event_outbox").fetchone()[0]


async def lead_burst(url: str, headers: dict, acknowledged: list[str], stop: asyncio.Event) -> None:
    """16 clients creating leads until `stop` (or until the server dies under them)."""
    import httpx

    async def one_client(n: int) -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as http:
            for i in range(10_000):
                if stop.is_set():
                    return
                try:
                    created = await http.post("/api/leads", json={"name": f"Lead {n}-{i}", "source": "website"})
                except httpx.TransportError:
                    return  # killed mid-request: that lead may or may not exist
                assert created.status_code == 201, created.text
                acknowledged.append(created.json()["id"])

    await asyncio.gather(*(one_client(n) for n in range(16)))


async def test_events_committed_by_a_killed_process_are_delivered_after_restart(tmp_path):
    """SIGKILL a real `hub serve` during a burst of lead creations, while committed events are
    still in its outbox; once a process runs again, every lead that exists (every acknowledged
    one included) has had its `lead.created` delivered to the webhook, under one event id."""
    import httpx

    receiver = Receiver()
    acknowledged: list[str] = []
    left_in_outbox = 0
    try:
        with live_hub(tmp_path, env=KILL_ENV) as first:
            with httpx.Client(base_url=first.url, timeout=10) as http:
                email = f"outbox-{uuid.uuid4().hex[:8]}@example.com"
                password = "correct horse battery staple"
                assert http.post("/api/auth/register", json={
                    "email": email, "password": password, "first_name": "Out", "last_name": "Box",
                    "organization_name": "Outbox Ltd"}).status_code == 201
                token = http.post("/api/auth/login", json={"email": email, "password": password}).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                hook = http.post("/api/v1/webhooks", headers=headers,
                                 json={"url": receiver.url("/leads"), "events": ["lead.created"]})
                assert hook.status_code == 201, hook.text
        # The same database, process after process: kill each one mid-burst until one dies
        # with committed events still in its outbox (the dispatcher is usually milliseconds behind).
        for attempt in range(4):
            with live_hub(tmp_path, env=KILL_ENV) as server:
                stop = asyncio.Event()
                burst = asyncio.create_task(lead_burst(server.url, headers, acknowledged, stop))
                started = len(acknowledged)
                while len(acknowledged) < started + 60 + 40 * attempt and not burst.done():
                    await asyncio.sleep(0.01)
                server.kill()  # the requests in flight fail; the burst ends
                stop.set()
                await burst
            left_in_outbox = outbox_rows(tmp_path)
            if left_in_outbox:
                break
        assert left_in_outbox > 0, "no kill landed between a commit and its dispatch: the test proved nothing"

        with live_hub(tmp_path, env=KILL_ENV) as restarted:
            with httpx.Client(base_url=restarted.url, headers=headers, timeout=10) as http:
                existing = set()
                for offset in range(0, 100_000, 100):
                    page = http.get("/api/leads", params={"limit": 100, "offset": offset}).json()
                    existing |= {lead["id"] for lead in page["leads"]}
                    if not page["pagination"]["hasMore"]:
                        break
            assert set(acknowledged) <= existing
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                bodies = [json.loads(r["body"]) for r in receiver.at("/leads")]
                delivered_leads = {body["data"]["id"] for body in bodies}
                if delivered_leads >= existing and outbox_rows(tmp_path) == 0:
                    break
                await asyncio.sleep(0.25)
            missing = existing - delivered_leads
            assert not missing, f"{len(missing)} of {len(existing)} leads never announced ({left_in_outbox} left at the kill)"
            assert outbox_rows(tmp_path) == 0
            # At least once, one event per lead: a redelivery carries the same event id.
            event_ids_per_lead: dict[str, set[str]] = {}
            for body in bodies:
                assert body["event"] == "lead.created"
                event_ids_per_lead.setdefault(body["data"]["id"], set()).add(body["id"])
            assert all(len(ids) == 1 for ids in event_ids_per_lead.values()), event_ids_per_lead
            assert set(event_ids_per_lead) == existing
    finally:
        receiver.close()

"""Events (core/events.py): `emit` calls every enabled plugin's hub_on_event and then every
event sink (WebSocket fan-out, webhooks). A failing handler or sink is logged and counted;
it neither fails the request that emitted nor stops the handlers and sinks after it."""

from __future__ import annotations

import json
import logging
import types
import uuid

import pytest

from core.events.bus import Event, emit


def plugin_module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, function)
    return module


@pytest.fixture
def listeners(hub):
    """Registers plugin modules on the session's plugin manager for one test."""
    added = []

    def add(name: str, **hooks):
        module = plugin_module(name, **hooks)
        hub.manager.register(module, name=name)
        added.append(module)
        return module

    yield add
    for module in added:
        hub.manager.unregister(module)


@pytest.fixture
def sinks(hub):
    """Adds event sinks for one test; `first=True` puts one before the Hub's own sinks."""
    added = []

    def add(sink, first: bool = False):
        hub.event_sinks.insert(0, sink) if first else hub.event_sinks.append(sink)
        added.append(sink)
        return sink

    yield add
    for sink in added:
        hub.event_sinks.remove(sink)


def received(marker: str, events: list[Event]) -> list[Event]:
    return [e for e in events if e.data.get("text") == marker or e.data.get("marker") == marker]


async def test_a_failing_handler_does_not_fail_the_request_and_the_others_still_run(
    client, hub, admin, listeners, caplog
):
    import hub_example_plugin

    seen_after: list[Event] = []

    async def failing(event):
        raise RuntimeError("handler bug")

    async def recording(event):
        seen_after.append(event)

    listeners("ev_failing", hub_on_event=failing)  # registered after the example plugin ...
    listeners("ev_recording", hub_on_event=recording)  # ... and before this one
    order = [hub.manager.get_name(impl.plugin) for impl in hub.manager.hook.hub_on_event.get_hookimpls()]
    assert order.index("example") < order.index("ev_failing") < order.index("ev_recording")

    before = hub.bus.handler_failures
    marker = f"note-{uuid.uuid4().hex}"
    with caplog.at_level(logging.ERROR, logger="hub.events"):
        created = await client.post("/api/example/notes", headers=admin.headers, json={"text": marker})
    assert created.status_code == 201, await created.get_json()
    assert hub.bus.handler_failures == before + 1
    assert len(received(marker, hub.extensions[hub_example_plugin.RECEIVED])) == 1  # the one before it
    assert len(received(marker, seen_after)) == 1  # and the one after it
    failure = [r for r in caplog.records if "ev_failing" in r.getMessage()]
    assert failure and failure[0].exc_info and "handler bug" in str(failure[0].exc_info[1])
    assert "example.note_created" in failure[0].getMessage()


async def test_synchronous_handlers_run_and_their_failures_are_counted_too(app, hub, admin, listeners, event_types):
    event_types("test.synced")
    seen: list[Event] = []

    def failing_sync(event):
        raise ValueError("sync bug")

    def recording_sync(event):
        seen.append(event)

    def no_argument():  # an implementation may take no argument at all
        seen.append("called")

    listeners("ev_sync_failing", hub_on_event=failing_sync)
    listeners("ev_sync_recording", hub_on_event=recording_sync)
    listeners("ev_no_argument", hub_on_event=no_argument)
    before = hub.bus.handler_failures
    async with app.app_context():
        event = await emit(admin.org_id, "test.synced", {"marker": "s"})
        await emit(admin.org_id, "test.synced", {"marker": "t"})
        await hub.bus.settle()  # delivered after the response path, by the dispatcher
    assert hub.bus.handler_failures == before + 2  # once per event
    assert [e.data["marker"] for e in seen if isinstance(e, Event)] == ["s", "t"]
    assert seen.count("called") == 2
    assert event.type == "test.synced" and event.org_id == admin.org_id


async def test_every_failing_handler_is_counted_once(app, hub, admin, listeners, event_types):
    event_types("test.failed_twice")
    async def first(event):
        raise RuntimeError("one")

    async def second(event):
        raise KeyError("two")

    listeners("ev_first_bug", hub_on_event=first)
    listeners("ev_second_bug", hub_on_event=second)
    before = hub.bus.handler_failures
    async with app.app_context():
        await emit(admin.org_id, "test.failed_twice", {})
        await hub.bus.settle()
    assert hub.bus.handler_failures == before + 2


async def test_a_failing_sink_does_not_fail_the_request_and_later_sinks_still_run(
    client, hub, admin, sinks, caplog
):
    later: list[Event] = []

    async def broken_sink(event):
        raise ConnectionError("sink down")

    async def recording_sink(event):
        later.append(event)

    sinks(broken_sink, first=True)  # before the WebSocket gateway's sink
    sinks(recording_sink)
    before = hub.bus.sink_failures
    marker = f"note-{uuid.uuid4().hex}"
    async with client.websocket("/ws", headers=admin.headers) as ws:
        assert json.loads(await ws.receive())["type"] == "connected"
        with caplog.at_level(logging.ERROR, logger="hub.events"):
            created = await client.post("/api/example/notes", headers=admin.headers, json={"text": marker})
        assert created.status_code == 201, await created.get_json()
        while (message := json.loads(await ws.receive()))["type"] == "ping":
            pass
        assert message["type"] == "example.note_created" and message["data"]["text"] == marker  # the gateway ran
    assert hub.bus.sink_failures == before + 1
    assert len(received(marker, later)) == 1
    assert any("broken_sink" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_a_handler_failure_and_a_sink_failure_in_one_emit_are_counted_apart(
    app, hub, admin, listeners, sinks, event_types
):
    event_types("test.failed_both")
    async def failing(event):
        raise RuntimeError("handler bug")

    async def broken_sink(event):
        raise RuntimeError("sink bug")

    listeners("ev_both_handler", hub_on_event=failing)
    sinks(broken_sink)
    handlers, sink_failures = hub.bus.handler_failures, hub.bus.sink_failures
    async with app.app_context():
        await emit(admin.org_id, "test.failed_both", {})
        await hub.bus.settle()
    assert hub.bus.handler_failures == handlers + 1
    assert hub.bus.sink_failures == sink_failures + 1


async def test_event_objects_carry_id_time_and_the_wire_shape(app, admin, event_types):
    event_types("thing.created")
    async with app.app_context():
        first = await emit(admin.org_id, "thing.created", {"id": "lead_123"})
        second = await emit(uuid.UUID(admin.org_id), "thing.created", {"id": "lead_124"})
    assert first.id != second.id and len(first.id) == 32
    assert second.org_id == admin.org_id  # organization ids are normalised to strings
    assert first.timestamp.endswith("Z")
    assert first.to_message() == {"type": "thing.created", "data": {"id": "lead_123"}, "timestamp": first.timestamp}

"""The example plugin's own tests, written as a third-party author writes them: with nothing but
the Hub's test kit (core/testing.py, loaded by pytest through the Hub's `pytest11` entry point)."""

from __future__ import annotations

import pytest

from core.testing import Api


class NotesApi(Api):
    """The kit's Api with this plugin's shortcut."""

    async def note(self, text: str = "a note") -> dict:
        return await self.post("/api/example/notes", {"text": text})


@pytest.fixture
def hub_api_class():
    return NotesApi


async def test_a_note_is_written_listed_and_announced(api, events, ws, admin):
    async with ws(admin) as socket:
        note = await api.note("groceries")
        message = await socket.event("example.note_created")
    assert message["data"] == {"id": note["id"], "text": "groceries"}
    [event] = events.of(admin.org_id, "example.note_created")
    assert event.data["id"] == note["id"]
    listed = await api.get("/api/example/notes")
    assert [n["id"] for n in listed["notes"]] == [note["id"]] and listed["pagination"]["has_more"] is False


async def test_roles_and_keys(api_of):
    viewer = await api_of(role="viewer")
    await viewer.error("POST", "/api/example/notes", {"text": "no"}, status=403, code="FORBIDDEN")
    assert (await viewer.get("/api/example/notes"))["total"] == 0
    reader = await api_of(key=["read"])
    await reader.error("POST", "/api/example/notes", {"text": "no"}, status=403, code="FORBIDDEN")
    writer = await api_of(key=["example.*"])
    assert (await writer.note("from a key"))["text"] == "from a key"


async def test_another_organization_cannot_see_or_touch_a_note(api, other_api, assert_isolated):
    note = await api.note("mine")
    await assert_isolated(api, other_api, f"/api/example/notes/{note['id']}")
    assert (await other_api.get("/api/example/notes"))["total"] == 0


async def test_the_plugin_settings_come_from_the_overrides(hub, hub_client):
    assert hub.plugin_settings("example").greeting == "hello from the tests"
    response = await hub_client.get("/api/example/greeting")
    assert (await response.get_json()) == {"greeting": "hello from the tests"}

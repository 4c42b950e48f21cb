"""Ticket attachments through the core's file store: typed by content, bounded per file and per
ticket with nothing kept when refused, downloaded as attachments, and kept per organization."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path

from quart.datastructures import FileStorage

from core.files import service as files
from core.files.models import StoredFile
from core.testing import Api
from plugins.support.models import Ticket, TicketAttachment

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"This program cannot be run"


async def upload(api, ticket_id: str, data: bytes, name: str = "screenshot.png",
                 content_type: str | None = "image/png", field: str = "file"):
    """(status, body) of POST /api/v1/tickets/{id}/attachments with `data` as the part `field`."""
    part = FileStorage(io.BytesIO(data), filename=name, content_type=content_type)
    response = await api.client.post(f"/api/v1/tickets/{ticket_id}/attachments", files={field: part},
                                     headers=api.headers)
    return response.status_code, await response.get_json()


async def open_ticket(api) -> dict:
    return await api.post("/api/v1/tickets", {"title": "Broken export", "description": "see the screenshot"})


def stored_paths(hub, org_id: str) -> list[Path]:
    """The organization's files in the local store, and anything left in the spool."""
    root = files.store_of(hub).root
    return [p for p in [*(root / org_id).rglob("*"), *files.store_of(hub).spool_dir.glob("*")] if p.is_file()]


async def nothing_stored(hub, org_id: str) -> bool:
    return (not stored_paths(hub, org_id) and not await StoredFile.filter(org_id=org_id).exists()
            and not await TicketAttachment.filter(org_id=org_id).exists())


async def test_an_attachment_is_stored_listed_and_downloaded_safely(api, hub, member_of, hub_client):
    ticket = await open_ticket(api)
    status, body = await upload(api, ticket["id"], PNG, name="../../etc/screen shot.png")
    assert status == 201, body
    assert body["name"] == "screen shot.png" and body["content_type"] == "image/png" and body["size"] == len(PNG)
    assert body["ticket_id"] == ticket["id"] and body["uploaded_by"] == api.account.user_id
    # the core keeps it under a generated name, private to the plugin's routes
    row = await StoredFile.get(id=body["id"])
    assert row.purpose == "support.attachment" and row.owner_id == ticket["id"] and row.shared is False
    assert [p.name for p in stored_paths(hub, api.org_id)] == [body["id"]]
    await api.error("GET", f"/api/files/{body['id']}", status=404, code="NOT_FOUND")
    path = f"/api/v1/tickets/{ticket['id']}/attachments"
    assert [a["id"] for a in await api.get(path)] == [body["id"]]
    assert [a["id"] for a in (await api.get(f"/api/v1/tickets/{ticket['id']}"))["attachments"]] == [body["id"]]
    viewer = Api.of(hub_client, await member_of(api.account, "viewer"))
    for caller in (api, viewer):
        response = await caller.client.get(f"{path}/{body['id']}", headers=caller.headers)
        assert response.status_code == 200 and await response.get_data() == PNG
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Type"] == "image/png"
    response = await api.client.get(f"{path}/{body['id']}")  # no credentials
    assert response.status_code == 401
    assert (await Ticket.get(id=ticket["id"])).attachment_bytes == len(PNG)


async def test_a_renamed_executable_is_refused_with_nothing_stored(api, hub):
    ticket = await open_ticket(api)
    for name, content_type in (("invoice.pdf", "application/pdf"), ("photo.png", "image/png"),
                               ("notes.txt", None), ("setup.exe", "application/octet-stream")):
        status, body = await upload(api, ticket["id"], EXE, name=name, content_type=content_type)
        assert status == 415 and body["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE", (name, body)
    assert await nothing_stored(hub, api.org_id)
    assert (await Ticket.get(id=ticket["id"])).attachment_bytes == 0
    assert await api.get(f"/api/v1/tickets/{ticket['id']}/attachments") == []


async def test_an_oversized_file_is_refused_with_nothing_stored(api, hub, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("support"), "max_attachment_bytes", len(PNG) - 1)
    ticket = await open_ticket(api)
    status, body = await upload(api, ticket["id"], PNG)
    assert status == 413 and body["error"]["code"] == "PAYLOAD_TOO_LARGE", body
    assert body["error"]["details"]["max_bytes"] == len(PNG) - 1
    assert await nothing_stored(hub, api.org_id)
    assert (await Ticket.get(id=ticket["id"])).attachment_bytes == 0


async def test_a_ticket_holds_at_most_its_total_of_attachments(api, hub, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("support"), "max_ticket_attachment_bytes", len(PNG) * 2 + 10)
    ticket, other = await open_ticket(api), await open_ticket(api)
    for _ in range(2):
        status, body = await upload(api, ticket["id"], PNG)
        assert status == 201, body
    status, body = await upload(api, ticket["id"], PNG)
    assert status == 413 and body["error"]["code"] == "PAYLOAD_TOO_LARGE", body
    assert body["error"]["details"]["max_ticket_bytes"] == len(PNG) * 2 + 10
    assert len(await api.get(f"/api/v1/tickets/{ticket['id']}/attachments")) == 2
    assert await StoredFile.filter(org_id=api.org_id).count() == 2
    assert len(stored_paths(hub, api.org_id)) == 2
    assert (await Ticket.get(id=ticket["id"])).attachment_bytes == 2 * len(PNG)
    status, body = await upload(api, other["id"], PNG)  # the limit is per ticket
    assert status == 201, body


async def test_two_uploads_at_once_cannot_pass_the_ticket_total_together(api, hub, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("support"), "max_ticket_attachment_bytes", len(PNG) * 3 // 2)
    ticket = await open_ticket(api)
    results = await asyncio.gather(*(upload(api, ticket["id"], PNG) for _ in range(2)))
    assert sorted(status for status, _ in results) == [201, 413], results
    assert await StoredFile.filter(org_id=api.org_id).count() == 1 and len(stored_paths(hub, api.org_id)) == 1
    assert (await Ticket.get(id=ticket["id"])).attachment_bytes == len(PNG)


async def test_bad_uploads_are_400(api):
    ticket = await open_ticket(api)
    status, body = await upload(api, ticket["id"], PNG, field="attachment")
    assert status == 400 and body["error"]["details"]["field"] == "file", body
    status, body = await upload(api, ticket["id"], b"")
    assert status == 400, body
    response = await api.client.post(f"/api/v1/tickets/{ticket['id']}/attachments", json={"file": "x"},
                                     headers=api.headers)
    assert response.status_code == 415


async def test_attachments_of_another_organization_or_ticket_are_404(api, other_api, hub):
    ticket, sibling = await open_ticket(api), await open_ticket(api)
    status, body = await upload(api, ticket["id"], PNG)
    assert status == 201
    base = f"/api/v1/tickets/{ticket['id']}/attachments"
    status, error = await upload(other_api, ticket["id"], PNG)
    assert status == 404 and error["error"]["code"] == "NOT_FOUND"
    assert await nothing_stored(hub, other_api.org_id)
    await other_api.error("GET", base, status=404, code="NOT_FOUND")
    await other_api.error("GET", f"{base}/{body['id']}", status=404, code="NOT_FOUND")
    await api.error("GET", f"/api/v1/tickets/{sibling['id']}/attachments/{body['id']}", status=404, code="NOT_FOUND")
    await api.error("GET", f"{base}/{uuid.uuid4()}", status=404, code="NOT_FOUND")
    await api.error("GET", f"{base}/not-an-id", status=404, code="NOT_FOUND")

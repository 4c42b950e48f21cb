"""The core's file storage (core/files): uploads through POST /api/files streamed into the local
directory or an S3 bucket (moto's server on the loopback), bounded while streaming, typed by
content, named by generated ids, counted against the plan's storage_mb, downloaded as
attachments, and kept per organization."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from pathlib import Path

import pytest
from quart.datastructures import FileStorage

from core.files import service, sniff
from core.files.models import StorageUsage, StoredFile
from core.files.stores import LocalFileStore, S3FileStore, file_key
from core.kernel.errors import HubError
from core.kernel.settings import FileSettings
from core.testing import assert_error

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"This program cannot be run"
CSV = "name,score\nAda,91\nBob,42\n".encode()


async def upload(api, data: bytes, name: str = "people.csv", content_type: str | None = "text/csv",
                 field: str = "file"):
    """(status, body) of POST /api/files with `data` as the multipart part `field`."""
    part = FileStorage(io.BytesIO(data), filename=name, content_type=content_type)
    response = await api.client.post("/api/files", files={field: part}, headers=api.headers)
    return response.status_code, await response.get_json()


def store_files(hub) -> list[Path]:
    """Every file under the local store's directory (spool included)."""
    root = service.store_of(hub).root
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


async def org_files(org_id) -> int:
    return await StoredFile.filter(org_id=org_id).count()


# -- uploading, reading, deleting -----------------------------------------------------------------------


async def test_an_upload_is_stored_under_a_generated_name_and_read_back(api, hub, events):
    status, info = await upload(api, CSV)
    assert status == 201, info
    assert info["name"] == "people.csv" and info["content_type"] == "text/csv" and info["declared_type"] == "text/csv"
    assert info["size"] == len(CSV) and info["sha256"] == hashlib.sha256(CSV).hexdigest()
    assert info["purpose"] == "upload" and info["shared"] is True
    assert info["organization_id"] == api.org_id and info["created_by"] == api.account.user_id
    # on disk: <root>/<org>/<2>/<file id>, nothing named after the user's file, nothing left in the spool
    path = service.store_of(hub).path(file_key(api.org_id, info["id"]))
    assert path.read_bytes() == CSV and path.name == info["id"] and path.parent.parent.name == api.org_id
    assert not any("people" in p.name for p in store_files(hub))
    assert not list((service.store_of(hub).root / ".incoming").iterdir())

    assert await api.get(f"/api/files/{info['id']}") == info
    listed = await api.get("/api/files")
    assert [row["id"] for row in listed["files"]] == [info["id"]] and listed["total"] == 1
    assert listed["storage"] == {"used_bytes": len(CSV), "limit_bytes": None}
    assert await service.storage_used(api.org_id) == len(CSV)

    response = await api.client.get(f"/api/files/{info['id']}/content", headers=api.headers)
    assert response.status_code == 200 and await response.get_data() == CSV
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"] == "attachment; filename=\"people.csv\"; filename*=UTF-8''people.csv"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Length"] == str(len(CSV))

    await api.delete(f"/api/files/{info['id']}")
    await api.error("GET", f"/api/files/{info['id']}", status=404, code="NOT_FOUND")
    await api.error("GET", f"/api/files/{info['id']}/content", status=404, code="NOT_FOUND")
    assert not path.exists() and await service.storage_used(api.org_id) == 0


async def test_other_organizations_and_unknown_ids_get_404(api, other_api, assert_isolated):
    _, info = await upload(api, CSV)
    path = f"/api/files/{info['id']}"
    await assert_isolated(api, other_api, path)
    await assert_isolated(api, other_api, path + "/content", methods=("GET",))
    assert (await other_api.get("/api/files"))["files"] == []
    for unknown in (str(uuid.uuid4()), "not-an-id", "..%2F..%2Fetc%2Fpasswd"):
        await api.error("GET", f"/api/files/{unknown}", status=404, code="NOT_FOUND")
    # through the public API too: another organization's file does not exist for it
    with pytest.raises(HubError) as refused:
        await service.open_file(other_api.org_id, info["id"])
    assert refused.value.status == 404


async def test_viewers_read_but_cannot_upload_or_delete(api, api_of):
    _, info = await upload(api, CSV)
    viewer = await api_of(role="viewer")
    assert (await viewer.get(f"/api/files/{info['id']}"))["id"] == info["id"]
    status, body = await upload(viewer, CSV)
    assert_error(status, body, 403, "FORBIDDEN")
    await viewer.error("DELETE", f"/api/files/{info['id']}", status=403, code="FORBIDDEN")
    response = await api.client.post("/api/files", files={"file": FileStorage(io.BytesIO(CSV), filename="a.csv")})
    assert_error(response.status_code, await response.get_json(), 401, "AUTHENTICATION_FAILED")


async def test_a_plugins_private_files_are_not_reachable_through_the_generic_routes(api, hub):
    private = await service.save_file(api.org_id, CSV, name="internal.csv", purpose="support.attachment",
                                      owner_id="ticket-1", shared=False, hub=hub)
    exported = await service.save_file(api.org_id, CSV, name="export.csv", purpose="dms.export", hub=hub)
    await api.error("GET", f"/api/files/{private.id}", status=404, code="NOT_FOUND")
    await api.error("GET", f"/api/files/{private.id}/content", status=404, code="NOT_FOUND")
    assert [row["id"] for row in (await api.get("/api/files"))["files"]] == [str(exported.id)]
    assert [row["id"] for row in (await api.get("/api/files?purpose=upload"))["files"]] == []
    # a shared file a plugin keeps is readable, but deleted through its plugin
    await api.error("DELETE", f"/api/files/{exported.id}", status=409, code="CONFLICT")
    assert await service.delete_files(api.org_id, purpose="support.attachment", owner_id="ticket-1", hub=hub) == 1
    assert await service.storage_used(api.org_id) == len(CSV)  # the export's


# -- limits ---------------------------------------------------------------------------------------------


@pytest.fixture
def small_uploads(hub):
    """POST /api/files takes at most 100 KB for the test."""
    before = hub.settings.files.max_upload_bytes
    hub.settings.files.max_upload_bytes = 100 * 1024
    yield 100 * 1024
    hub.settings.files.max_upload_bytes = before


async def test_a_file_over_the_limit_is_refused_with_413_and_leaves_nothing(api, hub, small_uploads):
    kept = store_files(hub)
    big = b"a,b\n" * (small_uploads // 4 + 1)  # just over the file limit, within the body's
    status, body = await upload(api, big)
    assert_error(status, body, 413, "PAYLOAD_TOO_LARGE")
    assert body["error"]["details"] == {"field": "file", "max_bytes": small_uploads}
    huge = b"a,b\n" * small_uploads  # over the body's limit too: refused before it is read
    status, body = await upload(api, huge)
    assert_error(status, body, 413, "PAYLOAD_TOO_LARGE")
    assert await org_files(api.org_id) == 0 and store_files(hub) == kept
    assert await service.storage_used(api.org_id) == 0


async def test_the_limit_stops_a_stream_while_it_flows(api, hub):
    """save_file reads no further than the limit: a source that never ends is cut off."""
    pulled = 0

    async def endless():
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * 1024

    with pytest.raises(HubError) as refused:
        await service.save_file(api.org_id, endless(), name="endless.txt", max_bytes=10 * 1024, hub=hub)
    assert refused.value.status == 413 and pulled == 11
    assert await org_files(api.org_id) == 0
    assert not list((service.store_of(hub).root / ".incoming").iterdir())


async def test_saving_and_reading_hold_a_chunk_not_the_file(api, hub):
    """8 MB in and out through the public API, with Python's allocations traced: the peak stays
    around a chunk (64 KB), far from the file's size."""
    import tracemalloc

    size = 8 * 1024 * 1024

    async def chunks():
        for _ in range(size // 65536):
            yield b"a,b\n" * 16384  # 64 KB of CSV

    tracemalloc.start()
    try:
        info = await service.save_file(api.org_id, chunks(), name="big.csv", max_bytes=size, hub=hub)
        _, saving_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read = 0
        async for chunk in await service.open_file(api.org_id, info.id, hub=hub):
            read += len(chunk)
        _, reading_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == read == size and info.content_type == "text/csv"
    assert saving_peak < size / 8 and reading_peak < size / 8, (saving_peak, reading_peak)


async def test_storage_mb_is_enforced_and_given_back(api, hub, plan_limits):
    await plan_limits(api.org_id, storage_mb=1)
    first = b"x,y\n" * (150 * 1024)  # 600 KB
    status, kept = await upload(api, first)
    assert status == 201, kept
    status, body = await upload(api, first)
    assert_error(status, body, 429, "QUOTA_EXCEEDED")
    assert body["error"]["details"]["metric"] == "storage_mb" and body["error"]["details"]["limit"] == 1
    assert body["error"]["details"]["used_bytes"] == len(first)
    assert await org_files(api.org_id) == 1 and await service.storage_used(api.org_id) == len(first)
    listed = await api.get("/api/files")
    assert listed["storage"] == {"used_bytes": len(first), "limit_bytes": 1024 * 1024}
    await api.delete(f"/api/files/{kept['id']}")
    status, body = await upload(api, first)
    assert status == 201, body
    assert (await StorageUsage.get(org_id=api.org_id)).used_bytes == len(first)


# -- types ----------------------------------------------------------------------------------------------


async def test_the_type_is_told_by_the_content_not_the_name(api, hub):
    # a PNG that says it is a CSV
    status, body = await upload(api, PNG, "data.csv", "text/csv")
    assert_error(status, body, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert body["error"]["details"]["detected"] == "image/png" and body["error"]["details"]["declared"] == "text/csv"
    # a program, whatever it is called
    for name, declared in (("report.csv", "text/csv"), ("report.pdf", None), ("setup.exe", "application/octet-stream")):
        status, body = await upload(api, EXE, name, declared)
        assert_error(status, body, 415, "UNSUPPORTED_MEDIA_TYPE")
    # markup that a browser would run
    status, body = await upload(api, b"<!DOCTYPE html><script>alert(1)</script>", "page.txt", "text/plain")
    assert_error(status, body, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert body["error"]["details"]["detected"] == "text/html"
    status, body = await upload(api, b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "a.svg", None)
    assert_error(status, body, 415, "UNSUPPORTED_MEDIA_TYPE")
    # JSON that does not parse is not JSON
    status, body = await upload(api, b'{"a": ', "a.json", "application/json")
    assert_error(status, body, 415, "UNSUPPORTED_MEDIA_TYPE")
    # an empty file
    status, body = await upload(api, b"", "empty.csv")
    assert_error(status, body, 400, "VALIDATION_ERROR")
    assert await org_files(api.org_id) == 0

    # what is accepted, with the type stored
    cases = [
        (PNG, "logo", "application/octet-stream", "image/png"),
        (PNG, "logo.png", "image/png", "image/png"),
        (b"GIF89a" + b"\x01\x00" * 20, "a.gif", None, "image/gif"),
        (b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x00" * 40, "photo.jpg", "image/jpg", "image/jpeg"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 30, "a.webp", None, "image/webp"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "doc.pdf", "application/pdf", "application/pdf"),
        (json.dumps({"rows": [1, 2]}).encode(), "data.json", "application/json", "application/json"),
        (CSV, "people", None, "text/plain"),
        ("résumé;ünïcode\n".encode(), "notes.csv", None, "text/csv"),
        (_xlsx(), "book.xlsx", None, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ]
    for data, name, declared, expected in cases:
        status, body = await upload(api, data, name, declared)
        assert status == 201 and body["content_type"] == expected, (name, body)


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def test_sniffing_without_a_request():
    def kind(data: bytes) -> str:
        sniffer = sniff.Sniffer()
        for start in range(0, len(data), 3):  # a character split across chunks is still text
            sniffer.feed(data[start:start + 3])
        return sniff.detect(sniffer)

    assert kind("ééé,ü\n".encode()) == "text/plain"
    assert kind(b"a,b\x00c") == "application/octet-stream"  # NUL: not text
    assert kind(b"\xff\xfe\x00a") == "application/octet-stream"  # not UTF-8
    assert kind(b"MZ,column\nMZ,2\n") == "text/plain"  # "MZ" starting a CSV is no program
    assert kind(b"\x7fELF\x02\x01\x01" + b"\x00" * 20) == "application/x-executable"
    assert kind(b"#!/bin/sh\nrm -rf /\n") == "text/x-shellscript"
    assert sniff.reconcile("text/plain", "text/csv") == "text/csv"
    assert sniff.reconcile("image/png", "image/jpeg") is None
    assert sniff.declared_type(None, "x.PNG") == "image/png" and sniff.declared_type("application/octet-stream", "x") is None


# -- names and downloads --------------------------------------------------------------------------------


@pytest.mark.parametrize("given, kept", [
    ("../../etc/passwd.csv", "passwd.csv"),
    ("..\\..\\windows\\win.ini.csv", "win.ini.csv"),
    ("/absolute/path/report.csv", "report.csv"),
    ("..", "file"),
    (".hidden.csv", "hidden.csv"),
    ('bad"name<>|?*.csv', "badname.csv"),
    ("line\r\nbreak\x00.csv", "linebreak.csv"),
    ("x" * 300 + ".csv", "x" * 251 + ".csv"),
])
def test_user_names_are_sanitised(given, kept):
    assert service.safe_name(given) == kept


async def test_a_traversal_name_is_only_a_label(api, hub):
    status, info = await upload(api, CSV, "../../../../outside.csv")
    assert status == 201 and info["name"] == "outside.csv"
    root = service.store_of(hub).root
    assert not (root.parent / "outside.csv").exists() and not any(p.name == "outside.csv" for p in root.rglob("*"))
    with pytest.raises(ValueError):
        service.store_of(hub).path("../../etc/passwd")


async def test_download_names_are_safe_and_markup_is_never_inline(api, hub):
    _, info = await upload(api, CSV, "Rapport été; v2.csv")
    response = await api.client.get(f"/api/files/{info['id']}/content", headers=api.headers)
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Rapport _t__ v2.csv\"; filename*=UTF-8''Rapport%20%C3%A9t%C3%A9%3B%20v2.csv")
    assert service.content_disposition('a"b\\c\r\n.csv') == (
        "attachment; filename=\"a_b_c__.csv\"; filename*=UTF-8''a%22b%5Cc%0D%0A.csv")
    page = await service.save_file(api.org_id, b"<html><script>alert(1)</script></html>", name="page.html",
                                   allowed_types={"text/html"}, hub=hub)
    answer = await service.file_response(api.org_id, page.id, inline=True, hub=hub)
    logo = await service.save_file(api.org_id, PNG, name="logo.png", purpose="themes.logo", hub=hub)
    shown = await service.file_response(api.org_id, logo.id, inline=True, hub=hub)
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert answer.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert shown.headers["Content-Disposition"].startswith("inline;") and shown.headers["Content-Type"] == "image/png"


async def test_uploads_must_be_multipart_with_a_file_part(api):
    response = await api.client.post("/api/files", json={"file": "text"}, headers=api.headers)
    assert_error(response.status_code, await response.get_json(), 415, "UNSUPPORTED_MEDIA_TYPE")
    status, body = await upload(api, CSV, field="other")
    assert_error(status, body, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == "file"
    boundary = "xyz"
    cut_short = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n"
                 "a,b\n1,2\n").encode()
    response = await api.client.post("/api/files", data=cut_short, headers={
        **api.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert_error(response.status_code, await response.get_json(), 400, "VALIDATION_ERROR")
    assert await org_files(api.org_id) == 0


# -- S3 (moto's server on the loopback) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_store(hub, s3_server, tmp_path):
    """The Hub stores files in a new bucket of moto's S3 for the test."""
    import boto3

    bucket = f"hub-{uuid.uuid4().hex[:12]}"
    settings = FileSettings(backend="s3", s3_bucket=bucket, s3_endpoint_url=s3_server, s3_region="us-east-1",
                            s3_access_key_id="testing", s3_secret_access_key="testing")
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=bucket)
    before = hub.extensions.get("files")
    store = hub.extensions["files"] = S3FileStore(settings, tmp_path / "spool")
    yield store, client, bucket
    hub.extensions["files"] = before


async def test_the_s3_store_keeps_files_in_the_bucket(api, s3_store, small_uploads):
    store, client, bucket = s3_store
    status, info = await upload(api, PNG, "../../logo.png", "image/png")
    assert status == 201, info
    listed = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert [item["Key"] for item in listed] == [f"hub-files/{api.org_id}/{info['id']}"]
    assert client.get_object(Bucket=bucket, Key=listed[0]["Key"])["Body"].read() == PNG
    response = await api.client.get(f"/api/files/{info['id']}/content", headers=api.headers)
    assert response.status_code == 200 and await response.get_data() == PNG
    assert response.headers["Content-Type"] == "image/png"
    # over the limit and refused types never reach the bucket, nor stay in the spool
    status, body = await upload(api, b"a,b\n" * 30_000, "big.csv")
    assert_error(status, body, 413, "PAYLOAD_TOO_LARGE")
    status, body = await upload(api, EXE, "tool.csv")
    assert_error(status, body, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert len(client.list_objects_v2(Bucket=bucket)["Contents"]) == 1
    assert not list(store.spool_dir.iterdir())
    await api.delete(f"/api/files/{info['id']}")
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert not await store.exists(file_key(api.org_id, info["id"]))


def test_s3_needs_a_bucket():
    with pytest.raises(ValueError, match="s3_bucket"):
        FileSettings(backend="s3")
    assert isinstance(LocalFileStore(Path("/tmp")), LocalFileStore)


# -- a real server: chunked bodies (no Content-Length) ---------------------------------------------------


def test_a_chunked_upload_is_bounded_while_it_streams(tmp_path):
    """Quart bounds a body by its Content-Length; a chunked one has none: the upload counts its
    bytes as they arrive (hypercorn on the loopback, httpx sending chunks)."""
    import httpx

    from tests.live_server import live_account, live_hub

    limit = 64 * 1024
    sent = []

    def body(total: int, boundary: str):
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
               "Content-Type: text/csv\r\n\r\n").encode()
        for _ in range(total // 4096):
            sent.append(4096)
            yield b"a,b\n" * 1024
        yield f"\r\n--{boundary}--\r\n".encode()

    env = {"HUB_FILES__MAX_UPLOAD_BYTES": str(limit), "HUB_RATE_LIMITS__ENABLED": "false"}
    with live_hub(tmp_path / "hub", env=env) as hub:
        account = live_account(hub.url)
        headers = {**account["headers"], "Content-Type": "multipart/form-data; boundary=b0undary"}
        with httpx.Client(base_url=hub.url, timeout=30) as http:
            small = http.post("/api/files", headers=headers, content=body(limit // 2, "b0undary"))
            assert small.status_code == 201, small.text
            assert "content-length" not in small.request.headers  # it went chunked
            # over the file's limit (the body's is 64 KB more): 413 once the file passes 64 KB
            refused = http.post("/api/files", headers=headers, content=body(3 * limit, "b0undary"))
            assert refused.status_code == 413, refused.text
            assert refused.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
            listed = http.get("/api/files", headers=account["headers"]).json()
            assert [row["size"] for row in listed["files"]] == [limit // 2]
            assert listed["storage"]["used_bytes"] == limit // 2
    stored = [p for p in (tmp_path / "hub" / "files").rglob("*") if p.is_file()]
    assert len(stored) == 1 and stored[0].stat().st_size == limit // 2  # nothing of the refused one

"""Safe logos: PNG, JPEG and WebP decoded and encoded again by Pillow (no metadata kept, shrunk
to logo_max_side), SVG and other types refused, decompression bombs refused before decoding,
stored privately through the core's file store and served publicly with their type."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image
from quart.datastructures import FileStorage

from core.files.models import StoredFile
from core.files.service import storage_used
from core.testing import Api, assert_error
from tests.plugins.themes.support import image_bytes, upload_logo

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"This program cannot be run"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90 degrees to show it upright
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPS position
    return image_bytes((1200, 800), "JPEG", "RGB", (200, 10, 10), exif=exif.tobytes(), comment=b"secret note")


async def org_logo_files(org_id) -> int:
    return await StoredFile.filter(org_id=org_id, purpose="themes.logo").count()


async def test_a_png_logo_is_stored_resized_and_served_publicly(api, hub_client, events):
    status, theme = await upload_logo(api, image_bytes((1024, 600)))
    assert status == 201, theme
    assert theme["logo_url"] == f"/api/v1/themes/{api.org_id}/logo"
    assert events.of(api.org_id, "theme.updated")[-1].data["changed"] == ["logo"]
    public = await (await hub_client.get(f"/api/v1/themes/{api.org_id}")).get_json()
    assert public["logo_url"] == theme["logo_url"]

    response = await hub_client.get(theme["logo_url"])  # no credentials
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert response.headers["Cache-Control"] == "public, max-age=60"
    served = Image.open(io.BytesIO(await response.get_data()))
    assert served.format == "PNG" and served.size == (512, 300)  # shrunk to logo_max_side, aspect kept
    etag = response.headers["ETag"]
    cached = await hub_client.get(theme["logo_url"], headers={"If-None-Match": etag})
    assert cached.status_code == 304 and await cached.get_data() == b""

    sheet = await (await hub_client.get(f"/api/v1/themes/{api.org_id}/css")).get_data(as_text=True)
    assert f'--theme-logo-url: url("{theme["logo_url"]}");' in sheet
    # private to the plugin: not among the organization's files, not downloadable there
    listed = await api.get("/api/files?purpose=themes.logo")
    assert listed["files"] == []
    file_id = (await StoredFile.filter(org_id=api.org_id, purpose="themes.logo").first()).id
    await api.error("GET", f"/api/files/{file_id}/content", status=404, code="NOT_FOUND")


async def test_a_jpeg_loses_its_exif_and_gps_and_is_turned_upright(api, hub_client):
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the upload does carry a position
    status, theme = await upload_logo(api, original, "photo.jpg", "image/jpeg")
    assert status == 201, theme
    response = await hub_client.get(theme["logo_url"])
    data = await response.get_data()
    assert response.mimetype == "image/jpeg"
    stored = Image.open(io.BytesIO(data))
    assert stored.format == "JPEG" and stored.size == (341, 512)  # the orientation applied, then shrunk
    assert dict(stored.getexif()) == {} and "exif" not in stored.info and "comment" not in stored.info
    assert b"Exif" not in data and b"Canon" not in data and b"secret note" not in data


async def test_a_webp_logo_keeps_its_type(api, hub_client):
    status, theme = await upload_logo(api, image_bytes((300, 200), "WEBP", "RGB"), "logo.webp", "image/webp")
    assert status == 201, theme
    response = await hub_client.get(theme["logo_url"])
    assert response.mimetype == "image/webp" and Image.open(io.BytesIO(await response.get_data())).size == (300, 200)


async def test_a_decompression_bomb_is_refused_and_nothing_is_stored(api, hub_client):
    status, _ = await upload_logo(api, image_bytes((64, 64)))
    assert status == 201
    before = (await api.get(f"/api/v1/themes/{api.org_id}"), await storage_used(api.org_id))
    bomb = image_bytes((20000, 20000), mode="1")  # 400 million pixels in a few KB
    assert len(bomb) < 100_000
    for data in (bomb, image_bytes((6000, 5000), mode="1")):  # the second: 30 M pixels, past the 25 M allowed
        status, body = await upload_logo(api, data)
        assert_error(status, body, 400, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"] == "file" and "pixels" in body["error"]["details"]["reason"]
    assert (await api.get(f"/api/v1/themes/{api.org_id}"), await storage_used(api.org_id)) == before
    assert await org_logo_files(api.org_id) == 1
    assert (await hub_client.get(f"/api/v1/themes/{api.org_id}/logo")).status_code == 200


@pytest.mark.parametrize("data, name, content_type, status, code", [
    (SVG, "logo.svg", "image/svg+xml", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (SVG, "logo.png", "image/png", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (image_bytes((50, 50), "GIF", "P", 3), "logo.gif", "image/gif", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (EXE, "logo.png", "image/png", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (image_bytes((400, 400))[:300], "logo.png", "image/png", 400, "VALIDATION_ERROR"),  # truncated
    (b"", "logo.png", "image/png", 400, "VALIDATION_ERROR"),
])
async def test_what_is_not_a_png_jpeg_or_webp_is_refused(api, data, name, content_type, status, code):
    answer, body = await upload_logo(api, data, name, content_type)
    assert_error(answer, body, status, code)
    assert await org_logo_files(api.org_id) == 0 and await storage_used(api.org_id) == 0
    assert (await api.get(f"/api/v1/themes/{api.org_id}"))["logo_url"] is None


@pytest.fixture
def small_logos(hub):
    """max_logo_bytes of 4 KiB for one test."""
    plugin = hub.plugins["themes"]
    saved = plugin.settings
    plugin.settings = saved.model_copy(update={"max_logo_bytes": 4096})
    yield
    plugin.settings = saved


async def test_an_oversized_logo_is_413_and_nothing_is_stored(api, small_logos):
    noisy = Image.frombytes("RGB", (100, 100), random.Random(1).randbytes(30_000))  # noise: no compression
    out = io.BytesIO()
    noisy.save(out, "PNG")
    assert len(out.getvalue()) > 4096
    status, body = await upload_logo(api, out.getvalue())
    assert_error(status, body, 413, "PAYLOAD_TOO_LARGE")
    status, body = await upload_logo(api, b"\x89PNG" + bytes(200_000))  # past the body's bound as well
    assert_error(status, body, 413, "PAYLOAD_TOO_LARGE")
    assert await org_logo_files(api.org_id) == 0 and await storage_used(api.org_id) == 0


async def test_a_new_logo_replaces_the_old_one_and_delete_removes_it(api, hub_client):
    await upload_logo(api, image_bytes((100, 100)))
    status, theme = await upload_logo(api, image_bytes((200, 100), "JPEG", "RGB", (0, 0, 0)), "b.jpg", "image/jpeg")
    assert status == 201
    assert await org_logo_files(api.org_id) == 1
    only = await StoredFile.filter(org_id=api.org_id, purpose="themes.logo").first()
    assert only.content_type == "image/jpeg" and await storage_used(api.org_id) == only.size

    await api.delete(f"/api/v1/themes/{api.org_id}/logo")
    assert await org_logo_files(api.org_id) == 0 and await storage_used(api.org_id) == 0
    assert (await api.get(f"/api/v1/themes/{api.org_id}"))["logo_url"] is None
    response = await hub_client.get(f"/api/v1/themes/{api.org_id}/logo")
    assert_error(response.status_code, await response.get_json(), 404, "NOT_FOUND")
    await api.error("DELETE", f"/api/v1/themes/{api.org_id}/logo", status=404, code="NOT_FOUND")


async def test_logo_writes_are_for_that_organizations_admin(api, other_api, member_of, hub_client):
    member = Api.of(hub_client, await member_of(api.account, "member"))
    status, body = await upload_logo(member, image_bytes((50, 50)), org_id=api.org_id)
    assert_error(status, body, 403, "FORBIDDEN")
    status, body = await upload_logo(other_api, image_bytes((50, 50)), org_id=api.org_id)
    assert_error(status, body, 404, "NOT_FOUND")
    assert await org_logo_files(api.org_id) == 0 and await org_logo_files(other_api.org_id) == 0


async def test_the_upload_must_be_multipart_with_a_file_part(api):
    await api.error("POST", f"/api/v1/themes/{api.org_id}/logo", {"file": "x"}, status=415,
                    code="UNSUPPORTED_MEDIA_TYPE")
    part = FileStorage(io.BytesIO(image_bytes((10, 10))), filename="logo.png", content_type="image/png")
    response = await api.client.post(f"/api/v1/themes/{api.org_id}/logo", files={"other": part}, headers=api.headers)
    body = await response.get_json()
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == "file"


async def test_the_upload_is_streamed_to_the_store_and_only_the_logo_is_kept(api, small_logos):
    """The part is streamed into the core's file store, which stops at max_logo_bytes before
    Pillow sees a byte: refused past it even when the whole request is within the route's body
    bound, nothing left behind; a good upload leaves the re-encoded logo and nothing else."""
    noisy = Image.frombytes("RGB", (60, 60), random.Random(2).randbytes(10_800))
    out = io.BytesIO()
    noisy.save(out, "PNG")
    big = out.getvalue()
    assert 4096 < len(big) < 4096 + 64 * 1024  # within the body's bound, past the logo's
    status, body = await upload_logo(api, big)
    assert_error(status, body, 413, "PAYLOAD_TOO_LARGE")
    assert await StoredFile.filter(org_id=api.org_id).count() == 0 and await storage_used(api.org_id) == 0

    status, _ = await upload_logo(api, image_bytes((40, 40)))
    assert status == 201
    [kept] = await StoredFile.filter(org_id=api.org_id)
    assert kept.purpose == "themes.logo" and await storage_used(api.org_id) == kept.size
    # an image Pillow refuses (truncated) leaves nothing behind either
    status, body = await upload_logo(api, image_bytes((400, 400))[:300])
    assert_error(status, body, 400, "VALIDATION_ERROR")
    assert [row.id for row in await StoredFile.filter(org_id=api.org_id)] == [kept.id]

"""The themes routes (seed 002 "Themes Service"): public reads of an organization's theme and
stylesheet, writes by that organization's admins only, validation naming the field, the
generated CSS with its ETag, and the plugin switched off per organization."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from core.testing import Api, assert_error
from tests.plugins.themes.support import dangers
from tests.plugins.themes.test_css import CORPUS

SEED_UPDATE = {"name": "Updated Theme", "primary_color": "#ff0000", "secondary_color": "#00ff00",
               "custom_css": ".custom { color: red; }"}
DEFAULTS = {"name": "Default", "primary_color": "#3b82f6", "secondary_color": "#64748b", "accent_color": "#f59e0b",
            "background_color": "#ffffff", "text_color": "#0f172a", "font_family": "system-ui, sans-serif",
            "heading_font_family": "system-ui, sans-serif", "custom_css": "", "is_active": True, "logo_url": None}


async def anonymous(client, path: str, **headers):
    response = await client.get(path, headers=headers)
    return response, (await response.get_json() if response.is_json else await response.get_data(as_text=True))


async def test_a_theme_never_set_is_the_defaults_and_public(api, hub_client):
    response, theme = await anonymous(hub_client, f"/api/v1/themes/{api.org_id}")
    assert response.status_code == 200, theme
    assert theme == {**DEFAULTS, "id": None, "organization_id": api.org_id, "created_at": None, "updated_at": None,
                     "css_url": f"/api/v1/themes/{api.org_id}/css"}


@pytest.mark.parametrize("suffix", ["", "/css", "/logo"])
async def test_an_unknown_organization_is_404(hub_client, suffix):
    for org in (str(uuid.uuid4()), "not-an-id"):
        response, body = await anonymous(hub_client, f"/api/v1/themes/{org}{suffix}")
        assert_error(response.status_code, body, 404, "NOT_FOUND")


async def test_the_admin_changes_the_theme_and_anyone_reads_it(api, hub_client, events):
    saved = await api.put(f"/api/v1/themes/{api.org_id}", SEED_UPDATE)
    assert saved["css_removed"] == [] and saved["id"]
    assert saved["custom_css"] == ".custom {\n  color: red;\n}\n"
    assert {k: saved[k] for k in ("name", "primary_color", "secondary_color", "accent_color")} == {
        "name": "Updated Theme", "primary_color": "#ff0000", "secondary_color": "#00ff00", "accent_color": "#f59e0b"}
    response, public = await anonymous(hub_client, f"/api/v1/themes/{api.org_id}")
    assert public == {k: v for k, v in saved.items() if k != "css_removed"}
    event = events.of(api.org_id, "theme.updated")[-1]
    assert event.data == {"id": saved["id"], "organization_id": api.org_id,
                          "changed": ["custom_css", "name", "primary_color", "secondary_color"]}

    # only the fields sent change; null puts one back to its default
    again = await api.put(f"/api/v1/themes/{api.org_id}", {"accent_color": "hsl(30, 90%, 50%)", "name": None,
                                                            "font_family": "Inter, sans-serif"})
    assert again["accent_color"] == "hsl(30, 90%, 50%)" and again["name"] == "Default"
    assert again["primary_color"] == "#ff0000" and again["custom_css"] == saved["custom_css"]
    assert again["font_family"] == '"Inter", sans-serif' and again["id"] == saved["id"]
    # the same values again change nothing and announce nothing
    count = len(events.of(api.org_id, "theme.updated"))
    await api.put(f"/api/v1/themes/{api.org_id}", {"accent_color": "hsl(30, 90%, 50%)"})
    assert len(events.of(api.org_id, "theme.updated")) == count


@pytest.mark.parametrize("field, value", [
    ("primary_color", "red"), ("secondary_color", "#12345"), ("accent_color", "rgb(300, 0, 0)"),
    ("background_color", "hsl(400, 50%, 50%)"), ("text_color", "javascript:alert(1)"),
    ("primary_color", "#fff;} body { background: url(//evil.example)"), ("font_family", "x; } a { color: red"),
    ("primary_color", "#" + "a" * 64), ("name", ""), ("custom_css", "a{}" * 20_000), ("is_active", "maybe"),
])
async def test_bad_input_is_400_naming_the_field(api, field, value):
    before = await api.get(f"/api/v1/themes/{api.org_id}")
    error = await api.error("PUT", f"/api/v1/themes/{api.org_id}", {field: value}, status=400,
                            code="VALIDATION_ERROR", field=field)
    assert error["details"]["reason"]
    assert await api.get(f"/api/v1/themes/{api.org_id}") == before


async def test_first_saves_at_once_make_one_theme(api):
    from plugins.themes.models import Theme

    saved = await asyncio.gather(*(api.put(f"/api/v1/themes/{api.org_id}", {"accent_color": f"#00000{i}"})
                                   for i in range(4)))
    assert len({theme["id"] for theme in saved}) == 1 and await Theme.filter(org_id=api.org_id).count() == 1


async def test_unknown_fields_are_refused(api):
    await api.error("PUT", f"/api/v1/themes/{api.org_id}", {"organization_id": str(uuid.uuid4())},
                    status=400, code="VALIDATION_ERROR", field="organization_id")


async def test_only_that_organizations_admin_writes(api, other_api, member_of, key_for, hub_client):
    path = f"/api/v1/themes/{api.org_id}"
    await api.put(path, SEED_UPDATE)
    before = await api.get(path)
    for role in ("member", "viewer", "developer"):
        caller = Api.of(hub_client, await member_of(api.account, role))
        await caller.error("PUT", path, {"name": "Mine"}, status=403, code="FORBIDDEN")
        await caller.error("DELETE", f"{path}/logo", status=403, code="FORBIDDEN")
    read_key = Api.with_key(hub_client, (await key_for(api.account, ["read", "write"]))["key"])
    await read_key.error("PUT", path, {"name": "Mine"}, status=403, code="FORBIDDEN")
    # another organization's admin: 404, as for any other organization's resource
    await other_api.error("PUT", path, {"name": "Theirs"}, status=404, code="NOT_FOUND")
    await other_api.error("DELETE", f"{path}/logo", status=404, code="NOT_FOUND")
    response = await hub_client.put(path, json={"name": "Anyone"})
    assert_error(response.status_code, await response.get_json(), 401, "AUTHENTICATION_FAILED")
    assert await api.get(path) == before
    # ... and the other admin's own theme is theirs alone
    await other_api.put(f"/api/v1/themes/{other_api.org_id}", {"name": "Globex"})
    assert (await api.get(path))["name"] == "Updated Theme"
    # an admin's API key may write
    admin_key = Api.with_key(hub_client, (await key_for(api.account, ["admin"]))["key"])
    assert (await admin_key.put(path, {"name": "By key"}))["name"] == "By key"


async def test_the_stylesheet_has_custom_properties_and_an_etag(api, hub_client):
    path = f"/api/v1/themes/{api.org_id}/css"
    response, sheet = await anonymous(hub_client, path)
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert ":root {\n  --theme-primary-color: #3b82f6;" in sheet and "--theme-text-color: #0f172a;" in sheet
    assert "--theme-logo-url" not in sheet
    etag = response.headers["ETag"]
    assert etag.startswith('"') and response.headers["Cache-Control"] == "public, max-age=60"

    for tag in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached, body = await anonymous(hub_client, path, **{"If-None-Match": tag})
        assert cached.status_code == 304 and body == "" and cached.headers["ETag"] == etag
    changed, _ = await anonymous(hub_client, path, **{"If-None-Match": '"something-else"'})
    assert changed.status_code == 200

    await api.put(f"/api/v1/themes/{api.org_id}", {**SEED_UPDATE, "accent_color": "rgba(1, 2, 3, .5)"})
    response, sheet = await anonymous(hub_client, path, **{"If-None-Match": etag})
    assert response.status_code == 200 and response.headers["ETag"] != etag
    assert "--theme-primary-color: #ff0000;" in sheet and "--theme-accent-color: rgba(1, 2, 3, 0.5);" in sheet
    assert sheet.endswith("\n.custom {\n  color: red;\n}\n")
    assert dangers(sheet) == []

    # switched off: the defaults, without the custom CSS
    await api.put(f"/api/v1/themes/{api.org_id}", {"is_active": False})
    _, sheet = await anonymous(hub_client, path)
    assert "--theme-primary-color: #3b82f6;" in sheet and ".custom" not in sheet
    assert (await api.get(f"/api/v1/themes/{api.org_id}"))["is_active"] is False


async def test_the_injection_corpus_through_the_api(api, hub_client):
    saved = await api.put(f"/api/v1/themes/{api.org_id}",
                          {"custom_css": ".ok { color: blue }\n" + "\n".join(payload for _, payload in CORPUS)})
    assert len(saved["css_removed"]) >= 20
    assert saved["custom_css"].startswith(".ok {\n  color: blue;\n}\n")
    _, sheet = await anonymous(hub_client, f"/api/v1/themes/{api.org_id}/css")
    assert dangers(sheet) == [], sheet
    for _, payload in CORPUS:
        alone = await api.put(f"/api/v1/themes/{api.org_id}", {"custom_css": payload})
        assert dangers(alone["custom_css"]) == [], payload
        _, sheet = await anonymous(hub_client, f"/api/v1/themes/{api.org_id}/css")
        assert dangers(sheet) == [], (payload, sheet)


async def test_a_plugin_switched_off_for_the_organization_answers_404(api, other_api, hub_client):
    await api.put("/api/v1/plugins/themes", {"enabled": False})
    try:
        for suffix in ("", "/css"):
            response, body = await anonymous(hub_client, f"/api/v1/themes/{api.org_id}{suffix}")
            assert_error(response.status_code, body, 404, "NOT_FOUND")
        await api.error("PUT", f"/api/v1/themes/{api.org_id}", {"name": "x"}, status=404, code="NOT_FOUND")
        response, _ = await anonymous(hub_client, f"/api/v1/themes/{other_api.org_id}")
        assert response.status_code == 200  # other organizations are unaffected
    finally:
        await api.put("/api/v1/plugins/themes", {"enabled": True})
    response, _ = await anonymous(hub_client, f"/api/v1/themes/{api.org_id}")
    assert response.status_code == 200

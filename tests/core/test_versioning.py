"""The API-Version header (seed 001 "API Versioning Strategy"): a default, 400 for unknown
versions, and plugins' request/response transformers chained newest -> requested."""

from __future__ import annotations

import types

import pytest

from core.app import create_app
from core.kernel.plugins import PluginError
from tests.helpers import assert_error, make_settings


def plugin_module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, function)
    return module


async def test_every_response_names_its_version(client, admin):
    default = await client.get("/api/v1/tenant", headers=admin.headers)
    assert default.headers["API-Version"] == "2024-01-15"
    older = await client.get("/api/v1/tenant", headers={**admin.headers, "API-Version": "2023-12-01"})
    assert older.status_code == 200 and older.headers["API-Version"] == "2023-12-01"
    assert (await older.get_json()) == (await default.get_json())  # no transformers: same body
    assert "API-Version" in older.headers["Vary"]
    error = await client.get("/nowhere", headers={"API-Version": "2023-12-01"})
    assert error.status_code == 404 and error.headers["API-Version"] == "2023-12-01"


@pytest.mark.parametrize("version", ["2020-01-01", "latest", "2024-13-01", "v1"])
async def test_an_unknown_version_is_a_400_naming_the_header(client, version):
    response = await client.get("/healthz", headers={"API-Version": version})
    body = await response.get_json()
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == "API-Version"
    assert "2024-01-15" in body["error"]["details"]["reason"]
    assert response.headers["API-Version"] == "2024-01-15"


async def test_the_default_version_comes_from_settings(tmp_path):
    app = create_app(make_settings(tmp_path, api_versions={"default": "2023-12-01"}))
    response = await app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.headers["API-Version"] == "2023-12-01"


async def test_hook_hub_api_versions_transforms_requests_and_responses_newest_to_requested(hub, client, admin):
    """Notes were `{"body"}` until 2023-06-01, `{"content"}` until 2023-12-01, `{"text"}` since."""
    calls = []

    def to_2023_12(data):  # response: current shape -> 2023-12-01's
        calls.append("response 2023-12-01")
        if isinstance(data, dict) and "text" in data:
            data["content"] = data.pop("text")
        if isinstance(data, dict) and "notes" in data:
            data["notes"] = [to_2023_12(note) for note in data["notes"]]
        return data

    async def to_2023_06(data):  # may be async; runs after to_2023_12
        calls.append("response 2023-06-01")
        if isinstance(data, dict) and "content" in data:
            data["body"] = data.pop("content")
        if isinstance(data, dict) and "notes" in data:
            data["notes"] = [await to_2023_06(note) for note in data["notes"]]
        return data

    def from_2023_06(data):  # request: 2023-06-01's shape -> 2023-12-01's
        calls.append("request 2023-06-01")
        return {"content": data.pop("body")} if "body" in data else data

    def from_2023_12(data):  # request: 2023-12-01's shape -> current
        calls.append("request 2023-12-01")
        return {"text": data.pop("content")} if "content" in data else data

    def hub_api_versions(register):
        register("2023-12-01", transform_request=from_2023_12, transform_response=to_2023_12,
                 paths=["/api/example/notes*"])
        register("2023-06-01", transform_request=from_2023_06, transform_response=to_2023_06,
                 paths="/api/example/notes*")

    module = plugin_module("notes_versions", hub_api_versions=hub_api_versions)
    hub.manager.register(module, name="notes_versions")
    try:
        oldest = {**admin.headers, "API-Version": "2023-06-01"}
        created = await client.post("/api/example/notes", headers=oldest, json={"body": "old style"})
        assert created.status_code == 201, await created.get_json()
        assert created.headers["API-Version"] == "2023-06-01"
        note = await created.get_json()
        assert note == {"id": note["id"], "body": "old style"}
        assert calls == ["request 2023-06-01", "request 2023-12-01", "response 2023-12-01", "response 2023-06-01"]

        middle = await client.get(f"/api/example/notes/{note['id']}",
                                  headers={**admin.headers, "API-Version": "2023-12-01"})
        assert (await middle.get_json()) == {"id": note["id"], "content": "old style"}
        listed = await client.get("/api/example/notes", headers=oldest)
        assert [n["body"] for n in (await listed.get_json())["notes"]] == ["old style"]

        current = await client.get(f"/api/example/notes/{note['id']}", headers=admin.headers)
        assert (await current.get_json()) == {"id": note["id"], "text": "old style"}
        new_style = await client.post("/api/example/notes", headers=admin.headers, json={"text": "new"})
        assert new_style.status_code == 201

        # validation sees the transformed body, and errors keep the envelope untouched
        invalid = await client.post("/api/example/notes", headers=oldest, json={"body": ""})
        body = await invalid.get_json()
        assert_error(invalid.status_code, body, 400, "VALIDATION_ERROR")
        assert body["error"]["details"]["field"] == "text"
        malformed = await client.post("/api/example/notes", headers={**oldest, "Content-Type": "application/json"},
                                      data=b'{"body": ')
        assert_error(malformed.status_code, await malformed.get_json(), 400, "VALIDATION_ERROR")
        # other routes are not touched
        tenant = await client.get("/api/v1/tenant", headers=oldest)
        assert "name" in await tenant.get_json()
    finally:
        hub.manager.unregister(module)
    gone = await client.get("/healthz", headers={"API-Version": "2023-06-01"})
    assert gone.status_code == 400  # the version left with its plugin


async def test_a_failing_transformer_is_a_500_with_the_envelope(hub, client, admin):
    def broken(data):
        raise KeyError("oops")

    module = plugin_module("broken_versions", hub_api_versions=lambda register: register(
        "2023-12-01", transform_response=broken, paths=["/api/v1/tenant"]))
    hub.manager.register(module, name="broken_versions")
    try:
        response = await client.get("/api/v1/tenant", headers={**admin.headers, "API-Version": "2023-12-01"})
        assert_error(response.status_code, await response.get_json(), 500, "INTERNAL_ERROR")
        assert response.headers["API-Version"] == "2023-12-01"
    finally:
        hub.manager.unregister(module)


@pytest.mark.parametrize(
    "register_args, message",
    [
        (("yesterday",), "not a date"),
        (("2023-02-30",), "not a date"),
        (("2023-01-01", "not callable"), "must be callable"),
        (("2023-01-01", None, None, [""]), "URL patterns"),
    ],
)
def test_a_bad_registration_stops_start_up_naming_the_plugin(tmp_path, register_args, message):
    module = plugin_module("sloppy", hub_api_versions=lambda register: register(*register_args))
    with pytest.raises(PluginError, match=rf"'sloppy'.*hub_api_versions.*{message}"):
        create_app(make_settings(tmp_path), plugins=[module])


def test_a_bad_version_in_settings_stops_start_up(tmp_path):
    from core.kernel.settings import SettingsError

    with pytest.raises(SettingsError, match="api_versions.default"):
        make_settings(tmp_path, api_versions={"default": "someday"})

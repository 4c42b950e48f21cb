"""The plugin system: loading (built-in, entry point, explicit), hooks, per-process and
per-organization switching, and start-up failures that must be loud."""

from __future__ import annotations

import asyncio

import json
import subprocess
import sys
import textwrap
import types
import uuid

import pytest
from pydantic import BaseModel
from quart import Blueprint

from core.app import create_app
from core.http.auth import public, require
from core.tenancy.principals import Principal
from core.kernel.errors import HubError
from core.events.bus import emit
from core.tenancy.functions import available_functions, call_function
from core.kernel.plugins import PluginError
from core.kernel.settings import SettingsError
from tests.helpers import add_member, assert_error, make_settings


def plugin_module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, function)
    return module


def blueprint_with(name: str, path: str, decorate=public) -> Blueprint:
    blueprint = Blueprint(name, __name__)

    @blueprint.get(path)
    @decorate
    async def view():
        return {"plugin": name}

    return blueprint


async def principal_for(hub, account) -> Principal:
    from core.tenancy.principals import principal_from_credential

    async with hub_app_context(hub):
        return await principal_from_credential(account.access_token)


def hub_app_context(hub):
    return hub.extensions["app"].app_context()


@pytest.fixture(autouse=True)
def _remember_app(app, hub):
    hub.extensions["app"] = app


# -- loading ----------------------------------------------------------------------------------


async def test_third_party_plugin_is_loaded_through_its_entry_point(hub, client):
    info = hub.plugins["example"]
    assert info.source == "entry_point"
    assert info.version == "1.2.3"
    assert "hub_routes" in info.hooks and "hub_on_event" in info.hooks


async def test_hook_hub_routes_mounts_plugin_routes_and_they_work(client, admin):
    created = await client.post("/api/example/notes", headers=admin.headers, json={"text": "first note"})
    assert created.status_code == 201, await created.get_json()
    note = await created.get_json()
    listed = await client.get("/api/example/notes", headers=admin.headers)
    body = await listed.get_json()
    assert [n["text"] for n in body["notes"]] == ["first note"]
    fetched = await client.get(f"/api/example/notes/{note['id']}", headers=admin.headers)
    assert (await fetched.get_json())["text"] == "first note"


async def test_hook_hub_routes_honours_the_configured_mount(tmp_path):
    app = create_app(make_settings(tmp_path, plugins={"example": {"mount": "/ext"}}))
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert "/ext/api/example/notes" in rules
    assert "/api/example/notes" not in rules
    assert "/api/v1/tenant" in rules  # core keeps its own mount


async def test_hook_hub_models_gives_the_plugin_its_own_app_and_tenant_scoped_rows(client, admin, other_admin):
    from tortoise import Tortoise

    assert "example" in Tortoise.apps and "ExampleNote" in Tortoise.apps["example"]
    created = await client.post("/api/example/notes", headers=admin.headers, json={"text": "secret"})
    note_id = (await created.get_json())["id"]
    other = await client.get(f"/api/example/notes/{note_id}", headers=other_admin.headers)
    assert_error(other.status_code, await other.get_json(), 404, "NOT_FOUND")
    listed = await client.get("/api/example/notes", headers=other_admin.headers)
    assert (await listed.get_json())["total"] == 0


async def test_hook_hub_config_validates_and_exposes_plugin_settings(client, hub, tmp_path):
    response = await client.get("/api/example/greeting")
    assert (await response.get_json()) == {"greeting": "hello from the tests"}
    assert hub.plugin_settings("example").max_note_length == 200
    with pytest.raises(SettingsError, match=r"plugins\.example\.max_note_length"):
        create_app(make_settings(tmp_path, plugins={"example": {"max_note_length": 0}}))


async def test_plugin_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_PLUGINS__EXAMPLE__GREETING", "hi from env")
    settings = make_settings(tmp_path, plugins={})
    app = create_app(settings)
    assert app.extensions["hub"].plugin_settings("example").greeting == "hi from env"


async def test_hook_hub_permissions_decides_who_may_write(client, admin):
    viewer = await add_member(client, admin, "viewer")
    developer = await add_member(client, admin, "developer")
    denied = await client.post("/api/example/notes", headers=viewer.headers, json={"text": "no"})
    assert_error(denied.status_code, await denied.get_json(), 403, "FORBIDDEN")
    allowed = await client.post("/api/example/notes", headers=developer.headers, json={"text": "yes"})
    assert allowed.status_code == 201
    readable = await client.get("/api/example/notes", headers=viewer.headers)
    assert readable.status_code == 200


async def test_hook_hub_on_event_receives_events_with_their_organization(client, hub, admin):
    import hub_example_plugin

    created = await client.post("/api/example/notes", headers=admin.headers, json={"text": "evented"})
    note_id = (await created.get_json())["id"]
    matching = [e for e in hub.extensions[hub_example_plugin.RECEIVED] if e.data.get("id") == note_id]
    assert len(matching) == 1
    assert matching[0].type == "example.note_created"
    assert matching[0].org_id == admin.org_id
    assert set(matching[0].to_message()) == {"type", "data", "timestamp"}


async def test_a_failing_event_handler_breaks_neither_the_emitter_nor_other_handlers(app, hub, admin, event_types):
    import hub_example_plugin

    event_types("test.pinged")
    async def hub_on_event(event):
        raise RuntimeError("handler bug")

    broken = plugin_module("broken_listener", hub_on_event=hub_on_event)
    hub.manager.register(broken, name="broken_listener")
    try:
        before = hub.bus.handler_failures
        async with app.app_context():
            event = await emit(admin.org_id, "test.pinged", {"n": 1})
            await hub.bus.settle()
        assert hub.bus.handler_failures == before + 1
        assert any(e.id == event.id for e in hub.extensions[hub_example_plugin.RECEIVED])
    finally:
        hub.manager.unregister(broken)


async def test_hook_hub_functions_are_offered_checked_and_called(app, hub, client, admin):
    await client.post("/api/example/notes", headers=admin.headers, json={"text": "apples and pears"})
    await client.post("/api/example/notes", headers=admin.headers, json={"text": "only pears"})
    async with app.app_context():
        principal = await principal_for(hub, admin)
        names = [f.name for f in await available_functions(hub, principal)]
        assert "count_notes" in names
        result = await call_function(hub, principal, "count_notes", {"word": "APPLES"})
        assert result == {"word": "APPLES", "count": 1}
        with pytest.raises(HubError) as bad:
            await call_function(hub, principal, "count_notes", {"word": ""})
        assert bad.value.code == "VALIDATION_ERROR" and bad.value.details["field"] == "word"
        with pytest.raises(HubError) as unknown:
            await call_function(hub, principal, "no_such_function", {})
        assert unknown.value.code == "NOT_FOUND"


async def test_hook_hub_health_checks_appear_in_health(client):
    body = await (await client.get("/health")).get_json()
    assert body["checks"]["example_notes"] == "healthy"


def test_hook_hub_startup_and_test_hook_hub_shutdown_run_in_order(tmp_path):
    """In a separate process: tortoise keeps process-wide state, and this app starts and stops."""
    script = textwrap.dedent(
        f"""
        import asyncio, json, os
        for name in list(os.environ):
            if name.startswith("HUB_"): del os.environ[name]
        from core.app import create_app
        from core.kernel.settings import load_settings
        import hub_example_plugin
        from quart.testing.app import TestApp

        async def main():
            settings = load_settings(env="test", data_dir={str(tmp_path)!r}, secret_key="x" * 40)
            app = create_app(settings)
            lifecycle = app.extensions["hub"].extensions
            # every built-in plugin migrates a fresh database here: ~10 s on a loaded 2-core machine,
            # past the 6 s that Quart's app.test_app() allows
            async with TestApp(app, startup_timeout=120, shutdown_timeout=60):
                during = list(lifecycle[hub_example_plugin.LIFECYCLE])
            print(json.dumps({{"during": during, "after": lifecycle[hub_example_plugin.LIFECYCLE]}}))

        asyncio.run(main())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"during": ["startup"], "after": ["startup", "shutdown"]}


async def test_run_every_repeats_a_job_through_failures_until_stopped(tmp_path):
    """`hub.run_every` (what plugins start in hub_startup; the server stops it before hub_shutdown)."""
    from core.app import load_hub
    from core.testing import WAIT_SECONDS, test_settings

    hub = load_hub(test_settings(tmp_path))
    runs: list[int] = []

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 2:
            raise RuntimeError("one failing run")

    hub.run_every("test.loop", 0.01, job)
    with pytest.raises(ValueError, match="already runs"):
        hub.run_every("test.loop", 1, job)
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while len(runs) < 4 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert runs[:4] == [0, 1, 2, 3]  # the failure did not end the loop
    await hub.stop_background()
    stopped_at = len(runs)
    await asyncio.sleep(0.05)
    assert len(runs) == stopped_at and hub.background == {}


# -- switching plugins off --------------------------------------------------------------------


async def test_plugins_api_lists_plugins_for_admins_only(client, admin):
    response = await client.get("/api/v1/plugins", headers=admin.headers)
    body = await response.get_json()
    assert response.status_code == 200
    by_name = {p["name"]: p for p in body["plugins"]}
    assert by_name["example"]["version"] == "1.2.3"
    assert by_name["example"]["enabled"] is True
    assert by_name["core"]["can_be_disabled"] is False
    assert response.headers["X-Total-Count"] == str(body["total"])
    developer = await add_member(client, admin, "developer")
    denied = await client.get("/api/v1/plugins", headers=developer.headers)
    assert_error(denied.status_code, await denied.get_json(), 403, "FORBIDDEN")


async def test_a_plugin_switched_off_for_an_organization_has_no_routes_events_or_functions(
    app, hub, client, admin, other_admin, event_types
):
    import hub_example_plugin

    event_types("test.marked")
    off = await client.put("/api/v1/plugins/example", headers=admin.headers, json={"enabled": False})
    assert off.status_code == 200 and (await off.get_json())["enabled"] is False
    try:
        hidden = await client.get("/api/example/notes", headers=admin.headers)
        assert_error(hidden.status_code, await hidden.get_json(), 404, "NOT_FOUND")
        # the other organization is not affected
        assert (await client.get("/api/example/notes", headers=other_admin.headers)).status_code == 200
        marker = uuid.uuid4().hex
        async with app.app_context():
            await emit(admin.org_id, "test.marked", {"marker": marker})
            await emit(other_admin.org_id, "test.marked", {"marker": marker})
            await hub.bus.settle()
            principal = await principal_for(hub, admin)
            assert "count_notes" not in [f.name for f in await available_functions(hub, principal)]
            with pytest.raises(HubError):
                await call_function(hub, principal, "count_notes", {"word": "x"})
        got = [e.org_id for e in hub.extensions[hub_example_plugin.RECEIVED] if e.data.get("marker") == marker]
        assert got == [other_admin.org_id]
        listed = await (await client.get("/api/v1/plugins", headers=admin.headers)).get_json()
        assert {p["name"]: p["enabled"] for p in listed["plugins"]}["example"] is False
    finally:
        on = await client.put("/api/v1/plugins/example", headers=admin.headers, json={"enabled": True})
        assert on.status_code == 200
    assert (await client.get("/api/example/notes", headers=admin.headers)).status_code == 200


async def test_plugins_api_refuses_bad_switches(client, admin):
    core = await client.put("/api/v1/plugins/core", headers=admin.headers, json={"enabled": False})
    assert_error(core.status_code, await core.get_json(), 409, "CONFLICT")
    unknown = await client.put("/api/v1/plugins/nope", headers=admin.headers, json={"enabled": False})
    assert_error(unknown.status_code, await unknown.get_json(), 404, "NOT_FOUND")
    bad = await client.put("/api/v1/plugins/example", headers=admin.headers, json={"enabled": "maybe"})
    assert_error(bad.status_code, await bad.get_json(), 400, "VALIDATION_ERROR")
    viewer = await add_member(client, admin, "viewer")
    denied = await client.put("/api/v1/plugins/example", headers=viewer.headers, json={"enabled": False})
    assert_error(denied.status_code, await denied.get_json(), 403, "FORBIDDEN")


@pytest.mark.parametrize(
    "how",
    [
        {"plugins": {"disabled": ["example"]}},
        {"disabled_plugins": ["example"]},
        {"plugins": {"example": {"enabled": False}}},
    ],
)
async def test_a_plugin_switched_off_in_config_is_not_loaded(tmp_path, how):
    app = create_app(make_settings(tmp_path, **how))
    assert "example" not in app.extensions["hub"].plugins
    assert not [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/example")]
    response = await app.test_client().get("/api/example/greeting")
    assert_error(response.status_code, await response.get_json(), 404, "NOT_FOUND")


async def test_disabling_plugins_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_DISABLED_PLUGINS", "example")
    app = create_app(make_settings(tmp_path, plugins={}))
    assert "example" not in app.extensions["hub"].plugins


# -- start-up failures ------------------------------------------------------------------------


def test_route_collision_names_both_plugins(tmp_path):
    first = plugin_module("first", hub_routes=lambda: blueprint_with("first_bp", "/api/same"))
    second = plugin_module("second", hub_routes=lambda: blueprint_with("second_bp", "/api/same"))
    with pytest.raises(PluginError, match=r"GET /api/same.*'first'.*'second'"):
        create_app(make_settings(tmp_path), plugins=[first, second])


def test_collision_with_a_core_route_is_refused(tmp_path):
    thief = plugin_module("thief", hub_routes=lambda: blueprint_with("thief_bp", "/health"))
    with pytest.raises(PluginError, match=r"/health.*'core'.*'thief'"):
        create_app(make_settings(tmp_path), plugins=[thief])


def test_misspelt_hook_stops_start_up(tmp_path):
    typo = plugin_module("typo", hub_rotues=lambda: None)
    with pytest.raises(PluginError, match="hub_rotues"):
        create_app(make_settings(tmp_path), plugins=[typo])


def test_missing_or_disabled_required_plugin_stops_start_up(tmp_path):
    with pytest.raises(PluginError, match="'no_such_plugin' is not installed"):
        create_app(make_settings(tmp_path, plugins={"required": ["no_such_plugin"]}))
    with pytest.raises(PluginError, match="'example' is disabled"):
        create_app(make_settings(tmp_path, plugins={"required": ["example"], "disabled": ["example"]}))
    needy = plugin_module("needy", hub_routes=lambda: None)
    needy.requires = ["crm"]
    with pytest.raises(PluginError, match="'needy' requires plugin 'crm'"):
        create_app(make_settings(tmp_path), plugins=[needy])


def test_a_route_without_access_rule_stops_start_up(tmp_path):
    def open_door():
        blueprint = Blueprint("open_bp", __name__)

        @blueprint.get("/api/open")
        async def view():
            return {}

        return blueprint

    with pytest.raises(PluginError, match=r"'careless'.*/api/open.*neither"):
        create_app(make_settings(tmp_path), plugins=[plugin_module("careless", hub_routes=open_door)])


def test_a_route_requiring_an_unknown_permission_stops_start_up(tmp_path):
    routes = lambda: blueprint_with("perm_bp", "/api/perm", decorate=require("no.such.permission"))  # noqa: E731
    with pytest.raises(PluginError, match="unknown permission 'no.such.permission'"):
        create_app(make_settings(tmp_path), plugins=[plugin_module("perm", hub_routes=routes)])


def test_unknown_disabled_plugin_name_is_reported(tmp_path):
    with pytest.raises(PluginError, match="unknown plugin.*nope"):
        create_app(make_settings(tmp_path, plugins={"disabled": ["nope"]}))


def test_a_function_with_a_bad_registration_names_its_plugin(tmp_path):
    class Args(BaseModel):
        x: int

    async def run(ctx, args):
        return None

    def hub_functions(register):
        register("bad name!", "nope", Args, "profile.read", run)

    with pytest.raises(PluginError, match="'fn'.*bad function name"):
        create_app(make_settings(tmp_path), plugins=[plugin_module("fn", hub_functions=hub_functions)])

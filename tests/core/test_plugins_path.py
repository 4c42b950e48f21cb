"""The `plugins_path` setting: plugin packages and modules dropped in a folder load like
third-party plugins (routes, permissions, models and their migrations), without installing
them; what is not a plugin there is skipped, and a bad folder or plugin stops start-up."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from core.app import create_app
from core.kernel.plugins import PluginError
from core.kernel.settings import SettingsError
from tests.helpers import make_settings
from tests.live_server import live_account, live_hub

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "plugins_path_sample"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The sample folder (tests/plugins_path_sample) plus things that are not plugins."""
    target = tmp_path_factory.mktemp("plugins.d")
    shutil.copytree(SAMPLE, target, dirs_exist_ok=True)
    (target / "_private").mkdir()
    (target / "_private" / "__init__.py").write_text("def hub_routes():\n    raise AssertionError('loaded')\n")
    (target / "not-a-name").mkdir()
    (target / "notes.txt").write_text("not a module")
    return target


def test_packages_and_modules_in_the_folder_load_as_plugins(tmp_path, folder):
    hub = create_app(make_settings(tmp_path, plugins_path=folder)).extensions["hub"]
    memos, ping = hub.plugins["hub_memos"], hub.plugins["hub_ping"]
    assert (memos.source, memos.version) == ("plugins_path", "0.3.0")
    assert ping.source == "plugins_path"
    assert "hub_routes" in memos.hooks and "hub_models" in memos.hooks
    # helpers (no hooks), private and non-identifier names are not plugins
    assert not {"memo_text", "_private", "not-a-name", "notes"} & set(hub.plugins)
    # the built-in and entry-point plugins are still there
    assert hub.plugins["crm"].source == "builtin"
    assert hub.plugins["example"].source == "entry_point"
    assert hub.extensions["db_config"]["apps"]["hub_memos"]["migrations"] == "hub_memos.migrations"


async def test_a_folder_plugins_route_answers(tmp_path, folder):
    app = create_app(make_settings(tmp_path, plugins_path=folder))
    response = await app.test_client().get("/api/ping-from-folder")
    assert response.status_code == 200
    assert await response.get_json() == {"pong": True}


def test_without_the_setting_nothing_is_loaded_from_a_folder(tmp_path):
    hub = create_app(make_settings(tmp_path)).extensions["hub"]
    assert not [info for info in hub.plugins.values() if info.source == "plugins_path"]


def test_a_missing_folder_is_a_settings_error(tmp_path):
    with pytest.raises(SettingsError, match="plugins_path: .*is not a directory"):
        create_app(make_settings(tmp_path, plugins_path=tmp_path / "nowhere"))


def test_a_plugin_that_fails_to_import_is_named(tmp_path):
    name = f"hub_broken_{uuid.uuid4().hex[:8]}"
    (tmp_path / "plugins.d").mkdir()
    (tmp_path / "plugins.d" / f"{name}.py").write_text("import no_such_module_anywhere\n")
    with pytest.raises(PluginError, match=rf"plugin '{name}' .*failed to import: No module named"):
        create_app(make_settings(tmp_path, plugins_path=tmp_path / "plugins.d"))


def test_a_name_taken_by_another_module_is_refused_not_swapped(tmp_path):
    (tmp_path / "plugins.d").mkdir()
    (tmp_path / "plugins.d" / "json.py").write_text("def hub_routes():\n    return None\n")
    with pytest.raises(PluginError, match="plugin 'json' in plugins_path .*is shadowed by the module 'json'"):
        create_app(make_settings(tmp_path, plugins_path=tmp_path / "plugins.d"))


def test_a_folder_plugin_named_like_a_builtin_one_is_refused(tmp_path):
    (tmp_path / "plugins.d" / "crm").mkdir(parents=True)
    (tmp_path / "plugins.d" / "crm" / "__init__.py").write_text("def hub_routes():\n    return None\n")
    with pytest.raises(PluginError, match="two plugins are named 'crm'"):
        create_app(make_settings(tmp_path, plugins_path=tmp_path / "plugins.d"))


def test_a_live_hub_migrates_and_serves_a_folder_plugin(tmp_path, folder):
    """A real `hub serve` with HUB_PLUGINS_PATH (its own SQLite file): the plugin's migration
    runs at start, its routes check their permission and keep rows per organization."""
    env = {"HUB_PLUGINS_PATH": str(folder)}
    listing = subprocess.run([sys.executable, str(ROOT / "hub.py"), "plugins"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=90, env={**_clean_env(), "HUB_DATA_DIR": str(tmp_path), **env})
    assert listing.returncode == 0, listing.stderr
    assert [line.split()[:3] for line in listing.stdout.splitlines() if line.startswith("hub_memos")] == [
        ["hub_memos", "0.3.0", "plugins_path"]]
    with live_hub(tmp_path / "live", env=env) as hub:
        first, second = live_account(hub.url), live_account(hub.url)
        with httpx.Client(base_url=hub.url, timeout=30) as http:
            created = http.post("/api/memos", headers=first["headers"], json={"text": "  buy   milk "})
            assert created.status_code == 201, created.text
            assert created.json()["text"] == "buy milk"  # through the helper module beside it
            assert http.get("/api/memos", headers=first["headers"]).json()["memos"] == [created.json()]
            assert http.get("/api/memos", headers=second["headers"]).json()["memos"] == []
            assert http.get("/api/memos").status_code == 401


def _clean_env() -> dict[str, str]:
    import os

    return {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}

"""Settings: config/hub.toml defaults, HUB_* environment overrides, HUB_CONFIG, errors that
name the key, and plugin settings validated through the plugin's own model."""

from __future__ import annotations

import os
import stat
import tomllib

import pytest

from core.kernel.plugins import PluginError
from core.kernel.settings import DEFAULT_CONFIG_FILE, SettingsError, load_settings
from tests.helpers import make_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Nothing HUB_* from a previous test or the machine (conftest already strips them)."""
    for name in list(os.environ):
        if name.startswith("HUB_") and not name.startswith("HUB_TEST_"):
            monkeypatch.delenv(name)


def write_config(tmp_path, text: str, name: str = "other.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# -- defaults -----------------------------------------------------------------------------------


def test_defaults_come_from_config_file():
    with DEFAULT_CONFIG_FILE.open("rb") as handle:
        toml = tomllib.load(handle)
    settings = load_settings()
    assert settings.env == toml["env"] == "development"
    assert settings.auth.access_token_minutes == toml["auth"]["access_token_minutes"] == 30
    assert settings.auth.refresh_token_days == toml["auth"]["refresh_token_days"] == 7
    assert settings.http.max_body_bytes == toml["http"]["max_body_bytes"] == 10 * 1024 * 1024
    assert settings.pagination.max_limit == toml["pagination"]["max_limit"]
    assert settings.pagination.default_limit == toml["pagination"]["default_limit"]
    assert settings.server.port == toml["server"]["port"]
    assert settings.auto_migrate is True
    assert settings.disabled == set()
    assert settings.plugins.entry_points is True


def test_embedded_database_defaults_to_sqlite_in_data_dir(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    assert settings.database_url == ""
    assert settings.effective_database_url == f"sqlite://{tmp_path / 'hub.sqlite3'}"


# -- environment overrides ----------------------------------------------------------------------


def test_top_level_env_override(monkeypatch):
    monkeypatch.setenv("HUB_ENV", "production")
    monkeypatch.setenv("HUB_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("HUB_AUTO_MIGRATE", "false")
    settings = load_settings()
    assert settings.env == "production"
    assert settings.log_level == "DEBUG"
    assert settings.auto_migrate is False


def test_nested_env_override(monkeypatch):
    monkeypatch.setenv("HUB_AUTH__ACCESS_TOKEN_MINUTES", "15")
    monkeypatch.setenv("HUB_PAGINATION__MAX_LIMIT", "20")
    monkeypatch.setenv("HUB_SERVER__WORKERS", "4")
    settings = load_settings()
    assert settings.auth.access_token_minutes == 15
    assert settings.pagination.max_limit == 20
    assert settings.server.workers == 4
    # the rest of each section keeps the file's values
    assert settings.auth.refresh_token_days == 7
    assert settings.pagination.default_limit == 50


def test_env_beats_file_and_explicit_values_beat_env(monkeypatch):
    monkeypatch.setenv("HUB_AUTH__ACCESS_TOKEN_MINUTES", "15")
    assert load_settings(auth={"access_token_minutes": 5}).auth.access_token_minutes == 5
    assert load_settings(auth={"refresh_token_days": 2}).auth.access_token_minutes == 15


def test_disabled_plugins_short_form(monkeypatch):
    monkeypatch.setenv("HUB_DISABLED_PLUGINS", "a, b,,c ")
    settings = load_settings()
    assert settings.disabled_plugins == ["a", "b", "c"]
    assert settings.disabled == {"a", "b", "c"}


def test_disabled_plugins_long_form_merges_with_short_form(monkeypatch):
    monkeypatch.setenv("HUB_PLUGINS__DISABLED", "x,y")
    monkeypatch.setenv("HUB_DISABLED_PLUGINS", "z")
    assert load_settings().disabled == {"x", "y", "z"}


def test_secret_key_from_env_is_not_shown(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_SECRET_KEY", "very-secret-value-0123456789")
    settings = load_settings(data_dir=tmp_path)
    assert settings.signing_key() == "very-secret-value-0123456789"
    assert "very-secret-value" not in repr(settings)
    assert "very-secret-value" not in str(settings.model_dump())


def test_plugin_setting_from_env_reaches_the_plugin(monkeypatch, tmp_path):
    from core.app import create_app

    monkeypatch.setenv("HUB_PLUGINS__EXAMPLE__GREETING", "hi from env")
    app = create_app(make_settings(tmp_path, plugins={}))
    assert app.extensions["hub"].plugin_settings("example").greeting == "hi from env"


async def test_plugin_setting_is_served(tmp_path):
    from core.app import create_app

    app = create_app(make_settings(tmp_path, plugins={"example": {"greeting": "bonjour"}}))
    response = await app.test_client().get("/api/example/greeting")  # a @public view, no database
    assert response.status_code == 200
    assert (await response.get_json()) == {"greeting": "bonjour"}


async def test_disabled_plugin_from_env_is_not_loaded(monkeypatch, tmp_path):
    from core.app import create_app

    monkeypatch.setenv("HUB_DISABLED_PLUGINS", "example")
    app = create_app(make_settings(tmp_path))
    assert "example" not in app.extensions["hub"].plugins
    assert "example_notes" not in app.extensions["hub"].health_checks
    response = await app.test_client().get("/api/example/greeting")
    assert response.status_code == 404


def test_disabling_an_unknown_plugin_fails(monkeypatch, tmp_path):
    from core.app import create_app

    monkeypatch.setenv("HUB_DISABLED_PLUGINS", "no_such_plugin")
    with pytest.raises(PluginError, match="no_such_plugin"):
        create_app(make_settings(tmp_path))


def test_core_cannot_be_disabled(monkeypatch, tmp_path):
    from core.app import create_app

    monkeypatch.setenv("HUB_DISABLED_PLUGINS", "core")
    with pytest.raises(PluginError, match="core"):
        create_app(make_settings(tmp_path))


# -- HUB_CONFIG ---------------------------------------------------------------------------------


def test_hub_config_replaces_the_default_file(monkeypatch, tmp_path):
    path = write_config(tmp_path, 'env = "test"\n[auth]\naccess_token_minutes = 45\n[pagination]\nmax_limit = 7\n')
    monkeypatch.setenv("HUB_CONFIG", str(path))
    settings = load_settings()
    assert settings.env == "test"
    assert settings.auth.access_token_minutes == 45
    assert settings.pagination.max_limit == 7
    assert settings.auth.refresh_token_days == 7  # not in the file: the model's default


def test_env_overrides_hub_config_file(monkeypatch, tmp_path):
    path = write_config(tmp_path, "[auth]\naccess_token_minutes = 45\n")
    monkeypatch.setenv("HUB_CONFIG", str(path))
    monkeypatch.setenv("HUB_AUTH__ACCESS_TOKEN_MINUTES", "3")
    assert load_settings().auth.access_token_minutes == 3


def test_hub_config_plugin_table(monkeypatch, tmp_path):
    from core.app import create_app

    path = write_config(tmp_path, '[plugins]\ndisabled = []\n[plugins.example]\ngreeting = "from the file"\n')
    monkeypatch.setenv("HUB_CONFIG", str(path))
    settings = load_settings(env="test", data_dir=tmp_path, secret_key="x" * 40)
    assert settings.plugins.section("example") == {"greeting": "from the file"}
    app = create_app(settings)
    assert app.extensions["hub"].plugin_settings("example").greeting == "from the file"


def test_bad_value_in_hub_config_file_names_key(monkeypatch, tmp_path):
    path = write_config(tmp_path, "[auth]\naccess_token_minutes = 'soon'\n")
    monkeypatch.setenv("HUB_CONFIG", str(path))
    with pytest.raises(SettingsError, match=r"auth\.access_token_minutes"):
        load_settings()


def test_unknown_key_in_hub_config_file_is_refused(monkeypatch, tmp_path):
    path = write_config(tmp_path, "[auth]\naccess_token_minuts = 5\n")
    monkeypatch.setenv("HUB_CONFIG", str(path))
    with pytest.raises(SettingsError, match=r"auth\.access_token_minuts"):
        load_settings()


def test_hub_config_that_is_not_toml_is_a_settings_error(monkeypatch, tmp_path):
    path = write_config(tmp_path, "[auth\naccess_token_minutes = 5\n")
    monkeypatch.setenv("HUB_CONFIG", str(path))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(path) in str(caught.value)


def test_hub_config_pointing_nowhere_is_a_settings_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "HUB_CONFIG" in str(caught.value) and "missing.toml" in str(caught.value)


# -- bad values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "key", "reason"),
    [
        ("HUB_AUTH__ACCESS_TOKEN_MINUTES", "abc", "auth.access_token_minutes", "integer"),
        ("HUB_AUTH__ACCESS_TOKEN_MINUTES", "0", "auth.access_token_minutes", "greater than or equal to 1"),
        ("HUB_AUTH__JWT_ALGORITHM", "none", "auth.jwt_algorithm", "HS256"),
        ("HUB_AUTH__API_KEY_PREFIX", "no prefix", "auth.api_key_prefix", "pattern"),
        ("HUB_HTTP__MAX_BODY_BYTES", "100", "http.max_body_bytes", "1024"),
        ("HUB_PAGINATION__MAX_LIMIT", "0", "pagination.max_limit", "greater than or equal to 1"),
        ("HUB_SERVER__PORT", "70000", "server.port", "65535"),
        ("HUB_ENV", "staging", "env", "production"),
        ("HUB_AUTO_MIGRATE", "maybe", "auto_migrate", "boolean"),
        ("HUB_LOG_LEVEL", "LOUD", "log_level", "DEBUG"),
        ("HUB_REDIS_URL", "http://cache:6379", "redis_url", "redis://"),
    ],
)
def test_bad_env_value_names_key_and_reason(monkeypatch, variable, value, key, reason):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"invalid setting {key}:" in message
    assert reason in message
    assert repr(value) in message  # what was given


def test_unknown_nested_key_is_refused(monkeypatch):
    monkeypatch.setenv("HUB_AUTH__TOKEN_MINUTES", "5")
    with pytest.raises(SettingsError, match=r"auth\.token_minutes"):
        load_settings()


@pytest.mark.parametrize("url", ["mysql://user@db/hub", "http://example.com", "sqlite:/relative", "hub.sqlite3"])
def test_bad_database_url_scheme(monkeypatch, url):
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "database_url" in str(caught.value)
    assert "sqlite://" in str(caught.value) and "postgres" in str(caught.value)


@pytest.mark.parametrize("url", ["sqlite://data/x.sqlite3", "postgres://u@h:5432/db", "postgresql://u@h/db"])
def test_good_database_urls(monkeypatch, url):
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    assert load_settings().database_url == url


def test_every_bad_key_is_reported(monkeypatch):
    monkeypatch.setenv("HUB_AUTH__ACCESS_TOKEN_MINUTES", "abc")
    monkeypatch.setenv("HUB_SERVER__PORT", "0")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "auth.access_token_minutes" in str(caught.value)
    assert "server.port" in str(caught.value)


# -- plugin settings ----------------------------------------------------------------------------


def test_plugin_setting_validation_error_names_plugin_key(tmp_path):
    from core.app import create_app

    with pytest.raises(SettingsError) as caught:
        create_app(make_settings(tmp_path, plugins={"example": {"max_note_length": "abc"}}), plugins=None)
    message = str(caught.value)
    assert "plugins.example.max_note_length" in message
    assert "integer" in message


def test_plugin_setting_constraint_error_names_plugin_key(tmp_path):
    from core.app import create_app

    with pytest.raises(SettingsError, match=r"plugins\.example\.max_note_length.*greater than or equal to 1"):
        create_app(make_settings(tmp_path, plugins={"example": {"max_note_length": 0}}))


def test_plugin_mount_must_be_a_path(tmp_path):
    from core.app import create_app

    with pytest.raises(SettingsError, match=r"plugins\.example\.mount"):
        create_app(make_settings(tmp_path, plugins={"example": {"mount": "api"}}))


def test_plugin_section_must_be_a_table(tmp_path):
    from core.app import create_app

    with pytest.raises(SettingsError, match=r"plugins\.example"):
        create_app(make_settings(tmp_path, plugins={"example": "yes"}))


def test_plugin_settings_are_validated_and_typed(tmp_path):
    from core.app import create_app

    app = create_app(make_settings(tmp_path, plugins={"example": {"max_note_length": "12"}}))
    assert app.extensions["hub"].plugin_settings("example").max_note_length == 12


# -- the signing key ----------------------------------------------------------------------------


def test_signing_key_is_generated_once_and_kept_private(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data")
    key = settings.signing_key()
    assert len(key) >= 32
    assert load_settings(data_dir=tmp_path / "data").signing_key() == key  # survives a restart
    mode = stat.S_IMODE((tmp_path / "data" / "secret_key").stat().st_mode)
    assert mode & 0o077 == 0, oct(mode)


def test_production_needs_a_secret_key(tmp_path):
    settings = load_settings(env="production", data_dir=tmp_path)
    with pytest.raises(SettingsError, match="secret_key"):
        settings.signing_key()
    assert not (tmp_path / "secret_key").exists()

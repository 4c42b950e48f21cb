"""Settings: defaults in config/hub.toml, overridden by HUB_* environment variables.

Plugins contribute their own settings models through the `hub_config` hook; their
values live in the `[plugins.<name>]` table and are validated at start-up too.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = Path(__file__).resolve().parent.parent / "config" / "hub.toml"
PLUGIN_CORE_KEYS = ("enabled", "mount", "requires")


class SettingsError(Exception):
    """A setting has a bad value; the message names the key and the reason."""


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        value = item.get("input")
        shown = f" (got {value!r})" if not isinstance(value, dict) else ""
        lines.append(f"invalid setting {key}: {item['msg']}{shown}")
    return "\n".join(lines)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)


class AuthSettings(_Section):
    access_token_minutes: int = Field(30, ge=1, le=24 * 60)
    refresh_token_days: int = Field(7, ge=1, le=365)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    api_key_prefix: str = Field("hub_", pattern=r"^[A-Za-z][A-Za-z0-9]{0,15}_$")
    login_max_failures: int = Field(5, ge=1, le=100)
    login_max_lockout_seconds: int = Field(900, ge=1, le=86400)


class HttpSettings(_Section):
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)


class PaginationSettings(_Section):
    default_limit: int = Field(50, ge=1)
    max_limit: int = Field(100, ge=1, le=10_000)


class PluginsSettings(BaseModel):
    """`disabled`, `required`, `entry_points`, plus one table per plugin (kept as extras)."""

    model_config = ConfigDict(extra="allow")

    disabled: Annotated[list[str], NoDecode] = []
    required: Annotated[list[str], NoDecode] = []
    entry_points: bool = True

    @field_validator("disabled", "required", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        return _comma_list(value)

    def section(self, plugin_name: str) -> dict[str, Any]:
        value = (self.model_extra or {}).get(plugin_name) or {}
        if not isinstance(value, dict):
            raise SettingsError(f"invalid setting plugins.{plugin_name}: must be a table of settings")
        return value


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUB_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("data")
    database_url: str = ""
    redis_url: str | None = None
    secret_key: SecretStr | None = None
    auto_migrate: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # HUB_DISABLED_PLUGINS=a,b is the short form of HUB_PLUGINS__DISABLED.
    disabled_plugins: Annotated[list[str], NoDecode] = []

    server: ServerSettings = ServerSettings()
    auth: AuthSettings = AuthSettings()
    http: HttpSettings = HttpSettings()
    pagination: PaginationSettings = PaginationSettings()
    plugins: PluginsSettings = PluginsSettings()

    @field_validator("disabled_plugins", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        return _comma_list(value)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not re.match(r"^(sqlite|postgres|postgresql|asyncpg)://", value):
            raise ValueError("must start with sqlite://, postgres:// or postgresql://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        if value and not re.match(r"^rediss?://", value):
            raise ValueError("must start with redis:// or rediss://")
        return value or None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("HUB_CONFIG") or DEFAULT_CONFIG_FILE)
        if os.environ.get("HUB_CONFIG") and not toml_file.is_file():
            raise SettingsError(f"invalid setting HUB_CONFIG: no such file {str(toml_file)!r}")
        try:
            toml_settings = TomlConfigSettingsSource(settings_cls, toml_file=toml_file)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise SettingsError(f"invalid config file {str(toml_file)!r}: {error}") from None
        return (init_settings, env_settings, toml_settings)

    # -- derived values ---------------------------------------------------------------------

    @property
    def disabled(self) -> set[str]:
        return set(self.plugins.disabled) | set(self.disabled_plugins)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite://{self.data_dir / 'hub.sqlite3'}"

    def signing_key(self) -> str:
        """The JWT/HMAC secret. Without one configured, a random key is kept in data_dir
        so that an embedded Hub works out of the box and tokens survive restarts."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            if self.env == "production":
                raise SettingsError("invalid setting secret_key: required when env = production")
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return key_file.read_text().strip()


def load_settings(**overrides: Any) -> Settings:
    """Build settings from config file + environment (+ explicit overrides, used by tests)."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None

"""Settings of the analytics plugin: `[plugins.analytics]` in config/hub.toml,
`HUB_PLUGINS__ANALYTICS__<KEY>` in the environment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class Project(BaseModel):
    """A project beside the organization's default one: a name and the explores (plugins) it shows."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    explores: list[str] = Field(default_factory=list, description="plugin names; empty: every plugin's metrics")


class AnalyticsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database_url: SecretStr | None = Field(
        None, description="a read replica (postgres://... or sqlite://...); unset: the main database, "
                          "read through connections of its own that cannot write")
    statement_timeout_seconds: float = Field(10.0, gt=0, le=600, description="a metric query longer than this is "
                                                                             "stopped (504 ANALYTICS_QUERY_TIMEOUT)")
    row_limit: int = Field(5000, ge=1, le=1_000_000, description="most rows one query returns")
    max_page_size: int = Field(500, ge=1, le=100_000, description="Lightdash results page size bound")
    pool_size: int = Field(4, ge=1, le=64, description="PostgreSQL connections of the reader, per process")
    query_ttl_seconds: int = Field(3600, ge=60, le=7 * 86400, description="how long a Lightdash query's results "
                                                                           "can be fetched")
    lightdash_at_root: bool = Field(True, description="also answer Lightdash's /api/v1 and /api/v2 paths at the "
                                                      "host's root (the official SDK drops the path of its URL)")
    projects: list[Project] = Field(default_factory=list, description="projects beside the default one")

    @field_validator("projects")
    @classmethod
    def _unique(cls, projects: list[Project]) -> list[Project]:
        names = [project.name.lower() for project in projects]
        if "default" in names or len(set(names)) != len(names):
            raise ValueError("project names must be unique and not 'default'")
        return projects

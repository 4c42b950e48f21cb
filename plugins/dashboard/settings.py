"""Settings of the dashboard plugin: `[plugins.dashboard]` in config/hub.toml,
`HUB_PLUGINS__DASHBOARD__<KEY>` in the environment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core import CommaList


class DashboardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field("The Hub", min_length=1, max_length=80, description="shown in the header and the tab")
    cookie_name: str = Field("hub_session", pattern=r"^[A-Za-z0-9_\-]{1,64}$", description="the session cookie")
    overview_metrics: CommaList = Field(
        default_factory=lambda: ["crm.leads", "crm.pipeline_value", "workflows.executions", "support.tickets"],
        description="analytics metrics (ids) charted on the overview, in order, those of plugins that are on; "
                    "empty: the first `overview_charts` of the catalogue")
    overview_charts: int = Field(4, ge=0, le=12, description="charts on the overview when overview_metrics is empty")
    overview_days: int = Field(30, ge=1, le=366, description="days the overview charts cover, by day")

"""Settings of the n8n plugin: `[plugins.n8n]` in config/hub.toml, `HUB_PLUGINS__N8N__<KEY>`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class N8nSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_requests_per_minute: int = Field(600, ge=0, le=1_000_000,
                                             description="calls one workflow's webhooks take a minute (0: no limit)")
    webhook_burst_size: int = Field(100, ge=1, le=1_000_000, description="calls at once before the rate applies")
    webhook_max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024,
                                        description="largest webhook body (n8n's default: 16 MB)")
    webhook_wait_seconds: float = Field(300, gt=0, le=3600,
                                        description="how long a lastNode/responseNode webhook waits for its answer")

"""Settings of the Slack plugin: `[plugins.slack]` in config/hub.toml, `HUB_PLUGINS__SLACK__<KEY>`
in the environment. An organization's webhook URL or bot token is not a setting: each connects
its own at `/api/integrations/slack/connect`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core import CommaList


class SlackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_base_url: str = Field("https://slack.com/api/", pattern=r"^https?://[^\s]+/$", max_length=500,
                              description="Slack's Web API, ending in / (tests point it at a loopback fake)")
    timeout_seconds: float = Field(15, gt=0, le=120, description="one request to Slack")
    # incoming-webhook URLs are given by organizations: like webhooks, they may not reach
    # loopback, private or link-local addresses unless listed here or in [webhooks] allowlist
    webhook_allowlist: CommaList = Field(default_factory=list,
                                         description="webhook hosts allowed despite the SSRF guard")
    post_attempts: int = Field(5, ge=1, le=20, description="tries of a post that fails for a passing reason")
    max_rules: int = Field(100, ge=1, le=10_000, description="rules one organization may have")

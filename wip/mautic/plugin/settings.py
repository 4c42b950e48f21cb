"""Settings of the mautic plugin: `[plugins.mautic]` in config/hub.toml,
`HUB_PLUGINS__MAUTIC__<KEY>` in the environment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MauticSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field("5.1.1", max_length=20, description="what the Mautic-Version header says")
    default_limit: int = Field(30, ge=1, le=1000, description="a list's page size when `limit` is not given")
    max_limit: int = Field(500, ge=1, le=5000, description="the largest `limit` a list answers")
    batch_limit: int = Field(200, ge=1, le=1000, description="contacts one batch request may carry")
    send_limit: int = Field(1000, ge=1, le=100_000,
                            description="contacts one POST /api/emails/{id}/send sends to (the rest: send again)")
    access_token_seconds: int = Field(3600, ge=60, le=86400, description="an OAuth2 access token's life")
    refresh_token_days: int = Field(14, ge=1, le=365, description="an OAuth2 refresh token's life")
    public_url: str | None = Field(None, pattern=r"^https?://[^\s]+$", max_length=500, description=(
        "the Hub's address as email readers reach it, for tracking pixels, click and unsubscribe "
        "links (none: the address the API request came to)"))
    campaign_tick_seconds: float = Field(5, gt=0, le=3600,
                                         description="how often scheduled campaign events (waits) are looked for")

"""Settings of the notifications plugin: `[plugins.notifications]` in config/hub.toml,
`HUB_PLUGINS__NOTIFICATIONS__<KEY>` in the environment."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class NotificationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    digest_seconds: float = Field(3600, gt=0, le=7 * 24 * 3600,
                                  description="how often members with the digest on get one email of what waited")
    email_provider: Literal["smtp", "sendgrid", "aws_ses", "mailgun"] = Field(
        "smtp", description="the messaging integration the email channel sends through")
    digest_max_items: int = Field(100, ge=1, le=1000, description="notifications one digest email lists at most")

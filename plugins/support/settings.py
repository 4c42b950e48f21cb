"""Settings of the support plugin: `[plugins.support]` in config/hub.toml,
`HUB_PLUGINS__SUPPORT__<KEY>` in the environment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core import CommaList

MEGABYTE = 1024 * 1024


class Sla(BaseModel):
    """Minutes from a ticket's creation to its first staff answer and to its resolution."""

    model_config = ConfigDict(extra="forbid")

    first_response_minutes: int = Field(ge=1, le=365 * 24 * 60)
    resolution_minutes: int = Field(ge=1, le=365 * 24 * 60)


def _default_sla() -> dict[str, Sla]:
    return {
        "urgent": Sla(first_response_minutes=60, resolution_minutes=4 * 60),
        "high": Sla(first_response_minutes=4 * 60, resolution_minutes=24 * 60),
        "medium": Sla(first_response_minutes=8 * 60, resolution_minutes=3 * 24 * 60),
        "low": Sla(first_response_minutes=24 * 60, resolution_minutes=7 * 24 * 60),
    }


class SupportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sla: dict[str, Sla] = Field(default_factory=_default_sla,
                                description="per priority (low, medium, high, urgent); a priority left out has no SLA")
    sla_check_seconds: float = Field(60, gt=0, le=3600, description="how often each process looks for breaches")
    max_attachment_bytes: int = Field(10 * MEGABYTE, ge=1, le=1024 * MEGABYTE, description="one attachment")
    max_ticket_attachment_bytes: int = Field(50 * MEGABYTE, ge=1, le=10 * 1024 * MEGABYTE,
                                             description="all of one ticket's attachments together")
    attachment_types: CommaList = Field(
        default_factory=list, description="detected types accepted as attachments; empty: the core's "
                                          "[files] allowed_types (images, PDF, text, CSV, JSON, Office)")

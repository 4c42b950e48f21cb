"""Request and response shapes of the Slack plugin (snake_case, like the Hub's /api/v1 routes),
and its events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core import Blankable, EventPayload, OffsetQuery, Pagination
from plugins.integrations.slack.integrations import CHANNEL

Channel = Annotated[str, Field(pattern=CHANNEL, max_length=81,
                               description="#channel, @user or a channel id; none: the integration's default")]
EventTypeName = Annotated[str, Field(min_length=3, max_length=100, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$",
                                     description="an event type of the catalogue (GET /api/v1/events/types)")]
Template = Annotated[str, Field(min_length=1, max_length=10_000, description=(
    "Jinja2: `event` (type, id, timestamp) and `data` (the event's data), e.g. "
    "'New lead: *{{ data.name }}*'; printed values are escaped for Slack"))]
PostStatus = Literal["queued", "sent", "failed"]
DEFAULT_TEMPLATE = "*{{ event.type }}*"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    event_type: EventTypeName
    channel: Channel | None = None
    template: Template = DEFAULT_TEMPLATE
    enabled: bool = True


class RuleUpdate(Strict):
    """Only the fields given change; `channel: null` goes back to the default channel."""

    name: str | None = Field(None, min_length=1, max_length=200)
    event_type: EventTypeName | None = None
    channel: Channel | None = None
    template: Template | None = None
    enabled: bool | None = None


class RuleOut(BaseModel):
    id: str
    name: str
    event_type: str
    channel: str | None
    template: str
    enabled: bool
    created_by: str | None
    last_posted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RuleList(BaseModel):
    rules: list[RuleOut]
    total: int | None
    pagination: Pagination


class RulePreviewRequest(Strict):
    data: dict[str, Any] = Field(default_factory=dict, max_length=200, description="an example of the event's data",
                                 json_schema_extra={"x-bounded-by": "200 keys, inside [http] max_body_bytes"})


class RulePreview(BaseModel):
    text: str
    channel: str | None


class PostRequest(Strict):
    """A message to post now (queued; the `slack.post` job sends it, retrying passing failures)."""

    text: str = Field(min_length=1, max_length=40_000)
    channel: Channel | None = None


class PostOut(BaseModel):
    id: str
    source: str
    rule_id: str | None
    event_id: str | None
    channel: str | None
    text: str
    status: PostStatus
    error: str | None
    attempts: int
    slack_ts: str | None
    job_id: str | None
    created_at: datetime
    sent_at: datetime | None


class PostList(BaseModel):
    messages: list[PostOut]
    total: int | None
    pagination: Pagination


class PostQuery(OffsetQuery):
    status: Blankable[PostStatus] = None
    rule_id: Blankable[uuid.UUID] = None


# -- events -----------------------------------------------------------------------------------------


class PostEvent(EventPayload):
    id: str
    source: str
    rule_id: str | None = None
    channel: str | None = None
    status: PostStatus
    error: str | None = None


EVENT_TYPES = (
    ("slack.message.posted", PostEvent, "A message was posted to Slack"),
    ("slack.message.failed", PostEvent, "A message could not be posted to Slack (after its retries)"),
)

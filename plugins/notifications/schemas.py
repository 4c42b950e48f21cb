"""Request and response shapes of the notifications plugin: seed 002's Notifications Service
(snake_case, a bare list), seed 004's Notifications API (camelCase, `{notifications}`), seed
001's `/ws/notifications` message, and the events other plugins send notifications through."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core import Blankable, EventPayload, Query, SkipQuery

CHANNELS = ("in_app", "email", "sms", "slack")
Channel = Literal["in_app", "email", "sms", "slack"]
Priority = Literal["normal", "urgent"]
NotificationType = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_.-]*$",
                                        description="info, lead, message, system, ... (lower case)")]
MetadataKey = Annotated[str, Field(min_length=1, max_length=64)]
MetadataValue = (Annotated[str, Field(max_length=1000)] | Annotated[int, Field(ge=-(2**53), le=2**53)]
                 | Annotated[float, Field(ge=-1e15, le=1e15, allow_inf_nan=False)] | bool | None)
# What a notification carries for the client (a lead's id, a link): flat, bounded.
Metadata = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=50)]


def _phone(value: str) -> str:
    """E.164: "+" and 7 to 15 digits; spaces, dashes and brackets people write are dropped."""
    digits = re.sub(r"[\s()-]", "", value)
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", digits):
        raise ValueError("must be a phone number in E.164 form, e.g. +14155550100")
    return digits


Phone = Annotated[str, Field(min_length=8, max_length=24, pattern=r"^\+[1-9][0-9 ()-]{6,22}$"),
                  AfterValidator(_phone)]
# a Slack channel as the Slack plugin takes it: #name, @user or an id
SlackChannel = Annotated[str, Field(max_length=81, pattern=r"^[#@]?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NotificationRequest(Strict):
    """Seed 002's Send Notification body (`user_id`: a member of the caller's organization;
    left out: the caller), plus `priority` (urgent ones skip the digest)."""

    user_id: uuid.UUID | None = None
    title: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=5000)
    type: NotificationType = "info"
    channel: Channel = "in_app"
    priority: Priority = "normal"
    metadata: Metadata = Field(default_factory=dict)


class NotificationOut(BaseModel):
    """Seed 002's list item, plus what the Hub knows of its delivery."""

    id: str
    user_id: str
    title: str
    message: str
    type: str
    channel: str
    priority: str
    metadata: dict
    is_read: bool
    read_at: datetime | None
    delivery: str = Field(description="delivered (in_app: stored and pushed) | queued (handed to messaging or Slack) | sent (to the provider) | delivered (the provider reported it) | digest | digested | suppressed | failed")
    message_id: str | None = Field(description="the messaging plugin's message (email, sms)")
    error: str | None
    created_at: datetime


class UnreadCount(BaseModel):
    unread: int
    total: int


class MarkedAllRead(BaseModel):
    updated: int


class NotificationQuery(SkipQuery):
    is_read: Blankable[bool] = Field(None, description="only read (true) or unread (false) notifications")


class CamelQuery(Query):
    status: Blankable[Literal["unread", "read", "all"]] = Field(None, description="unread, read or all (default)")
    type: Blankable[NotificationType] = Field(None, description="one type: lead, message, system, ...")
    limit: Blankable[Annotated[int, Field(ge=1)]] = Field(
        None, description="how many, newest first (default 20, capped at [pagination] max_limit)",
        json_schema_extra={"x-bounded-by": "capped at [pagination] max_limit (a setting), not refused"})


class CamelNotification(BaseModel):
    id: str
    type: str
    title: str
    message: str
    data: dict
    status: Literal["unread", "read"]
    channel: str
    createdAt: datetime  # noqa: N815 (seed 004's name)
    readAt: datetime | None  # noqa: N815


class CamelNotificationList(BaseModel):
    notifications: list[CamelNotification]
    unreadCount: int  # noqa: N815


class TypePreference(Strict):
    """One notification type's channels: a channel set to false is off for that type."""

    in_app: bool | None = None
    email: bool | None = None
    sms: bool | None = None
    slack: bool | None = None


class Preferences(BaseModel):
    """Seed 002's preferences, plus the SMS number, Slack, the digest and per-type switches."""

    email_enabled: bool
    in_app_enabled: bool
    sms_enabled: bool
    phone: str | None
    slack_enabled: bool
    slack_channel: str | None = Field(description="where slack notifications go; null: Slack's default channel")
    digest: bool
    types: dict[str, dict[str, bool]] = Field(description="per type, the channels switched off: {lead: {email: false}}")


class PreferencesUpdate(Strict):
    """Only the fields given change; `types` replaces the per-type switches."""

    email_enabled: bool | None = None
    in_app_enabled: bool | None = None
    sms_enabled: bool | None = None
    phone: Phone | None = None
    slack_enabled: bool | None = None
    slack_channel: SlackChannel | None = None
    digest: bool | None = None
    types: Annotated[dict[Annotated[str, Field(min_length=1, max_length=50)], TypePreference],
                     Field(max_length=50)] | None = None


class MarkRead(Strict):
    """The optional body of marking one read: `{"is_read": false}` marks it unread again."""

    is_read: bool = True


class MarkAllRead(Strict):
    """The optional body of marking all read: only those of one `type` when given."""

    type: NotificationType | None = None


# -- events -------------------------------------------------------------------------------------------


class NotificationRequested(EventPayload):
    """What another plugin emits to notify a member (`notification.requested`)."""

    user_id: str
    title: str
    message: str
    type: str = "info"
    channel: str = "in_app"
    priority: str = "normal"
    metadata: dict = Field(default_factory=dict)


class UserNotification(EventPayload):
    """Seed 001's `/ws/notifications` message `notification`: sent to its recipient only
    (`user_id`)."""

    id: str
    user_id: str
    type: str
    title: str
    message: str
    channel: str
    priority: str
    metadata: dict
    is_read: bool
    created_at: str


EVENT_TYPES: list[tuple[str, type[EventPayload], str, str]] = [
    ("notification.sent", UserNotification, "A notification for one member (seed 001's /ws/notifications `notification`)",
     "notifications.read"),
    ("notification.requested", NotificationRequested,
     "Another plugin asks to notify a member (handled by the notifications plugin)", "notifications.send"),
]

"""What a socket is about: event types and `data` fields it accepts."""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import Any, Callable, Iterable

from core.events.websocket.protocol import NOTIFICATION_TYPES

# -- topics ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Topic:
    """What a socket is about: event types (fnmatch patterns) and `data` fields that must
    equal given values (compared as strings), e.g. Topic.of(["execution.*"], {"execution_id": id})."""

    types: tuple[str, ...] = ("*",)
    match: tuple[tuple[str, str], ...] = ()
    name: str = "events"
    # The message a socket of this topic gets for an event: `render(message, principal)` from
    # `{"type", "data", "timestamp"}` and the socket's principal (None: send nothing; no render:
    # the message as it is). For a seed that gives the topic its own message shape.
    render: Callable[[dict[str, Any], Any], dict[str, Any] | None] | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def of(cls, types: Iterable[str] = ("*",), match: dict[str, Any] | None = None, name: str = "topic",
           render: Callable[[dict[str, Any], Any], dict[str, Any] | None] | None = None) -> Topic:
        return cls(tuple(types), tuple((key, str(value)) for key, value in (match or {}).items()), name, render)

    def accepts(self, event_type: str, data: Any) -> bool:
        if not matches_any(event_type, self.types):
            return False
        if self.match:
            if not isinstance(data, dict):
                return False
            for key, expected in self.match:
                if key not in data or data[key] is None or str(data[key]) != expected:
                    return False
        return True


def seed_notification(message: dict[str, Any], principal: Any = None) -> dict[str, Any] | None:
    """/ws/notifications speaks seed 001: a notification event (`notification`, `notification.*`,
    e.g. the notifications plugin's `notification.sent`) arrives as the message `notification`
    (`{"type": "notification", "event": <the event's type>, "data", "timestamp"}`: the Hub's
    message shape, named as the seed names it, the event's own name kept in `event`); other
    messages (announcements) as they are. A request to notify (`notification.requested`: a
    command for the plugin that delivers notifications, which then sends the notification
    itself) is not a notification and is not sent here. /ws keeps every event as it is."""
    event_type = str(message.get("type", ""))
    if event_type.endswith(".requested"):
        return None
    if event_type != "notification" and not event_type.startswith("notification."):
        return message
    return {"type": "notification", "event": event_type, "data": message.get("data"),
            "timestamp": message.get("timestamp")}


EVENTS = Topic(("*",), (), "events")
NOTIFICATIONS = Topic(NOTIFICATION_TYPES, (), "notifications", render=seed_notification)


def matches_any(event_type: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == event_type or fnmatch.fnmatchcase(event_type, pattern):
            return True
    return False

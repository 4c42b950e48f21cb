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


EVENTS = Topic(("*",), (), "events")
NOTIFICATIONS = Topic(NOTIFICATION_TYPES, (), "notifications")


def matches_any(event_type: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == event_type or fnmatch.fnmatchcase(event_type, pattern):
            return True
    return False

"""The event catalogue: every event type a plugin may emit, with its payload model.

Plugins register their types through `hub_event_types(register)`:

    register("lead.created", LeadCreated, "A lead was created", permission="crm.leads.read")

`emit` checks each event against it: an unregistered type or a payload its model refuses
raises `EventError` in tests and development (`[events] validate = "strict"`) and is
logged in production (`"log"`), where losing an event would be worse than a wrong field.
The catalogue is served as `GET /api/v1/events/types` and as the AsyncAPI 3 document
`/asyncapi.json` (core/events/asyncapi.py).

Names are `<noun>.<verb in the past tense>` (`lead.created`, `job.timed_out`), prefixed by
the plugin where the noun is not its own (`recommender.model.activated`). Names that a
seed fixes differently (`metrics.update`, `agent.status` in seed 004) are registered with
`seed="004"`, which exempts them from the tense rule and says where they come from.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger("hub.events")

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# Past participles that do not end in -ed.
IRREGULAR_PAST = frozenset({
    "sent", "built", "made", "done", "run", "read", "won", "lost", "paid", "bought", "sold", "kept",
    "left", "met", "set", "reset", "begun", "written", "taken", "given", "held", "found", "put", "cut",
    "shut", "split", "hit", "undone", "rebuilt", "rerun", "overdue",
})


class EventPayload(BaseModel):
    """Base of event payload models: a field the model does not name is an error, so the
    catalogue stays the truth about what clients receive."""

    model_config = ConfigDict(extra="forbid")


class EventError(Exception):
    """An event that does not match the catalogue (strict mode)."""


@dataclass(frozen=True)
class EventType:
    name: str
    payload: type[BaseModel]
    description: str
    plugin: str
    permission: str | None = None  # who may receive it over WebSocket (besides events.read)
    seed: str | None = None  # the seed that fixes this name, when it breaks the naming rule

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "plugin": self.plugin,
            "permission": self.permission, "seed": self.seed,
            "payload_schema": self.payload.model_json_schema(),
        }


def is_past_tense(verb: str) -> bool:
    """`created`, `timed_out`, `retry_scheduled`, `note_created`: one of the words is a past
    participle."""
    return any(word.endswith("ed") or word in IRREGULAR_PAST for word in verb.split("_"))


class EventCatalogue:
    """The event types of one Hub."""

    def __init__(self, mode: str = "strict") -> None:
        self.types: dict[str, EventType] = {}
        self.mode = mode  # "strict": raise EventError; "log": log and deliver anyway
        self.rejected = 0

    def registrar(self, permissions: Any) -> Callable[[str], Callable[..., None]]:
        def for_plugin(plugin: str) -> Callable[..., None]:
            def register(name: str, payload: type[BaseModel], description: str, *,
                         permission: str | None = None, seed: str | None = None) -> None:
                self.add(EventType(name, payload, description, plugin, permission, seed), permissions)

            return register

        return for_plugin

    def add(self, event_type: EventType, permissions: Any = None) -> None:
        name = event_type.name
        if not isinstance(name, str) or not EVENT_NAME.match(name):
            raise ValueError(f"event type {name!r} must be lower_snake words joined by dots (noun.verb_ed)")
        if event_type.seed is None and not is_past_tense(name.rsplit(".", 1)[1]):
            raise ValueError(f"event type {name!r} must end in a verb in the past tense (e.g. 'lead.created'), "
                             "or name the seed that fixes it (seed=...)")
        if name in self.types and self.types[name].plugin != event_type.plugin:
            raise ValueError(f"event type {name!r} is registered by both {self.types[name].plugin!r} "
                             f"and {event_type.plugin!r}")
        if not (isinstance(event_type.payload, type) and issubclass(event_type.payload, BaseModel)):
            raise TypeError(f"event type {name!r} needs a pydantic payload model")
        if not event_type.description:
            raise ValueError(f"event type {name!r} needs a description")
        if event_type.permission is not None and permissions is not None \
                and event_type.permission not in permissions.permissions:
            raise ValueError(f"event type {name!r} names unknown permission {event_type.permission!r}")
        self.types[name] = event_type

    def check(self, name: str, data: Any) -> EventType | None:
        """The event's type if `data` fits it; otherwise EventError (strict) or a log line."""
        event_type = self.types.get(name)
        problem = None
        if event_type is None:
            problem = f"event type {name!r} is not registered (declare it in a hub_event_types hook)"
        else:
            try:
                event_type.payload.model_validate(data)
            except ValidationError as error:
                problem = f"event {name!r} does not match {event_type.payload.__name__}: {error}"
        if problem is None:
            return event_type
        self.rejected += 1
        if self.mode == "strict":
            raise EventError(problem)
        log.error("%s", problem)
        return event_type

    def visible(self, exclude: Iterable[str] = ()) -> list[EventType]:
        """The types, by name, but those of the plugins in `exclude` (switched off)."""
        hidden = set(exclude)
        return [t for _, t in sorted(self.types.items()) if t.plugin not in hidden]

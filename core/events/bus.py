"""Events: `await emit(org_id, "lead.created", data)` is how a plugin announces something.

The type must be in the catalogue with a payload that fits it (core/events/catalogue.py).
Every plugin enabled for that organization gets it through `hub_on_event`. A failing
handler is logged and counted; it neither fails the emitter nor stops the others.
Then the event goes to the Hub's sinks (WebSocket fan-out, signed webhooks), again
without letting one failure reach the emitter.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from core.events.catalogue import EventCatalogue
from core.kernel.hub import Hub, current_hub
from core.kernel.times import iso_now

log = logging.getLogger("hub.events")


@dataclass(frozen=True)
class Event:
    type: str
    org_id: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    timestamp: str = field(default_factory=iso_now)

    def to_message(self) -> dict[str, Any]:
        """The wire shape of seed 004: {"type", "data", "timestamp"}."""
        return {"type": self.type, "data": self.data, "timestamp": self.timestamp}


class EventBus:
    """One per Hub (`hub.bus`): delivers each event to the plugins, then to the sinks."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        settings = hub.settings.events
        mode = settings.validate_payloads or ("log" if hub.settings.env == "production" else "strict")
        self.catalogue = EventCatalogue(mode)
        self.handler_failures = 0
        self.sink_failures = 0

    async def emit(self, org_id: Any, event_type: str, data: dict[str, Any]) -> Event:
        hub = self.hub
        self.catalogue.check(event_type, data)
        event = Event(event_type, str(org_id), data)

        def failed(plugin: str, error: Exception) -> None:
            self.handler_failures += 1
            log.error("event handler of plugin %s failed on %s", plugin, event_type, exc_info=error)

        await hub.acall("hub_on_event", skip=await hub.disabled_for_org(org_id), on_error=failed, event=event)
        for sink in hub.event_sinks:
            try:
                await sink(event)
            except Exception:
                self.sink_failures += 1
                log.exception("event sink %s failed on %s", getattr(sink, "__qualname__", sink), event_type)
        return event


async def emit(org_id: Any, event_type: str, data: dict[str, Any], hub: Hub | None = None) -> Event:
    """Announce an event of organization `org_id`; in a request the Hub is the current one."""
    return await (hub or current_hub()).emit(org_id, event_type, data)

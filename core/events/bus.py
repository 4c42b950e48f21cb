"""Events: `await emit(org_id, "lead.created", data)` is how a plugin announces something.

The type must be in the catalogue with a payload that fits it (core/events/catalogue.py).
`emit` records the event in the outbox, in the caller's transaction, and returns; once that
transaction commits, the dispatcher (core/events/outbox.py) delivers it off the response path:
every plugin enabled for the organization gets it through `hub_on_event` (a failing handler
is logged and counted and stops no one), then the Hub's sinks (WebSocket fan-out, signed
webhooks) do, again each failure on its own.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from core.events.catalogue import EventCatalogue
from core.events.outbox import Outbox
from core.kernel.hub import Hub, current_hub
from core.kernel.jsonable import jsonable
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
        self.outbox = Outbox(self, settings)
        self.handler_failures = 0
        self.sink_failures = 0

    async def emit(self, org_id: Any, event_type: str, data: dict[str, Any]) -> Event:
        """Check the event, record it with the caller's change; it is delivered after commit."""
        event = self.event(org_id, event_type, data)
        await self.outbox.record(event)
        return event

    def event(self, org_id: Any, event_type: str, data: dict[str, Any], staged: Any = None) -> Event:
        """The checked event, not recorded yet: `emit` records it, or, with the identity
        `outbox.stage()` gave (`staged`), the caller wrote its row itself (the job runtime)."""
        self.catalogue.check(event_type, data)
        # As JSON gives it back: what an in-process handler sees is what one in another process,
        # taking the event over from the outbox, sees too.
        if staged is not None:
            return Event(event_type, str(org_id), jsonable(data), id=staged.id, timestamp=staged.timestamp)
        return Event(event_type, str(org_id), jsonable(data))

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until the events this process emitted so far are delivered (tests, commands)."""
        await self.outbox.settle(timeout)

    async def deliver(self, event: Event) -> None:
        """Hand a committed event to the plugins, then to the sinks (the dispatcher calls this)."""
        hub = self.hub
        event_type = event.type
        org_id = event.org_id

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


async def emit(org_id: Any, event_type: str, data: dict[str, Any], hub: Hub | None = None) -> Event:
    """Announce an event of organization `org_id`; in a request the Hub is the current one."""
    return await (hub or current_hub()).emit(org_id, event_type, data)

"""Events: `await emit(org_id, "lead.created", data)` is how a plugin announces something.

Every plugin enabled for that organization gets it through `hub_on_event`. A failing
handler is logged and counted; it neither fails the emitter nor stops the others.
Then the event goes to the Hub's sinks (WebSocket fan-out, signed webhooks), again
without letting one failure reach the emitter.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from core.state import Hub, current_hub

log = logging.getLogger("hub.events")


@dataclass(frozen=True)
class Event:
    type: str
    org_id: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    timestamp: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    )

    def to_message(self) -> dict[str, Any]:
        """The wire shape of seed 004: {"type", "data", "timestamp"}."""
        return {"type": self.type, "data": self.data, "timestamp": self.timestamp}


async def emit(org_id: Any, event_type: str, data: dict[str, Any], hub: Hub | None = None) -> Event:
    hub = hub or current_hub()
    event = Event(event_type, str(org_id), data)
    disabled = await hub.disabled_for_org(org_id)
    for impl in hub.manager.hook.hub_on_event.get_hookimpls():
        plugin = hub.manager.get_name(impl.plugin)
        if plugin in disabled:
            continue
        try:
            result = impl.function(event) if impl.argnames else impl.function()
            if inspect.isawaitable(result):
                await result
        except Exception:
            hub.extensions["event_handler_failures"] = hub.extensions.get("event_handler_failures", 0) + 1
            log.exception("event handler of plugin %s failed on %s", plugin, event_type)
    for sink in hub.event_sinks:
        try:
            await sink(event)
        except Exception:
            hub.extensions["event_sink_failures"] = hub.extensions.get("event_sink_failures", 0) + 1
            log.exception("event sink %s failed on %s", getattr(sink, "__qualname__", sink), event_type)
    return event

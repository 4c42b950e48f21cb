"""What a request needs to know about its organization, read once per request through one cache.

    tenant = await hub.tenants.get(org_id)     # TenantState(org_id, plan, status, disabled_plugins)

Rate limits (the plan's rules), quotas (the plan's limits), the WebSocket gateway (the plan's
connection limit), the plugin switches (`disabled_plugins`) and the event bus all read it from
here. Within a request the state is read once (kept on `g`); across requests it is cached per
process for `[tenancy] cache_seconds`. After changing an organization's plan, status or plugin
switches, call `await hub.tenants.invalidate(org_id)`: the one invalidation path, which every
process hears at once through Redis when the Hub has one (otherwise other processes see the
change within `cache_seconds`; core/tenancy/invalidation.py).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from quart import g, has_request_context, has_websocket_context

from core.tenancy.invalidation import RESET
from core.tenancy.models import Organization, PluginState

CACHE_SIZE = 10_000


@dataclass(frozen=True)
class TenantState:
    org_id: str
    plan: str
    status: str  # "active" | "suspended"
    disabled_plugins: frozenset[str]


UNKNOWN = TenantState("", "", "unknown", frozenset())


def _key(org_id: Any) -> str:
    return str(org_id)  # UUID and str ids share one entry


class TenantDirectory:
    """One per Hub (`hub.tenants`)."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.ttl = hub.settings.tenancy.cache_seconds
        self._cache: dict[str, tuple[float, TenantState]] = {}
        self.stats = {"hits": 0, "misses": 0}

    # -- reading ---------------------------------------------------------------------------------

    async def get(self, org_id: Any) -> TenantState:
        key = _key(org_id)
        in_request = has_request_context() or has_websocket_context()
        if in_request:
            current = getattr(g, "tenant", None)
            if current is not None and current.org_id == key:
                return current
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            self.stats["hits"] += 1
            state = cached[1]
        else:
            self.stats["misses"] += 1
            generation = self.hub.invalidations.generation
            state = await self._read(key)
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()  # entries live `ttl` anyway; this only bounds memory
            if self.hub.invalidations.generation == generation:  # else it may have changed meanwhile
                self._cache[key] = (time.monotonic() + self.ttl, state)
        if in_request:
            g.tenant = state
        return state

    async def _read(self, key: str) -> TenantState:
        try:
            org_uuid = uuid.UUID(key)
        except ValueError:
            return UNKNOWN
        row = await Organization.filter(id=org_uuid).first().values("plan", "status")
        if row is None:
            return TenantState(key, "", "unknown", frozenset())
        disabled = await PluginState.filter(org_id=org_uuid, enabled=False).values_list("plugin", flat=True)
        return TenantState(key, row["plan"] or "", row["status"], frozenset(disabled))

    async def plan(self, org_id: Any) -> str:
        return (await self.get(org_id)).plan

    async def set_plan(self, org_id: Any, plan: str) -> str | None:
        """Put the organization on `plan` (which plans exist is the billing plugin's catalogue)
        and announce it to every process, so the next request anywhere applies the plan's limits.
        The previous plan; None when there is no such organization."""
        row = await Organization.filter(id=org_id).first().values("plan")
        if row is None:
            return None
        if row["plan"] != plan:
            await Organization.filter(id=org_id).update(plan=plan)
            await self.invalidate(org_id)
        return row["plan"]

    async def disabled_plugins(self, org_id: Any) -> frozenset[str]:
        return (await self.get(org_id)).disabled_plugins

    # -- invalidating ----------------------------------------------------------------------------

    def forget(self, org_id: Any) -> None:
        """Drop this process's cached state of the organization."""
        key = _key(org_id)
        self._cache.pop(key, None)
        if has_request_context() and getattr(g, "tenant", None) is not None and g.tenant.org_id == key:
            g.tenant = None

    async def invalidate(self, org_id: Any) -> None:
        """The organization changed: forget it here and in every other process."""
        await self.hub.invalidations.publish("tenant", org_id)

    def listen(self, invalidations: Any) -> None:
        invalidations.on("tenant", self.forget)
        invalidations.on(RESET, lambda _: self._cache.clear())

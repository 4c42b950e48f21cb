"""What the requests of an organization need to know about it, cached per process."""

from __future__ import annotations

import time
from typing import Any

from core.tenancy.models import PluginState

PLUGIN_STATE_TTL_SECONDS = 2.0
PLUGIN_STATE_CACHE_SIZE = 10_000


class TenantDirectory:
    def __init__(self) -> None:
        self._disabled_cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def disabled_plugins(self, org_id: Any) -> frozenset[str]:
        """Plugins an admin switched off for this organization (cached for a moment, so a
        change reaches every process within PLUGIN_STATE_TTL_SECONDS)."""
        key = str(org_id)  # UUID and str ids must share one entry (see forget)
        cached = self._disabled_cache.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        names = frozenset(
            await PluginState.filter(org_id=org_id, enabled=False).values_list("plugin", flat=True)
        )
        if len(self._disabled_cache) >= PLUGIN_STATE_CACHE_SIZE:
            self._disabled_cache.clear()  # entries live 2 s anyway; this only bounds memory
        self._disabled_cache[key] = (time.monotonic() + PLUGIN_STATE_TTL_SECONDS, names)
        return names

    def forget(self, org_id: Any) -> None:
        self._disabled_cache.pop(str(org_id), None)

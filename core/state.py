"""The running Hub: what `create_app` assembled, reachable as `current_hub()`.

There is no module-level global: each app (and so each test) has its own Hub.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from pydantic import BaseModel
from quart import current_app

from core.permissions import PermissionRegistry
from core.plugins import CORE_PLUGIN, HubPluginManager, PluginInfo
from core.settings import Settings

PLUGIN_STATE_TTL_SECONDS = 2.0
PLUGIN_STATE_CACHE_SIZE = 10_000


@dataclass
class HubFunction:
    name: str
    description: str
    args_model: type[BaseModel]
    permission: str
    func: Callable[..., Awaitable[Any]]
    plugin: str


@dataclass
class Hub:
    settings: Settings
    manager: HubPluginManager
    plugins: dict[str, PluginInfo]
    permissions: PermissionRegistry = field(default_factory=PermissionRegistry)
    functions: dict[str, HubFunction] = field(default_factory=dict)
    health_checks: dict[str, tuple[str, Callable[[], Awaitable[str]]]] = field(default_factory=dict)
    blueprint_owner: dict[str, str] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    signing_key: str = ""
    extensions: dict[str, Any] = field(default_factory=dict)
    # redis.asyncio client when HUB_REDIS_URL is set (opened at start), else None.
    redis: Any = None
    # Where emitted events go after the plugins' hub_on_event: WebSocket fan-out, webhooks.
    event_sinks: list[Callable[[Any], Awaitable[None]]] = field(default_factory=list)
    # Checks run by `require` after authentication and permission (rate limits, quotas).
    request_guards: list[Callable[[Any], Awaitable[None]]] = field(default_factory=list)
    _disabled_cache: dict[Any, tuple[float, frozenset[str]]] = field(default_factory=dict)

    def plugin_settings(self, name: str) -> Any:
        return self.plugins[name].settings

    async def disabled_for_org(self, org_id: Any) -> frozenset[str]:
        """Plugins an admin switched off for this organization (cached for a moment, so a
        change reaches every process within PLUGIN_STATE_TTL_SECONDS)."""
        from core.models import PluginState

        key = str(org_id)  # UUID and str ids must share one entry (see forget_plugin_states)
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

    def forget_plugin_states(self, org_id: Any) -> None:
        self._disabled_cache.pop(str(org_id), None)

    async def plugin_enabled_for(self, org_id: Any, plugin: str) -> bool:
        if plugin == CORE_PLUGIN:
            return True
        return plugin in self.plugins and plugin not in await self.disabled_for_org(org_id)


def current_hub() -> Hub:
    return current_app.extensions["hub"]


def plugin_settings(name: str) -> Any:
    """The validated settings model of plugin `name` (from its `hub_config` hook)."""
    return current_hub().plugin_settings(name)

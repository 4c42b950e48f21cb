"""The running Hub: what `create_app` assembled, handed to every hook that asks for `hub`, and
reachable in a request as `current_hub()`.

There is no module-level global: each app (and so each test) has its own Hub. The layers above
the kernel install their services on it (`tenants`, `bus`, `extensions[...]`), so the kernel
never imports them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable

from quart import current_app

from core.kernel.errors import ErrorCodes
from core.kernel.permissions import PermissionRegistry
from core.kernel.plugins import (
    CORE_PLUGIN,
    HubPluginManager,
    PluginInfo,
    await_each,
    call_each,
    collect,
    load_plugin_settings,
    load_plugins,
)
from core.kernel.settings import Settings

log = logging.getLogger("hub")


@dataclass
class Hub:
    settings: Settings
    manager: HubPluginManager
    plugins: dict[str, PluginInfo]
    permissions: PermissionRegistry = field(default_factory=PermissionRegistry)
    error_codes: ErrorCodes = field(default_factory=ErrorCodes)
    functions: dict[str, Any] = field(default_factory=dict)
    workflow_nodes: dict[str, Any] = field(default_factory=dict)
    integrations: dict[str, Any] = field(default_factory=dict)
    # Analytics metrics by id ("crm.leads"), from `hub_metrics` (core.kernel.contributions.Metric).
    metrics: dict[str, Any] = field(default_factory=dict)
    commands: dict[str, dict[str, Any]] = field(default_factory=dict)
    health_checks: dict[str, tuple[str, Callable[[], Awaitable[str]]]] = field(default_factory=dict)
    blueprint_owner: dict[str, str] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    signing_key: str = ""
    extensions: dict[str, Any] = field(default_factory=dict)
    # redis.asyncio client when HUB_REDIS_URL is set (opened at start), else None.
    redis: Any = None
    # The organizations' state as requests see it (core.tenancy.context.TenantDirectory).
    tenants: Any = None
    # The one invalidation path of the per-process caches (core.tenancy.invalidation).
    invalidations: Any = None
    # The event bus (core.events.bus.EventBus): `await hub.emit(org_id, type, data)`.
    bus: Any = None
    # Where emitted events go after the plugins' hub_on_event: WebSocket fan-out, webhooks.
    event_sinks: list[Callable[[Any], Awaitable[None]]] = field(default_factory=list)
    # Checks run by `require` after authentication and permission (rate limits, quotas).
    request_guards: list[Callable[[Any], Awaitable[None]]] = field(default_factory=list)
    # Loops started with `run_every`, by name (stopped with the server).
    background: dict[str, asyncio.Task] = field(default_factory=dict)

    def run_every(self, name: str, seconds: float | Callable[[], float], job: Callable[[], Awaitable[Any]], *,
                  start_after: float = 0.0) -> None:
        """Run `await job()` every `seconds` (a number, or a function giving it each time: a
        setting) in this process while it serves: start it from `hub_startup`; a failing run is
        logged and the loop goes on; the server stops it before `hub_shutdown`. Every process
        runs its own loop, so a job that must happen once per tick claims its work (a
        conditional update), as the workflow scheduler does."""
        if name in self.background:
            raise ValueError(f"a background loop named {name!r} already runs")
        interval = seconds if callable(seconds) else (lambda: seconds)

        async def loop() -> None:
            await asyncio.sleep(start_after)
            while True:
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("background loop %s failed; it runs again in %s s", name, interval())
                await asyncio.sleep(interval())

        self.background[name] = asyncio.ensure_future(loop())

    async def stop_background(self) -> None:
        tasks = list(self.background.values())
        self.background.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @classmethod
    def load(cls, settings: Settings, core_module: Any, plugins: Iterable[Any] | None = None) -> "Hub":
        """Find, register and check the plugins (see core/kernel/plugins.py) and validate their
        settings: a Hub that knows what it is made of but runs nothing yet."""
        manager, enabled = load_plugins(settings, core_module, plugins)
        hub = cls(settings, manager, enabled)
        load_plugin_settings(hub)
        return hub

    def call(self, hook: str, *, skip: Any = (), **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a hook that answers at once, plugin by plugin: [(plugin, result), ...]."""
        return call_each(self.manager, hook, skip=skip, hub=self, **kwargs)

    async def acall(self, hook: str, *, skip: Any = (), on_error: Callable[[str, Exception], None] | None = None,
                    **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a hook whose implementations may be async, awaiting each in turn; with
        `on_error(plugin, exception)` a failing plugin does not stop the others."""
        return await await_each(self.manager, hook, skip=skip, on_error=on_error, hub=self, **kwargs)

    def collect(self, hook: str, register_for: Callable[[str], Callable[..., Any]]) -> None:
        """Call a `register` hook on every plugin with `register_for(plugin)` as the callback."""
        collect(self, hook, register_for)

    def plugin_settings(self, name: str) -> Any:
        return self.plugins[name].settings

    async def disabled_for_org(self, org_id: Any) -> frozenset[str]:
        """Plugins an admin switched off for this organization."""
        return await self.tenants.disabled_plugins(org_id)

    async def emit(self, org_id: Any, event_type: str, data: dict[str, Any]) -> Any:
        """Announce an event of organization `org_id` (see core/events/bus.py)."""
        return await self.bus.emit(org_id, event_type, data)

    async def plugin_enabled_for(self, org_id: Any, plugin: str) -> bool:
        if plugin == CORE_PLUGIN:
            return True
        return plugin in self.plugins and plugin not in await self.disabled_for_org(org_id)


def current_hub() -> Hub:
    return current_app.extensions["hub"]


def plugin_settings(name: str) -> Any:
    """The validated settings model of plugin `name` (from its `hub_config` hook)."""
    return current_hub().plugin_settings(name)

"""What a request needs to know about its organization, read once per request through one cache.

    tenant = await hub.tenants.get(org_id)     # TenantState(org_id, plan, status, disabled_plugins)

Rate limits (the plan's rules), quotas (the plan's limits), the WebSocket gateway (the plan's
connection limit), the plugin switches (`disabled_plugins`) and the event bus all read it from
here. Within a request the state is read once (kept on `g`); across requests it is cached per
process for `[tenancy] cache_seconds`. After changing an organization's plan, status or plugin
switches, call `await hub.tenants.invalidate(org_id)`: the one invalidation path, which every
process hears at once through Redis when the Hub has one (otherwise other processes see the
change within `cache_seconds`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from quart import g, has_request_context, has_websocket_context

from core.tenancy.models import Organization, PluginState

log = logging.getLogger("hub.tenancy")

CHANNEL = "hub:tenants:invalidate:{db}"
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
        self._redis: Any = None
        self._listener: asyncio.Task | None = None
        self.channel = CHANNEL.format(db=0)
        self.stats = {"hits": 0, "misses": 0, "invalidations": 0, "remote_invalidations": 0}

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
            state = await self._read(key)
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()  # entries live `ttl` anyway; this only bounds memory
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
        """The organization changed: forget it here and tell every other process."""
        self.stats["invalidations"] += 1
        self.forget(org_id)
        if self._redis is not None:
            try:
                await self._redis.publish(self.channel, _key(org_id))
            except Exception:  # the others fall back to the cache's expiry
                log.warning("could not announce a tenant change over Redis; other processes see it "
                            "within %ss", self.ttl, exc_info=True)

    # -- across processes ------------------------------------------------------------------------

    async def start(self) -> None:
        url = self.hub.settings.redis_url
        if not url:
            return
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_connect_timeout=2, health_check_interval=30)
        self.channel = CHANNEL.format(db=self._redis.connection_pool.connection_kwargs.get("db", 0))
        subscribed = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(subscribed), name="hub-tenant-invalidations")
        try:
            await asyncio.wait_for(subscribed.wait(), 5)
        except TimeoutError:
            log.warning("tenant invalidations: not subscribed to Redis yet; retrying in the background")

    async def _listen(self, subscribed: asyncio.Event) -> None:
        backoff = 0.5
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        subscribed.set()
                        backoff = 0.5
                        self._cache.clear()  # changes published while we were away are unknown
                    elif message["type"] == "message":
                        self.stats["remote_invalidations"] += 1
                        data = message["data"]
                        self._cache.pop(data.decode() if isinstance(data, bytes) else str(data), None)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("tenant invalidations: lost Redis (%s); resubscribing in %.1fs", error, backoff)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:
                    pass
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


def install(app: Any, hub: Any) -> None:
    """Hear other processes' invalidations while the server runs."""

    @app.before_serving
    async def _start_tenant_invalidations() -> None:
        await hub.tenants.start()

    @app.after_serving
    async def _stop_tenant_invalidations() -> None:
        await hub.tenants.stop()

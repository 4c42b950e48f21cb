"""The core's own contributions, made through the same hooks as any plugin."""

from __future__ import annotations

import redis.asyncio as redis

from core.db import ping
from core.state import current_hub
from core.hookspecs import hookimpl


@hookimpl
def hub_routes():
    from core.routes import auth, health, keys, plugins, tenant

    return [auth.bp, tenant.bp, keys.bp, plugins.bp, health.bp]


@hookimpl
def hub_permissions(register):
    register("profile.read", "See one's own account", "read")
    register("tenant.read", "See the organization", "read")
    register("tenant.manage", "Rename the organization and change its settings", "admin")
    register("members.read", "List the organization's members", "read")
    register("members.manage", "Invite, re-role and remove members", "admin")
    register("keys.manage", "Create and manage one's own API keys", "write")
    register("keys.admin", "Manage every API key of the organization", "admin")
    register("plugins.manage", "Switch plugins on and off for the organization", "admin")


@hookimpl
def hub_health_checks(register):
    async def database() -> str:
        await ping()
        return "healthy"

    async def cache() -> str:
        redis_url = current_hub().settings.redis_url
        if not redis_url:
            return "healthy"  # in-process memory
        client = redis.from_url(redis_url, socket_connect_timeout=2)
        try:
            await client.ping()
        finally:
            await client.aclose()
        return "healthy"

    register("database", database)
    register("cache", cache)

"""The core's own contributions, made through the same hooks as any plugin."""

from __future__ import annotations

from core.db import ping
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
        # In-process memory unless Redis is configured (the runtime issue adds the Redis probe).
        return "healthy"

    register("database", database)
    register("cache", cache)

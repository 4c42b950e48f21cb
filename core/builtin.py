"""The core's own contributions, made through the same hooks as any plugin."""

from __future__ import annotations

from core.db import ping
from core.state import current_hub
from core.hookspecs import hookimpl


@hookimpl
def hub_routes():
    from core.routes import auth, health, jobs, keys, plugins, tenant, usage, webhooks, ws

    return [auth.bp, tenant.bp, keys.bp, plugins.bp, health.bp, webhooks.bp, jobs.bp, usage.bp, ws.bp]


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
    register("webhooks.manage", "Register and inspect the organization's webhooks", "admin")
    register("jobs.read", "See the organization's background jobs", "read")
    register("jobs.manage", "Cancel the organization's background jobs", "write")
    register("usage.read", "See the organization's usage and quotas", "read")
    register("events.read", "Receive the organization's events over WebSocket", "read")


@hookimpl
def hub_jobs(register):
    from core import webhooks

    webhooks.register_jobs(register)


@hookimpl
def hub_health_checks(register):
    async def database() -> str:
        await ping()
        return "healthy"

    async def cache() -> str:
        redis_url = current_hub().settings.redis_url
        if not redis_url:
            return "healthy"  # in-process memory
        await current_hub().redis.ping()
        return "healthy"

    register("database", database)
    register("cache", cache)

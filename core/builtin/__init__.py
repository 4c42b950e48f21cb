"""The core: accounts and sessions, the organization and its members, API keys, plugins per
organization, health, signed webhooks, background jobs, usage and quotas, the event catalogue
and live events over WebSocket. (Its hooks below are made through the same hooks as any
plugin's.)"""

from __future__ import annotations

from core.kernel.db import ping
from core.kernel.hookspecs import hookimpl


@hookimpl
def hub_models():
    # One tortoise app ("core") over the tables of the layers that own them.
    return ["core.tenancy.models", "core.jobs.models", "core.events.models", "core.ops.models", "core.files.models"]


@hookimpl
def hub_routes():
    from core.builtin.routes import (
        auth,
        events,
        files,
        health,
        integrations,
        jobs,
        keys,
        plugins,
        tenant,
        usage,
        webhooks,
        ws,
    )

    return [auth.bp, tenant.bp, keys.bp, plugins.bp, health.bp, webhooks.bp, jobs.bp, usage.bp, ws.bp, events.bp,
            files.bp, integrations.bp]


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
    register("files.read", "List and download the organization's files", "read")
    register("files.write", "Upload and delete files", "write")
    register("integrations.read", "See the integrations and the organization's connections (credentials masked)", "read")
    register("integrations.manage", "Connect, test and disconnect integrations", "admin")


@hookimpl
def hub_event_types(register):
    from core.builtin.schemas import JOB_EVENTS, JobEvent

    from core.builtin.integrations import INTEGRATION_EVENTS, IntegrationEvent

    for name, description in JOB_EVENTS:
        register(name, JobEvent, description, permission="jobs.read")
    for name, description in INTEGRATION_EVENTS:  # seed 004 names integration.error
        register(name, IntegrationEvent, description, permission="integrations.read",
                 seed="004" if name == "integration.error" else None)


@hookimpl
def hub_jobs(register):
    from core.events import webhooks

    webhooks.register_jobs(register)


@hookimpl
def hub_health_checks(register, hub):
    async def database() -> str:
        await ping()
        return "healthy"

    async def cache() -> str:
        if hub.redis is None:
            return "healthy"  # in-process memory
        await hub.redis.ping()
        return "healthy"

    async def workers() -> str:
        # Jobs are accepted but nobody runs them: with Redis, no `hub worker` (or server with
        # run_in_server) has sent a heartbeat within `[jobs] stale_after_seconds`.
        runtime = hub.extensions.get("jobs")
        if runtime is None:
            return "healthy"
        return "healthy" if await runtime.live_workers() else "degraded"

    register("database", database)
    register("cache", cache)
    register("workers", workers)

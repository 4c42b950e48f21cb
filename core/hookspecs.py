"""The hooks a plugin can implement.

A plugin is a plain module (or object) whose functions are named after these hooks.
The `@hookimpl` marker is optional: any function whose name starts with `hub_` is taken
as an implementation, and a name that matches no hook below stops start-up (a misspelt
hook must not fail silently). Implementations take only the arguments they need.

Hooks that contribute things receive a `register` callback, so that the core can validate
each contribution and stamp it with the plugin's name. A hook may return a value or an
awaitable; the core awaits what needs awaiting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

import pluggy

if TYPE_CHECKING:
    from pydantic import BaseModel
    from quart import Blueprint, Quart

    from core.events import Event

hookspec = pluggy.HookspecMarker("hub")
hookimpl = pluggy.HookimplMarker("hub")


@hookspec
def hub_config() -> type[BaseModel] | None:
    """Return the plugin's settings model (a pydantic model).

    It is validated at start-up against the `[plugins.<name>]` table of the config file
    and `HUB_PLUGINS__<NAME>__<KEY>` variables; a bad value stops start-up with the key's
    name. The validated instance is available as `plugin_settings(<name>)`. Use
    `SecretStr` for secrets.
    """


@hookspec
def hub_models() -> list[str] | str | None:
    """Return the dotted names of the plugin's tortoise model modules.

    The plugin gets one tortoise app label (its name); migrations live in the
    `migrations` package beside the first module. Tables should be prefixed with the
    plugin's name, and tenant-owned models subclass `core.models.TenantModel`.
    """


@hookspec
def hub_routes(app: Quart) -> Blueprint | list[Blueprint] | None:
    """Return the plugin's blueprint(s); the core mounts them under the plugin's mount.

    Every view must be decorated with `core.auth.require(<permission>)` or
    `core.auth.public`: a route without either stops start-up.
    """


@hookspec
def hub_permissions(register: Callable[..., None]) -> None:
    """Declare permissions: `register(name, description, level="read"|"write"|"admin")`.

    Levels decide which roles get a permission (viewer: read; developer/member: read and
    write; admin: all) and which API-key scopes (`read`, `write`, `admin`) include it.
    """


@hookspec
def hub_on_event(event: Event) -> Awaitable[None] | None:
    """React to an event emitted by any plugin (`core.events.emit`).

    Called only for plugins enabled for the event's organization. An exception is
    logged and counted; it neither fails the emitter nor stops the other handlers.
    """


@hookspec
def hub_functions(register: Callable[..., None]) -> None:
    """Declare LLM-callable functions:
    `register(name, description, args_model, permission, func)` where `func` is
    `async def func(ctx, args)`; `ctx` carries the caller's organization and identity.
    """


@hookspec
def hub_health_checks(register: Callable[..., None]) -> None:
    """Declare named checks for `/health`: `register(name, async_check)`.

    A check returns "healthy", "degraded" or "unhealthy" (or raises, which counts as
    unhealthy).
    """


@hookspec
def hub_startup(app: Quart) -> Awaitable[None] | None:
    """Run when the server starts serving, after the database is ready."""


@hookspec
def hub_shutdown(app: Quart) -> Awaitable[None] | None:
    """Run when the server stops serving, before the database closes."""


@hookspec
def hub_jobs(register: Callable[..., None]) -> None:
    """Declare job types: `register(name, func, max_attempts=3, timeout_seconds=None)` where
    `func` is `async def func(ctx: core.jobs.JobContext, payload: dict) -> dict | None`.

    Jobs are enqueued with `core.jobs.enqueue(org_id, name, payload)`; each is a database
    row first, runs on a dramatiq worker, reports progress with `await ctx.progress(pct)`.
    """


@hookspec
def hub_rate_limits(plan: str) -> dict[str, dict] | None:
    """Override rate-limit rules for organizations on `plan`:
    `{"/api/leads*": {"requests_per_minute": 600, "burst_size": 50, "scope": "organization"}}`.
    Later plugins win over earlier ones, and every plugin over `[rate_limits]` in config.
    """


@hookspec
def hub_plan_limits(plan: str) -> dict[str, int] | None:
    """Quota limits for organizations on `plan`, per metered unit and month:
    `{"api_calls": 2_000_000, "ai_tokens": 5_000_000}`. Over a limit: 429 QUOTA_EXCEEDED.
    """


@hookspec
def hub_api_versions(register: Callable[..., None]) -> None:
    """Declare dated API versions (the `API-Version` header):
    `register(version, transform_request=None, transform_response=None, paths=None)`;
    transformers take and return JSON data, `paths` limits them to URL patterns.
    """


def all_hook_names() -> list[str]:
    return sorted(name for name, value in globals().items() if name.startswith("hub_") and callable(value))


Registrar = Callable[..., Any]

"""The hooks a plugin can implement.

A plugin is a plain module (or object) whose functions are named after these hooks.
The `@hookimpl` marker is optional: any function whose name starts with `hub_` is taken
as an implementation, and a name that matches no hook below stops start-up (a misspelt
hook must not fail silently). Implementations take only the arguments they need, in any
order, and every hook may take `hub`: the running Hub (settings, `hub.plugin_settings(name)`,
`hub.emit(...)`, `hub.redis`, ...). No hook needs Quart's globals.

Hooks that contribute things receive a `register` callback, so that the core can validate
each contribution and stamp it with the plugin's name (a bad contribution stops start-up,
naming the plugin and the hook). A hook may return a value or an awaitable; the core awaits
what needs awaiting. The `register` hooks, `hub_config`, `hub_models` and `hub_routes` run
while the app is built, so they must register synchronously.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

import pluggy

if TYPE_CHECKING:
    from pydantic import BaseModel
    from quart import Blueprint, Quart

    from core.kernel.hub import Hub

hookspec = pluggy.HookspecMarker("hub")
hookimpl = pluggy.HookimplMarker("hub")


# -- what the plugin is made of -------------------------------------------------------------------


@hookspec
def hub_config(hub: Hub) -> type[BaseModel] | None:
    """Return the plugin's settings model (a pydantic model class).

    It is validated at start-up against the `[plugins.<name>]` table of the config file
    and `HUB_PLUGINS__<NAME>__<KEY>` variables; a bad value stops start-up with the key's
    name. The validated instance is `hub.plugin_settings(<name>)`. Use `SecretStr` for
    secrets.
    """


@hookspec
def hub_models(hub: Hub) -> list[str] | str | None:
    """Return the dotted names of the plugin's tortoise model modules.

    The plugin gets one tortoise app label (its name); migrations live in the
    `migrations` package beside the first module. Tables should be prefixed with the
    plugin's name, and tenant-owned models subclass `core.TenantModel`.
    """


@hookspec
def hub_routes(app: Quart, hub: Hub) -> Blueprint | list[Blueprint] | None:
    """Return the plugin's blueprint(s); the core mounts them under the plugin's mount.

    Every view must be decorated with `core.require(<permission>)` or `core.public`: a
    route without either stops start-up. A blueprint with the attribute `hub_at_root = True`
    is mounted at the host's root instead (for an imitated product whose official client
    drops the path of the base URL it is given, as Lightdash's SDK does).
    """


@hookspec
def hub_permissions(register: Callable[..., None], hub: Hub) -> None:
    """Declare permissions: `register(name, description, level="read"|"write"|"develop"|"admin")`.

    Levels decide which roles get a permission (viewer: read; member: read and write;
    developer: read, write and develop; admin: all) and which API-key scopes (`read`, `write`,
    `develop`, `admin`) include it.
    """


@hookspec
def hub_error_codes(register: Callable[..., None], hub: Hub) -> None:
    """Declare error codes: `register(code, status, description="")`, e.g.
    `register("AI_QUOTA_EXCEEDED", 429, "The organization's AI quota is used up")`.

    `HubError(code, ...)` answers with the code's status unless given another one; a code
    nobody registered is refused where it is raised. Codes appear in the API docs.
    """


@hookspec
def hub_event_types(register: Callable[..., None], hub: Hub) -> None:
    """Declare the events the plugin emits: `register(name, payload_model, description)`.

    Names are `<noun>.<verb in the past tense>` (`lead.created`), prefixed by the plugin
    where the noun is not its own (`recommender.model.activated`). `emit` refuses an
    unregistered type or a payload the model rejects (in tests and development; logged in
    production). The catalogue is `GET /api/v1/events/types` and `/asyncapi.json`.
    """


@hookspec
def hub_functions(register: Callable[..., None], hub: Hub) -> None:
    """Declare LLM-callable functions:
    `register(name, description, args_model, permission, func)` where `func` is
    `async def func(ctx, args)`; `ctx` carries the caller's organization and identity.
    """


@hookspec
def hub_workflow_nodes(register: Callable[..., None], hub: Hub) -> None:
    """Declare workflow node types the workflows plugin can run:
    `register(name, description, config_model, run, inputs=("main",), outputs=("main",))`
    where `run` is `async def run(ctx, config, inputs) -> dict[port, data]`; `ctx` carries
    the organization, the acting user and `hub`. Names are `<plugin>.<action>`.
    """


@hookspec
def hub_integrations(register: Callable[..., None], hub: Hub) -> None:
    """Declare integrations an organization connects at `/api/integrations` (seed 004):
    `register(id, name, type, category, credentials_model, config_model=None, test=None,
    description="")`. `credentials_model`: a pydantic model of the secret fields (kept
    encrypted, shown masked); `config_model`: the visible settings, a subclass of
    `core.IntegrationConfig`; `test`: `async def test(ctx: core.IntegrationContext) -> None`,
    raising (any exception, its message shown) when the credentials do not work. The plugin
    reads a connection with `core.integration_credentials(org_id, id)` and reports failures
    with `core.integration_failed(org_id, id, message)` (status "error", `integration.error`).
    """


@hookspec
def hub_metrics(register: Callable[..., None], hub: Hub) -> None:
    """Declare analytics metrics over the plugin's own models (the analytics plugin serves
    them; a disabled plugin's metrics are not there): `register(name, label, model=None,
    aggregate="count", value=None, value_map=None, time="created_at", granularities=("day",
    "week", "month"), dimensions=None, where=None, where_any=None, numerator=None,
    denominator=None, description="", format="number")`.

    `name` is lower_snake; the metric's id is `<plugin>.<name>` (`crm.leads`). `aggregate`:
    `count`, `sum`, `average`, `count_distinct` (of `value`, a field of `model`) or `ratio`
    (`numerator` / `denominator`: names of two other metrics of the plugin, or ids). `model`: a
    tortoise model with an `org_id` field (every query is scoped by it). `value_map` turns the
    `value` field's values into numbers to sum (`{"pro": 49.0}`: a plan's price). `time`: the
    datetime or date field periods and `from`/`to` apply to (None: no time series).
    `dimensions`: `{field: label}` a query may group and filter by. `where` / `where_any`: fixed
    conditions, AND of `{field: value}` (a list: IN, None: IS NULL, `{"not": v}`: the opposite)
    and an OR of such dicts. Only these registered identifiers ever reach SQL; clients send none.
    """


@hookspec
def hub_jobs(register: Callable[..., None], hub: Hub) -> None:
    """Declare job types: `register(name, func, max_attempts=3, timeout_seconds=None,
    concurrency_per_org=None, start_permission=None)` where `func` is `async def func(ctx:
    core.JobContext, payload: dict) -> dict | None`. `concurrency_per_org` bounds how many of
    these one organization runs at once (the others wait, pending); a plan changes it with the
    limit `concurrent_jobs.<name>` (`hub_plan_limits`, `[quotas.plans]`). `start_permission`:
    callers holding it may start the type with a payload of their own through the workers API
    (seed 002); without it only the plugin's code enqueues it (a payload naming rows it made).

    Jobs are enqueued with `core.enqueue(org_id, name, payload)`; each is a database row
    first, runs on a dramatiq worker, reports progress with `await ctx.progress(pct)`.
    """


@hookspec
def hub_health_checks(register: Callable[..., None], hub: Hub) -> None:
    """Declare named checks for `/health`: `register(name, async_check)`.

    A check returns "healthy", "degraded" or "unhealthy", or raises: that counts as unhealthy,
    and its message is the reason `hub serve`'s start-up summary shows for the plugin.
    """


@hookspec
def hub_commands(register: Callable[..., None], hub: Hub) -> None:
    """Declare command-line commands, run as `hub <plugin> <command>`:
    `register(name, handler, help, arguments=())` where each argument is
    `(flags, options)` for argparse (`(("--epochs",), {"type": int, "default": 3})`) and
    `handler(args, hub)` may be async. It runs with the database open and the Hub started
    (no HTTP server); its return value is the exit status (None: 0). A HubError it raises is
    printed as one line, exit status 1.
    """


@hookspec
def hub_api_versions(register: Callable[..., None], hub: Hub) -> None:
    """Declare dated API versions (the `API-Version` header):
    `register(version, transform_request=None, transform_response=None, paths=None)`;
    transformers take and return JSON data, `paths` limits them to URL patterns.
    """


# -- what happens while the Hub runs ---------------------------------------------------------------


@hookspec
def hub_on_event(event: Any, hub: Hub) -> Awaitable[None] | None:
    """React to an event (a `core.Event`: type, org_id, data, id, timestamp) emitted by any
    plugin with `core.emit`.

    Called only for plugins enabled for the event's organization. An exception is
    logged and counted; it neither fails the emitter nor stops the other handlers.
    """


@hookspec
def hub_rate_limits(plan: str, hub: Hub) -> dict[str, dict] | None:
    """Override rate-limit rules for organizations on `plan`:
    `{"/api/leads*": {"requests_per_minute": 600, "burst_size": 50, "scope": "organization"}}`.
    Later plugins win over earlier ones, and every plugin over `[rate_limits]` in config.
    """


@hookspec
def hub_plan_limits(plan: str, hub: Hub) -> dict[str, int] | None:
    """Quota limits for organizations on `plan`, per metered unit and month:
    `{"api_calls": 2_000_000, "ai_tokens": 5_000_000}`. Over a limit: 429 QUOTA_EXCEEDED.
    """


@hookspec
def hub_usage_limits(org_id: Any, plan: str, hub: Hub) -> Awaitable[dict[str, dict]] | dict[str, dict] | None:
    """Entries of `GET /api/v1/usage`'s `limits` for the organization (on `plan`), by name:
    `{"collaborators": {"limit": 3, "used": 2, "period": "current"}}`, where `period` is what
    `used` counts over (month, day, hour, or current: open now) and `used` None means the Hub
    does not measure it. They replace the core's entries of the same name (its monthly quotas);
    an entry without "limit" keeps the core's limit of that name (none: unlimited). Later
    plugins win.
    """


@hookspec
def hub_startup(app: Quart, hub: Hub) -> Awaitable[None] | None:
    """Run when the server starts serving, after the database is ready."""


@hookspec
def hub_shutdown(app: Quart, hub: Hub) -> Awaitable[None] | None:
    """Run when the server stops serving, before the database closes."""


def all_hook_names() -> list[str]:
    return sorted(name for name, value in globals().items() if name.startswith("hub_") and callable(value))


Registrar = Callable[..., Any]

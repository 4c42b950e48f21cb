"""The app factory: `create_app(settings, plugins)` builds one isolated Hub.

It is the one place where the layers meet (kernel, tenancy, http, jobs, events, ops,
builtin): read it top to bottom to see what a Hub is made of and the order in which a
request passes through it.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

import redis.asyncio as redis
from quart import Quart

from core.events import outbox, webhooks
from core.events.bus import EventBus
from core.events.websocket import gateway as websocket_gateway
from core.http import cors, openapi, pipeline, versioning
from core.http.application import HubApp
from core.http.auth import ACCESS_ATTRIBUTE
from core.http.errors import HubRequest, install_error_handlers
from core.jobs import runtime as jobs
from core.kernel.db import close_database, open_database, tortoise_config
from core.kernel.hub import Hub
from core import builtin
from core.kernel.contributions import (
    command_registrar,
    health_check_registrar,
    check_metrics,
    integration_registrar,
    metric_registrar,
    workflow_node_registrar,
)
from core.kernel.plugins import CORE_PLUGIN, HUB_VERSION, PluginError
from core.kernel.settings import Settings, load_settings
from core.ops import key_usage, metering, observability, ratelimit, startup
from core.tenancy import invalidation
from core.tenancy.context import TenantDirectory
from core.tenancy.invalidation import Invalidations
from core.tenancy.functions import registrar as function_registrar

log = logging.getLogger("hub")


def load_hub(settings: Settings | None = None, plugins: Iterable[Any] | None = None) -> Hub:
    """The Hub with its plugins found, registered, checked and configured (nothing runs yet):
    the core's own hooks (core/builtin) plus the discovered plugins, or the `plugins` given."""
    hub = Hub.load(settings or load_settings(), builtin, plugins)
    hub.invalidations = Invalidations(hub)
    hub.tenants = TenantDirectory(hub)
    hub.tenants.listen(hub.invalidations)
    return hub


def create_app(settings: Settings | None = None, plugins: Iterable[Any] | None = None) -> Quart:
    hub = load_hub(settings, plugins)
    settings = hub.settings
    app = HubApp("hub")
    app.request_timeout = settings.http.request_timeout_seconds or None
    app.request_class = type("HubRequest", (HubRequest,), {"app": app})  # knows its app's routes' body limits
    app.config["MAX_CONTENT_LENGTH"] = settings.http.max_body_bytes
    hub.signing_key = settings.signing_key()
    hub.bus = EventBus(hub)
    hub.extensions["db_config"] = tortoise_config(hub)
    app.extensions["hub"] = hub

    openapi.install(app, HUB_VERSION)
    install_error_handlers(app)
    collect_contributions(hub)
    # The request pipeline, in order (see core/http/pipeline.py). Each runtime also starts and
    # stops its own services with the server.
    stages = [
        pipeline.UNREAD_BODY_STAGE,
        pipeline.REQUEST_ID_STAGE,
        pipeline.UNIT_OF_WORK_STAGE,
        key_usage.install(app, hub),
        observability.install(app, hub),
        pipeline.URL_STAGE,
        pipeline.JSON_BODY_STAGE,
        versioning.install(app, hub),
        ratelimit.install(app, hub),
        metering.install(app, hub),
    ]
    pipeline.install(app, [stage for stage in stages if stage is not None])
    invalidation.install(app, hub)
    jobs.install(app, hub)
    websocket_gateway.install(app, hub)
    webhooks.install(app, hub)
    outbox.install(app, hub)  # after webhooks and jobs: it stops first, while they still take events
    _mount_routes(app, hub)
    _check_routes(app, hub)
    cors.install(app, hub)
    _install_lifecycle(app, hub)
    startup.install(app, hub)  # the summary of `hub serve`, once the lifecycle has started
    return app


def collect_contributions(hub: Hub) -> None:
    """Everything plugins declare through `register` hooks, checked as it comes in."""
    hub.collect("hub_permissions", hub.permissions.register_for)
    hub.collect("hub_error_codes", lambda plugin: lambda code, status, description="":
                hub.error_codes.register(plugin, code, status, description))
    hub.collect("hub_event_types", hub.bus.catalogue.registrar(hub.permissions))
    hub.collect("hub_functions", function_registrar(hub))
    hub.collect("hub_workflow_nodes", workflow_node_registrar(hub))
    hub.collect("hub_integrations", integration_registrar(hub))
    hub.collect("hub_health_checks", health_check_registrar(hub))
    hub.collect("hub_commands", command_registrar(hub))
    hub.collect("hub_metrics", metric_registrar(hub))
    try:
        check_metrics(hub)
    except ValueError as error:
        raise PluginError(f"hook hub_metrics: {error}") from None
    for function in hub.functions.values():
        if function.permission not in hub.permissions.permissions:
            raise PluginError(
                f"plugin {function.plugin!r}: function {function.name!r} needs unknown permission {function.permission!r}"
            )


def _mount_routes(app: Quart, hub: Hub) -> None:
    for plugin, result in hub.call("hub_routes", app=app):
        blueprints = result if isinstance(result, (list, tuple)) else [result] if result else []
        mount = hub.plugins[plugin].mount
        for blueprint in blueprints:
            # A blueprint marked `hub_at_root = True` is mounted at its own url_prefix, not under
            # the plugin's mount (a product whose official client resolves paths from the host's
            # root, e.g. Lightdash's SDK); route collisions are still refused below.
            prefix = "" if getattr(blueprint, "hub_at_root", False) else mount
            if blueprint.name in hub.blueprint_owner:
                raise PluginError(
                    f"plugins {hub.blueprint_owner[blueprint.name]!r} and {plugin!r} both define blueprint {blueprint.name!r}"
                )
            hub.blueprint_owner[blueprint.name] = plugin
            app.register_blueprint(blueprint, url_prefix=(prefix + (blueprint.url_prefix or "")) or None)


def _check_routes(app: Quart, hub: Hub) -> None:
    """Fail start-up on two plugins claiming one method and path, on a view that says
    nothing about access, and on a permission nobody registered."""
    claimed: dict[tuple[str, str, bool], tuple[str, str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in openapi.OPENAPI_ENDPOINTS:
            continue
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else ""
        owner = hub.blueprint_owner.get(blueprint, CORE_PLUGIN)
        for method in sorted(rule.methods or {"GET"}):
            if method in ("HEAD", "OPTIONS"):
                continue
            key = (method, rule.rule, rule.websocket)
            if key in claimed and claimed[key][1] != rule.endpoint:
                other = claimed[key][0]
                raise PluginError(
                    f"route collision: {method} {rule.rule} is registered by plugin {other!r} "
                    f"({claimed[key][1]}) and plugin {owner!r} ({rule.endpoint})"
                )
            claimed[key] = (owner, rule.endpoint)
        access = getattr(app.view_functions[rule.endpoint], ACCESS_ATTRIBUTE, None)
        if access is None:
            raise PluginError(
                f"plugin {owner!r}: route {rule.rule} ({rule.endpoint}) has neither @require(permission) nor @public"
            )
        if access[0] == "permission" and access[1] not in hub.permissions.permissions:
            raise PluginError(
                f"plugin {owner!r}: route {rule.rule} requires unknown permission {access[1]!r}"
            )


def _install_lifecycle(app: Quart, hub: Hub) -> None:
    # Registered last: before_serving hooks run in registration order and after_serving ones
    # too, so the database opens after the runtimes started and closes after they stopped.
    @app.before_serving
    async def _startup() -> None:
        await open_database(hub.extensions["db_config"], migrate=hub.settings.auto_migrate)
        if hub.settings.redis_url:
            hub.redis = redis.from_url(hub.settings.redis_url, socket_connect_timeout=2)
        await hub.acall("hub_startup", app=app)

    @app.after_serving
    async def _shutdown() -> None:
        try:
            await hub.stop_background()
            await hub.acall("hub_shutdown", app=app)
        finally:
            if hub.redis is not None:
                await hub.redis.aclose()
            await close_database()

"""The app factory: `create_app(settings, plugins)` builds one isolated Hub."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any, Iterable

import redis.asyncio as redis
from quart import Quart, current_app, g, request
from quart_schema import DataSource, QuartSchema
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE

from core import jobs, metering, observability, ratelimit, versioning, webhooks, websocket
from core.db import close_database, open_database, tortoise_config
from core.errors import HubError, HubRequest, install_error_handlers
from core.functions import registrar as function_registrar
from core.key_usage import KeyUsageRecorder
from core.plugins import CORE_PLUGIN, HUB_VERSION, PluginError, call_each, load_plugins, per_plugin
from core.security import now
from core.settings import Settings, load_settings
from core.state import Hub

log = logging.getLogger("hub")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
OPENAPI_ENDPOINTS = {"openapi", "redoc_ui", "scalar_ui", "swagger_ui", "static"}


def create_app(settings: Settings | None = None, plugins: Iterable[Any] | None = None) -> Quart:
    settings = settings or load_settings()
    manager, enabled = load_plugins(settings, plugins)
    app = Quart("hub")
    app.request_class = HubRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.http.max_body_bytes
    hub = Hub(settings, manager, enabled, signing_key=settings.signing_key())
    hub.extensions["key_usage"] = KeyUsageRecorder()
    hub.extensions["db_config"] = tortoise_config(settings.effective_database_url, manager)
    app.extensions["hub"] = hub

    QuartSchema(
        app,
        info={"title": "The Hub", "version": HUB_VERSION},
        # Models with an alias generator (camelCase plugins such as crm) answer in their aliases.
        pydantic_dump_options={"by_alias": True},
        security_schemes={
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearer_format": "JWT or API key"},
            "apiKeyHeader": {"type": "apiKey", "name": "X-API-Key", "in_": "header"},
        },
    )
    install_error_handlers(app)
    _install_request_hooks(app, hub)
    _collect_contributions(hub)
    for runtime in (observability, versioning, ratelimit, metering, jobs, websocket, webhooks):
        runtime.install(app, hub)
    _mount_routes(app, hub)
    _check_routes(app, hub)
    _install_lifecycle(app, hub)
    return app


def _collect_contributions(hub: Hub) -> None:
    def guarded(hook: str, factory):
        @per_plugin
        def for_plugin(plugin: str):
            register = factory(plugin)

            def checked(*args, **kwargs):
                try:
                    return register(*args, **kwargs)
                except (ValueError, TypeError) as error:
                    raise PluginError(f"plugin {plugin!r}, hook {hook}: {error}") from None

            return checked

        return for_plugin

    call_each(hub.manager, "hub_permissions", register=guarded("hub_permissions", hub.permissions.register_for))
    call_each(hub.manager, "hub_functions", register=guarded("hub_functions", function_registrar(hub)))

    def health_registrar(plugin: str):
        def register(name: str, check) -> None:
            if name in hub.health_checks:
                raise ValueError(f"health check {name!r} is registered twice")
            hub.health_checks[name] = (plugin, check)

        return register

    call_each(hub.manager, "hub_health_checks", register=guarded("hub_health_checks", health_registrar))
    for function in hub.functions.values():
        if function.permission not in hub.permissions.permissions:
            raise PluginError(
                f"plugin {function.plugin!r}: function {function.name!r} needs unknown permission {function.permission!r}"
            )


def _mount_routes(app: Quart, hub: Hub) -> None:
    for plugin, result in call_each(hub.manager, "hub_routes", app=app):
        blueprints = result if isinstance(result, (list, tuple)) else [result] if result else []
        mount = hub.plugins[plugin].mount
        for blueprint in blueprints:
            if blueprint.name in hub.blueprint_owner:
                raise PluginError(
                    f"plugins {hub.blueprint_owner[blueprint.name]!r} and {plugin!r} both define blueprint {blueprint.name!r}"
                )
            hub.blueprint_owner[blueprint.name] = plugin
            app.register_blueprint(blueprint, url_prefix=(mount + (blueprint.url_prefix or "")) or None)


def _check_routes(app: Quart, hub: Hub) -> None:
    """Fail start-up on two plugins claiming one method and path, on a view that says
    nothing about access, and on a permission nobody registered."""
    from core.auth import ACCESS_ATTRIBUTE

    claimed: dict[tuple[str, str, bool], tuple[str, str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPENAPI_ENDPOINTS:
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


def _install_request_hooks(app: Quart, hub: Hub) -> None:
    @app.before_request
    async def _start_request() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()
        _require_json_body()

    @app.after_request
    async def _finish_request(response):
        response.headers["X-Request-ID"] = getattr(g, "request_id", None) or uuid.uuid4().hex
        principal = getattr(g, "principal", None)
        if principal is not None and principal.api_key_id is not None:
            endpoint = request.url_rule.rule if request.url_rule else request.path
            elapsed_ms = (time.perf_counter() - g.started) * 1000
            hub.extensions["key_usage"].record(principal.api_key_id, endpoint, response.status_code, elapsed_ms, now())
        return response


def _require_json_body() -> None:
    """A body sent to a JSON route must say it is JSON (else 415, not a confusing 400)."""
    if request.method not in ("POST", "PUT", "PATCH") or request.is_json:
        return
    # Chunked bodies have no Content-Length, so a declared non-JSON type counts too.
    if not request.content_length and not request.headers.get("Content-Type"):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    expects = getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None)
    if expects is not None and expects[1] == DataSource.JSON:
        raise HubError("UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json", {"field": "Content-Type"})


def _install_lifecycle(app: Quart, hub: Hub) -> None:
    @app.before_serving
    async def _startup() -> None:
        await open_database(hub.extensions["db_config"], migrate=hub.settings.auto_migrate)
        if hub.settings.redis_url:
            hub.redis = redis.from_url(hub.settings.redis_url, socket_connect_timeout=2)
        hub.extensions["key_usage"].start()
        for _, result in call_each(hub.manager, "hub_startup", app=app):
            if hasattr(result, "__await__"):
                await result

    @app.after_serving
    async def _shutdown() -> None:
        try:
            for _, result in call_each(hub.manager, "hub_shutdown", app=app):
                if hasattr(result, "__await__"):
                    await result
            await hub.extensions["key_usage"].stop()
        finally:
            if hub.redis is not None:
                await hub.redis.aclose()
            await close_database()

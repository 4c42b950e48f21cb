"""Analytics (seed 000 "analytics-lightdash", issue #22): metrics that plugins define over their
own models (`hub_metrics`), queried through the seed's `/api/v1/projects` and `/api/v1/metrics`,
through Lightdash's own API (its official Python SDK works unchanged), and through the hub
functions `list_metrics` and `query_metric`. Read-only, from a read replica when configured."""

from __future__ import annotations

mount = "/analytics"


def hub_config():
    from plugins.analytics.settings import AnalyticsSettings

    return AnalyticsSettings


def hub_models():
    return ["plugins.analytics.models"]


def hub_routes(app, hub):
    from plugins.analytics.routes import bp, lightdash_bp, lightdash_root_bp

    blueprints = [bp, lightdash_bp]
    if hub.plugin_settings("analytics").lightdash_at_root:
        blueprints.append(lightdash_root_bp)
    return blueprints


def hub_permissions(register):
    register("analytics.read", "Read the organization's analytics metrics and projects", "read")


def hub_error_codes(register):
    register("ANALYTICS_QUERY_TIMEOUT", 504, "A metric query ran past the statement timeout")


def hub_functions(register):
    from plugins.analytics.functions import FUNCTIONS

    for name, description, args_model, permission, func in FUNCTIONS:
        register(name, description, args_model, permission, func)


async def hub_startup(hub):
    from plugins.analytics.jobs import forget_old_queries

    hub.run_every("analytics.queries", 600, lambda: forget_old_queries(hub), start_after=60)


async def hub_shutdown(hub):
    from plugins.analytics.reader import close_reader

    await close_reader(hub)

"""`/api/v1/plugins`: which plugins run, and switching them per organization (admins)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import document_response, validate_request, validate_response

from core.http.auth import current_principal, require
from core.http.openapi import document_errors
from core.http.pagination import OffsetQuery
from core.http.query import validate_query
from core.kernel.errors import HubError, not_found
from core.tenancy.models import PluginState
from core.kernel.plugins import PluginInfo
from core.builtin.schemas import PluginList, PluginResponse, PluginUpdate
from core.kernel.hub import current_hub

bp = Blueprint("core_plugins", __name__)


def plugin_body(info: PluginInfo, enabled: bool) -> PluginResponse:
    return PluginResponse(
        name=info.name, version=info.version, source=info.source, mount=info.mount or "/",
        hooks=info.hooks, requires=list(info.requires), enabled=enabled, can_be_disabled=info.can_be_disabled,
    )


@bp.get("/api/v1/plugins")
@require("plugins.manage")
@validate_query(OffsetQuery)
@document_response(PluginList)
async def list_plugins(query_args: OffsetQuery):
    """The plugins this Hub runs, by name, and whether each is on for the organization."""
    hub = current_hub()
    page = query_args.page()
    disabled = await hub.disabled_for_org(current_principal().org_id)
    infos = sorted(hub.plugins.values(), key=lambda info: info.name)
    rows = [plugin_body(i, i.name not in disabled).model_dump(mode="json") for i in page.cut(infos)]
    return page.listing("plugins", rows, len(infos))


@bp.put("/api/v1/plugins/<name>")
@require("plugins.manage", allow_api_keys=False)
@validate_request(PluginUpdate)
@validate_response(PluginResponse)
@document_errors(409)
async def switch_plugin(name: str, data: PluginUpdate):
    """Switch a plugin on or off for the organization (409 when plugins it needs are off, or
    plugins that are on need it)."""
    hub = current_hub()
    org_id = current_principal().org_id
    info = hub.plugins.get(name)
    if info is None:
        raise not_found("Plugin")
    if not info.can_be_disabled and not data.enabled:
        raise HubError("CONFLICT", f"Plugin {name!r} cannot be disabled", {"plugin": name})
    disabled = set(await hub.disabled_for_org(org_id))
    if data.enabled:
        missing = [needed for needed in info.requires if needed in disabled]
        if missing:
            raise HubError("CONFLICT", f"Plugin {name!r} needs plugins that are off", {"requires": missing})
        disabled.discard(name)
    else:
        dependents = sorted(
            other.name for other in hub.plugins.values() if name in other.requires and other.name not in disabled
        )
        if dependents:
            raise HubError("CONFLICT", f"Plugin {name!r} is needed by other plugins", {"required_by": dependents})
        disabled.add(name)
    await PluginState.update_or_create(defaults={"enabled": data.enabled}, org_id=org_id, plugin=name)
    await hub.tenants.invalidate(org_id)
    return plugin_body(info, data.enabled)

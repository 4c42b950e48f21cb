"""`/api/v1/plugins`: which plugins run, and switching them per organization (admins)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from core.http.auth import current_principal, require
from core.kernel.errors import HubError, not_found
from core.tenancy.models import PluginState
from core.http.pagination import paginate
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
async def list_plugins():
    hub = current_hub()
    page = paginate("offset")
    disabled = await hub.disabled_for_org(current_principal().org_id)
    infos = sorted(hub.plugins.values(), key=lambda info: info.name)
    shown = infos[page.offset : page.offset + page.limit]
    body = PluginList(plugins=[plugin_body(i, i.name not in disabled) for i in shown], total=len(infos))
    return page.respond(body.model_dump(mode="json"), len(infos))


@bp.put("/api/v1/plugins/<name>")
@require("plugins.manage", allow_api_keys=False)
@validate_request(PluginUpdate)
@validate_response(PluginResponse)
async def switch_plugin(name: str, data: PluginUpdate):
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
    hub.forget_plugin_states(org_id)
    return plugin_body(info, data.enabled)

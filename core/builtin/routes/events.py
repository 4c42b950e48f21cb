"""The event catalogue: what the Hub's plugins emit, for client authors.

    GET /api/v1/events/types   the types of the plugins enabled for the caller's organization,
                               with their payload schemas (events.read)
    GET /asyncapi.json         every type as an AsyncAPI 3.0 document (public, like /openapi.json)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from quart import Blueprint
from quart_schema import document_response

from core.events.asyncapi import document
from core.http.auth import current_principal, public, require
from core.http.pagination import OffsetQuery, Pagination
from core.http.query import validate_query
from core.kernel.hub import current_hub
from core.kernel.plugins import HUB_VERSION

bp = Blueprint("core_events", __name__)
ASYNCAPI_EXTENSION = "asyncapi"


class EventTypeOut(BaseModel):
    name: str
    description: str
    plugin: str
    permission: str | None
    seed: str | None
    payload_schema: dict[str, Any]


class EventTypeList(BaseModel):
    event_types: list[EventTypeOut]
    total: int
    pagination: Pagination


class AsyncAPIDocument(BaseModel):
    """An AsyncAPI 3.0 document (https://www.asyncapi.com/docs/reference/specification/v3.0.0)."""

    model_config = ConfigDict(extra="allow")

    asyncapi: str
    info: dict[str, Any]
    channels: dict[str, Any]
    operations: dict[str, Any]
    components: dict[str, Any]


@bp.get("/api/v1/events/types")
@require("events.read")
@validate_query(OffsetQuery)
@document_response(EventTypeList)
async def list_event_types(query_args: OffsetQuery):
    """The event types the caller's organization can receive.

    Types of plugins switched off for the organization are left out. `payload_schema` is the
    JSON Schema of the event's `data`."""
    hub = current_hub()
    page = query_args.page()
    types = hub.bus.catalogue.visible(exclude=await hub.disabled_for_org(current_principal().org_id))
    return page.listing("event_types", [t.describe() for t in page.cut(types)], len(types))


@bp.get("/asyncapi.json")
@public
@document_response(AsyncAPIDocument)
async def asyncapi():
    """The AsyncAPI 3.0 document of every event type: WebSocket channels and webhook payloads."""
    hub = current_hub()
    built = hub.extensions.get(ASYNCAPI_EXTENSION)
    if built is None or built[0] != len(hub.bus.catalogue.types):  # types added at run time (tests)
        built = (len(hub.bus.catalogue.types), document(hub.bus.catalogue.visible(), HUB_VERSION))
        hub.extensions[ASYNCAPI_EXTENSION] = built
    return built[1]

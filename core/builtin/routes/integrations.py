"""`/api/integrations` (seed 004): the integrations plugins offer, and the organization's
connections to them (core/builtin/integrations.py keeps them).

    GET  /api/integrations                        ?status&category&type&limit&offset
    GET  /api/integrations/{id}
    POST /api/integrations/{id}/connect           {credentials, config}: tested, then stored
    POST /api/integrations/{id}/test              the stored connection tested again, or
                                                  {credentials, config?}: these, storing nothing
    POST /api/integrations/{id}/disconnect        {reason?}: its credentials deleted

Members read (credentials only masked); admins connect, test and disconnect.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from quart import Blueprint
from quart_schema import document_request, document_response, validate_request

from core.builtin import integrations
from core.http.auth import current_principal, require
from core.http.openapi import document_errors
from core.http.pagination import OffsetQuery
from core.http.query import Blankable, validate_query
from core.http.schemas import optional_body
from core.kernel.hub import current_hub

bp = Blueprint("core_integrations", __name__)

READ, MANAGE = "integrations.read", "integrations.manage"


class IntegrationQuery(OffsetQuery):
    status: Blankable[Literal["connected", "disconnected", "error"]] = Field(None, description="Only in this state")
    category: Blankable[str] = Field(None, max_length=64, description="Only of this category")
    type: Blankable[str] = Field(None, max_length=64, description="Only of this type")


FieldName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
CredentialValue = Annotated[str, StringConstraints(max_length=4096)]
ConfigValue = (Annotated[str, StringConstraints(max_length=2048)] | Annotated[int, Field(ge=-10**12, le=10**12)]
               | bool | Annotated[list[Annotated[str, StringConstraints(max_length=256)]], Field(max_length=100)] | None)


class ConnectRequest(BaseModel):
    """Seed 004's connect body: the integration's credentials (see its `credentialsSchema`:
    strings) and config (its `configSchema`: `syncFrequency`, `dataTypes` and its own fields)."""

    model_config = ConfigDict(extra="forbid")

    credentials: dict[FieldName, CredentialValue] = Field(max_length=50)
    config: dict[FieldName, ConfigValue] = Field(default_factory=dict, max_length=50)


class TestRequest(BaseModel):
    """Optional: credentials (and config) to test instead of the stored ones; nothing is stored."""

    model_config = ConfigDict(extra="forbid")

    credentials: dict[FieldName, CredentialValue] | None = Field(None, max_length=50)
    config: dict[FieldName, ConfigValue] | None = Field(None, max_length=50)


class DisconnectRequest(BaseModel):
    """Optional: why, for the `integration.disconnected` event."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=500)


class IntegrationOut(BaseModel):
    id: str
    name: str
    type: str
    category: str
    description: str
    status: Literal["connected", "disconnected", "error"]
    config: dict[str, Any] | None
    credentials: dict[str, str] | None = Field(description="masked: at most the last 4 characters of a value")
    connectedAt: str | None
    lastSync: str | None
    lastError: str | None
    lastErrorAt: str | None
    credentialsSchema: list[dict[str, Any]]
    configSchema: list[dict[str, Any]]


class IntegrationList(BaseModel):
    integrations: list[IntegrationOut]
    total: int
    pagination: dict[str, Any]


@bp.get("/api/integrations")
@require(READ)
@validate_query(IntegrationQuery)
@document_response(IntegrationList)
async def list_integrations(query_args: IntegrationQuery):
    """The integrations the organization's plugins offer, by name, with its connection to each."""
    org_id = current_principal().org_id
    connected = await integrations.connections(org_id)
    rows = [await integrations.describe(org_id, integration, connected.get(integration.id))
            for integration in await integrations.available(current_hub(), org_id)]
    rows = [row for row in rows
            if (query_args.status is None or row["status"] == query_args.status)
            and (query_args.category is None or row["category"] == query_args.category)
            and (query_args.type is None or row["type"] == query_args.type)]
    page = query_args.page()
    return page.listing("integrations", rows[page.offset:page.offset + page.limit], len(rows))


@bp.get("/api/integrations/<integration_id>")
@require(READ)
@document_response(IntegrationOut)
async def get_integration(integration_id: str):
    """One integration and the organization's connection to it."""
    org_id = current_principal().org_id
    integration = await integrations.find(current_hub(), org_id, integration_id)
    return await integrations.describe(org_id, integration, (await integrations.connections(org_id)).get(integration.id))


@bp.post("/api/integrations/<integration_id>/connect")
@require(MANAGE)
@validate_request(ConnectRequest)
@document_response(IntegrationOut)
async def connect_integration(integration_id: str, data: ConnectRequest):
    """Connect (or replace the credentials of) an integration. Its test runs first: when it
    fails, the answer is 400 INTEGRATION_CONNECTION_FAILED and nothing is stored."""
    hub, org_id = current_hub(), current_principal().org_id
    integration = await integrations.find(hub, org_id, integration_id)
    return await integrations.connect(hub, org_id, integration, data.credentials, data.config)


@bp.post("/api/integrations/<integration_id>/test")
@require(MANAGE)
@document_request(TestRequest)  # optional
@document_response(IntegrationOut)
@document_errors(409)
async def test_integration(integration_id: str):
    """Test the stored connection: status "connected", or "error" with lastError (and the
    `integration.error` event); 409 when it is not connected. With `credentials` in the body,
    test those instead (as connect would, 400 INTEGRATION_CONNECTION_FAILED when they fail),
    changing nothing."""
    hub, org_id = current_hub(), current_principal().org_id
    integration = await integrations.find(hub, org_id, integration_id)
    data = await optional_body(TestRequest)
    if data.credentials is not None:
        return await integrations.try_credentials(hub, org_id, integration, data.credentials, data.config or {})
    return await integrations.test_connection(hub, org_id, integration)


@bp.post("/api/integrations/<integration_id>/disconnect")
@require(MANAGE)
@document_request(DisconnectRequest)  # optional
@document_response(IntegrationOut)
async def disconnect_integration(integration_id: str):
    """Disconnect: the credentials are deleted (again: a no-op)."""
    hub, org_id = current_hub(), current_principal().org_id
    integration = await integrations.find(hub, org_id, integration_id)
    data = await optional_body(DisconnectRequest)
    return await integrations.disconnect(org_id, integration, data.reason)

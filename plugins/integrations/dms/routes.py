"""DMS routes (seed 001 "Dealership Management Systems", issue #21), at the root mount:

    GET    /api/v1/dms/connections                         the connections, paginated       dms.read
    POST   /api/v1/dms/connections                         add one (201)                    dms.manage
    GET    /api/v1/dms/connections/{id}                    one (credentials masked)         dms.read
    PUT    /api/v1/dms/connections/{id}                    change it                        dms.manage
    DELETE /api/v1/dms/connections/{id}                    delete it and its synced data    dms.manage
    POST   /api/v1/dms/connections/{id}/test               try its credentials and address  dms.manage
    POST   /api/v1/dms/connections/{id}/sync               start a sync (202; 503 DMS_CONNECTION_FAILED
                                                           while its circuit is open)       dms.sync
    GET    /api/v1/dms/connections/{id}/syncs              its sync history                 dms.read
    GET    /api/v1/dms/connections/{id}/syncs/{sync_id}    one sync                         dms.read
    GET    /api/v1/dms/customers                           synced customers (CustomerData)  dms.read
    GET    /api/v1/dms/vehicles                            synced vehicles (?vin= checked)  dms.read
    GET    /api/v1/dms/appointments                        service appointments             dms.read
    GET    /api/v1/dms/opportunities                       sales opportunities              dms.read
    GET    /api/v1/dms/inventory                           inventory units                  dms.read
"""

from __future__ import annotations

from quart import Blueprint
from quart_schema import (
    document_request,
    document_response,
    validate_request,
    validate_response,
)

from core import (
    OffsetQuery,
    current_hub,
    current_principal,
    document_errors,
    optional_body,
    require,
    validate_query,
)
from plugins.integrations.dms import service
from plugins.integrations.dms.models import (
    DmsConnection,
    DmsCustomer,
    DmsRecord,
    DmsSyncRun,
    DmsVehicle,
)
from plugins.integrations.dms.schemas import (
    ConnectionCreate,
    ConnectionList,
    ConnectionOut,
    ConnectionUpdate,
    CustomerList,
    CustomerQuery,
    RecordList,
    RecordQuery,
    SyncRequest,
    SyncRunList,
    SyncRunOut,
    TestRequest,
    TestResult,
    VehicleList,
    VehicleQuery,
)

bp = Blueprint("dms", __name__)


def _org():
    return current_principal().org_id


@bp.get("/api/v1/dms/connections")
@require("dms.read")
@validate_query(OffsetQuery)
@document_response(ConnectionList)
async def dms_list_connections(query_args: OffsetQuery):
    """The organization's DMS connections, oldest first; credentials masked."""
    page = query_args.page()
    rows, total = await page.fetch(DmsConnection.for_org(_org()), "created_at")
    return page.listing("connections", [await service.connection_body(row) for row in rows], total)


@bp.post("/api/v1/dms/connections")
@require("dms.manage")
@validate_request(ConnectionCreate)
@validate_response(ConnectionOut, 201)
async def dms_create_connection(data: ConnectionCreate):
    """Connect a DMS (seed 001 DMSIntegration): `provider` CDK, Reynolds, DealerSocket or Custom;
    `configuration` (base_url, checked by the SSRF guard: an on-premise DMS is allowed by
    `[plugins.dms] allowlist`), `authentication` (api_key, oauth2 or basic_auth; its credentials
    are stored encrypted and only shown masked), `endpoints` (a provider's defaults when left
    out), and for Custom its `field_mapping` and `paging`. It appears in GET /api/integrations
    as `dms-<provider>`."""
    principal = current_principal()
    row = await service.create_connection(current_hub(), principal.org_id, principal.user_id,
                                          data.model_dump(mode="json"))
    return await service.connection_body(row), 201


@bp.get("/api/v1/dms/connections/<dms_connection_id>")
@require("dms.read")
@validate_response(ConnectionOut)
async def dms_get_connection(dms_connection_id: str):
    """One connection: its status, last sync, circuit and masked credentials."""
    return await service.connection_body(await DmsConnection.get_for_org(_org(), dms_connection_id,
                                                                         "DMS connection"))


@bp.put("/api/v1/dms/connections/<dms_connection_id>")
@require("dms.manage")
@validate_request(ConnectionUpdate)
@validate_response(ConnectionOut)
async def dms_update_connection(dms_connection_id: str, data: ConnectionUpdate):
    """Change a connection; the parts given replace the stored ones (new credentials only with
    `authentication`). The provider cannot change."""
    row = await service.update_connection(current_hub(), _org(), dms_connection_id,
                                          data.model_dump(mode="json", exclude_unset=True))
    return await service.connection_body(row)


@bp.delete("/api/v1/dms/connections/<dms_connection_id>")
@require("dms.manage")
@document_response(None, 204)
async def dms_delete_connection(dms_connection_id: str):
    """Delete a connection, its credentials, its sync history and the data synced through it
    (the CRM contacts and leads it made stay)."""
    await service.delete_connection(_org(), dms_connection_id)
    return "", 204


@bp.post("/api/v1/dms/connections/<dms_connection_id>/test")
@require("dms.manage")
@document_request(TestRequest)  # optional
@validate_response(TestResult)
async def dms_test_connection(dms_connection_id: str):
    """Ask the DMS for one record with the stored credentials: `ok`, or the reason (the
    connection's status becomes "error" and `integration.error` is emitted)."""
    data = await optional_body(TestRequest)
    return await service.test_connection(current_hub(), _org(), dms_connection_id, data.resource)


@bp.post("/api/v1/dms/connections/<dms_connection_id>/sync")
@require("dms.sync")
@validate_request(SyncRequest)
@validate_response(SyncRunOut, 202)
@document_errors(409, 503)
async def dms_start_sync(dms_connection_id: str, data: SyncRequest):
    """Start a sync (a job: follow it at .../syncs/{id} or with its progress events). `mode`
    "incremental" asks for records updated since the last complete sync began (the first sync
    of a connection is full); "full" asks for everything. 409 while another sync of the
    connection is under way; 503 DMS_CONNECTION_FAILED while its circuit breaker is open."""
    principal = current_principal()
    run = await service.start_sync(current_hub(), principal.org_id, principal.user_id, dms_connection_id,
                                   data.mode, data.resources)
    return service.sync_body(run), 202


@bp.get("/api/v1/dms/connections/<dms_connection_id>/syncs")
@require("dms.read")
@validate_query(OffsetQuery)
@document_response(SyncRunList)
async def dms_list_syncs(dms_connection_id: str, query_args: OffsetQuery):
    """A connection's sync history, newest first: counts per resource and errors."""
    connection = await DmsConnection.get_for_org(_org(), dms_connection_id, "DMS connection")
    page = query_args.page()
    rows, total = await page.fetch(DmsSyncRun.for_org(_org()).filter(connection_id=connection.id), "-created_at")
    return page.listing("syncs", [service.sync_body(row) for row in rows], total)


@bp.get("/api/v1/dms/connections/<dms_connection_id>/syncs/<dms_sync_id>")
@require("dms.read")
@validate_response(SyncRunOut)
async def dms_get_sync(dms_connection_id: str, dms_sync_id: str):
    """One sync of a connection."""
    connection = await DmsConnection.get_for_org(_org(), dms_connection_id, "DMS connection")
    run = await DmsSyncRun.get_for_org(_org(), dms_sync_id, "DMS sync")
    if run.connection_id != connection.id:
        from core import not_found

        raise not_found("DMS sync")
    return service.sync_body(run)


# -- synced data ------------------------------------------------------------------------------


@bp.get("/api/v1/dms/customers")
@require("dms.read")
@validate_query(CustomerQuery)
@document_response(CustomerList)
async def dms_list_customers(query_args: CustomerQuery):
    """Synced customers (seed 001 CustomerData with their vehicles and CRM contact), by last
    name; `?search=` (name or e-mail), `?email=`, `?connection_id=`, `?updated_since=`."""
    org_id = _org()
    query = service.customer_filter(service.scoped(DmsCustomer, org_id, query_args.connection_id,
                                                   query_args.updated_since),
                                    query_args.search, query_args.email)
    page = query_args.page()
    rows, total = await page.fetch(query, "last_name", "first_name")
    return page.listing("customers", await service.customer_bodies(org_id, rows), total)


@bp.get("/api/v1/dms/vehicles")
@require("dms.read")
@validate_query(VehicleQuery)
@document_response(VehicleList)
async def dms_list_vehicles(query_args: VehicleQuery):
    """Synced vehicles (seed 001 Vehicle); `?vin=` (checked: a VIN whose check digit is wrong is a
    400), `?make=`, `?model=`, `?year=`, `?dms_customer_id=`, `?service_due_before=YYYY-MM-DD`."""
    query = service.scoped(DmsVehicle, _org(), query_args.connection_id, query_args.updated_since)
    for name in ("vin", "year", "dms_customer_id"):
        if getattr(query_args, name) is not None:
            query = query.filter(**{name: getattr(query_args, name)})
    for name in ("make", "model"):
        if getattr(query_args, name):
            query = query.filter(**{f"{name}__iexact": getattr(query_args, name)})
    if query_args.service_due_before:
        query = query.filter(service_due_date__lte=query_args.service_due_before.isoformat())
    page = query_args.page()
    rows, total = await page.fetch(query, "-created_at")
    return page.listing("vehicles", [service.vehicle_body(row) for row in rows], total)


async def _records(kind: str, query_args: RecordQuery):
    query = service.scoped(DmsRecord, _org(), query_args.connection_id, query_args.updated_since).filter(kind=kind)
    for name in ("status", "dms_customer_id", "vin"):
        if getattr(query_args, name):
            query = query.filter(**{name: getattr(query_args, name)})
    page = query_args.page()
    rows, total = await page.fetch(query, "-created_at")
    return page.listing("records", [service.record_body(row) for row in rows], total)


@bp.get("/api/v1/dms/appointments")
@require("dms.read")
@validate_query(RecordQuery)
@document_response(RecordList)
async def dms_list_appointments(query_args: RecordQuery):
    """Synced service appointments; `?status=`, `?dms_customer_id=`, `?vin=`, `?connection_id=`."""
    return await _records("service_appointments", query_args)


@bp.get("/api/v1/dms/opportunities")
@require("dms.read")
@validate_query(RecordQuery)
@document_response(RecordList)
async def dms_list_opportunities(query_args: RecordQuery):
    """Synced sales opportunities, each with the CRM lead it became (`lead_id`)."""
    return await _records("sales_opportunities", query_args)


@bp.get("/api/v1/dms/inventory")
@require("dms.read")
@validate_query(RecordQuery)
@document_response(RecordList)
async def dms_list_inventory(query_args: RecordQuery):
    """Synced inventory units; `?status=`, `?vin=`, `?connection_id=`."""
    return await _records("inventory", query_args)

"""DMS tables, prefixed `dms_`. Every row belongs to one organization (TenantModel.org_id) and
all queries go through `Model.for_org(org_id)`. Synced records are keyed by their DMS id within
their connection (unique), so a sync that runs a page again updates rows instead of adding any."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel

PROVIDERS = ("CDK", "Reynolds", "DealerSocket", "Custom")
RESOURCES = ("customers", "vehicles", "service_appointments", "sales_opportunities", "inventory")


class DmsConnection(TenantModel):
    # One DMS of an organization (seed 001 DMSIntegration). Its credentials are in the core's
    # encrypted store (owner "dms", name "connection:<id>"), never in this table.
    name = fields.CharField(max_length=200)
    provider = fields.CharField(max_length=16)
    base_url = fields.CharField(max_length=500)
    api_version = fields.CharField(max_length=32, default="v1")
    timeout_ms = fields.IntField(default=30000)
    retry_attempts = fields.IntField(default=3)
    requests_per_minute = fields.IntField(default=60)
    burst_size = fields.IntField(default=10)
    auth_type = fields.CharField(max_length=16)
    token_url = fields.CharField(max_length=500, null=True)
    endpoints = fields.JSONField(default=dict)
    field_mapping = fields.JSONField(default=dict)
    paging = fields.JSONField(default=dict)  # Custom: how its lists page (adapters.Paging)
    api_key_header = fields.CharField(max_length=64, default="X-API-Key")
    sync_frequency = fields.CharField(max_length=16, default="manual")
    status = fields.CharField(max_length=16, default="connected")  # connected | error
    last_error = fields.TextField(null=True)
    last_error_at = fields.DatetimeField(null=True)
    last_sync_at = fields.DatetimeField(null=True)
    # incremental syncs ask for records updated since the start of the last complete sync
    synced_until = fields.DatetimeField(null=True)
    next_sync_at = fields.DatetimeField(null=True)
    failures = fields.IntField(default=0)  # failed calls in a row (the circuit breaker)
    circuit_open_until = fields.DatetimeField(null=True)
    created_by = fields.UUIDField(null=True)

    class Meta:
        table = "dms_connection"
        indexes = (("org_id", "created_at"), ("next_sync_at",))


class DmsSyncRun(TenantModel):
    # One sync of a connection (the sync history): its job, its resumable cursor (written with
    # each page's rows, in the same transaction), counts per resource and errors.
    connection_id = fields.UUIDField()
    mode = fields.CharField(max_length=16)  # full | incremental
    trigger = fields.CharField(max_length=16, default="manual")  # manual | scheduled
    status = fields.CharField(max_length=16, default="pending")  # pending | running | completed | failed
    job_id = fields.UUIDField(null=True)
    since = fields.DatetimeField(null=True)
    resources = fields.JSONField(default=list)
    cursor = fields.JSONField(default=dict)  # {"resource": ..., "page": ...}: where to go on
    counts = fields.JSONField(default=dict)  # resource -> {"created": n, "updated": n}
    errors = fields.JSONField(default=list)
    pages = fields.IntField(default=0)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "dms_sync_run"
        indexes = (("org_id", "connection_id", "created_at"),)


class DmsCustomer(TenantModel):
    # seed 001 CustomerData
    connection_id = fields.UUIDField()
    dms_customer_id = fields.CharField(max_length=100)
    first_name = fields.CharField(max_length=100, default="")
    last_name = fields.CharField(max_length=100, default="")
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=32, null=True)
    address = fields.JSONField(null=True)
    preferences = fields.JSONField(null=True)
    last_updated = fields.DatetimeField(null=True)
    contact_id = fields.UUIDField(null=True)  # the CRM contact (upsert_contact), when the CRM is on

    class Meta:
        table = "dms_customer"
        unique_together = (("org_id", "connection_id", "dms_customer_id"),)
        indexes = (("org_id", "last_name"), ("org_id", "email"))


class DmsVehicle(TenantModel):
    # seed 001 Vehicle, with its owner and the next service it is due for
    connection_id = fields.UUIDField()
    dms_vehicle_id = fields.CharField(max_length=100)
    dms_customer_id = fields.CharField(max_length=100, null=True)
    vin = fields.CharField(max_length=17)
    vin_valid = fields.BooleanField(default=True)
    year = fields.IntField(null=True)
    make = fields.CharField(max_length=50, default="")
    model = fields.CharField(max_length=50, default="")
    trim = fields.CharField(max_length=50, null=True)
    mileage = fields.IntField(null=True)
    purchase_date = fields.CharField(max_length=32, null=True)
    last_service_date = fields.CharField(max_length=32, null=True)
    service_due_date = fields.CharField(max_length=10, null=True)
    service_due_notified = fields.CharField(max_length=10, null=True)  # the due date already announced
    last_updated = fields.DatetimeField(null=True)

    class Meta:
        table = "dms_vehicle"
        unique_together = (("org_id", "connection_id", "dms_vehicle_id"),)
        indexes = (("org_id", "vin"), ("org_id", "dms_customer_id"))


class DmsRecord(TenantModel):
    # Service appointments, sales opportunities and inventory units: the fields lists filter
    # on, and the provider's record as mapped (`data`).
    connection_id = fields.UUIDField()
    kind = fields.CharField(max_length=24)  # service_appointments | sales_opportunities | inventory
    external_id = fields.CharField(max_length=100)
    dms_customer_id = fields.CharField(max_length=100, null=True)
    vin = fields.CharField(max_length=17, null=True)
    status = fields.CharField(max_length=32, null=True)
    date = fields.CharField(max_length=32, null=True)  # scheduled_at / created / received
    data = fields.JSONField(default=dict)
    lead_id = fields.UUIDField(null=True)  # an opportunity's CRM lead
    last_updated = fields.DatetimeField(null=True)

    class Meta:
        table = "dms_record"
        unique_together = (("org_id", "connection_id", "kind", "external_id"),)
        indexes = (("org_id", "kind", "created_at"),)

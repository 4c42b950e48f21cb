"""Request, response and event models of the DMS plugin, in seed 001's snake_case
(DMSIntegration, DMSConfiguration, DMSAuthentication, DMSEndpoints, CustomerData, Vehicle)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from core import Blankable, EventPayload, OffsetQuery, Pagination, SnakeModel, Timestamp
from plugins.integrations.dms.adapters import SEED_FIELDS, vin_is_valid
from plugins.integrations.dms.models import PROVIDERS, RESOURCES

Provider = Literal["CDK", "Reynolds", "DealerSocket", "Custom"]
assert set(Provider.__args__) == set(PROVIDERS)  # type: ignore[attr-defined]
AuthType = Literal["api_key", "oauth2", "basic_auth"]
SyncFrequency = Literal["manual", "hourly", "daily"]
# checked in full by service.check_base_url (scheme, host, no user info, the SSRF guard)
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Path = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300,
                                        pattern=r"^(/[^\s?#]*)?[^\s]*$")]
DottedPath = Annotated[str, StringConstraints(max_length=200, pattern=r"^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$")]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=4000)]

# the credentials each authentication type takes (all stored encrypted, shown masked)
AUTH_FIELDS = {
    "api_key": ({"api_key"}, {"subscription_id"}),
    "oauth2": ({"client_id", "client_secret"}, {"refresh_token", "scope", "subscription_id"}),
    "basic_auth": ({"username", "password"}, {"subscription_id"}),
}


class RateLimit(SnakeModel):
    requests_per_minute: int = Field(60, ge=1, le=60_000)
    burst_size: int = Field(10, ge=1, le=10_000)


class Configuration(SnakeModel):
    """seed 001 DMSConfiguration. `api_version` is sent as the `Api-Version` header."""

    base_url: Url
    api_version: str = Field("v1", min_length=1, max_length=32)
    timeout_ms: int = Field(30_000, ge=100, le=300_000)
    retry_attempts: int = Field(3, ge=0, le=10)
    rate_limit: RateLimit = Field(default_factory=RateLimit)


class RefreshConfiguration(SnakeModel):
    """OAuth2: where tokens come from (a path of base_url or an absolute URL, SSRF-checked)."""

    token_url: Annotated[str, StringConstraints(max_length=500)] = "/oauth/token"


class Authentication(SnakeModel):
    """seed 001 DMSAuthentication."""

    type: AuthType
    credentials: dict[str, Secret]
    refresh_configuration: RefreshConfiguration | None = None

    @model_validator(mode="after")
    def _fields(self) -> Authentication:
        required, optional = AUTH_FIELDS[self.type]
        missing = sorted(required - set(self.credentials))
        unknown = sorted(set(self.credentials) - required - optional)
        if missing:
            raise ValueError(f"{self.type} credentials need {', '.join(missing)}")
        if unknown:
            raise ValueError(f"{self.type} credentials take no {', '.join(unknown)}")
        return self


class Endpoints(SnakeModel):
    """seed 001 DMSEndpoints: paths under base_url (a provider's defaults when left out)."""

    customers: Path | None = None
    vehicles: Path | None = None
    service_appointments: Path | None = None
    sales_opportunities: Path | None = None
    inventory: Path | None = None


class PagingIn(SnakeModel):
    """Custom: how the dealer system's lists page (see adapters.Paging)."""

    style: Literal["links", "offset", "page", "cursor"] = "page"
    items_path: Annotated[str, StringConstraints(max_length=200)] = "items"
    size_param: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "limit"
    page_param: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "page"
    offset_param: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "offset"
    cursor_param: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "cursor"
    next_path: DottedPath = "next"
    total_pages_path: DottedPath | None = None
    since_param: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "updated_since"


FieldMapping = dict[Literal[RESOURCES], dict[str, DottedPath]]  # type: ignore[valid-type]


def _check_mapping(mapping: dict[str, dict[str, str]] | None) -> dict[str, dict[str, str]] | None:
    for resource, fields in (mapping or {}).items():
        unknown = sorted(set(fields) - set(SEED_FIELDS[resource]))
        if unknown:
            raise ValueError(f"{resource} has no field {', '.join(unknown)} "
                             f"(its fields: {', '.join(SEED_FIELDS[resource])})")
    return mapping


class ConnectionCreate(SnakeModel):
    """seed 001 DMSIntegration, and a name, the sync schedule and, for `Custom`, the paging."""

    name: str = Field(min_length=1, max_length=200)
    provider: Provider
    configuration: Configuration
    authentication: Authentication
    endpoints: Endpoints = Field(default_factory=Endpoints)
    field_mapping: FieldMapping = Field(default_factory=dict)
    paging: PagingIn | None = None
    api_key_header: str = Field("X-API-Key", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    sync_frequency: SyncFrequency = "manual"

    _mapping = field_validator("field_mapping")(_check_mapping)

    @model_validator(mode="after")
    def _custom(self) -> ConnectionCreate:
        if self.provider == "Custom":
            if not any(self.endpoints.model_dump().values()):
                raise ValueError("a Custom connection needs its endpoints")
            for resource, path in self.endpoints.model_dump().items():
                if path and resource not in self.field_mapping:
                    raise ValueError(f"a Custom connection needs a field_mapping for {resource}")
        else:
            self.paging = None  # the provider's adapter pages its own way: only Custom reads paging
        return self


class ConnectionUpdate(SnakeModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    configuration: Configuration | None = None
    authentication: Authentication | None = None
    endpoints: Endpoints | None = None
    field_mapping: FieldMapping | None = None
    paging: PagingIn | None = None
    api_key_header: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    sync_frequency: SyncFrequency | None = None

    _mapping = field_validator("field_mapping")(_check_mapping)


class AuthenticationOut(BaseModel):
    type: AuthType
    credentials: dict[str, str] = Field(description="masked: never the secret values")
    refresh_configuration: dict | None = None


class ConnectionOut(BaseModel):
    id: str
    name: str
    provider: Provider
    status: Literal["connected", "error"]
    configuration: dict
    authentication: AuthenticationOut
    endpoints: dict[str, str]
    field_mapping: dict
    paging: dict | None
    api_key_header: str
    sync_frequency: SyncFrequency
    integration: str = Field(description="its entry in GET /api/integrations")
    last_sync_at: Timestamp | None
    next_sync_at: Timestamp | None
    last_error: str | None
    last_error_at: Timestamp | None
    circuit_open_until: Timestamp | None
    created_at: Timestamp


class ConnectionList(BaseModel):
    connections: list[ConnectionOut]
    total: int | None
    pagination: Pagination


class TestRequest(SnakeModel):
    """Optional: which endpoint to ask for one record (default: the first the connection has)."""

    resource: Literal["customers", "vehicles", "service_appointments", "sales_opportunities", "inventory"] | None = None


class TestResult(BaseModel):
    ok: bool
    status: Literal["connected", "error"]
    error: str | None = None
    latency_ms: float | None = None


class SyncRequest(SnakeModel):
    mode: Literal["full", "incremental"] = "incremental"
    resources: list[Literal[RESOURCES]] | None = Field(  # type: ignore[valid-type]
        None, max_length=len(RESOURCES), description="the resources to sync (all the connection has endpoints for when left out)")


class SyncRunOut(BaseModel):
    id: str
    connection_id: str
    mode: Literal["full", "incremental"]
    trigger: Literal["manual", "scheduled"]
    status: Literal["pending", "running", "completed", "failed"]
    job_id: str | None
    since: Timestamp | None
    resources: list[str]
    counts: dict[str, dict[str, int]]
    errors: list[dict]
    pages: int
    started_at: Timestamp | None
    finished_at: Timestamp | None
    created_at: Timestamp


class SyncRunList(BaseModel):
    syncs: list[SyncRunOut]
    total: int | None
    pagination: Pagination


# -- synced data ------------------------------------------------------------------------------


class VehicleOut(BaseModel):
    """seed 001 Vehicle, and where it came from."""

    dms_vehicle_id: str
    vin: str
    vin_valid: bool
    year: int | None
    make: str
    model: str
    trim: str | None
    mileage: int | None
    purchase_date: str | None
    last_service_date: str | None
    service_due_date: str | None
    dms_customer_id: str | None
    connection_id: str
    id: str


class CustomerOut(BaseModel):
    """seed 001 CustomerData, and the CRM contact it became."""

    dms_customer_id: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    address: Any | None
    preferences: Any | None
    vehicles: list[VehicleOut]
    last_updated: str | None
    connection_id: str
    contact_id: str | None
    id: str


class RecordOut(BaseModel):
    id: str
    external_id: str
    connection_id: str
    dms_customer_id: str | None
    vin: str | None
    status: str | None
    date: str | None
    data: dict
    lead_id: str | None = None
    last_updated: str | None


def _vin(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().upper()
    if not vin_is_valid(value):
        raise ValueError("not a valid VIN (17 characters, no I, O or Q, and the check digit in position 9)")
    return value


class DataQuery(OffsetQuery):
    connection_id: Blankable[Annotated[str, StringConstraints(max_length=64)]] = None
    updated_since: Blankable[Annotated[str, StringConstraints(max_length=40)]] = None


class CustomerQuery(DataQuery):
    search: Blankable[Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]] = Field(
        None, description="part of the name or e-mail, any case")
    email: Blankable[Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)]] = None


class VehicleQuery(DataQuery):
    vin: Blankable[Annotated[str, StringConstraints(max_length=17)]] = Field(
        None, description="exactly this VIN (validated with its check digit: a bad one is a 400)")
    make: Blankable[Annotated[str, StringConstraints(max_length=50)]] = None
    model: Blankable[Annotated[str, StringConstraints(max_length=50)]] = None
    year: Blankable[Annotated[int, Field(ge=1900, le=2100)]] = None
    dms_customer_id: Blankable[Annotated[str, StringConstraints(max_length=100)]] = None
    service_due_before: Blankable[date] = Field(None, description="vehicles due for service by this day")

    _vin = field_validator("vin")(_vin)


class RecordQuery(DataQuery):
    status: Blankable[Annotated[str, StringConstraints(max_length=32)]] = None
    dms_customer_id: Blankable[Annotated[str, StringConstraints(max_length=100)]] = None
    vin: Blankable[Annotated[str, StringConstraints(max_length=17)]] = None

    _vin = field_validator("vin")(_vin)


class CustomerList(BaseModel):
    customers: list[CustomerOut]
    total: int | None
    pagination: Pagination


class VehicleList(BaseModel):
    vehicles: list[VehicleOut]
    total: int | None
    pagination: Pagination


class RecordList(BaseModel):
    records: list[RecordOut]
    total: int | None
    pagination: Pagination


# -- events -------------------------------------------------------------------------------------


class SyncEvent(EventPayload):
    connection_id: str
    sync_id: str
    mode: str
    status: str
    counts: dict = Field(default_factory=dict)
    error: str | None = None


class ServiceDue(EventPayload):
    """A synced vehicle's next service (its last service date + `service_interval_days`) is within
    `service_due_days` (or past): a workflow trigger can listen to it."""

    connection_id: str
    vehicle_id: str
    dms_vehicle_id: str
    vin: str
    year: int | None = None
    make: str = ""
    model: str = ""
    dms_customer_id: str | None = None
    contact_id: str | None = None
    email: str | None = None
    last_service_date: str | None = None
    service_due_date: str


class CircuitOpened(EventPayload):
    connection_id: str
    name: str
    provider: str
    error: str
    retry_at: str


EVENT_TYPES = (
    ("dms.sync.completed", SyncEvent, "A DMS sync finished: counts per resource"),
    ("dms.sync.failed", SyncEvent, "A DMS sync stopped on an error"),
    ("dms.vehicle.service_needed", ServiceDue, "A synced vehicle is due for service soon (a workflow trigger)"),
    ("dms.connection.circuit_opened", CircuitOpened,
     "A DMS connection failed repeatedly: syncs are refused (503 DMS_CONNECTION_FAILED) until it recovers"),
)

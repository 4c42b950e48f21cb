"""The providers behind one interface: each maps its endpoints (customers, vehicles,
service_appointments, sales_opportunities, inventory), its paging and its payloads to seed 001's
`CustomerData` and `Vehicle` (and flat records for appointments, opportunities and inventory).

None of the three vendors publishes its API openly (CDK's Fortellis specs, Reynolds & Reynolds'
RCI and DealerSocket's API need a partner login), so each adapter is a thin mapping table, not a
copy of a vendor's contract:
  CDK           modelled on the public outline of CDK Drive on Fortellis (the "CDK Drive Customer
                API v1" connector lists the objects Customer, Name, PostalAddress, ContactMethods,
                CustomerCollection with links): OAuth2 client credentials plus a `Subscription-Id`
                header; collections `{"items": [...], "links": [{"rel": "next", "href": ...}]}`.
  Reynolds      JSON with Reynolds' record names (CustNo, VehId, ...), `offset`/`limit` paging.
  DealerSocket  PascalCase entities (EntityId, ...), `page`/`pageSize` paging with TotalPages.
  Custom        the endpoint paths, the field mapping (dotted paths, per resource) and the
                paging come from the connection's configuration: a dealer's own system is
                connected without code.
Adjusting an adapter to a vendor's real contract means editing its table below, nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from plugins.integrations.dms.models import RESOURCES

# VIN (ISO 3779, North American check digit in position 9): letters I, O, Q never appear
VIN_PATTERN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
_TRANSLITERATION = {**{str(d): d for d in range(10)},
                    **dict(zip("ABCDEFGH", range(1, 9))), **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9,
                    **dict(zip("STUVWXYZ", range(2, 10)))}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin: str) -> str:
    total = sum(_TRANSLITERATION[char] * weight for char, weight in zip(vin.upper(), _WEIGHTS))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin_is_valid(vin: str | None) -> bool:
    """17 characters without I, O, Q, and the check digit (position 9) right."""
    if not vin or not VIN_PATTERN.match(vin.upper()):
        return False
    return vin.upper()[8] == vin_check_digit(vin)


def pick(item: Any, path: str | None) -> Any:
    """The value at a dotted path ("name.firstName", "emails.0.address"), or None."""
    if not path:
        return None
    value = item
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    return value


@dataclass(frozen=True)
class Paging:
    """How a provider's lists page. `style`: links (follow the `rel: next` link), offset
    (offset/limit), page (1-based page/size, `total_pages_path` when the body has it), cursor
    (the next token at `next_path`, sent back as `cursor_param`)."""

    style: str = "page"
    items_path: str = "items"
    size_param: str = "limit"
    page_param: str = "page"
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    next_path: str = "next"
    total_pages_path: str | None = None
    since_param: str = "updated_since"

    def first(self, size: int, since: datetime | None) -> dict:
        params: dict[str, Any] = {self.size_param: size}
        if self.style == "page":
            params[self.page_param] = 1
        elif self.style == "offset":
            params[self.offset_param] = 0
        if since is not None:
            params[self.since_param] = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return params

    def items(self, body: Any) -> list[dict]:
        items = body if self.items_path in ("", ".") else pick(body, self.items_path)
        return [item for item in items or [] if isinstance(item, dict)]

    def next(self, body: Any, params: dict, count: int) -> dict | None:
        """The parameters of the next page, or None after the last."""
        size = int(params.get(self.size_param) or 0)
        if self.style == "links":
            links = pick(body, "links") or []
            href = next((link.get("href") for link in links if isinstance(link, dict) and link.get("rel") == "next"),
                        None)
            return dict(parse_qsl(urlsplit(href).query)) if href else None
        if self.style == "cursor":
            token = pick(body, self.next_path)
            return {**params, self.cursor_param: token} if token and count else None
        if self.style == "offset":
            if not count or count < size:
                return None
            return {**params, self.offset_param: int(params.get(self.offset_param) or 0) + count}
        page = int(params.get(self.page_param) or 1)
        total_pages = pick(body, self.total_pages_path) if self.total_pages_path else None
        if total_pages is not None:
            return {**params, self.page_param: page + 1} if page < int(total_pages) else None
        return {**params, self.page_param: page + 1} if count and count >= size else None


# Seed fields per resource: CustomerData, Vehicle; then the records the lists read.
SEED_FIELDS = {
    "customers": ("dms_customer_id", "first_name", "last_name", "email", "phone", "address", "preferences",
                  "vehicles", "last_updated"),
    "vehicles": ("dms_vehicle_id", "vin", "year", "make", "model", "trim", "mileage", "purchase_date",
                 "last_service_date", "dms_customer_id", "last_updated"),
    "service_appointments": ("id", "dms_customer_id", "vin", "scheduled_at", "service_type", "status",
                             "last_updated"),
    "sales_opportunities": ("id", "dms_customer_id", "vin", "status", "amount", "created_at", "notes",
                            "last_updated"),
    "inventory": ("id", "vin", "year", "make", "model", "trim", "price", "mileage", "status", "received_at",
                  "last_updated"),
}


@dataclass(frozen=True)
class Adapter:
    provider: str
    endpoints: dict[str, str]
    paging: Paging
    mapping: dict[str, dict[str, str]]
    auth_types: tuple[str, ...] = ("api_key", "oauth2", "basic_auth")
    headers: dict[str, str] = field(default_factory=dict)  # header -> credential field

    def map(self, resource: str, item: dict, mapping: dict[str, dict[str, str]] | None = None) -> dict:
        """A provider record as the seed's shape (missing fields None)."""
        table = (mapping or self.mapping).get(resource, {})
        record = {name: pick(item, table.get(name)) for name in SEED_FIELDS[resource]}
        if resource == "customers" and isinstance(record.get("vehicles"), list):
            record["vehicles"] = [self.map("vehicles", vehicle, mapping) for vehicle in record["vehicles"]
                                  if isinstance(vehicle, dict)]
        return record


CDK = Adapter(
    provider="CDK",
    endpoints={"customers": "/customers", "vehicles": "/vehicles", "service_appointments": "/service-appointments",
               "sales_opportunities": "/sales-opportunities", "inventory": "/inventory"},
    paging=Paging(style="links", items_path="items", size_param="pageSize", since_param="lastModifiedSince"),
    auth_types=("oauth2",),
    headers={"Subscription-Id": "subscription_id"},
    mapping={
        "customers": {"dms_customer_id": "customerId", "first_name": "name.firstName", "last_name": "name.lastName",
                      "email": "contactMethods.primaryEmail.emailAddress",
                      "phone": "contactMethods.primaryPhone.number", "address": "postalAddress",
                      "preferences": "preferences", "vehicles": "vehicles", "last_updated": "lastModified"},
        "vehicles": {"dms_vehicle_id": "vehicleId", "vin": "vin", "year": "modelYear", "make": "make",
                     "model": "model", "trim": "trim", "mileage": "odometer.value", "purchase_date": "deliveryDate",
                     "last_service_date": "lastServiceDate", "dms_customer_id": "customerId",
                     "last_updated": "lastModified"},
        "service_appointments": {"id": "appointmentId", "dms_customer_id": "customerId", "vin": "vin",
                                 "scheduled_at": "appointmentDateTime", "service_type": "serviceType",
                                 "status": "status", "last_updated": "lastModified"},
        "sales_opportunities": {"id": "opportunityId", "dms_customer_id": "customerId", "vin": "vin",
                                "status": "status", "amount": "amount", "created_at": "createdDateTime",
                                "notes": "comments", "last_updated": "lastModified"},
        "inventory": {"id": "stockNumber", "vin": "vin", "year": "modelYear", "make": "make", "model": "model",
                      "trim": "trim", "price": "price.amount", "mileage": "odometer.value", "status": "status",
                      "received_at": "receivedDate", "last_updated": "lastModified"},
    },
)

REYNOLDS = Adapter(
    provider="Reynolds",
    endpoints={"customers": "/customers", "vehicles": "/vehicles", "service_appointments": "/appointments",
               "sales_opportunities": "/deals", "inventory": "/inventory"},
    paging=Paging(style="offset", items_path="data", size_param="limit", offset_param="offset",
                  since_param="updatedSince"),
    auth_types=("api_key", "basic_auth", "oauth2"),
    mapping={
        "customers": {"dms_customer_id": "CustNo", "first_name": "FirstName", "last_name": "LastName",
                      "email": "Email", "phone": "Phone", "address": "Address", "preferences": "Preferences",
                      "vehicles": "Vehicles", "last_updated": "LastUpdated"},
        "vehicles": {"dms_vehicle_id": "VehId", "vin": "VIN", "year": "Year", "make": "Make", "model": "Model",
                     "trim": "Trim", "mileage": "Mileage", "purchase_date": "DeliveryDate",
                     "last_service_date": "LastRODate", "dms_customer_id": "CustNo", "last_updated": "LastUpdated"},
        "service_appointments": {"id": "ApptId", "dms_customer_id": "CustNo", "vin": "VIN",
                                 "scheduled_at": "ApptDateTime", "service_type": "OpCode", "status": "Status",
                                 "last_updated": "LastUpdated"},
        "sales_opportunities": {"id": "DealNo", "dms_customer_id": "CustNo", "vin": "VIN", "status": "DealStatus",
                                "amount": "Amount", "created_at": "DealDate", "notes": "Comments",
                                "last_updated": "LastUpdated"},
        "inventory": {"id": "StockNo", "vin": "VIN", "year": "Year", "make": "Make", "model": "Model",
                      "trim": "Trim", "price": "ListPrice", "mileage": "Mileage", "status": "Status",
                      "received_at": "InStockDate", "last_updated": "LastUpdated"},
    },
)

DEALERSOCKET = Adapter(
    provider="DealerSocket",
    endpoints={"customers": "/entities", "vehicles": "/vehicles", "service_appointments": "/appointments",
               "sales_opportunities": "/opportunities", "inventory": "/inventory"},
    paging=Paging(style="page", items_path="Results", size_param="pageSize", page_param="page",
                  total_pages_path="TotalPages", since_param="modifiedSince"),
    auth_types=("api_key", "oauth2", "basic_auth"),
    mapping={
        "customers": {"dms_customer_id": "EntityId", "first_name": "FirstName", "last_name": "LastName",
                      "email": "Emails.0.Address", "phone": "Phones.0.Number", "address": "Address",
                      "preferences": "Preferences", "vehicles": "Vehicles", "last_updated": "ModifiedDate"},
        "vehicles": {"dms_vehicle_id": "VehicleId", "vin": "Vin", "year": "Year", "make": "Make", "model": "Model",
                     "trim": "Trim", "mileage": "Odometer", "purchase_date": "PurchaseDate",
                     "last_service_date": "LastServiceDate", "dms_customer_id": "EntityId",
                     "last_updated": "ModifiedDate"},
        "service_appointments": {"id": "AppointmentId", "dms_customer_id": "EntityId", "vin": "Vin",
                                 "scheduled_at": "StartTime", "service_type": "ServiceType", "status": "Status",
                                 "last_updated": "ModifiedDate"},
        "sales_opportunities": {"id": "OpportunityId", "dms_customer_id": "EntityId", "vin": "Vin",
                                "status": "Status", "amount": "Amount", "created_at": "CreatedDate",
                                "notes": "Notes", "last_updated": "ModifiedDate"},
        "inventory": {"id": "StockNumber", "vin": "Vin", "year": "Year", "make": "Make", "model": "Model",
                      "trim": "Trim", "price": "Price", "mileage": "Odometer", "status": "Status",
                      "received_at": "ReceivedDate", "last_updated": "ModifiedDate"},
    },
)

# Custom: nothing by default; the connection gives endpoints, field_mapping and paging
CUSTOM = Adapter(provider="Custom", endpoints={}, paging=Paging(), mapping={})

ADAPTERS = {adapter.provider: adapter for adapter in (CDK, REYNOLDS, DEALERSOCKET, CUSTOM)}
assert all(set(adapter.mapping) <= set(RESOURCES) for adapter in ADAPTERS.values())


def adapter_for(connection) -> tuple[Adapter, dict[str, str], Paging, dict[str, dict[str, str]]]:
    """The adapter of a connection with its endpoints, paging and mapping (a Custom connection's
    own; another provider's, with the endpoint paths the connection overrides)."""
    adapter = ADAPTERS[connection.provider]
    endpoints = {**adapter.endpoints, **(connection.endpoints or {})}
    if connection.provider == "Custom":
        paging = Paging(**(connection.paging or {}))
        mapping = connection.field_mapping or {}
    else:
        paging, mapping = adapter.paging, {**adapter.mapping, **(connection.field_mapping or {})}
    return adapter, endpoints, paging, mapping

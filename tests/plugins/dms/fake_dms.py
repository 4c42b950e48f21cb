"""A fake DMS on 127.0.0.1 that speaks each adapter's shapes (CDK, Reynolds, DealerSocket and a
Custom dealer system): its own paging per provider, `updated_since`-style filters, OAuth2 client
credentials tokens that expire, API keys and basic auth, and faults on demand: 500s, 429 with
Retry-After, slow answers. Every request is logged with its monotonic time. A real HTTP server
in a thread (http.server), so the Hub's real httpx client, SSRF guard included, talks to it."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

API_KEY = "dms-key-0123456789abcdef"
CLIENT_ID, CLIENT_SECRET = "hub-client", "client-secret-0123456789"
USERNAME, PASSWORD = "hub-user", "basic-password-0123456789"
SUBSCRIPTION = "sub-42"
WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))), **dict(zip("JKLMN", range(1, 6))),
           "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}


def make_vin(n: int) -> str:
    """A VIN with a correct check digit (ISO 3779 / 49 CFR 565), from a number."""
    body = f"1HGCM{n:05d}A{n % 1000000:06d}"[:17]
    body = body[:8] + "0" + body[9:]
    remainder = sum(_VALUES[c] * w for c, w in zip(body, WEIGHTS)) % 11
    return body[:8] + ("X" if remainder == 10 else str(remainder)) + body[9:]


def stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Logged:
    at: float
    method: str
    path: str
    params: dict
    headers: dict
    status: int = 0


@dataclass
class FakeDms:
    provider: str = "CDK"
    auth: str = "oauth2"  # api_key | oauth2 | basic_auth
    token_ttl: float = 3600.0
    port: int = 0
    customers: list = field(default_factory=list)
    vehicles: list = field(default_factory=list)
    appointments: list = field(default_factory=list)
    opportunities: list = field(default_factory=list)
    inventory: list = field(default_factory=list)
    log: list = field(default_factory=list)
    faults: list = field(default_factory=list)  # (status, retry_after or None) answered to the next requests
    fail_always: int | None = None  # every data request answers this status
    delay: float = 0.0
    tokens: dict = field(default_factory=dict)  # token -> expiry (time.time())
    tokens_issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def data_requests(self) -> list[Logged]:
        return [entry for entry in self.log if entry.path != "/oauth/token"]

    # -- data ------------------------------------------------------------------------------------

    def seed(self, customers: int = 25, start: int = 0, updated: datetime | None = None) -> None:
        updated = updated or datetime(2026, 1, 1, tzinfo=timezone.utc)
        today = datetime.now(timezone.utc).date()
        for n in range(start, start + customers):
            vehicle = {"id": f"V{n}", "vin": make_vin(n), "year": 2015 + n % 10, "make": "Honda",
                       "model": "Accord" if n % 2 else "Civic", "trim": "EX", "mileage": 10_000 + n,
                       "purchase_date": "2022-03-01",
                       # every 5th vehicle: serviced ~170 days ago, so due within the 14-day window
                       "last_service_date": str(today - timedelta(days=170 if n % 5 == 0 else 20)),
                       "customer_id": f"C{n}", "updated": updated}
            self.customers.append({"id": f"C{n}", "first_name": f"First{n}", "last_name": f"Last{n}",
                                   "email": f"customer{n}@example.com", "phone": f"+1555000{n:04d}",
                                   "address": {"city": "Springfield"}, "updated": updated})
            self.vehicles.append(vehicle)
            if n % 5 == 0:
                self.appointments.append({"id": f"A{n}", "customer_id": f"C{n}", "vin": vehicle["vin"],
                                          "at": "2026-02-01T09:00:00Z", "type": "oil", "status": "scheduled",
                                          "updated": updated})
            if n % 10 == 0:
                self.opportunities.append({"id": f"O{n}", "customer_id": f"C{n}", "vin": vehicle["vin"],
                                           "status": "open", "amount": 25_000 + n, "created": "2026-01-02",
                                           "notes": "trade-in", "updated": updated})
                self.inventory.append({"id": f"S{n}", "vin": make_vin(100_000 + n), "year": 2026, "make": "Honda",
                                       "model": "Pilot", "trim": "LX", "price": 40_000, "mileage": 5,
                                       "status": "available", "received": "2026-01-03", "updated": updated})

    # -- rendering per provider --------------------------------------------------------------------

    def render(self, resource: str, r: dict) -> dict:
        p = self.provider
        up = stamp(r["updated"])
        if resource == "customers":
            if p == "CDK":
                return {"customerId": r["id"], "name": {"firstName": r["first_name"], "lastName": r["last_name"]},
                        "contactMethods": {"primaryEmail": {"emailAddress": r["email"]},
                                           "primaryPhone": {"number": r["phone"]}},
                        "postalAddress": r["address"], "lastModified": up}
            if p == "Reynolds":
                return {"CustNo": r["id"], "FirstName": r["first_name"], "LastName": r["last_name"],
                        "Email": r["email"], "Phone": r["phone"], "Address": r["address"], "LastUpdated": up}
            if p == "DealerSocket":
                return {"EntityId": r["id"], "FirstName": r["first_name"], "LastName": r["last_name"],
                        "Emails": [{"Address": r["email"]}], "Phones": [{"Number": r["phone"]}],
                        "Address": r["address"], "ModifiedDate": up}
            return {"ref": r["id"], "person": {"given": r["first_name"], "family": r["last_name"]},
                    "mail": r["email"], "tel": r["phone"], "changed": up}
        if resource == "vehicles":
            if p == "CDK":
                return {"vehicleId": r["id"], "vin": r["vin"], "modelYear": r["year"], "make": r["make"],
                        "model": r["model"], "trim": r["trim"], "odometer": {"value": r["mileage"]},
                        "deliveryDate": r["purchase_date"], "lastServiceDate": r["last_service_date"],
                        "customerId": r["customer_id"], "lastModified": up}
            if p == "Reynolds":
                return {"VehId": r["id"], "VIN": r["vin"], "Year": r["year"], "Make": r["make"], "Model": r["model"],
                        "Trim": r["trim"], "Mileage": r["mileage"], "DeliveryDate": r["purchase_date"],
                        "LastRODate": r["last_service_date"], "CustNo": r["customer_id"], "LastUpdated": up}
            if p == "DealerSocket":
                return {"VehicleId": r["id"], "Vin": r["vin"], "Year": r["year"], "Make": r["make"],
                        "Model": r["model"], "Trim": r["trim"], "Odometer": r["mileage"],
                        "PurchaseDate": r["purchase_date"], "LastServiceDate": r["last_service_date"],
                        "EntityId": r["customer_id"], "ModifiedDate": up}
            return {"ref": r["id"], "vin": r["vin"], "year": r["year"], "make": r["make"], "model": r["model"],
                    "serviced": r["last_service_date"], "owner": r["customer_id"], "changed": up}
        if resource == "service_appointments":
            names = {"CDK": ("appointmentId", "customerId", "vin", "appointmentDateTime", "serviceType", "status",
                             "lastModified"),
                     "Reynolds": ("ApptId", "CustNo", "VIN", "ApptDateTime", "OpCode", "Status", "LastUpdated"),
                     "DealerSocket": ("AppointmentId", "EntityId", "Vin", "StartTime", "ServiceType", "Status",
                                      "ModifiedDate"),
                     "Custom": ("ref", "owner", "vin", "when", "kind", "state", "changed")}[p]
            return dict(zip(names, (r["id"], r["customer_id"], r["vin"], r["at"], r["type"], r["status"], up)))
        if resource == "sales_opportunities":
            names = {"CDK": ("opportunityId", "customerId", "vin", "status", "amount", "createdDateTime", "comments",
                             "lastModified"),
                     "Reynolds": ("DealNo", "CustNo", "VIN", "DealStatus", "Amount", "DealDate", "Comments",
                                  "LastUpdated"),
                     "DealerSocket": ("OpportunityId", "EntityId", "Vin", "Status", "Amount", "CreatedDate", "Notes",
                                      "ModifiedDate"),
                     "Custom": ("ref", "owner", "vin", "state", "amount", "created", "notes", "changed")}[p]
            return dict(zip(names, (r["id"], r["customer_id"], r["vin"], r["status"], r["amount"], r["created"],
                                    r["notes"], up)))
        names = {"CDK": ("stockNumber", "vin", "modelYear", "make", "model", "status", "receivedDate", "lastModified"),
                 "Reynolds": ("StockNo", "VIN", "Year", "Make", "Model", "Status", "InStockDate", "LastUpdated"),
                 "DealerSocket": ("StockNumber", "Vin", "Year", "Make", "Model", "Status", "ReceivedDate",
                                  "ModifiedDate"),
                 "Custom": ("ref", "vin", "year", "make", "model", "state", "received", "changed")}[p]
        return dict(zip(names, (r["id"], r["vin"], r["year"], r["make"], r["model"], r["status"], r["received"], up)))

    PATHS = {
        "CDK": {"/customers": "customers", "/vehicles": "vehicles", "/service-appointments": "service_appointments",
                "/sales-opportunities": "sales_opportunities", "/inventory": "inventory"},
        "Reynolds": {"/customers": "customers", "/vehicles": "vehicles", "/appointments": "service_appointments",
                     "/deals": "sales_opportunities", "/inventory": "inventory"},
        "DealerSocket": {"/entities": "customers", "/vehicles": "vehicles", "/appointments": "service_appointments",
                         "/opportunities": "sales_opportunities", "/inventory": "inventory"},
        "Custom": {"/api/people": "customers", "/api/cars": "vehicles", "/api/visits": "service_appointments",
                   "/api/deals": "sales_opportunities", "/api/stock": "inventory"},
    }
    SINCE = {"CDK": "lastModifiedSince", "Reynolds": "updatedSince", "DealerSocket": "modifiedSince",
             "Custom": "changed_after"}

    def page(self, path: str, params: dict) -> dict:
        resource = self.PATHS[self.provider][path]
        rows = {"customers": self.customers, "vehicles": self.vehicles, "service_appointments": self.appointments,
                "sales_opportunities": self.opportunities, "inventory": self.inventory}[resource]
        since = params.get(self.SINCE[self.provider])
        if since:
            floor = datetime.fromisoformat(since.replace("Z", "+00:00"))
            rows = [r for r in rows if r["updated"] >= floor]
        rows = sorted(rows, key=lambda r: r["id"])
        p = self.provider
        if p == "CDK":
            size, start = int(params.get("pageSize", 50)), int(params.get("page", 0))
            chunk = rows[start:start + size]
            body = {"items": [self.render(resource, r) for r in chunk], "links": []}
            if start + size < len(rows):
                query = {"pageSize": size, "page": start + size, **({"lastModifiedSince": since} if since else {})}
                body["links"].append({"rel": "next", "href": f"{path}?{urlencode(query)}", "method": "GET"})
            return body
        if p == "Reynolds":
            size, start = int(params.get("limit", 50)), int(params.get("offset", 0))
            return {"data": [self.render(resource, r) for r in rows[start:start + size]], "meta": {"total": len(rows)}}
        if p == "DealerSocket":
            size, number = int(params.get("pageSize", 50)), int(params.get("page", 1))
            pages = max(1, -(-len(rows) // size))
            chunk = rows[(number - 1) * size:number * size]
            return {"Results": [self.render(resource, r) for r in chunk], "Page": number, "TotalPages": pages}
        size = int(params.get("count", 50))
        start = int(params["after"]) if params.get("after") else 0
        chunk = rows[start:start + size]
        following = str(start + size) if start + size < len(rows) else None
        return {"records": [self.render(resource, r) for r in chunk], "paging": {"next": following}}

    # -- auth ------------------------------------------------------------------------------------

    def authorized(self, headers) -> bool:
        if self.auth == "api_key":
            return headers.get("X-API-Key") == API_KEY
        if self.auth == "basic_auth":
            expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
            return headers.get("Authorization") == expected
        value = headers.get("Authorization", "")
        token = value[7:] if value.startswith("Bearer ") else None
        ok = token is not None and self.tokens.get(token, 0) > time.time()
        if self.provider == "CDK":
            ok = ok and headers.get("Subscription-Id") == SUBSCRIPTION
        return ok

    def issue_token(self, headers, form: dict) -> tuple[int, dict]:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if headers.get("Authorization") != expected or form.get("grant_type") not in ("client_credentials",
                                                                                      "refresh_token"):
            return 401, {"error": "invalid_client"}
        token = uuid.uuid4().hex
        with self.lock:
            self.tokens[token] = time.time() + self.token_ttl
            self.tokens_issued += 1
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}

    # -- serving ---------------------------------------------------------------------------------

    def start(self) -> FakeDms:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def answer(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                parts = urlsplit(self.path)
                entry = Logged(time.monotonic(), "POST", parts.path, form, dict(self.headers))
                fake.log.append(entry)
                if parts.path != "/oauth/token":
                    entry.status = 404
                    return self.answer(404, {"error": "not found"})
                entry.status, body = fake.issue_token(self.headers, form)
                self.answer(entry.status, body)

            def do_GET(self):
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query))
                entry = Logged(time.monotonic(), "GET", parts.path, params, dict(self.headers))
                fake.log.append(entry)
                if fake.delay:
                    time.sleep(fake.delay)
                with fake.lock:
                    fault = fake.faults.pop(0) if fake.faults else None
                if fault is None and fake.fail_always:
                    fault = (fake.fail_always, None)
                if fault is not None:
                    status, retry_after = fault
                    entry.status = status
                    return self.answer(status, {"error": "unavailable"},
                                       {"Retry-After": str(retry_after)} if retry_after is not None else None)
                if not fake.authorized(self.headers):
                    entry.status = 401
                    return self.answer(401, {"error": "unauthorized"})
                if parts.path not in fake.PATHS[fake.provider]:
                    entry.status = 404
                    return self.answer(404, {"error": "not found"})
                entry.status = 200
                self.answer(200, fake.page(parts.path, params))

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


CUSTOM_CONFIG = {
    "endpoints": {"customers": "/api/people", "vehicles": "/api/cars", "service_appointments": "/api/visits",
                  "sales_opportunities": "/api/deals", "inventory": "/api/stock"},
    "field_mapping": {
        "customers": {"dms_customer_id": "ref", "first_name": "person.given", "last_name": "person.family",
                      "email": "mail", "phone": "tel", "last_updated": "changed"},
        "vehicles": {"dms_vehicle_id": "ref", "vin": "vin", "year": "year", "make": "make", "model": "model",
                     "last_service_date": "serviced", "dms_customer_id": "owner", "last_updated": "changed"},
        "service_appointments": {"id": "ref", "dms_customer_id": "owner", "vin": "vin", "scheduled_at": "when",
                                 "service_type": "kind", "status": "state", "last_updated": "changed"},
        "sales_opportunities": {"id": "ref", "dms_customer_id": "owner", "vin": "vin", "status": "state",
                                "amount": "amount", "created_at": "created", "notes": "notes",
                                "last_updated": "changed"},
        "inventory": {"id": "ref", "vin": "vin", "year": "year", "make": "make", "model": "model", "status": "state",
                      "received_at": "received", "last_updated": "changed"},
    },
    "paging": {"style": "cursor", "items_path": "records", "size_param": "count", "cursor_param": "after",
               "next_path": "paging.next", "since_param": "changed_after"},
}

AUTH_BODIES = {
    "api_key": {"type": "api_key", "credentials": {"api_key": API_KEY}},
    "basic_auth": {"type": "basic_auth", "credentials": {"username": USERNAME, "password": PASSWORD}},
    "oauth2": {"type": "oauth2", "credentials": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
               "refresh_configuration": {"token_url": "/oauth/token"}},
}


def connection_body(fake: FakeDms, name: str = "Main store", rpm: int = 60_000, burst: int = 1000,
                    retry_attempts: int = 2, **extra) -> dict:
    auth = json.loads(json.dumps(AUTH_BODIES[fake.auth]))
    if fake.provider == "CDK":
        auth["credentials"]["subscription_id"] = SUBSCRIPTION
    body = {"name": name, "provider": fake.provider,
            "configuration": {"base_url": fake.url, "api_version": "v1", "timeout_ms": 5000,
                              "retry_attempts": retry_attempts,
                              "rate_limit": {"requests_per_minute": rpm, "burst_size": burst}},
            "authentication": auth}
    if fake.provider == "Custom":
        body.update(json.loads(json.dumps(CUSTOM_CONFIG)))
    body.update(extra)
    return body

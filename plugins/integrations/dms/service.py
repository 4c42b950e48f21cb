"""DMS logic without HTTP: connections (credentials in the core's encrypted store), the catalogue
rows in /api/integrations, syncs (jobs with a resumable cursor), the circuit breaker, and the
hand-over to the CRM (`upsert_contact`, `create_lead`) and to workflows (`dms.vehicle.service_needed`).

Sync, page by page: fetch a page (client.py: rate limit, retries, Retry-After, OAuth2), then in
ONE transaction upsert its records (keyed by the DMS ids within the connection), their CRM
contacts and leads, their events, and the run's cursor (the next page's parameters). A worker
killed at any point leaves either the page done and the cursor past it, or neither: the job,
taken over by another worker, goes on from the cursor and makes no duplicates.

Circuit breaker: a sync that fails (its calls failed after every retry, or were refused) adds
one to the connection's `failures`; at `breaker_failures` in a row the circuit opens for
`breaker_cooldown_seconds`: status "error", `integration.error` (core.integration_failed), the
`dms.connection.circuit_opened` event, a notification to each admin, and manual syncs answer
503 DMS_CONNECTION_FAILED. After the cool-down one sync may try (half-open); its success
closes the circuit, its failure opens it again.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
from tortoise.expressions import F, Q

from core import (
    CredentialsUnreadable,
    HubError,
    JobCancelled,
    JobFailed,
    call_function,
    delete_credentials,
    emit,
    enqueue,
    get_job,
    integration_connected,
    integration_disconnected,
    integration_failed,
    integration_synced,
    iso,
    load_credentials,
    mask_credentials,
    member_ids,
    principal_for_user,
    resolve_host,
    save_credentials,
    transaction,
    utcnow,
    validation_error,
)
from plugins.integrations.dms.adapters import ADAPTERS, adapter_for, vin_is_valid
from plugins.integrations.dms.client import DmsClient, DmsError, Policy, forget_token
from plugins.integrations.dms.models import (
    RESOURCES,
    DmsConnection,
    DmsCustomer,
    DmsRecord,
    DmsSyncRun,
    DmsVehicle,
)

log = logging.getLogger("hub.dms")

PLUGIN = "dms"
SYNC_JOB = "dms.sync"
FREQUENCIES = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}
ERRORS_KEPT = 50  # per run


def settings(hub):
    return hub.plugin_settings(PLUGIN)


def integration_id(provider: str) -> str:
    return f"dms-{provider.lower()}"


def credential_name(connection_id) -> str:
    return f"connection:{connection_id}"


def allowlist(hub) -> list[str]:
    return [*settings(hub).allowlist, *hub.settings.webhooks.allowlist]


# -- connections -----------------------------------------------------------------------------------


async def check_base_url(hub, url: str, field: str = "configuration.base_url") -> None:
    """The DMS's address passes the SSRF guard (or is allowlisted): a 400 naming the field."""
    if any(ord(char) < 33 or char == "\\" for char in url):
        raise validation_error(field, "must be a URL without spaces, control characters or backslashes")
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError) as error:
        raise validation_error(field, f"not a valid URL: {error}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise validation_error(field, "must be an http(s) URL with a host")
    if parsed.userinfo:
        raise validation_error(field, "must not carry a user name or password (credentials go in authentication)")
    try:
        await resolve_host(parsed.host, port or (443 if parsed.scheme == "https" else 80), allowlist(hub))
    except ValueError as error:  # UnsafeURL: private, loopback, link-local, or no address
        raise validation_error(field, f"refused: {error}") from None


def _columns(data: dict) -> dict:
    """A create/update body's fields as the table's columns (credentials excluded)."""
    columns: dict[str, Any] = {}
    for name in ("name", "provider", "api_key_header", "sync_frequency"):
        if data.get(name) is not None:
            columns[name] = data[name]
    if data.get("configuration") is not None:
        config = data["configuration"]  # on an update, only the fields given
        for name in ("base_url", "api_version", "timeout_ms", "retry_attempts"):
            if name in config:
                columns[name] = config[name]
        for name in ("requests_per_minute", "burst_size"):
            if name in (config.get("rate_limit") or {}):
                columns[name] = config["rate_limit"][name]
    if data.get("authentication") is not None:
        auth = data["authentication"]
        columns["auth_type"] = auth["type"]
        refresh = auth.get("refresh_configuration") or {}
        columns["token_url"] = refresh.get("token_url") if auth["type"] == "oauth2" else None
    if data.get("endpoints") is not None:
        columns["endpoints"] = {k: v for k, v in data["endpoints"].items() if v}
    if data.get("field_mapping") is not None:
        columns["field_mapping"] = data["field_mapping"]
    if data.get("paging") is not None:
        columns["paging"] = data["paging"]
    return columns


def _check_auth(provider: str, auth_type: str) -> None:
    allowed = ADAPTERS[provider].auth_types
    if auth_type not in allowed:
        raise validation_error("authentication.type", f"{provider} takes {', '.join(allowed)}")


async def _check_token_url(hub, base_url: str, token_url: str | None) -> None:
    if token_url and token_url.startswith(("http://", "https://")):
        await check_base_url(hub, token_url, "authentication.refresh_configuration.token_url")


async def create_connection(hub, org_id, user_id, data: dict) -> DmsConnection:
    columns = _columns(data)
    _check_auth(columns["provider"], columns["auth_type"])
    await check_base_url(hub, columns["base_url"])
    await _check_token_url(hub, columns["base_url"], columns.get("token_url"))
    async with transaction():
        connection = await DmsConnection.create(org_id=org_id, created_by=user_id, **columns)
        connection.next_sync_at = _next_sync(connection)
        await connection.save(update_fields=["next_sync_at"])
        await save_credentials(org_id, PLUGIN, credential_name(connection.id), data["authentication"]["credentials"])
        await _show_in_catalogue(org_id, connection.provider)
    return connection


async def update_connection(hub, org_id, connection_id, data: dict) -> DmsConnection:
    connection = await DmsConnection.get_for_org(org_id, connection_id, "DMS connection")
    columns = _columns(data)
    _check_auth(connection.provider, columns.get("auth_type", connection.auth_type))
    if "auth_type" in columns and columns["auth_type"] != connection.auth_type and data.get("authentication") is None:
        raise validation_error("authentication", "a new authentication type needs its credentials")
    if "base_url" in columns:
        await check_base_url(hub, columns["base_url"])
    await _check_token_url(hub, columns.get("base_url", connection.base_url), columns.get("token_url"))
    if connection.provider == "Custom":
        endpoints = columns.get("endpoints", connection.endpoints)
        mapping = columns.get("field_mapping", connection.field_mapping)
        missing = [resource for resource in endpoints if resource not in mapping]
        if missing:
            raise validation_error("field_mapping", f"a Custom connection needs a field_mapping for {missing[0]}")
    else:
        columns.pop("paging", None)  # only a Custom connection pages its own way
    async with transaction():
        for name, value in columns.items():
            setattr(connection, name, value)
        if "sync_frequency" in columns:
            connection.next_sync_at = _next_sync(connection)
        await connection.save()
        if data.get("authentication") is not None:
            await save_credentials(org_id, PLUGIN, credential_name(connection.id),
                                   data["authentication"]["credentials"])
    forget_token(connection.id)  # new credentials or address: a new token
    return connection


async def delete_connection(org_id, connection_id) -> None:
    connection = await DmsConnection.get_for_org(org_id, connection_id, "DMS connection")
    async with transaction():
        for model in (DmsCustomer, DmsVehicle, DmsRecord, DmsSyncRun):
            await model.for_org(org_id).filter(connection_id=connection.id).delete()
        await delete_credentials(org_id, PLUGIN, credential_name(connection.id))
        await connection.delete()
    forget_token(connection.id)
    if not await DmsConnection.for_org(org_id).filter(provider=connection.provider).exists():
        await integration_disconnected(org_id, integration_id(connection.provider))


async def _show_in_catalogue(org_id, provider: str) -> None:
    """The provider's row in GET /api/integrations: how many connections the organization has."""
    rows = await DmsConnection.for_org(org_id).filter(provider=provider).values_list("sync_frequency", flat=True)
    frequency = "manual" if not rows or all(f == "manual" for f in rows) else \
        ("hourly" if "hourly" in rows else "daily")
    await integration_connected(org_id, integration_id(provider), {"syncFrequency": frequency,
                                                                   "dataTypes": list(RESOURCES)})


async def secrets_of(connection: DmsConnection) -> dict[str, str]:
    try:
        stored = await load_credentials(connection.org_id, PLUGIN, credential_name(connection.id))
    except CredentialsUnreadable as error:
        raise DmsError(f"the stored credentials cannot be read: {error}", retryable=False) from None
    return dict(stored or {})


async def connection_body(connection: DmsConnection) -> dict:
    try:
        secrets = mask_credentials(await secrets_of(connection))
    except DmsError:
        secrets = {}
    return {
        "id": str(connection.id), "name": connection.name, "provider": connection.provider,
        "status": connection.status,
        "configuration": {"base_url": connection.base_url, "api_version": connection.api_version,
                          "timeout_ms": connection.timeout_ms, "retry_attempts": connection.retry_attempts,
                          "rate_limit": {"requests_per_minute": connection.requests_per_minute,
                                         "burst_size": connection.burst_size}},
        "authentication": {"type": connection.auth_type, "credentials": secrets,
                           "refresh_configuration": {"token_url": connection.token_url}
                           if connection.auth_type == "oauth2" else None},
        "endpoints": adapter_for(connection)[1], "field_mapping": connection.field_mapping or {},
        "paging": connection.paging or None, "api_key_header": connection.api_key_header,
        "sync_frequency": connection.sync_frequency, "integration": integration_id(connection.provider),
        "last_sync_at": connection.last_sync_at, "next_sync_at": connection.next_sync_at,
        "last_error": connection.last_error, "last_error_at": connection.last_error_at,
        "circuit_open_until": connection.circuit_open_until, "created_at": connection.created_at,
    }


def _next_sync(connection: DmsConnection, after: datetime | None = None) -> datetime | None:
    interval = FREQUENCIES.get(connection.sync_frequency)
    return None if interval is None else (after or utcnow()) + interval


def client_for(hub, connection: DmsConnection, secrets: dict[str, str], transport=None,
               retry_attempts: int | None = None) -> DmsClient:
    """A client with the connection's policy; `retry_attempts` overrides its retries (a test
    of the connection answers from one try, not after the back-off of a sync)."""
    adapter, *_ = adapter_for(connection)
    headers = {header: secrets[name] for header, name in adapter.headers.items() if secrets.get(name)}
    config = settings(hub)
    attempts = connection.retry_attempts if retry_attempts is None else retry_attempts
    policy = Policy(retry_attempts=attempts, timeout_seconds=connection.timeout_ms / 1000,
                    backoff=config.retry_backoff_seconds, backoff_max=config.retry_backoff_max_seconds,
                    max_retry_after=config.max_retry_after_seconds, refresh_margin=config.token_refresh_margin_seconds)
    return DmsClient(connection, secrets, policy, allowlist(hub), headers, transport=transport)


async def test_connection(hub, org_id, connection_id, resource: str | None = None) -> dict:
    """One page of one record from `resource`'s endpoint (default: the first the connection has),
    authenticated: connected, or error with why (the status and lastError of the connection and
    of its catalogue row follow)."""
    connection = await DmsConnection.get_for_org(org_id, connection_id, "DMS connection")
    _, endpoints, paging, _ = adapter_for(connection)
    if resource is not None and not endpoints.get(resource):
        raise validation_error("resource", f"this connection has no {resource} endpoint")
    started = time.monotonic()
    try:
        resource = resource or next(r for r in RESOURCES if endpoints.get(r))
        async with client_for(hub, connection, await secrets_of(connection), retry_attempts=0) as client:
            await client.get(endpoints[resource], paging.first(1, None))
    except DmsError as error:
        message = str(error)
        await DmsConnection.filter(id=connection.id).update(status="error", last_error=message[:1000],
                                                            last_error_at=utcnow())
        await integration_failed(org_id, integration_id(connection.provider), f"{connection.name}: {message}")
        return {"ok": False, "status": "error", "error": message, "latency_ms": None}
    await DmsConnection.filter(id=connection.id).update(status="connected", last_error=None, last_error_at=None,
                                                        failures=0, circuit_open_until=None)
    return {"ok": True, "status": "connected", "error": None,
            "latency_ms": round((time.monotonic() - started) * 1000, 1)}


async def test_provider(ctx) -> None:
    """The catalogue's test of dms-<provider> (POST /api/integrations/dms-cdk/test): each of the
    organization's connections of that provider answers."""
    provider = next(p for p in ADAPTERS if integration_id(p) == ctx.integration)
    connections = await DmsConnection.for_org(ctx.org_id).filter(provider=provider)
    if not connections:
        raise RuntimeError(f"no {provider} connection: add one at POST /api/v1/dms/connections")
    for connection in connections:
        result = await test_connection(ctx.hub, ctx.org_id, connection.id)
        if not result["ok"]:
            raise RuntimeError(f"{connection.name}: {result['error']}")


# -- starting syncs -------------------------------------------------------------------------------


def circuit_open(connection: DmsConnection, now: datetime | None = None) -> bool:
    return connection.circuit_open_until is not None and connection.circuit_open_until > (now or utcnow())


async def start_sync(hub, org_id, user_id, connection_id, mode: str = "incremental",
                     resources: list[str] | None = None, trigger: str = "manual") -> DmsSyncRun:
    """A sync run and its job. 503 DMS_CONNECTION_FAILED while the circuit is open; 409 while
    another sync of the connection is pending or running."""
    connection = await DmsConnection.get_for_org(org_id, connection_id, "DMS connection")
    if circuit_open(connection):
        raise HubError("DMS_CONNECTION_FAILED", f"{connection.name} is failing: syncs are paused until "
                       f"{iso(connection.circuit_open_until)}",
                       {"code": "DMS_001", "connection_id": str(connection.id), "last_error": connection.last_error,
                        "retry_at": iso(connection.circuit_open_until)})
    _, endpoints, _, _ = adapter_for(connection)
    chosen = [r for r in RESOURCES if endpoints.get(r) and (resources is None or r in resources)]
    if not chosen:
        raise validation_error("resources", "the connection has no endpoint for these resources")
    since = connection.synced_until if mode == "incremental" else None
    async with transaction():
        # one sync of a connection at a time: the connection row is the lock
        await DmsConnection.filter(id=connection.id).update(updated_at=utcnow())
        running = await DmsSyncRun.for_org(org_id).filter(connection_id=connection.id,
                                                          status__in=("pending", "running")).first()
        if running is not None and await _job_ended(org_id, running):
            running.status, running.finished_at = "failed", utcnow()
            running.errors = [*running.errors, {"resource": running.cursor.get("resource"), "id": None,
                                                "error": "its job ended without finishing it"}][-ERRORS_KEPT:]
            await running.save(update_fields=["status", "finished_at", "errors", "updated_at"])
            running = None
        if running is not None:
            raise HubError("CONFLICT", "a sync of this connection is already under way",
                           {"sync_id": str(running.id)})
        run = await DmsSyncRun.create(org_id=org_id, connection_id=connection.id,
                                      mode="incremental" if since else "full", trigger=trigger, since=since,
                                      resources=chosen, cursor={"resource": chosen[0], "params": None},
                                      counts={r: {"created": 0, "updated": 0} for r in chosen})
    job = await enqueue(org_id, SYNC_JOB, {"sync_id": str(run.id)}, user_id=user_id or connection.created_by,
                        hub=hub)
    run.job_id = job.id
    await run.save(update_fields=["job_id", "updated_at"])
    return run


async def _job_ended(org_id, run: DmsSyncRun) -> bool:
    """The run's job is over (cancelled, timed out, or out of attempts) while the run is not:
    nothing will finish it."""
    if run.job_id is None:
        return run.created_at < utcnow() - timedelta(minutes=5)  # never enqueued
    try:
        job = await get_job(org_id, run.job_id)
    except HubError:
        return True
    return job.status in ("completed", "failed", "cancelled", "timeout")


async def run_due(hub, now: datetime | None = None) -> int:
    """Start the scheduled syncs that are due (every process runs this; the conditional update
    of next_sync_at claims each one once)."""
    now = now or utcnow()
    started = 0
    for connection in await DmsConnection.filter(next_sync_at__lte=now).limit(100):
        due = connection.next_sync_at
        if not await DmsConnection.filter(id=connection.id, next_sync_at=due).update(
                next_sync_at=_next_sync(connection, max(now, due))):
            continue  # another process took it
        if circuit_open(connection, now):
            continue
        try:
            await start_sync(hub, connection.org_id, connection.created_by, connection.id, "incremental",
                             trigger="scheduled")
            started += 1
        except HubError as error:  # one already running, or no endpoint
            log.info("scheduled sync of DMS connection %s not started: %s", connection.id, error.message)
    return started


# -- the sync job ----------------------------------------------------------------------------------


class CrmBridge:
    """The CRM's hub functions as the user the sync runs for; off for the rest of the run when
    the CRM is switched off (the function is not found) or the user is gone."""

    def __init__(self, hub, principal) -> None:
        self.hub = hub
        self.principal = principal
        self.on = principal is not None
        self.errors: list[dict] = []

    async def call(self, name: str, arguments: dict) -> dict | None:
        if not self.on:
            return None
        try:
            return await call_function(self.hub, self.principal, name, arguments)
        except HubError as error:
            if error.code in ("NOT_FOUND", "FORBIDDEN"):
                self.on = False
                self.errors.append({"resource": "crm", "error": f"CRM not used: {error.message}"})
                return None
            raise


def _text(value: Any, length: int) -> str | None:
    if value is None or value == "":
        return None
    return str(value).strip()[:length] or None


def _int(value: Any) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _day(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


class PageWriter:
    """Upserts one page's records (inside the page's transaction)."""

    def __init__(self, hub, run: DmsSyncRun, connection: DmsConnection, crm: CrmBridge) -> None:
        self.hub = hub
        self.run = run
        self.connection = connection
        self.org_id = connection.org_id
        self.crm = crm
        self.source = f"dms:{connection.id}"
        config = settings(hub)
        self.today = utcnow().date()
        self.due_within = timedelta(days=config.service_due_days)
        self.interval = timedelta(days=config.service_interval_days)

    def count(self, resource: str, created: bool) -> None:
        counts = self.run.counts.setdefault(resource, {"created": 0, "updated": 0})
        counts["created" if created else "updated"] += 1

    def error(self, resource: str, external_id: Any, message: str) -> None:
        if len(self.run.errors) < ERRORS_KEPT:
            self.run.errors.append({"resource": resource, "id": None if external_id is None else str(external_id),
                                    "error": message[:300]})

    async def write(self, resource: str, records: list[dict]) -> None:
        handler = {"customers": self.customers, "vehicles": self.vehicles}.get(resource, self.records)
        await handler(resource, records)

    # customers -> CRM contacts
    async def customers(self, resource: str, records: list[dict]) -> None:
        ids = [_text(r.get("dms_customer_id"), 100) for r in records]
        existing = {row.dms_customer_id: row for row in await DmsCustomer.for_org(self.org_id).filter(
            connection_id=self.connection.id, dms_customer_id__in=[i for i in ids if i])}
        for record, external_id in zip(records, ids):
            if not external_id:
                self.error(resource, None, "a customer without dms_customer_id")
                continue
            fields = {"first_name": _text(record.get("first_name"), 100) or "",
                      "last_name": _text(record.get("last_name"), 100) or "",
                      "email": _text(record.get("email"), 254), "phone": _text(record.get("phone"), 32),
                      "address": record.get("address"), "preferences": record.get("preferences"),
                      "last_updated": _when(record.get("last_updated"))}
            row = existing.get(external_id)
            crm_changed = row is None or row.contact_id is None or any(
                getattr(row, name) != fields[name] for name in ("first_name", "last_name", "email", "phone"))
            self.count(resource, row is None)
            if row is None:
                row = await DmsCustomer.create(org_id=self.org_id, connection_id=self.connection.id,
                                               dms_customer_id=external_id, **fields)
                existing[external_id] = row
            else:
                for name, value in fields.items():
                    setattr(row, name, value)
            if crm_changed:
                row.contact_id = await self.contact(row) or row.contact_id
            await row.save()
            for vehicle in record.get("vehicles") or []:
                vehicle.setdefault("dms_customer_id", external_id)
                await self.vehicle(vehicle)

    async def contact(self, customer: DmsCustomer) -> uuid.UUID | None:
        name = " ".join(p for p in (customer.first_name, customer.last_name) if p) or \
            f"DMS customer {customer.dms_customer_id}"
        arguments = {"name": name[:200], "email": customer.email, "phone": customer.phone, "tags": ["dms"],
                     "source": self.source, "external_id": customer.dms_customer_id}
        try:
            result = await self.crm.call("upsert_contact", arguments)
        except HubError as error:  # an e-mail or phone the CRM refuses: the contact without them
            if error.code != "VALIDATION_ERROR":
                raise
            self.error("customers", customer.dms_customer_id, f"CRM refused {error.details.get('field')}: "
                                                               f"kept out of the contact")
            result = await self.crm.call("upsert_contact", {**arguments, "email": None, "phone": None})
        return uuid.UUID(result["id"]) if result else None

    # vehicles (and a customer's nested vehicles)
    async def vehicles(self, resource: str, records: list[dict]) -> None:
        for record in records:
            await self.vehicle(record)

    async def vehicle(self, record: dict) -> None:
        external_id = _text(record.get("dms_vehicle_id"), 100) or _text(record.get("vin"), 17)
        if not external_id:
            self.error("vehicles", None, "a vehicle without dms_vehicle_id or VIN")
            return
        vin = (_text(record.get("vin"), 17) or "").upper()
        valid = vin_is_valid(vin)
        if not valid:
            self.error("vehicles", external_id, f"VIN {vin!r} fails its check digit")
        last_service = _day(record.get("last_service_date"))
        due = (last_service + self.interval) if last_service else None
        fields = {"vin": vin, "vin_valid": valid, "year": _int(record.get("year")),
                  "make": _text(record.get("make"), 50) or "", "model": _text(record.get("model"), 50) or "",
                  "trim": _text(record.get("trim"), 50), "mileage": _int(record.get("mileage")),
                  "purchase_date": _text(record.get("purchase_date"), 32),
                  "last_service_date": _text(record.get("last_service_date"), 32),
                  "service_due_date": due.isoformat() if due else None,
                  "dms_customer_id": _text(record.get("dms_customer_id"), 100),
                  "last_updated": _when(record.get("last_updated"))}
        row = await DmsVehicle.for_org(self.org_id).filter(connection_id=self.connection.id,
                                                           dms_vehicle_id=external_id).first()
        self.count("vehicles", row is None)
        if row is None:
            row = await DmsVehicle.create(org_id=self.org_id, connection_id=self.connection.id,
                                          dms_vehicle_id=external_id, **fields)
        else:
            for name, value in fields.items():
                setattr(row, name, value)
        if due is not None and due - self.today <= self.due_within and row.service_due_notified != fields[
                "service_due_date"]:
            row.service_due_notified = fields["service_due_date"]
            customer = None
            if row.dms_customer_id:
                customer = await DmsCustomer.for_org(self.org_id).filter(
                    connection_id=self.connection.id, dms_customer_id=row.dms_customer_id).first()
            await emit(self.org_id, "dms.vehicle.service_needed", {
                "connection_id": str(self.connection.id), "vehicle_id": str(row.id), "dms_vehicle_id": external_id,
                "vin": vin, "year": row.year, "make": row.make, "model": row.model,
                "dms_customer_id": row.dms_customer_id,
                "contact_id": str(customer.contact_id) if customer and customer.contact_id else None,
                "email": customer.email if customer else None, "last_service_date": row.last_service_date,
                "service_due_date": fields["service_due_date"]})
        await row.save()

    # appointments, opportunities (-> CRM leads), inventory
    async def records(self, resource: str, records: list[dict]) -> None:
        for record in records:
            external_id = _text(record.get("id"), 100)
            if not external_id:
                self.error(resource, None, "a record without its id")
                continue
            vin = _text(record.get("vin"), 17)
            when = record.get("scheduled_at") or record.get("created_at") or record.get("received_at")
            data = {k: v for k, v in record.items() if k not in ("id", "last_updated")}
            fields = {"dms_customer_id": _text(record.get("dms_customer_id"), 100),
                      "vin": vin.upper() if vin else None, "status": _text(record.get("status"), 32),
                      "date": _text(when, 32), "data": data, "last_updated": _when(record.get("last_updated"))}
            row = await DmsRecord.for_org(self.org_id).filter(connection_id=self.connection.id, kind=resource,
                                                              external_id=external_id).first()
            self.count(resource, row is None)
            if row is None:
                row = await DmsRecord.create(org_id=self.org_id, connection_id=self.connection.id, kind=resource,
                                             external_id=external_id, **fields)
            else:
                for name, value in fields.items():
                    setattr(row, name, value)
            if resource == "sales_opportunities" and row.lead_id is None:
                row.lead_id = await self.lead(row, record)
            await row.save()

    async def lead(self, row: DmsRecord, record: dict) -> uuid.UUID | None:
        customer = None
        if row.dms_customer_id:
            customer = await DmsCustomer.for_org(self.org_id).filter(
                connection_id=self.connection.id, dms_customer_id=row.dms_customer_id).first()
        name = " ".join(p for p in (customer.first_name, customer.last_name) if p) if customer else ""
        amount = record.get("amount")
        try:
            value = max(0.0, float(amount)) if amount not in (None, "") else 0.0
        except (TypeError, ValueError):
            value = 0.0
        notes = f"DMS opportunity {row.external_id}" + (f" (VIN {row.vin})" if row.vin else "") + \
            (f": {record['notes']}" if record.get("notes") else "")
        arguments = {"name": (name or f"DMS opportunity {row.external_id}")[:200], "source": "dms",
                     "value": value, "notes": notes[:10_000],
                     "email": customer.email if customer else None, "phone": customer.phone if customer else None}
        try:
            result = await self.crm.call("create_lead", arguments)
        except HubError as error:
            if error.code != "VALIDATION_ERROR":
                raise
            result = await self.crm.call("create_lead", {**arguments, "email": None, "phone": None})
        return uuid.UUID(result["id"]) if result else None


async def run_sync(ctx, payload: dict) -> dict:
    """The `dms.sync` job: go on from the run's cursor until every resource is done."""
    hub = ctx.hub
    run = await DmsSyncRun.get_for_org(ctx.org_id, payload["sync_id"], "DMS sync")
    if run.status in ("completed", "failed"):
        return {"status": run.status}
    connection = await DmsConnection.get_for_org(ctx.org_id, run.connection_id, "DMS connection")
    if run.status == "pending":
        run.status, run.started_at = "running", utcnow()
        await run.save(update_fields=["status", "started_at", "updated_at"])
    principal = await principal_for_user(ctx.user_id, ctx.org_id, hub=hub) if ctx.user_id else None
    crm = CrmBridge(hub, principal)
    if principal is None:
        crm.errors.append({"resource": "crm", "error": "no active user to write CRM contacts as"})
    _, endpoints, paging, mapping = adapter_for(connection)
    adapter = ADAPTERS[connection.provider]
    size = settings(hub).page_size
    resources = list(run.resources)
    try:
        async with client_for(hub, connection, await secrets_of(connection)) as client:
            while run.cursor.get("resource"):
                resource = run.cursor["resource"]
                params = run.cursor.get("params") or paging.first(size, run.since)
                body = await client.get(endpoints[resource], params)
                items = paging.items(body)
                following = paging.next(body, params, len(items))
                position = resources.index(resource)
                if following is not None:
                    cursor = {"resource": resource, "params": following}
                elif position + 1 < len(resources):
                    cursor = {"resource": resources[position + 1], "params": None}
                else:
                    cursor = {"resource": None, "params": None}
                writer = PageWriter(hub, run, connection, crm)
                async with transaction():
                    await writer.write(resource, [adapter.map(resource, item, mapping) for item in items])
                    run.cursor = cursor
                    run.pages += 1
                    await run.save(update_fields=["cursor", "counts", "errors", "pages", "updated_at"])
                done = position + (0.5 if following is not None else 1)
                await ctx.progress(min(99, round(100 * done / len(resources))),
                                   f"{resource}: page {run.pages}")
                if ctx.cancelled:
                    raise JobFailed("the sync was cancelled")
    except DmsError as error:
        await _failed(hub, connection, run, str(error), crm)
        raise JobFailed(f"DMS sync failed: {error}") from None
    except (JobFailed, JobCancelled) as error:
        await _failed(hub, connection, run, str(error) or "the sync was cancelled", crm, count=False)
        raise
    except Exception as error:  # retried by the job system from the cursor; the last try ends the run
        if ctx.attempt >= ctx.max_attempts:
            await _failed(hub, connection, run, f"{type(error).__name__}: {error}", crm, count=False)
        raise
    await _completed(hub, connection, run, crm)
    return {"status": "completed", "counts": run.counts, "pages": run.pages}


async def _completed(hub, connection: DmsConnection, run: DmsSyncRun, crm: CrmBridge) -> None:
    now = utcnow()
    async with transaction():
        run.status, run.finished_at = "completed", now
        run.errors = (run.errors + crm.errors)[:ERRORS_KEPT]
        await run.save()
        await DmsConnection.filter(id=connection.id).update(
            status="connected", failures=0, circuit_open_until=None, last_error=None, last_error_at=None,
            last_sync_at=now, synced_until=run.started_at or now)
        await emit(connection.org_id, "dms.sync.completed", {
            "connection_id": str(connection.id), "sync_id": str(run.id), "mode": run.mode, "status": "completed",
            "counts": run.counts})
    await integration_synced(connection.org_id, integration_id(connection.provider), now)


async def _failed(hub, connection: DmsConnection, run: DmsSyncRun, message: str, crm: CrmBridge,
                  count: bool = True) -> None:
    """The run failed; `count`: the DMS did (its calls), which the circuit breaker counts."""
    now = utcnow()
    config = settings(hub)
    async with transaction():
        run.status, run.finished_at = "failed", now
        run.errors = (run.errors + crm.errors + [{"resource": run.cursor.get("resource"), "id": None,
                                                  "error": message[:300]}])[-ERRORS_KEPT:]
        await run.save()
        await DmsConnection.filter(id=connection.id).update(failures=F("failures") + int(count),
                                                            last_error=message[:1000], last_error_at=now)
        await connection.refresh_from_db()
        opens = count and connection.failures >= config.breaker_failures
        if opens:
            retry_at = now + timedelta(seconds=config.breaker_cooldown_seconds)
            connection.status, connection.circuit_open_until = "error", retry_at
            await connection.save(update_fields=["status", "circuit_open_until", "updated_at"])
            await emit(connection.org_id, "dms.connection.circuit_opened", {
                "connection_id": str(connection.id), "name": connection.name, "provider": connection.provider,
                "error": message[:500], "retry_at": iso(retry_at)})
            await _notify_admins(connection, message, retry_at)
        await emit(connection.org_id, "dms.sync.failed", {
            "connection_id": str(connection.id), "sync_id": str(run.id), "mode": run.mode, "status": "failed",
            "counts": run.counts, "error": message[:500]})
    if opens:
        await integration_failed(connection.org_id, integration_id(connection.provider),
                                 f"{connection.name}: {message}")


async def _notify_admins(connection: DmsConnection, message: str, retry_at: datetime) -> None:
    """A notification to each admin (the notifications plugin's `notification.requested`)."""
    for user_id in await member_ids(connection.org_id, roles=("admin",)):
        try:
            await emit(connection.org_id, "notification.requested", {
                "user_id": str(user_id), "title": f"DMS connection {connection.name} is failing"[:200],
                "message": f"Syncs from {connection.provider} are paused until {iso(retry_at)}: {message}"[:1000],
                "type": "integration", "priority": "high",
                "metadata": {"connection_id": str(connection.id), "provider": connection.provider}})
        except (KeyError, ValueError, HubError) as error:  # the notifications plugin is not installed
            log.info("no notification for DMS connection %s: %s", connection.id, error)
            return


# -- reading synced data -----------------------------------------------------------------------------


def scoped(model, org_id, connection_id: str | None, updated_since: str | None):
    query = model.for_org(org_id)
    if connection_id:
        try:
            query = query.filter(connection_id=uuid.UUID(connection_id))
        except ValueError:
            raise validation_error("connection_id", "not a connection id") from None
    if updated_since:
        when = _when(updated_since)
        if when is None:
            raise validation_error("updated_since", "an ISO 8601 date-time")
        query = query.filter(updated_at__gte=when)
    return query


def vehicle_body(row: DmsVehicle) -> dict:
    return {"id": str(row.id), "connection_id": str(row.connection_id), "dms_vehicle_id": row.dms_vehicle_id,
            "vin": row.vin, "vin_valid": row.vin_valid, "year": row.year, "make": row.make, "model": row.model,
            "trim": row.trim, "mileage": row.mileage, "purchase_date": row.purchase_date,
            "last_service_date": row.last_service_date, "service_due_date": row.service_due_date,
            "dms_customer_id": row.dms_customer_id}


async def customer_bodies(org_id, rows: list[DmsCustomer]) -> list[dict]:
    vehicles: dict[tuple, list[dict]] = {}
    if rows:
        owned = await DmsVehicle.for_org(org_id).filter(
            connection_id__in=list({r.connection_id for r in rows}),
            dms_customer_id__in=[r.dms_customer_id for r in rows])
        for vehicle in owned:
            vehicles.setdefault((vehicle.connection_id, vehicle.dms_customer_id), []).append(vehicle_body(vehicle))
    return [{"id": str(r.id), "connection_id": str(r.connection_id), "dms_customer_id": r.dms_customer_id,
             "first_name": r.first_name, "last_name": r.last_name, "email": r.email, "phone": r.phone,
             "address": r.address, "preferences": r.preferences,
             "vehicles": vehicles.get((r.connection_id, r.dms_customer_id), []),
             "last_updated": iso(r.last_updated) if r.last_updated else None,
             "contact_id": str(r.contact_id) if r.contact_id else None} for r in rows]


def record_body(row: DmsRecord) -> dict:
    return {"id": str(row.id), "external_id": row.external_id, "connection_id": str(row.connection_id),
            "dms_customer_id": row.dms_customer_id, "vin": row.vin, "status": row.status, "date": row.date,
            "data": row.data, "lead_id": str(row.lead_id) if row.lead_id else None,
            "last_updated": iso(row.last_updated) if row.last_updated else None}


def customer_filter(query, search: str | None, email: str | None):
    if email:
        query = query.filter(email__iexact=email)
    if search:
        query = query.filter(Q(first_name__icontains=search) | Q(last_name__icontains=search) |
                             Q(email__icontains=search))
    return query


def sync_body(run: DmsSyncRun) -> dict:
    return {"id": str(run.id), "connection_id": str(run.connection_id), "mode": run.mode, "trigger": run.trigger,
            "status": run.status, "job_id": str(run.job_id) if run.job_id else None, "since": run.since,
            "resources": run.resources, "counts": run.counts, "errors": run.errors, "pages": run.pages,
            "started_at": run.started_at, "finished_at": run.finished_at, "created_at": run.created_at}

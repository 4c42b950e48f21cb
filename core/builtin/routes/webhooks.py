"""`/api/v1/webhooks`: an organization's admins register signed event deliveries and read
their delivery log (core/webhooks.py does the delivering).

    POST   /api/v1/webhooks                      {url, events, secret?, description?, is_active?}
    GET    /api/v1/webhooks                      ?limit&offset
    GET    /api/v1/webhooks/{id}
    PUT    /api/v1/webhooks/{id}                 (also PATCH) any of the fields above
    DELETE /api/v1/webhooks/{id}                 the webhook and its delivery log
    POST   /api/v1/webhooks/{id}/secret          {secret?}: a new (generated) secret, shown once
    POST   /api/v1/webhooks/{id}/test            {event?, data?}: one signed delivery, now
    GET    /api/v1/webhooks/{id}/deliveries      ?limit&offset&status&event, newest first
    GET    /api/v1/webhooks/{id}/deliveries/{delivery_id}   with payload and every attempt
    POST   /api/v1/webhooks/{id}/redeliver       {delivery_ids} or {all_failed: true}

The secret is generated unless given, and shown only when created or rotated. URLs pass
the SSRF guard (core/ssrf.py) here and again on every delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from quart import Blueprint, request
from quart_schema import document_request, document_response, validate_request, validate_response

from core.events import ssrf
from core.events import webhooks
from core.http.auth import current_principal, require
from core.http.pagination import OffsetQuery, Pagination
from core.http.query import Blankable, validate_query
from core.kernel.errors import HubError, not_found, validation_error
from core.events.models import Webhook, WebhookDelivery
from core.kernel.hub import current_hub

bp = Blueprint("core_webhooks", __name__)

PERMISSION = "webhooks.manage"
DeliveryStatus = Literal["pending", "succeeded", "failed"]
EventPattern = Annotated[str, StringConstraints(max_length=100)]  # checked by webhooks.valid_event_pattern


# -- schemas ------------------------------------------------------------------------------


def _check_events(value: list[str] | None) -> list[str] | None:
    if value is None:
        return value
    for pattern in value:
        if not webhooks.valid_event_pattern(pattern):
            raise ValueError(f"{pattern!r} is not an event type or pattern (e.g. lead.created, lead.*, *)")
    return list(dict.fromkeys(value))


class SecretRotate(BaseModel):
    """Optional body: without `secret`, a new one is generated."""

    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(default=None, min_length=16, max_length=255)


class TestDelivery(BaseModel):
    """Optional body: the event type and data of the test delivery."""

    model_config = ConfigDict(extra="forbid")

    event: str = Field(default=webhooks.TEST_EVENT, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
    # the test delivery's payload, sent once and kept in its delivery log
    data: dict[str, Any] | None = Field(default=None, json_schema_extra={
        "x-bounded-by": "the request body's size ([http] max_body_bytes); sent as given, never iterated"})


class Redeliver(BaseModel):
    """Send deliveries of this webhook again, as new deliveries: the listed ones, or every
    failed one (up to 1,000, oldest first)."""

    model_config = ConfigDict(extra="forbid")

    delivery_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=100)
    all_failed: bool = False


class Redelivered(BaseModel):
    redelivered: int
    deliveries: list[UUID]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048)
    events: list[EventPattern] = Field(min_length=1, max_length=100, description='event types, "*" or "prefix.*"')
    secret: str | None = Field(default=None, min_length=16, max_length=255,
                               description="HMAC key; generated (and shown once) when omitted")
    description: str = Field(default="", max_length=255)
    is_active: bool = True

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return _check_events(value)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[EventPattern] | None = Field(default=None, min_length=1, max_length=100)
    secret: str | None = Field(default=None, min_length=16, max_length=255)
    description: str | None = Field(default=None, max_length=255)
    is_active: bool | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return _check_events(value)


class WebhookOut(BaseModel):
    id: UUID
    organization_id: UUID
    url: str
    events: list[str]
    is_active: bool
    description: str
    secret_hint: str
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret. Shown only in this response.")


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]
    total: int
    pagination: Pagination


class AttemptOut(BaseModel):
    attempt: int
    at: str
    status_code: int | None
    response_body: str | None
    error: str | None
    duration_ms: float


class DeliveryOut(BaseModel):
    id: UUID
    webhook_id: UUID
    event: str
    event_id: str
    status: DeliveryStatus
    attempts: int
    response_status: int | None
    response_body: str | None
    error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    job_id: UUID | None = Field(description="the job of the latest attempt (GET /api/v1/jobs/{id})")
    attempt_log: list[AttemptOut]


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
    total: int
    pagination: Pagination


class DeliveryQuery(OffsetQuery):
    status: Blankable[DeliveryStatus] = Field(None, description="Only deliveries in this state")
    event: Blankable[str] = Field(None, max_length=100, description="Only deliveries of this event type")


# -- helpers ------------------------------------------------------------------------------


def webhook_body(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id, "organization_id": hook.org_id, "url": hook.url, "events": hook.events,
        "is_active": hook.is_active, "description": hook.description, "secret_hint": webhooks.secret_hint(hook.secret),
        "created_by": hook.created_by, "created_at": hook.created_at, "updated_at": hook.updated_at,
    }


def delivery_body(delivery: WebhookDelivery, detail: bool = False) -> dict[str, Any]:
    body = {
        "id": delivery.id, "webhook_id": delivery.webhook_id, "event": delivery.event, "event_id": delivery.event_id,
        "status": delivery.status, "attempts": delivery.attempts, "response_status": delivery.response_status,
        "response_body": delivery.response_body, "error": delivery.error,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == "pending" else None,
        "delivered_at": delivery.delivered_at, "created_at": delivery.created_at, "job_id": delivery.job_id,
        "attempt_log": delivery.attempt_log or [],
    }
    if detail:
        body["payload"] = delivery.payload
    return body


async def checked_url(url: str) -> str:
    """400 VALIDATION_ERROR on `url` unless the SSRF guard lets it through."""
    try:
        await ssrf.check_url(url, current_hub().settings.webhooks.allowlist)
    except ssrf.UnsafeURL as refused:
        raise validation_error("url", refused.reason) from None
    return url


async def optional_body(model: type[BaseModel]) -> BaseModel:
    """A body that may be left out (then the model's defaults); if sent, it must be JSON."""
    body = {}
    if (await request.get_data()).strip():
        if not request.is_json:
            raise HubError("UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json", {"field": "Content-Type"})
        body = await request.get_json()  # malformed JSON: 400 VALIDATION_ERROR
    return model.model_validate(body)  # ValidationError (`null`, a list, ...): 400


async def _webhook(webhook_id: str) -> Webhook:
    return await Webhook.get_for_org(current_principal().org_id, webhook_id, "Webhook")


async def _delivery(hook: Webhook, delivery_id: str) -> WebhookDelivery:
    delivery = await WebhookDelivery.get_for_org(hook.org_id, delivery_id, "Webhook delivery")
    if delivery.webhook_id != hook.id:
        raise not_found("Webhook delivery")
    return delivery


# -- routes -------------------------------------------------------------------------------


@bp.post("/api/v1/webhooks")
@require(PERMISSION)
@validate_request(WebhookCreate)
@validate_response(WebhookCreated, 201)
async def create_webhook(data: WebhookCreate):
    """Register a webhook; its signing secret (given, or generated) is shown only here."""
    principal = current_principal()
    secret = data.secret or webhooks.new_secret()
    hook = await Webhook.create(
        org_id=principal.org_id, url=await checked_url(data.url), events=data.events, secret=secret,
        description=data.description, is_active=data.is_active, created_by=principal.user_id,
    )
    await webhooks.subscriptions_changed(current_hub(), hook.org_id)
    return WebhookCreated(**webhook_body(hook), secret=secret), 201


@bp.get("/api/v1/webhooks")
@require(PERMISSION)
@validate_query(OffsetQuery)
@document_response(WebhookList)
async def list_webhooks(query_args: OffsetQuery):
    """The organization's webhooks, newest first."""
    page = query_args.page()
    hooks, total = await page.fetch(Webhook.for_org(current_principal().org_id), "-created_at")
    return page.listing("webhooks", [WebhookOut(**webhook_body(h)).model_dump(mode="json") for h in hooks], total)


@bp.get("/api/v1/webhooks/<webhook_id>")
@require(PERMISSION)
@validate_response(WebhookOut)
async def get_webhook(webhook_id: str):
    """One webhook (its secret only as a hint)."""
    return WebhookOut(**webhook_body(await _webhook(webhook_id)))


@bp.route("/api/v1/webhooks/<webhook_id>", methods=["PUT", "PATCH"])
@require(PERMISSION)
@validate_request(WebhookUpdate)
@validate_response(WebhookOut)
async def update_webhook(webhook_id: str, data: WebhookUpdate):
    """Change a webhook's URL, events, secret, description or whether it is active."""
    hook = await _webhook(webhook_id)
    changes = data.model_dump(exclude_unset=True)
    for name in ("events", "description", "is_active", "secret"):
        if changes.get(name) is not None:
            setattr(hook, name, changes[name])
    if changes.get("url") is not None:
        hook.url = await checked_url(changes["url"])
    await hook.save()
    await webhooks.subscriptions_changed(current_hub(), hook.org_id)
    return WebhookOut(**webhook_body(hook))


@bp.delete("/api/v1/webhooks/<webhook_id>")
@require(PERMISSION)
@document_response(None, 204)
async def delete_webhook(webhook_id: str):
    """Delete a webhook and its delivery log."""
    hook = await _webhook(webhook_id)
    await WebhookDelivery.filter(org_id=hook.org_id, webhook_id=hook.id).delete()
    await hook.delete()
    await webhooks.subscriptions_changed(current_hub(), hook.org_id)
    return "", 204


@bp.post("/api/v1/webhooks/<webhook_id>/secret")
@require(PERMISSION)
@document_request(SecretRotate)
@validate_response(WebhookCreated)
async def rotate_secret(webhook_id: str):
    """Replace the signing secret (given, or generated) and show it once."""
    hook = await _webhook(webhook_id)  # another organization's: 404, whatever the body
    data = await optional_body(SecretRotate)
    hook.secret = data.secret or webhooks.new_secret()
    await hook.save(update_fields=["secret", "updated_at"])
    return WebhookCreated(**webhook_body(hook), secret=hook.secret)


@bp.post("/api/v1/webhooks/<webhook_id>/test")
@require(PERMISSION)
@document_request(TestDelivery)
@validate_response(DeliveryDetail)
async def test_webhook(webhook_id: str):
    """Send one signed delivery (`webhook.test` unless `event` says otherwise) to an active
    webhook now, whatever its `events`, and answer with the recorded attempt (no retries)."""
    hook = await _webhook(webhook_id)  # another organization's: 404, whatever the body
    data = await optional_body(TestDelivery)
    if not hook.is_active:
        raise validation_error("is_active", "the webhook is inactive")
    hub = current_hub()
    sample = data.data if data.data is not None else {"webhook_id": str(hook.id), "message": "Test delivery from the Hub"}
    delivery = await webhooks.create_delivery(hub, hook, data.event, sample, schedule_it=False)
    await webhooks.deliver(delivery.id, 1, hub=hub, retry=False)
    await delivery.refresh_from_db()
    return DeliveryDetail(**delivery_body(delivery, detail=True))


@bp.get("/api/v1/webhooks/<webhook_id>/deliveries")
@require(PERMISSION)
@validate_query(DeliveryQuery)
@document_response(DeliveryList)
async def list_deliveries(webhook_id: str, query_args: DeliveryQuery):
    """A webhook's delivery log, newest first."""
    hook = await _webhook(webhook_id)
    page = query_args.page()
    query = WebhookDelivery.for_org(hook.org_id).filter(webhook_id=hook.id)
    if query_args.status:
        query = query.filter(status=query_args.status)
    if query_args.event:
        query = query.filter(event=query_args.event)
    rows, total = await page.fetch(query, "-created_at")
    return page.listing("deliveries", [DeliveryOut(**delivery_body(d)).model_dump(mode="json") for d in rows], total)


@bp.get("/api/v1/webhooks/<webhook_id>/deliveries/<delivery_id>")
@require(PERMISSION)
@validate_response(DeliveryDetail)
async def get_delivery(webhook_id: str, delivery_id: str):
    """One delivery, with its payload and every attempt."""
    hook = await _webhook(webhook_id)
    return DeliveryDetail(**delivery_body(await _delivery(hook, delivery_id), detail=True))


@bp.post("/api/v1/webhooks/<webhook_id>/redeliver")
@require(PERMISSION)
@validate_request(Redeliver)
@validate_response(Redelivered, 202)
async def redeliver(webhook_id: str, data: Redeliver):
    """Send earlier deliveries again as new deliveries (new ids, fresh attempts, the same
    payload and event id, so receivers can tell a repeat)."""
    hook = await _webhook(webhook_id)
    if not hook.is_active:
        raise validation_error("is_active", "the webhook is inactive")
    if (data.delivery_ids is None) == (not data.all_failed):
        raise validation_error("delivery_ids", "give delivery_ids or all_failed: true (not both)")
    query = WebhookDelivery.for_org(hook.org_id).filter(webhook_id=hook.id)
    if data.delivery_ids is not None:
        originals = await query.filter(id__in=data.delivery_ids)
        found = {row.id for row in originals}
        missing = [str(i) for i in data.delivery_ids if i not in found]
        if missing:
            raise not_found(f"Webhook delivery {missing[0]}")
        originals.sort(key=lambda row: data.delivery_ids.index(row.id))
    else:
        originals = await query.filter(status="failed").order_by("created_at").limit(1000)
    hub = current_hub()
    copies = []
    for original in originals:
        copy = await WebhookDelivery.create(
            org_id=hook.org_id, webhook_id=hook.id, event=original.event, event_id=original.event_id,
            payload=original.payload, status="pending",
        )
        await webhooks.schedule(hub, copy, attempt=1, delay=0)
        copies.append(copy.id)
    return Redelivered(redelivered=len(copies), deliveries=copies), 202

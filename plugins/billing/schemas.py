"""Request and response bodies of the billing routes (snake_case, seed 002), and the payloads
of the billing events."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core import EventPayload, Pagination, SnakeModel, Timestamp

PLAN_FIELD = Field(min_length=1, max_length=32, description="a plan of GET /api/v1/plans")
URL_FIELD = dict(min_length=8, max_length=2048)


# -- requests ----------------------------------------------------------------------------------------


class PlanAssignment(SnakeModel):
    plan: str = PLAN_FIELD


class CustomerCreate(SnakeModel):
    email: str | None = Field(None, min_length=3, max_length=254,
                              description="the billing e-mail (default: the caller's)")


class SubscriptionCreate(SnakeModel):
    plan: str = PLAN_FIELD
    payment_method_id: str = Field(min_length=1, max_length=255,
                                   description="a Stripe PaymentMethod (pm_...) collected by Stripe.js")


class SubscriptionChange(SnakeModel):
    plan: str = PLAN_FIELD


class SubscriptionCancel(SnakeModel):
    at_period_end: bool = Field(True, description="true: at the end of the paid period; false: now")


class CheckoutRequest(SnakeModel):
    plan: str = PLAN_FIELD
    success_url: str = Field(**URL_FIELD, description="http(s) URL Stripe returns to after paying")
    cancel_url: str = Field(**URL_FIELD, description="http(s) URL Stripe returns to when the payer gives up")

    @field_validator("success_url", "cancel_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL")
        return value


class StripeEventBody(BaseModel):
    """A Stripe event (`{"id": "evt_...", "type": ..., "data": {"object": ...}}`), read as the
    raw bytes Stripe signed, up to the Hub's body limit."""

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "additionalProperties": True,
        "x-bounded-by": "the request body's size ([http] max_body_bytes); only events with a valid "
                        "Stripe-Signature are read"})


# -- responses ---------------------------------------------------------------------------------------


class PlanLimits(BaseModel):
    requests_per_hour: int | None
    websocket_connections: int | None
    ai_agent_calls_per_day: int | None
    api_calls: int | None
    workflow_executions: int | None
    ai_api_calls: int | None
    ai_tokens: int | None
    storage_mb: int | None
    collaborators: int | None
    recommendations_per_month: int | None


class PlanOut(BaseModel):
    id: str
    name: str
    description: str
    price_monthly_cents: int | None
    currency: str
    purchasable: bool  # sold through Stripe (a price is configured)
    current: bool
    limits: PlanLimits


class PlanList(BaseModel):
    plans: list[PlanOut]
    current_plan: str
    provider: str


class PlanAssigned(BaseModel):
    plan: str
    previous_plan: str
    subscription_id: str  # the organization's local subscription to the plan (GET /api/v1/subscriptions/{id})


class CustomerOut(BaseModel):
    id: str
    stripe_customer_id: str
    email: str | None
    created_at: Timestamp


class SubscriptionOut(BaseModel):
    id: str
    provider: str
    stripe_subscription_id: str | None
    plan: str
    status: str
    cancel_at_period_end: bool
    current_period_start: Timestamp | None
    current_period_end: Timestamp | None
    canceled_at: Timestamp | None
    past_due_since: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionOut]
    total: int
    pagination: Pagination


class CheckoutOut(BaseModel):
    session_id: str
    url: str


class InvoiceOut(BaseModel):
    id: str
    stripe_invoice_id: str
    stripe_subscription_id: str | None
    number: str | None
    status: str
    currency: str
    amount_due: int
    amount_paid: int
    amount_remaining: int
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    period_start: Timestamp | None
    period_end: Timestamp | None
    created: Timestamp | None


class InvoiceList(BaseModel):
    invoices: list[InvoiceOut]
    total: int
    pagination: Pagination


class WebhookReceived(BaseModel):
    received: bool
    duplicate: bool  # the event id was processed before: nothing changed


# -- events ------------------------------------------------------------------------------------------


class PlanChanged(EventPayload):
    plan: str
    previous_plan: str
    reason: str  # assigned | subscription | checkout | grace_expired | canceled | payment_recovered


class SubscriptionEvent(EventPayload):
    id: str
    stripe_subscription_id: str | None
    plan: str
    status: str
    cancel_at_period_end: bool
    current_period_end: str | None


class InvoiceEvent(EventPayload):
    id: str
    stripe_invoice_id: str
    status: str
    amount_due: int
    amount_paid: int
    currency: str
    hosted_invoice_url: str | None


class CustomerEvent(EventPayload):
    id: str
    stripe_customer_id: str


EVENT_TYPES: list[tuple[str, type[EventPayload], str]] = [
    ("billing.plan.changed", PlanChanged, "The organization moved to another plan; its limits apply at once"),
    ("billing.customer.created", CustomerEvent, "The organization's Stripe customer was created"),
    ("billing.subscription.created", SubscriptionEvent, "A subscription started"),
    ("billing.subscription.updated", SubscriptionEvent, "A subscription changed plan, status or renewal"),
    ("billing.subscription.canceled", SubscriptionEvent, "A subscription ended"),
    ("billing.invoice.paid", InvoiceEvent, "An invoice was paid"),
    ("billing.invoice.payment_failed", InvoiceEvent, "Paying an invoice failed; the grace period runs"),
]

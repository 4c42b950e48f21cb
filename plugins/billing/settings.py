"""Settings of the billing plugin (`[plugins.billing]` in config/hub.toml,
`HUB_PLUGINS__BILLING__<KEY>` in the environment), and the plan catalogue.

The catalogue is the one place a plan's limits live: `hub_plan_limits` (monthly quotas, the
WebSocket connection limit) and `hub_rate_limits` (requests per hour, AI agent calls per day)
read it. `[plugins.billing.plans.<name>]` in config changes a built-in plan field by field or
adds a plan; a limit left unset (None) is not the catalogue's: the Hub's config applies
(`[quotas.plans]`, `[rate_limits]`, `[websocket.connection_limits]`), i.e. unlimited for quotas.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from core import CommaList

PLAN_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"
# Monthly units (hub_plan_limits) and the catalogue field each comes from.
MONTHLY_UNITS = {
    "api_calls": "api_calls",
    "workflow_executions": "workflow_executions",
    "ai_api_calls": "ai_api_calls",
    "ai_tokens": "ai_tokens",
    "storage_mb": "storage_mb",
    "collaborators": "collaborators",
    "recommendations_served": "recommendations_per_month",  # the recommender's metered unit
    "websocket_connections": "websocket_connections",  # read by the WebSocket gateway (open at once)
}
Limit = int | None


class Plan(BaseModel):
    """One plan: what it costs, which Stripe price sells it, and every limit the seeds name."""

    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=500)
    price_monthly_cents: int | None = Field(None, ge=0)  # None: on request (no self-service checkout)
    currency: str = Field("usd", pattern=r"^[a-z]{3}$")
    stripe_price_id: str | None = Field(None, max_length=255)  # the recurring Stripe price of this plan
    # seed 004 "Rate Limits & Quotas"
    requests_per_hour: Limit = Field(None, ge=1)  # per user on /api/*; None: the [rate_limits] rules
    websocket_connections: Limit = Field(None, ge=0)  # open sockets per organization
    ai_agent_calls_per_day: Limit = Field(None, ge=1)  # POST /api/agents/{id}/execute per organization
    # seed 001 "Usage Quotas" (monthly) and seed 003's API calls and recommendations
    api_calls: Limit = Field(None, ge=0)
    workflow_executions: Limit = Field(None, ge=0)
    ai_api_calls: Limit = Field(None, ge=0)
    ai_tokens: Limit = Field(None, ge=0)
    storage_mb: Limit = Field(None, ge=0)
    collaborators: Limit = Field(None, ge=0)
    recommendations_per_month: Limit = Field(None, ge=0)

    def monthly_limits(self) -> dict[str, int]:
        """The plan's monthly quotas per metered unit; an unset one is left to the Hub's config."""
        return {unit: getattr(self, field) for unit, field in MONTHLY_UNITS.items() if getattr(self, field) is not None}

    def rate_rules(self) -> dict[str, dict[str, Any]]:
        """The plan's rate-limit rules (GCRA): an hour's requests at once, refilled over the hour."""
        rules: dict[str, dict[str, Any]] = {}
        if self.requests_per_hour:
            rules["/api/*"] = {"requests_per_minute": math.ceil(self.requests_per_hour / 60),
                               "burst_size": self.requests_per_hour, "scope": "user"}
        if self.ai_agent_calls_per_day:
            rules["/api/agents/*/execute"] = {
                "requests_per_minute": math.ceil(self.ai_agent_calls_per_day / 1440),
                "burst_size": self.ai_agent_calls_per_day, "scope": "organization"}
        return rules


DEFAULT_PLANS: dict[str, dict[str, Any]] = {
    "free": dict(
        name="Free", description="For trying the Hub out", price_monthly_cents=0,
        requests_per_hour=1_000, websocket_connections=5, ai_agent_calls_per_day=100,
        api_calls=100_000, workflow_executions=1_000, ai_api_calls=1_000, ai_tokens=200_000,
        storage_mb=500, collaborators=3, recommendations_per_month=100_000,
    ),
    # The plan the core gives a new organization (seed 003's name): no limit of its own, so the
    # Hub's configuration applies ([rate_limits], [quotas.plans], [websocket.connection_limits])
    # until an admin or a subscription moves the organization.
    "starter": dict(
        name="Starter", description="New organizations, on the Hub's configured limits",
    ),
    "pro": dict(
        name="Pro", description="For teams in production", price_monthly_cents=4_900,
        requests_per_hour=10_000, websocket_connections=25, ai_agent_calls_per_day=1_000,
        api_calls=10_000_000, workflow_executions=100_000, ai_api_calls=50_000, ai_tokens=20_000_000,
        storage_mb=50_000, collaborators=25, recommendations_per_month=10_000_000,
    ),
    "enterprise": dict(
        name="Enterprise", description="Volume, on contract", price_monthly_cents=None,
        requests_per_hour=100_000, websocket_connections=100, ai_agent_calls_per_day=10_000,
        workflow_executions=1_000_000,
    ),
}


class BillingSettings(BaseModel):
    # "local": no payment provider, an admin assigns plans; "stripe": subscriptions, checkout,
    # invoices and the webhook through Stripe (secret_key and webhook_secret needed)
    provider: Literal["local", "stripe"] = "local"
    secret_key: SecretStr | None = None  # sk_live_... / sk_test_... (or a restricted key rk_...)
    webhook_secret: SecretStr | None = None  # whsec_... of the webhook endpoint
    api_base: str | None = Field(None, pattern=r"^https?://[^\s]+$")  # default: https://api.stripe.com
    webhook_tolerance_seconds: int = Field(300, ge=1, le=86_400)  # older signed timestamps are refused
    # a subscription past_due keeps its plan this long after the first failed payment, then `fallback_plan`
    grace_period_hours: float = Field(72, ge=0, le=24 * 90)
    fallback_plan: str = Field("free", pattern=PLAN_NAME)  # after the grace period and on cancellation
    grace_check_seconds: float = Field(60, gt=0, le=86_400)  # how often each process looks for expired grace
    # hosts checkout's success_url / cancel_url may point at ([]: any http(s) URL)
    checkout_allowed_hosts: CommaList = Field(default_factory=list)
    # the subscription item parameter naming a plan's price: "price" (Stripe's API) or "plan"
    # (the legacy name, which older emulators such as localstripe speak)
    price_parameter: Literal["price", "plan"] = "price"
    # how a plan change is charged: unset = Stripe's default (create_prorations: the difference on
    # the next invoice); "always_invoice" charges it at once; "none" does not prorate
    proration_behavior: Literal["create_prorations", "always_invoice", "none"] | None = None
    request_timeout_seconds: float = Field(20, gt=0, le=120)
    # metered usage reported to Stripe as meter events: the Hub's metered unit -> the `event_name`
    # of a Stripe meter, e.g. {api_calls = "hub_api_calls", ai_tokens = "hub_ai_tokens"}
    # ({}: nothing is reported). Each organization with a Stripe customer is reported once
    # every `meter_interval_seconds`, by a job on the workers.
    meter_events: dict[str, str] = Field(default_factory=dict)
    meter_interval_seconds: float = Field(3600, ge=1, le=86_400)
    plans: dict[str, Plan] = Field(default_factory=dict)

    @field_validator("meter_events")
    @classmethod
    def _meter_events(cls, meter_events: dict[str, str]) -> dict[str, str]:
        import re

        for unit, event_name in meter_events.items():
            if not re.match(r"^[a-z][a-z0-9_]{0,63}$", unit):
                raise ValueError(f"meter_events: {unit!r} is not a metered unit (lower_snake_case)")
            if not 1 <= len(event_name) <= 100:
                raise ValueError(f"meter_events: the event_name of {unit!r} must have 1 to 100 characters")
        return meter_events

    @model_validator(mode="before")
    @classmethod
    def _merge_plans(cls, values: Any) -> Any:
        """Config plans change the built-in ones field by field, or add plans."""
        if not isinstance(values, dict):
            return values
        given = values.get("plans") or {}
        if not isinstance(given, dict):
            return values
        merged = {name: dict(fields) for name, fields in DEFAULT_PLANS.items()}
        for name, fields in given.items():
            fields = fields.model_dump(exclude_unset=True) if isinstance(fields, BaseModel) else dict(fields or {})
            merged[name] = {**merged.get(name, {}), **fields}
        merged = {name: fields for name, fields in merged.items() if fields.get("enabled", True) is not False}
        for fields in merged.values():
            fields.pop("enabled", None)
        return {**values, "plans": merged}

    @field_validator("plans")
    @classmethod
    def _plan_names(cls, plans: dict[str, Plan]) -> dict[str, Plan]:
        import re

        for name in plans:
            if not re.match(PLAN_NAME, name):
                raise ValueError(f"plan name {name!r} must be lower case letters, digits, - or _, at most 32")
        return plans

    @model_validator(mode="after")
    def _checks(self) -> "BillingSettings":
        if self.fallback_plan not in self.plans:
            raise ValueError(f"fallback_plan {self.fallback_plan!r} is not a plan of the catalogue")
        return self

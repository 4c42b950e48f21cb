"""LLM-callable functions (hub_functions): an agent reads the organization's plan, its usage
against every limit, and its subscription, with the caller's rights (billing.read)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core import current_hub, not_found
from plugins.billing import service
from plugins.billing.models import Subscription


class NoArgs(BaseModel):
    model_config = {"extra": "forbid"}


class SubscriptionArgs(BaseModel):
    model_config = {"extra": "forbid"}

    subscription_id: str | None = Field(None, max_length=64,
                                        description="A subscription's id; none: the current subscription")


async def get_billing_usage(ctx, args: NoArgs) -> dict:
    hub = current_hub()
    plan = await hub.tenants.plan(ctx.org_id)
    return {"plan": plan, "limits": await service.usage_limits(hub, ctx.org_id, plan) or {}}


async def get_subscription(ctx, args: SubscriptionArgs) -> dict:
    if args.subscription_id is not None:
        row = await Subscription.get_for_org(ctx.org_id, args.subscription_id, "Subscription")
    else:  # the live one: Stripe's, else the plan an admin assigned
        row = await Subscription.for_org(ctx.org_id).filter(status__in=service.LIVE + ("incomplete",)) \
            .order_by("-created_at", "-id").first()
        if row is None:
            raise not_found("Subscription")
    return service.subscription_body(row)


FUNCTIONS = [
    ("get_billing_usage", "The organization's plan and its usage against every limit of it (monthly quotas, "
     "seats, storage, open WebSocket connections, AI agent calls today; used null: not measured)",
     NoArgs, "billing.read", get_billing_usage),
    ("get_subscription", "The organization's current subscription (plan, status, renewal, cancellation), or "
     "one by id", SubscriptionArgs, "billing.read", get_subscription),
]

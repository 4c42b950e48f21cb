"""Billing's analytics metrics (`hub_metrics`, served by the analytics plugin): MRR (the monthly
price of every live subscription's plan, from the plan catalogue) and subscriptions by plan."""

from __future__ import annotations

from typing import Any

from plugins.billing.models import Subscription

PAYING = ("active", "trialing", "past_due")


def register_metrics(register, hub: Any) -> None:
    plans = hub.plugin_settings("billing").plans
    prices = {name: plan.price_monthly_cents / 100 for name, plan in plans.items() if plan.price_monthly_cents}
    register("mrr", "MRR", model=Subscription, aggregate="sum", value="plan", value_map=prices,
             where={"status": list(PAYING)}, dimensions={"plan": "Plan", "provider": "Provider"}, format="currency",
             description="Monthly recurring revenue of live subscriptions (active, trialing, past due) started in "
                         "the period: each plan's monthly price; no time range gives today's MRR")
    register("subscriptions", "Subscriptions", model=Subscription,
             dimensions={"plan": "Plan", "status": "Status", "provider": "Provider"},
             description="Subscriptions started in the period, by plan and status")

"""Billing (seed 002 "Billing Service"; plans of seeds 001, 003 and 004): a plan catalogue that
drives every limit (rate limits, monthly quotas, WebSocket connections) through the Hub's
`hub_plan_limits` / `hub_rate_limits` hooks, Stripe customers, subscriptions, checkout and
invoices through the official `stripe` SDK, and Stripe's signed webhook. The `local` provider
(the default) needs no account: an admin assigns plans."""

from __future__ import annotations

mount = "/"


def hub_config():
    from plugins.billing.settings import BillingSettings

    return BillingSettings


def hub_models():
    return ["plugins.billing.models"]


def hub_routes(app):
    from plugins.billing.routes import bp

    return bp


def hub_permissions(register):
    register("billing.read", "See plans, subscriptions and invoices", "read")
    register("billing.manage", "Change the plan, subscribe, check out and cancel", "admin")


def hub_error_codes(register):
    register("BILLING_PROVIDER_NOT_CONFIGURED", 409, "Stripe is not configured on this Hub (local provider)")
    register("BILLING_MANAGED_BY_STRIPE", 409, "Plans follow the Stripe subscription; they are not assigned by hand")
    register("BILLING_REQUEST_REFUSED", 400, "Stripe refused the request (e.g. an unknown payment method)")
    register("BILLING_PROVIDER_UNAVAILABLE", 502, "Stripe could not be reached or refused the Hub's credentials")
    register("PAYMENT_FAILED", 402, "The payment method was declined")
    register("INVALID_SIGNATURE", 400, "A webhook whose signature is missing, wrong or too old")


def hub_event_types(register):
    from plugins.billing.schemas import EVENT_TYPES

    for name, payload, description in EVENT_TYPES:
        register(name, payload, description, permission="billing.read")


def hub_plan_limits(plan, hub):
    entry = hub.plugin_settings("billing").plans.get(plan)
    return entry.monthly_limits() if entry is not None else None


def hub_rate_limits(plan, hub):
    entry = hub.plugin_settings("billing").plans.get(plan)
    return entry.rate_rules() if entry is not None else None


def hub_functions(register):
    from plugins.billing.functions import FUNCTIONS

    for name, description, args_model, permission, func in FUNCTIONS:
        register(name, description, args_model, permission, func)


def hub_commands(register):
    from plugins.billing.commands import register_commands

    register_commands(register)


def hub_jobs(register):
    from plugins.billing.jobs import report_usage
    from plugins.billing.service import REPORT_JOB

    # attempts: a failed report stays pending and is sent again, unchanged, by the next one
    register(REPORT_JOB, report_usage, max_attempts=5, concurrency_per_org=1)


async def hub_usage_limits(org_id, plan, hub):
    from plugins.billing.service import usage_limits

    return await usage_limits(hub, org_id, plan)


async def hub_startup(hub):
    from plugins.billing.service import enqueue_usage_reports, expire_grace

    def interval() -> float:  # read at each look: a changed setting applies at the next one
        return hub.plugin_settings("billing").grace_check_seconds

    def meter_interval() -> float:
        return hub.plugin_settings("billing").meter_interval_seconds

    # every process looks for past_due subscriptions whose grace period ran out
    hub.run_every("billing.grace", interval, lambda: expire_grace(hub), start_after=interval())
    # ... and for organizations whose metered usage is due to Stripe (meter_events; off when empty)
    hub.run_every("billing.meter", meter_interval, lambda: enqueue_usage_reports(hub), start_after=meter_interval())


async def hub_shutdown(hub):
    from plugins.billing.service import close_client

    await close_client(hub)


def hub_metrics(register, hub):
    from plugins.billing.metrics import register_metrics

    register_metrics(register, hub)

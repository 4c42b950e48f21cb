"""Billing routes (seed 002 "Billing Service", plans of seeds 001/003/004), at the root mount:

    GET  /api/v1/plans                        the catalogue and the current plan      billing.read
    PUT  /api/v1/billing/plan                 assign a plan (local provider)          billing.manage
    POST /api/v1/customers                    the Stripe customer (idempotent)        billing.manage
    POST /api/v1/subscriptions                subscribe {plan, payment_method_id}     billing.manage
    GET  /api/v1/subscriptions                the organization's subscriptions        billing.read
    GET  /api/v1/subscriptions/{id}           one subscription                        billing.read
    PUT  /api/v1/subscriptions/current        change plan (Stripe's proration)        billing.manage
    POST /api/v1/subscriptions/current/cancel cancel, at period end by default        billing.manage
    POST /api/v1/checkout                     a Stripe Checkout session               billing.manage
    GET  /api/v1/invoices                     invoices with amounts and links         billing.read
    GET  /api/v1/invoices/{id}                one invoice                             billing.read
    POST /api/v1/webhooks/stripe              Stripe's events (signed)                public
"""

from __future__ import annotations

from quart import Blueprint, jsonify, request
from quart_schema import document_request, document_response, validate_request, validate_response

from core import (
    SkipQuery,
    current_hub,
    current_principal,
    document_errors,
    public,
    quota_exempt,
    require,
    validate_query,
)
from plugins.billing import service
from plugins.billing.models import Customer, Invoice, Subscription
from plugins.billing.schemas import (
    CheckoutOut,
    CheckoutRequest,
    CustomerCreate,
    CustomerOut,
    InvoiceList,
    InvoiceOut,
    PlanAssigned,
    PlanAssignment,
    PlanList,
    StripeEventBody,
    SubscriptionCancel,
    SubscriptionChange,
    SubscriptionCreate,
    SubscriptionList,
    SubscriptionOut,
    WebhookReceived,
)

bp = Blueprint("billing", __name__)


def invoice_body(row: Invoice) -> dict:
    return {
        "id": str(row.id), "stripe_invoice_id": row.stripe_invoice_id,
        "stripe_subscription_id": row.stripe_subscription_id, "number": row.number, "status": row.status,
        "currency": row.currency, "amount_due": row.amount_due, "amount_paid": row.amount_paid,
        "amount_remaining": row.amount_remaining, "hosted_invoice_url": row.hosted_invoice_url,
        "invoice_pdf": row.invoice_pdf,
        "period_start": _iso(row.period_start), "period_end": _iso(row.period_end),
        "created": _iso(row.stripe_created),
    }


def _iso(value):
    from core import iso

    return iso(value) if value else None


def customer_body(row: Customer) -> CustomerOut:
    return CustomerOut(id=str(row.id), stripe_customer_id=row.stripe_customer_id, email=row.email,
                       created_at=row.created_at)


@bp.get("/api/v1/plans")
@require("billing.read")
@quota_exempt
@validate_response(PlanList)
async def billing_list_plans():
    """The plan catalogue.

    Every plan with its price and every limit it sets (requests per hour, WebSocket connections,
    AI agent calls per day, monthly quotas), and the organization's current plan."""
    hub = current_hub()
    current = await hub.tenants.plan(current_principal().org_id)
    plans = [
        {"id": name, "name": plan.name, "description": plan.description,
         "price_monthly_cents": plan.price_monthly_cents, "currency": plan.currency,
         "purchasable": bool(plan.stripe_price_id) and service.settings(hub).provider == "stripe",
         "current": name == current,
         "limits": plan.model_dump(include={
             "requests_per_hour", "websocket_connections", "ai_agent_calls_per_day", "api_calls",
             "workflow_executions", "ai_api_calls", "ai_tokens", "storage_mb", "collaborators",
             "recommendations_per_month"})}
        for name, plan in service.catalogue(hub).items()
    ]
    return PlanList(plans=plans, current_plan=current, provider=service.settings(hub).provider)


@bp.put("/api/v1/billing/plan")
@require("billing.manage")
@quota_exempt
@validate_request(PlanAssignment)
@validate_response(PlanAssigned)
@document_errors(409)
async def billing_assign_plan(data: PlanAssignment):
    """Assign the organization's plan.

    With the local provider (no payment provider) an admin puts the organization on any plan of
    the catalogue; its limits apply from the next request in every process, and it is the
    organization's (local) subscription until the next assignment. With Stripe, plans follow
    the subscription (409 BILLING_MANAGED_BY_STRIPE)."""
    hub = current_hub()
    previous, subscription = await service.assign_plan(hub, current_principal().org_id, data.plan)
    return PlanAssigned(plan=data.plan, previous_plan=previous, subscription_id=str(subscription.id))


@bp.post("/api/v1/customers")
@require("billing.manage")
@quota_exempt
@validate_request(CustomerCreate)
@validate_response(CustomerOut, 201)
@validate_response(CustomerOut, 200)
@document_errors(409, 502)
async def billing_create_customer(data: CustomerCreate):
    """Create the organization's Stripe customer.

    One per organization: 201 when created, 200 with the existing one afterwards. 409 when the
    Hub has no Stripe provider configured."""
    principal = current_principal()
    customer, created = await service.ensure_customer(current_hub(), principal.org_id, data.email or principal.email)
    return customer_body(customer), 201 if created else 200


@bp.post("/api/v1/subscriptions")
@require("billing.manage")
@quota_exempt
@validate_request(SubscriptionCreate)
@validate_response(SubscriptionOut, 201)
@document_errors(402, 409, 502)
async def billing_create_subscription(data: SubscriptionCreate):
    """Subscribe the organization to a plan.

    Attaches the payment method (collected by Stripe.js) to the organization's Stripe customer
    and starts a subscription to the plan's price; the plan applies once Stripe says it is
    active. 409 when a subscription exists already or Stripe is not configured, 402 when the
    card is declined."""
    principal = current_principal()
    row = await service.create_subscription(current_hub(), principal.org_id, principal.email, data.plan,
                                            data.payment_method_id)
    return service.subscription_body(row), 201


@bp.get("/api/v1/subscriptions")
@require("billing.read")
@quota_exempt
@validate_query(SkipQuery)
@document_response(SubscriptionList)
async def billing_list_subscriptions(query_args: SkipQuery):
    """List the organization's subscriptions.

    Newest first, `skip`/`limit` (seed 002), with status, plan, period and cancellation."""
    page = query_args.page(100)
    rows, total = await page.fetch(Subscription.for_org(current_principal().org_id), "-created_at")
    return page.listing("subscriptions", [service.subscription_body(row) for row in rows], total)


@bp.get("/api/v1/subscriptions/<subscription_id>")
@require("billing.read")
@quota_exempt
@validate_response(SubscriptionOut)
async def billing_get_subscription(subscription_id: str):
    """Get a subscription.

    One of the organization's subscriptions by its id (another organization's is 404)."""
    row = await Subscription.get_for_org(current_principal().org_id, subscription_id, "Subscription")
    return service.subscription_body(row)


@bp.put("/api/v1/subscriptions/current")
@require("billing.manage")
@quota_exempt
@validate_request(SubscriptionChange)
@validate_response(SubscriptionOut)
@document_errors(404, 409, 502)
async def billing_change_subscription(data: SubscriptionChange):
    """Change the subscription's plan.

    Upgrade or downgrade the organization's current subscription to another plan; Stripe
    prorates the difference on the next invoice. 404 without a subscription."""
    row = await service.change_subscription(current_hub(), current_principal().org_id, data.plan)
    return service.subscription_body(row)


@bp.post("/api/v1/subscriptions/current/cancel")
@require("billing.manage")
@quota_exempt
@validate_request(SubscriptionCancel)
@validate_response(SubscriptionOut)
@document_errors(404, 409, 502)
async def billing_cancel_subscription(data: SubscriptionCancel):
    """Cancel the subscription.

    By default at the end of the paid period (the plan stays until then); `at_period_end:
    false` ends it now and the organization drops to the fallback plan (free)."""
    row = await service.cancel_subscription(current_hub(), current_principal().org_id, data.at_period_end)
    return service.subscription_body(row)


@bp.post("/api/v1/checkout")
@require("billing.manage")
@quota_exempt
@validate_request(CheckoutRequest)
@validate_response(CheckoutOut)
@document_errors(409, 502)
async def billing_create_checkout(data: CheckoutRequest):
    """Create a Stripe Checkout session.

    For a subscription to `plan`; send the payer to `url`. When the payment completes, Stripe's
    checkout.session.completed event moves the organization to the plan. The URLs must be
    http(s) (and on `checkout_allowed_hosts` when configured)."""
    principal = current_principal()
    body = await service.create_checkout(current_hub(), principal.org_id, principal.email, data.plan,
                                         data.success_url, data.cancel_url)
    return CheckoutOut(**body)


@bp.get("/api/v1/invoices")
@require("billing.read")
@quota_exempt
@validate_query(SkipQuery)
@document_response(InvoiceList)
async def billing_list_invoices(query_args: SkipQuery):
    """List the organization's invoices.

    Newest first, `skip`/`limit` (seed 002): amounts in the currency's smallest unit, status,
    Stripe's hosted page and PDF."""
    page = query_args.page(100)
    rows, total = await page.fetch(Invoice.for_org(current_principal().org_id), "-stripe_created", "-created_at")
    return page.listing("invoices", [invoice_body(row) for row in rows], total)


@bp.get("/api/v1/invoices/<invoice_id>")
@require("billing.read")
@quota_exempt
@validate_response(InvoiceOut)
async def billing_get_invoice(invoice_id: str):
    """Get an invoice.

    One of the organization's invoices by its id (another organization's is 404): amounts in
    the currency's smallest unit, status, Stripe's hosted page and PDF."""
    row = await Invoice.get_for_org(current_principal().org_id, invoice_id, "Invoice")
    return invoice_body(row)


@bp.post("/api/v1/webhooks/stripe")
@public
@document_request(StripeEventBody)
@document_response(WebhookReceived)
@document_errors(400, 409)
async def billing_stripe_webhook():
    """Receive a Stripe event.

    Verified with Stripe's SDK against `webhook_secret` (`Stripe-Signature`, timestamps within
    `webhook_tolerance_seconds`); a bad or missing signature is 400 and changes nothing. Each event
    id is processed once (a replay answers 200, `duplicate: true`); older events never move a
    subscription back."""
    payload = await request.get_data(cache=False)
    duplicate = await service.receive(current_hub(), payload, request.headers.get("Stripe-Signature"))
    return jsonify({"received": True, "duplicate": duplicate})

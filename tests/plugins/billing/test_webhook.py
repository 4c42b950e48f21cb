"""POST /api/v1/webhooks/stripe: signed by Stripe's SDK (WebhookSignature.generate_signature_header),
verified with Webhook.construct_event; replays, bad and stale signatures, events out of order,
a failed payment, the grace period and the downgrade; the plan follows on the next request."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from plugins.billing import service
from plugins.billing.models import StripeEvent, Subscription
from tests.plugins.billing.conftest import signed, stripe_event

WEBHOOK = "/api/v1/webhooks/stripe"


async def post_event(client, event: dict, status: int = 200, **sign) -> dict:
    payload, headers = signed(event, **sign)
    response = await client.post(WEBHOOK, data=payload, headers=headers)
    body = await response.get_json()
    assert response.status_code == status, body
    return body


def subscription(org_id: str, plan: str = "pro", status: str = "active", sub_id: str | None = None, **extra) -> dict:
    now = int(time.time())
    return {"id": sub_id or "sub_" + uuid.uuid4().hex[:14], "object": "subscription", "customer": None,
            "status": status, "cancel_at_period_end": False, "current_period_start": now,
            "current_period_end": now + 30 * 86400, "created": now,
            "metadata": {"org_id": org_id, "plan": plan}, **extra}


def checkout_completed(org_id: str, plan: str = "pro") -> dict:
    return {"id": "cs_test_" + uuid.uuid4().hex, "object": "checkout.session", "mode": "subscription",
            "client_reference_id": org_id, "customer": "cus_" + uuid.uuid4().hex[:14],
            "subscription": "sub_" + uuid.uuid4().hex[:14], "payment_status": "paid",
            "customer_details": {"email": "payer@example.com"}, "metadata": {"org_id": org_id, "plan": plan}}


async def test_checkout_completed_moves_the_organization_to_pro_on_the_next_request(
        client, api, events, with_webhook_secret):
    response, _ = await api.request("GET", "/api/v1/plans")
    assert response.headers["X-RateLimit-Limit"] == "500"
    event = stripe_event("checkout.session.completed", checkout_completed(api.org_id))
    assert await post_event(client, event) == {"received": True, "duplicate": False}

    response, body = await api.request("GET", "/api/v1/plans")
    assert body["current_plan"] == "pro"
    assert response.headers["X-RateLimit-Limit"] == "10000"  # pro: 10,000 requests an hour
    listed = (await api.get("/api/v1/subscriptions"))["subscriptions"]
    assert [(s["plan"], s["status"], s["provider"]) for s in listed] == [("pro", "active", "stripe")]
    assert [e.data["reason"] for e in events.of(api.org_id, "billing.plan.changed")] == ["checkout"]
    assert events.of(api.org_id, "billing.subscription.created")
    assert events.of(api.org_id, "billing.customer.created")

    # a replay is a 200 and a no-op
    assert await post_event(client, event) == {"received": True, "duplicate": True}
    assert len(events.of(api.org_id, "billing.subscription.created")) == 1
    assert await StripeEvent.filter(event_id=event["id"]).count() == 1


async def test_bad_missing_or_stale_signatures_are_refused_and_change_nothing(client, api, with_webhook_secret):
    event = stripe_event("checkout.session.completed", checkout_completed(api.org_id))
    await post_event(client, event, status=400, secret="whsec_wrong")
    await post_event(client, event, status=400, timestamp=int(time.time()) - 301)  # tolerance: 300 s
    payload, headers = signed(event)
    response = await client.post(WEBHOOK, data=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert (await response.get_json())["error"]["code"] == "INVALID_SIGNATURE"
    tampered = payload.replace('"pro"', '"enterprise"')
    response = await client.post(WEBHOOK, data=tampered, headers=headers)
    assert response.status_code == 400
    assert not await StripeEvent.filter(event_id=event["id"]).exists()
    assert (await api.get("/api/v1/plans"))["current_plan"] == "starter"
    assert (await api.get("/api/v1/subscriptions"))["total"] == 0
    # within the tolerance it is accepted
    await post_event(client, event, timestamp=int(time.time()) - 250)
    assert (await api.get("/api/v1/plans"))["current_plan"] == "pro"


async def test_without_a_webhook_secret_nothing_is_accepted(client, api):
    event = stripe_event("checkout.session.completed", checkout_completed(api.org_id))
    body = await post_event(client, event, status=409)
    assert body["error"]["code"] == "BILLING_PROVIDER_NOT_CONFIGURED"


async def test_events_out_of_order_never_move_a_subscription_back(client, api, events, with_webhook_secret):
    now = int(time.time())
    sub = subscription(api.org_id, "enterprise")
    await post_event(client, stripe_event("customer.subscription.updated", sub, created=now))
    assert (await api.get("/api/v1/plans"))["current_plan"] == "enterprise"
    # an older state (pro) arrives later: ignored
    older = {**sub, "metadata": {"org_id": api.org_id, "plan": "pro"}}
    await post_event(client, stripe_event("customer.subscription.created", older, created=now - 60))
    assert (await api.get("/api/v1/plans"))["current_plan"] == "enterprise"
    # deletion, then an update that Stripe sent before it: still canceled, back on free
    await post_event(client, stripe_event("customer.subscription.deleted", {**sub, "status": "canceled"},
                                          created=now + 10))
    await post_event(client, stripe_event("customer.subscription.updated", sub, created=now + 5))
    rows = (await api.get("/api/v1/subscriptions"))["subscriptions"]
    assert [(row["status"], row["plan"]) for row in rows] == [("canceled", "enterprise")]
    assert (await api.get("/api/v1/plans"))["current_plan"] == "free"
    assert [e.type for e in events.of(api.org_id) if e.type.startswith("billing.subscription")] == [
        "billing.subscription.created", "billing.subscription.canceled"]


async def test_payment_failure_keeps_the_plan_for_the_grace_period_then_drops_to_free(
        client, api, events, hub, with_webhook_secret):
    now = int(time.time())
    sub = subscription(api.org_id, "pro")
    await post_event(client, stripe_event("customer.subscription.created", sub, created=now - 100))
    invoice = {"id": "in_" + uuid.uuid4().hex[:14], "object": "invoice", "subscription": sub["id"],
               "customer": None, "status": "open", "currency": "usd", "amount_due": 4900, "amount_paid": 0,
               "amount_remaining": 4900, "hosted_invoice_url": "https://invoice.stripe.com/i/x",
               "invoice_pdf": "https://pay.stripe.com/invoice/x/pdf", "created": now - 50, "number": "HUB-0001"}
    await post_event(client, stripe_event("invoice.payment_failed", invoice, created=now - 50))
    row = await Subscription.get(stripe_subscription_id=sub["id"])
    assert row.status == "past_due" and row.past_due_since is not None
    assert (await api.get("/api/v1/plans"))["current_plan"] == "pro"  # within the grace period
    assert events.of(api.org_id, "billing.invoice.payment_failed")[0].data["amount_due"] == 4900

    grace = timedelta(hours=service.settings(hub).grace_period_hours)
    await service.expire_grace(hub, now=row.past_due_since + grace - timedelta(minutes=1))
    assert (await api.get("/api/v1/plans"))["current_plan"] == "pro"
    await service.expire_grace(hub, now=row.past_due_since + grace + timedelta(seconds=1))
    response, body = await api.request("GET", "/api/v1/plans")
    assert body["current_plan"] == "free"
    assert response.headers["X-RateLimit-Limit"] == "1000"
    assert events.of(api.org_id, "billing.plan.changed")[-1].data == {
        "plan": "free", "previous_plan": "pro", "reason": "grace_expired"}

    # the invoice is paid after all: back on pro
    paid = {**invoice, "status": "paid", "amount_paid": 4900, "amount_remaining": 0}
    await post_event(client, stripe_event("invoice.paid", paid, created=now))
    assert (await api.get("/api/v1/plans"))["current_plan"] == "pro"
    assert events.of(api.org_id, "billing.plan.changed")[-1].data["reason"] == "payment_recovered"
    invoices = (await api.get("/api/v1/invoices"))["invoices"]
    assert [(i["status"], i["amount_due"], i["amount_paid"], i["number"], i["invoice_pdf"]) for i in invoices] == [
        ("paid", 4900, 4900, "HUB-0001", "https://pay.stripe.com/invoice/x/pdf")]


async def test_one_organizations_billing_is_invisible_to_another(client, api, other_api, api_of, with_webhook_secret):
    sub = subscription(api.org_id, "pro")
    await post_event(client, stripe_event("customer.subscription.created", sub))
    invoice = {"id": "in_" + uuid.uuid4().hex[:14], "object": "invoice", "subscription": sub["id"],
               "status": "paid", "currency": "usd", "amount_due": 4900, "amount_paid": 4900, "created": 1}
    await post_event(client, stripe_event("invoice.paid", invoice))
    assert (await api.get("/api/v1/invoices"))["total"] == 1
    assert (await other_api.get("/api/v1/invoices"))["total"] == 0
    assert (await other_api.get("/api/v1/subscriptions"))["total"] == 0
    assert (await other_api.get("/api/v1/plans"))["current_plan"] == "starter"
    # an event naming the other organization for this one's subscription changes only this one
    moved = {**sub, "metadata": {"org_id": other_api.org_id, "plan": "enterprise"}}
    await post_event(client, stripe_event("customer.subscription.updated", moved))
    assert (await other_api.get("/api/v1/plans"))["current_plan"] == "starter"
    assert (await other_api.get("/api/v1/subscriptions"))["total"] == 0
    # members read, only admins change
    viewer = await api_of(role="viewer")
    assert (await viewer.get("/api/v1/invoices"))["total"] == 1
    member = await api_of(role="member")
    await member.error("POST", "/api/v1/subscriptions", {"plan": "pro", "payment_method_id": "pm_1"},
                       status=403, code="FORBIDDEN")
    await member.error("POST", "/api/v1/subscriptions/current/cancel", {}, status=403, code="FORBIDDEN")


async def test_unknown_organizations_and_event_types_are_recorded_and_ignored(client, api, with_webhook_secret):
    ghost = subscription(str(uuid.uuid4()))
    await post_event(client, stripe_event("customer.subscription.created", ghost))
    assert not await Subscription.filter(stripe_subscription_id=ghost["id"]).exists()
    other = stripe_event("charge.refunded", {"id": "ch_1", "object": "charge"})
    assert await post_event(client, other) == {"received": True, "duplicate": False}
    assert await post_event(client, other) == {"received": True, "duplicate": True}

"""The Stripe provider through the official SDK against localstripe (a Stripe emulator on the
loopback): customers, subscriptions, plan changes, cancellation and invoices; checkout against
a fake of Stripe's /v1/checkout/sessions; localstripe's own events, signed, into the webhook."""

from __future__ import annotations

import json

from tests.plugins.billing.conftest import signed

WEBHOOK = "/api/v1/webhooks/stripe"


def card(stripe_client, number: str = "4242424242424242") -> str:
    return stripe_client.v1.payment_methods.create(params={
        "type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}).id


async def test_one_customer_per_organization(api, events, stripe_client, with_localstripe):
    first = await api.post("/api/v1/customers", {"email": "billing@example.com"}, status=201)
    again = await api.post("/api/v1/customers", {}, status=200)
    assert again["id"] == first["id"] and again["stripe_customer_id"] == first["stripe_customer_id"]
    customer = stripe_client.v1.customers.retrieve(first["stripe_customer_id"])
    assert customer.email == "billing@example.com" and customer.metadata["org_id"] == api.org_id
    assert len(events.of(api.org_id, "billing.customer.created")) == 1


async def test_subscribe_upgrade_downgrade_cancel_and_invoices(api, other_api, api_of, events, stripe_client,
                                                               stripe_prices, with_localstripe):
    member = await api_of(role="member")
    await member.error("POST", "/api/v1/subscriptions", {"plan": "pro", "payment_method_id": card(stripe_client)},
                       status=403, code="FORBIDDEN")

    created = await api.post("/api/v1/subscriptions", {"plan": "pro", "payment_method_id": card(stripe_client)})
    assert (created["plan"], created["status"], created["provider"]) == ("pro", "active", "stripe")
    assert created["current_period_end"]
    response, plans = await api.request("GET", "/api/v1/plans")
    assert plans["current_plan"] == "pro" and response.headers["X-RateLimit-Limit"] == "10000"
    remote = stripe_client.v1.subscriptions.retrieve(created["stripe_subscription_id"])
    assert remote.metadata["org_id"] == api.org_id and remote["items"].data[0].plan.id == stripe_prices["pro"]

    invoices = await api.get("/api/v1/invoices")
    assert invoices["total"] >= 1
    first = invoices["invoices"][-1]
    assert (first["amount_due"], first["currency"], first["stripe_subscription_id"]) == (
        4900, "usd", created["stripe_subscription_id"])
    assert first["status"] in ("paid", "open")
    assert (await other_api.get("/api/v1/invoices"))["total"] == 0  # another organization's invoices: none
    assert (await member.get("/api/v1/invoices"))["total"] == invoices["total"]  # members read

    # a second subscription is refused; the plan is changed instead
    await api.error("POST", "/api/v1/subscriptions", {"plan": "enterprise", "payment_method_id": card(stripe_client)},
                    status=409, code="CONFLICT")
    upgraded = await api.put("/api/v1/subscriptions/current", {"plan": "enterprise"})
    assert upgraded["plan"] == "enterprise" and upgraded["id"] == created["id"]
    remote = stripe_client.v1.subscriptions.retrieve(created["stripe_subscription_id"])
    assert remote["items"].data[0].plan.id == stripe_prices["enterprise"]
    assert (await api.get("/api/v1/plans"))["current_plan"] == "enterprise"
    downgraded = await api.put("/api/v1/subscriptions/current", {"plan": "pro"})
    assert downgraded["plan"] == "pro"
    assert (await api.get("/api/v1/plans"))["current_plan"] == "pro"
    await api.error("PUT", "/api/v1/subscriptions/current", {"plan": "free"}, status=400, field="plan")

    # cancel at the period's end: the plan stays until Stripe ends the subscription
    canceling = await api.post("/api/v1/subscriptions/current/cancel", {}, status=200)
    assert canceling["cancel_at_period_end"] is True and canceling["status"] == "active"
    assert stripe_client.v1.subscriptions.retrieve(created["stripe_subscription_id"]).cancel_at_period_end
    assert (await api.get("/api/v1/plans"))["current_plan"] == "pro"
    # ... and now
    ended = await api.post("/api/v1/subscriptions/current/cancel", {"at_period_end": False}, status=200)
    assert ended["status"] == "canceled"
    assert (await api.get("/api/v1/plans"))["current_plan"] == "free"
    await api.error("POST", "/api/v1/subscriptions/current/cancel", {}, status=404, code="NOT_FOUND")
    kinds = [e.type for e in events.of(api.org_id) if e.type.startswith("billing.subscription")]
    assert kinds[0] == "billing.subscription.created" and kinds[-1] == "billing.subscription.canceled"
    assert "billing.subscription.updated" in kinds


async def test_a_bad_payment_method_is_stripes_refusal(api, with_localstripe):
    error = await api.error("POST", "/api/v1/subscriptions", {"plan": "pro", "payment_method_id": "pm_missing"},
                            status=400, code="BILLING_REQUEST_REFUSED")
    assert "sk_test" not in json.dumps(error)
    assert (await api.get("/api/v1/plans"))["current_plan"] == "starter"
    assert (await api.get("/api/v1/subscriptions"))["total"] == 0


async def test_localstripes_own_events_signed_into_the_webhook_are_applied_once(
        client, api, stripe_client, with_localstripe):
    created = await api.post("/api/v1/subscriptions", {"plan": "pro", "payment_method_id": card(stripe_client)})
    stripe_client.v1.subscriptions.cancel(created["stripe_subscription_id"])  # behind the Hub's back
    events = [event for event in stripe_client.v1.events.list(params={"limit": 100}).data
              if event.data.object["id"] == created["stripe_subscription_id"]]
    assert "customer.subscription.deleted" in {event.type for event in events}
    for event in sorted(events, key=lambda event: event.created):
        payload, headers = signed(json.loads(str(event)))
        response = await client.post(WEBHOOK, data=payload, headers=headers)
        assert response.status_code == 200, await response.get_json()
        response = await client.post(WEBHOOK, data=payload, headers=headers)
        assert (await response.get_json())["duplicate"] is True
    rows = (await api.get("/api/v1/subscriptions"))["subscriptions"]
    assert [(row["status"], row["plan"]) for row in rows] == [("canceled", "pro")]
    assert (await api.get("/api/v1/plans"))["current_plan"] == "free"


async def test_checkout_session(api, billing, fake_stripe, stripe_prices):
    billing(provider="stripe", secret_key="sk_test_checkout", webhook_secret="whsec_x", api_base=fake_stripe.url,
            prices=stripe_prices)
    body = await api.post("/api/v1/checkout", {"plan": "pro", "success_url": "https://app.example.com/ok",
                                               "cancel_url": "https://app.example.com/cancel"}, status=200)
    assert body["session_id"].startswith("cs_test_")
    assert body["url"] == f"https://checkout.stripe.com/c/pay/{body['session_id']}"
    sent = fake_stripe.requests[-1]
    assert sent["authorization"] == "Bearer sk_test_checkout"
    form = sent["form"]
    assert form["mode"] == "subscription" and form["client_reference_id"] == api.org_id
    assert form["line_items[0][price]"] == stripe_prices["pro"] and form["line_items[0][quantity]"] == "1"
    assert form["metadata[plan]"] == "pro" and form["subscription_data[metadata][org_id]"] == api.org_id
    assert form["success_url"] == "https://app.example.com/ok"

    for bad in ("ftp://app.example.com/ok", "javascript:alert(1)", "https://"):
        await api.error("POST", "/api/v1/checkout", {"plan": "pro", "success_url": bad,
                                                     "cancel_url": "https://app.example.com/c"},
                        status=400, field="success_url")
    await api.error("POST", "/api/v1/checkout", {"plan": "enterprise-plus", "success_url": "https://a.example/x",
                                                 "cancel_url": "https://a.example/y"}, status=400, field="plan")
    await api.error("POST", "/api/v1/checkout", {"plan": "free", "success_url": "https://a.example/x",
                                                 "cancel_url": "https://a.example/y"}, status=400, field="plan")
    billing(checkout_allowed_hosts=["app.example.com"])
    await api.error("POST", "/api/v1/checkout", {"plan": "pro", "success_url": "https://evil.example/x",
                                                 "cancel_url": "https://app.example.com/c"},
                    status=400, field="success_url")
    count = len(fake_stripe.requests)
    await api.post("/api/v1/checkout", {"plan": "pro", "success_url": "https://app.example.com/ok",
                                        "cancel_url": "https://app.example.com/cancel"}, status=200)
    assert len(fake_stripe.requests) == count + 1


async def test_a_subscription_and_an_invoice_by_id_are_the_organizations_own(
        api, other_api, api_of, stripe_client, with_localstripe):
    created = await api.post("/api/v1/subscriptions", {"plan": "pro", "payment_method_id": card(stripe_client)})
    invoice = (await api.get("/api/v1/invoices"))["invoices"][0]
    member = await api_of(role="member")
    assert await member.get(f"/api/v1/subscriptions/{created['id']}") == await api.get(
        f"/api/v1/subscriptions/{created['id']}")
    got = await member.get(f"/api/v1/invoices/{invoice['id']}")
    assert got == invoice and got["amount_due"] == 4900

    # another organization, subscribed too, sees neither; its own ids are not this one's either
    theirs = await other_api.post("/api/v1/subscriptions", {"plan": "pro", "payment_method_id": card(stripe_client)})
    their_invoice = (await other_api.get("/api/v1/invoices"))["invoices"][0]
    for caller, path in ((other_api, f"/api/v1/subscriptions/{created['id']}"),
                         (other_api, f"/api/v1/invoices/{invoice['id']}"),
                         (api, f"/api/v1/subscriptions/{theirs['id']}"),
                         (api, f"/api/v1/invoices/{their_invoice['id']}"),
                         (api, "/api/v1/subscriptions/not-an-id"),
                         (api, f"/api/v1/invoices/{created['id']}")):  # a subscription's id is no invoice's
        await caller.error("GET", path, status=404, code="NOT_FOUND")


async def test_a_declined_card_is_402_and_writes_nothing(api, events, stripe_client, with_localstripe):
    declined = card(stripe_client, "4000000000000002")  # localstripe declines it, as Stripe's test card
    error = await api.error("POST", "/api/v1/subscriptions", {"plan": "pro", "payment_method_id": declined},
                            status=402, code="PAYMENT_FAILED")
    assert "declined" in error["message"].lower() and error["details"]["stripe_code"] == "card_declined"
    assert "sk_test" not in json.dumps(error)
    assert (await api.get("/api/v1/subscriptions"))["total"] == 0
    assert (await api.get("/api/v1/invoices"))["total"] == 0
    assert (await api.get("/api/v1/plans"))["current_plan"] == "starter"
    assert [e.type for e in events.of(api.org_id) if e.type.startswith("billing.")] == []

    # a good card afterwards subscribes (and the organization has one customer)
    created = await api.post("/api/v1/subscriptions", {"plan": "pro", "payment_method_id": card(stripe_client)})
    assert created["status"] == "active"
    assert len(events.of(api.org_id, "billing.customer.created")) == 1

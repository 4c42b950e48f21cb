"""Billing without HTTP: the plan catalogue, plan assignment, Stripe customers, subscriptions,
checkout and invoices (through the official `stripe` SDK's StripeClient), and the Stripe
webhook's events.

The organization's plan is `Organization.plan` (core); it changes only here, through
`hub.tenants.set_plan`, which every process hears at once (Redis) or within
`[tenancy] cache_seconds`. With Stripe, the plan follows the organization's subscriptions:
the newest live one (active, trialing, or past_due within the grace period) gives the plan,
and when none is live any more the organization falls back to `fallback_plan` (free).

Stripe's events may arrive twice and out of order. Each event id is recorded in the same
transaction as its changes (a replay finds it and changes nothing); a subscription or invoice
remembers the `created` time of the newest event applied to it (`state_at`), and an older
event never moves it back; a canceled subscription stays canceled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

from tortoise.exceptions import IntegrityError

from core import HubError, conflict, iso, not_found, on_commit, transaction, utcnow, validation_error
from plugins.billing.models import Customer, Invoice, MeterCursor, StripeEvent, Subscription
from plugins.billing.settings import MONTHLY_UNITS, BillingSettings, Plan

log = logging.getLogger("hub.billing")

LIVE = ("active", "trialing", "past_due")
ENDED = ("canceled", "incomplete_expired", "unpaid", "paused")
CLIENT = "billing.stripe_client"
HTTP_CLIENT = "billing.stripe_http_client"
NOT_CONFIGURED = ("Stripe is not configured on this Hub: set [plugins.billing] provider = \"stripe\", "
                  "secret_key and webhook_secret. With the local provider an admin assigns plans "
                  "(PUT /api/v1/billing/plan).")


def settings(hub) -> BillingSettings:
    return hub.plugin_settings("billing")


def catalogue(hub) -> dict[str, Plan]:
    return settings(hub).plans


def plan_named(hub, name: str, *, purchasable: bool = False) -> Plan:
    plan = catalogue(hub).get(name)
    if plan is None:
        raise validation_error("plan", f"unknown plan; one of {sorted(catalogue(hub))}")
    if purchasable and not plan.stripe_price_id:
        raise validation_error("plan", "this plan is not sold through Stripe (no stripe_price_id configured)")
    return plan


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), timezone.utc) if value else None


# -- plans -------------------------------------------------------------------------------------------


async def set_plan(hub, org_id: Any, plan: str, reason: str) -> str:
    """Move the organization to `plan` (inside the caller's transaction: the event goes with it);
    the previous plan. Every process applies it from its next request."""
    previous = await hub.tenants.set_plan(org_id, plan)
    if previous is None:
        raise not_found("Organization")
    if previous != plan:
        await hub.emit(org_id, "billing.plan.changed", {"plan": plan, "previous_plan": previous, "reason": reason})
        log.info("organization %s: plan %s -> %s (%s)", org_id, previous, plan, reason)
    return previous


async def assign_plan(hub, org_id: Any, plan: str) -> tuple[str, Subscription]:
    """An admin's assignment (the local provider): the previous plan, and the organization's
    local subscription to `plan` (a new one when the plan changes; the one before ends)."""
    if settings(hub).provider == "stripe":
        raise HubError("BILLING_MANAGED_BY_STRIPE",
                       "Plans follow the organization's Stripe subscription: subscribe, check out or "
                       "change the subscription (PUT /api/v1/subscriptions/current)")
    plan_named(hub, plan)
    async with transaction():
        previous = await set_plan(hub, org_id, plan, "assigned")
        row = await Subscription.for_org(org_id).filter(provider="local", status="active") \
            .order_by("-created_at", "-id").first()
        if row is None or row.plan != plan:
            now = utcnow()
            if row is not None:
                row.status, row.canceled_at = "canceled", now
                await row.save(update_fields=["status", "canceled_at", "updated_at"])
            row = await Subscription.create(org_id=org_id, provider="local", plan=plan, status="active",
                                            current_period_start=now)
    await hub.tenants.invalidate(org_id)
    return previous, row


def _effective(hub, subscription: Subscription, now: datetime) -> str | None:
    """The plan a subscription gives now; None when it gives none (ended, or not started)."""
    config = settings(hub)
    if subscription.status in ("active", "trialing"):
        return subscription.plan
    if subscription.status == "past_due":
        since = subscription.past_due_since or now
        if now < since + timedelta(hours=config.grace_period_hours):
            return subscription.plan
    return None


async def reconcile(hub, org_id: Any, reason: str, now: datetime | None = None) -> None:
    """Put the organization on the plan its Stripe subscriptions give (inside a transaction)."""
    now = now or utcnow()
    rows = await Subscription.for_org(org_id).filter(provider="stripe").order_by("-created_at", "-id")
    if not rows:
        return
    for row in rows:
        plan = _effective(hub, row, now)
        if plan is not None:
            if plan in catalogue(hub):
                await set_plan(hub, org_id, plan, reason)
            return
    if all(row.status == "incomplete" for row in rows):
        return  # nothing was paid yet, nothing ends either
    fallback_reason = "grace_expired" if any(row.status == "past_due" for row in rows) else reason
    await set_plan(hub, org_id, settings(hub).fallback_plan, fallback_reason)


async def expire_grace(hub, now: datetime | None = None) -> int:
    """Drop organizations whose past_due subscription outlived the grace period to the fallback
    plan; how many were looked at. Every process runs it every `grace_check_seconds`."""
    now = now or utcnow()
    limit = now - timedelta(hours=settings(hub).grace_period_hours)
    org_ids = await Subscription.filter(provider="stripe", status="past_due", past_due_since__lte=limit) \
        .distinct().values_list("org_id", flat=True)
    for org_id in org_ids:
        async with transaction():
            await reconcile(hub, org_id, "grace_expired", now)
        await hub.tenants.invalidate(org_id)
    return len(org_ids)


async def close_client(hub) -> None:
    """Forget the StripeClient (settings changed, or the Hub stops) and close its connections."""
    hub.extensions.pop(CLIENT, None)
    http_client = hub.extensions.pop(HTTP_CLIENT, None)
    if http_client is not None:
        try:
            await http_client.close_async()
        except Exception:
            log.debug("billing: closing the Stripe HTTP client failed", exc_info=True)


# -- Stripe API ----------------------------------------------------------------------------------------


def stripe_client(hub):
    """The Hub's StripeClient (the official SDK, async over httpx), or 409 when Stripe is not set up."""
    config = settings(hub)
    if config.provider != "stripe" or config.secret_key is None:
        raise HubError("BILLING_PROVIDER_NOT_CONFIGURED", NOT_CONFIGURED)
    client = hub.extensions.get(CLIENT)
    if client is None:
        import stripe

        options: dict[str, Any] = {}
        if config.api_base:
            options["base_addresses"] = {"api": config.api_base.rstrip("/")}
        http_client = stripe.HTTPXClient(timeout=config.request_timeout_seconds)
        client = stripe.StripeClient(config.secret_key.get_secret_value(), http_client=http_client,
                                     max_network_retries=1, **options)
        hub.extensions[CLIENT] = client
        hub.extensions[HTTP_CLIENT] = http_client
    return client


async def stripe_call(awaitable) -> Any:
    """Await a StripeClient call; Stripe's refusals become the Hub's errors (never the key)."""
    import stripe

    try:
        return await awaitable
    except stripe.StripeError as error:
        raise hub_error(error) from None


def hub_error(error: Exception) -> HubError:
    """The Hub's error for a Stripe refusal (without the key)."""
    import stripe

    if isinstance(error, stripe.CardError):
        return HubError("PAYMENT_FAILED", error.user_message or "The card was declined",
                        {"stripe_code": error.code, "decline_code": getattr(error, "decline_code", None)})
    if isinstance(error, stripe.InvalidRequestError):
        return HubError("BILLING_REQUEST_REFUSED", error.user_message or "Stripe refused the request",
                        {"stripe_code": error.code, "param": error.param})
    if isinstance(error, stripe.AuthenticationError):
        log.error("billing: Stripe refused the secret key")
        return HubError("BILLING_PROVIDER_UNAVAILABLE", "Stripe refused this Hub's credentials")
    log.warning("billing: Stripe call failed: %s", type(error).__name__)
    return HubError("BILLING_PROVIDER_UNAVAILABLE", "Stripe could not be reached; try again shortly",
                    {"reason": type(error).__name__})


def _plain(obj: Any) -> dict:
    """A StripeObject as plain JSON data."""
    if isinstance(obj, dict) and not hasattr(obj, "to_dict"):
        return obj
    return json.loads(str(obj)) if hasattr(obj, "to_dict") else dict(obj)


async def ensure_customer(hub, org_id: Any, email: str | None) -> tuple[Customer, bool]:
    """The organization's Stripe customer, created once (and the Stripe call made idempotent)."""
    existing = await Customer.for_org(org_id).first()
    if existing is not None:
        return existing, False
    return await _store_customer(hub, org_id, await _create_stripe_customer(hub, org_id, email), email)


async def _create_stripe_customer(hub, org_id: Any, email: str | None) -> str:
    """A Stripe customer for the organization (the same one again within Stripe's idempotency
    window of 24 hours); its id."""
    params: dict[str, Any] = {"metadata": {"org_id": str(org_id)}}
    if email:
        params["email"] = email
    created = _plain(await stripe_call(stripe_client(hub).v1.customers.create_async(
        params=params, options={"idempotency_key": f"hub-customer-{org_id}"})))
    return created["id"]


async def _store_customer(hub, org_id: Any, stripe_customer_id: str, email: str | None) -> tuple[Customer, bool]:
    try:
        async with transaction():
            customer = await Customer.create(org_id=org_id, stripe_customer_id=stripe_customer_id, email=email)
            await hub.emit(org_id, "billing.customer.created", {"id": str(customer.id),
                                                            "stripe_customer_id": customer.stripe_customer_id})
    except IntegrityError:  # another request made it meanwhile
        return await Customer.for_org(org_id).first(), False
    return customer, True


async def _live_subscription(org_id: Any) -> Subscription | None:
    return await Subscription.for_org(org_id).filter(provider="stripe", status__in=LIVE + ("incomplete",)) \
        .order_by("-created_at", "-id").first()


async def current_subscription(org_id: Any) -> Subscription:
    row = await _live_subscription(org_id)
    if row is None:
        raise not_found("Subscription")
    return row


async def create_subscription(hub, org_id: Any, email: str | None, plan_name: str, payment_method_id: str) -> Subscription:
    client = stripe_client(hub)
    plan = plan_named(hub, plan_name, purchasable=True)
    if await _live_subscription(org_id) is not None:
        raise conflict("The organization already has a subscription; change its plan with "
                       "PUT /api/v1/subscriptions/current")
    # A declined card (402) writes nothing here: a new customer is stored only once its payment
    # method is attached (Stripe gives the same customer back on the next try: idempotency key).
    customer = await Customer.for_org(org_id).first()
    stripe_customer_id = customer.stripe_customer_id if customer else await _create_stripe_customer(hub, org_id, email)
    await stripe_call(client.v1.payment_methods.attach_async(
        payment_method_id, params={"customer": stripe_customer_id}))
    if customer is None:
        customer, _ = await _store_customer(hub, org_id, stripe_customer_id, email)
    await stripe_call(client.v1.customers.update_async(
        customer.stripe_customer_id, params={"invoice_settings": {"default_payment_method": payment_method_id}}))
    created = _plain(await stripe_call(client.v1.subscriptions.create_async(params={
        "customer": customer.stripe_customer_id,
        "items": [{settings(hub).price_parameter: plan.stripe_price_id}],
        "metadata": {"org_id": str(org_id), "plan": plan_name},
    })))  # paid with the customer's default payment method (invoice_settings), set just before
    row = await apply_stripe_subscription(hub, created, int(time.time()), org_id=org_id, reason="subscription")
    await sync_invoices(hub, org_id)
    return row


async def change_subscription(hub, org_id: Any, plan_name: str) -> Subscription:
    """Upgrade or downgrade the current subscription, with Stripe's proration."""
    client = stripe_client(hub)
    plan = plan_named(hub, plan_name, purchasable=True)
    row = await current_subscription(org_id)
    current = _plain(await stripe_call(client.v1.subscriptions.retrieve_async(row.stripe_subscription_id)))
    items = current.get("items", {}).get("data") or []
    if not items:
        raise conflict("The Stripe subscription has no item to change")
    params: dict[str, Any] = {
        "items": [{"id": items[0]["id"], settings(hub).price_parameter: plan.stripe_price_id}],
        "cancel_at_period_end": False,
        "metadata": {"org_id": str(org_id), "plan": plan_name},
    }
    if settings(hub).proration_behavior:  # unset: Stripe's default, create_prorations
        params["proration_behavior"] = settings(hub).proration_behavior
    updated = _plain(await stripe_call(client.v1.subscriptions.update_async(row.stripe_subscription_id,
                                                                           params=params)))
    row = await apply_stripe_subscription(hub, updated, int(time.time()), org_id=org_id, reason="subscription")
    await sync_invoices(hub, org_id)
    return row


async def cancel_subscription(hub, org_id: Any, at_period_end: bool) -> Subscription:
    client = stripe_client(hub)
    row = await current_subscription(org_id)
    if at_period_end:
        result = await stripe_call(client.v1.subscriptions.update_async(
            row.stripe_subscription_id, params={"cancel_at_period_end": True}))
    else:
        result = await stripe_call(client.v1.subscriptions.cancel_async(row.stripe_subscription_id))
    return await apply_stripe_subscription(hub, _plain(result), int(time.time()), org_id=org_id, reason="canceled")


async def create_checkout(hub, org_id: Any, email: str | None, plan_name: str, success_url: str,
                          cancel_url: str) -> dict:
    client = stripe_client(hub)
    plan = plan_named(hub, plan_name, purchasable=True)
    allowed = settings(hub).checkout_allowed_hosts
    if allowed:
        from urllib.parse import urlsplit

        for field, url in (("success_url", success_url), ("cancel_url", cancel_url)):
            if (urlsplit(url).hostname or "").lower() not in {host.lower() for host in allowed}:
                raise validation_error(field, f"the host must be one of {sorted(allowed)}")
    metadata = {"org_id": str(org_id), "plan": plan_name}
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": plan.stripe_price_id, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": str(org_id),
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
    }
    customer = await Customer.for_org(org_id).first()
    if customer is not None:
        params["customer"] = customer.stripe_customer_id
    elif email:
        params["customer_email"] = email
    session = _plain(await stripe_call(client.v1.checkout.sessions.create_async(params=params)))
    return {"session_id": session["id"], "url": session.get("url") or ""}


async def sync_invoices(hub, org_id: Any) -> None:
    """Copy the customer's latest invoices from Stripe (the webhook keeps them current after)."""
    customer = await Customer.for_org(org_id).first()
    if customer is None:
        return
    client = stripe_client(hub)
    listing = _plain(await stripe_call(client.v1.invoices.list_async(
        params={"customer": customer.stripe_customer_id, "limit": 100})))
    async with transaction():
        for invoice in listing.get("data", []):
            await _store_invoice(org_id, invoice, int(time.time()))


# -- mirrors of Stripe objects -----------------------------------------------------------------------


def _plan_of(hub, obj: dict) -> str | None:
    """The plan a subscription sells: its item's price (what Stripe charges, also after a change
    made in Stripe's dashboard), else the plan named in its metadata."""
    prices = set()
    for item in (obj.get("items") or {}).get("data") or []:
        for key in ("price", "plan"):
            value = item.get(key)
            if isinstance(value, dict) and value.get("id"):
                prices.add(value["id"])
    for name, entry in catalogue(hub).items():
        if entry.stripe_price_id and entry.stripe_price_id in prices:
            return name
    plan = (obj.get("metadata") or {}).get("plan")
    return plan if plan in catalogue(hub) else None


def _period(obj: dict, key: str) -> Any:
    if obj.get(key):
        return obj[key]
    for item in (obj.get("items") or {}).get("data") or []:  # API versions from 2025-03: per item
        if item.get(key):
            return item[key]
    return None


def _org_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


async def _org_for(hub, obj: dict, *, customer_id: str | None = None) -> uuid.UUID | None:
    """The organization a Stripe object belongs to: its customer's, else its metadata's (when
    that organization exists and has no other customer)."""
    customer_id = customer_id or obj.get("customer")
    if isinstance(customer_id, dict):
        customer_id = customer_id.get("id")
    if customer_id:
        customer = await Customer.filter(stripe_customer_id=customer_id).first()
        if customer is not None:
            return customer.org_id
    org_id = _org_uuid((obj.get("metadata") or {}).get("org_id") or obj.get("client_reference_id"))
    if org_id is None or (await hub.tenants.get(org_id)).status == "unknown":
        return None
    if customer_id and await Customer.for_org(org_id).exists():
        return None  # the organization pays through another customer: not this one's
    return org_id


def subscription_body(row: Subscription) -> dict:
    """A subscription as the API shows it (SubscriptionOut)."""
    from plugins.billing.schemas import SubscriptionOut

    return SubscriptionOut(
        id=str(row.id), provider=row.provider, stripe_subscription_id=row.stripe_subscription_id, plan=row.plan,
        status=row.status, cancel_at_period_end=row.cancel_at_period_end,
        current_period_start=row.current_period_start, current_period_end=row.current_period_end,
        canceled_at=row.canceled_at, past_due_since=row.past_due_since, created_at=row.created_at,
        updated_at=row.updated_at,
    ).model_dump(mode="json")


def _subscription_event(row: Subscription) -> dict:
    return {"id": str(row.id), "stripe_subscription_id": row.stripe_subscription_id, "plan": row.plan,
            "status": row.status, "cancel_at_period_end": row.cancel_at_period_end,
            "current_period_end": iso(row.current_period_end) if row.current_period_end else None}


async def apply_stripe_subscription(hub, obj: dict, state_at: int, *, org_id: Any = None, reason: str,
                                    deleted: bool = False) -> Subscription | None:
    """Mirror a Stripe subscription at the state it had at `state_at` (unix seconds); an older
    state than the one kept changes nothing. Then the organization's plan follows."""
    async with transaction():
        row = await Subscription.filter(stripe_subscription_id=obj["id"]).first()
        if row is not None:
            org_id = row.org_id
        elif org_id is None:
            org_id = await _org_for(hub, obj)
        if org_id is None:
            log.warning("billing: Stripe subscription %s belongs to no organization here; ignored", obj["id"])
            return None
        if row is not None and (state_at < row.state_at or row.status == "canceled"):
            return row  # older news, or after the end
        plan = _plan_of(hub, obj) or (row.plan if row is not None else None)
        if plan is None:
            log.warning("billing: Stripe subscription %s sells no plan of the catalogue; ignored", obj["id"])
            return row
        status = "canceled" if deleted else str(obj.get("status") or "incomplete")[:32]
        created = row is None
        if created:
            row = Subscription(org_id=org_id, provider="stripe", stripe_subscription_id=obj["id"])
        previous = (row.plan, row.status, row.cancel_at_period_end) if not created else None
        row.stripe_customer_id = obj.get("customer") if isinstance(obj.get("customer"), str) else row.stripe_customer_id
        row.plan, row.status = plan, status
        row.cancel_at_period_end = bool(obj.get("cancel_at_period_end"))
        row.current_period_start = _ts(_period(obj, "current_period_start")) or row.current_period_start
        row.current_period_end = _ts(_period(obj, "current_period_end")) or row.current_period_end
        row.canceled_at = _ts(obj.get("canceled_at")) or (utcnow() if status == "canceled" else row.canceled_at)
        if status in ("past_due", "unpaid"):
            row.past_due_since = row.past_due_since or _ts(state_at) or utcnow()
        elif status in ("active", "trialing"):
            row.past_due_since = None
        row.state_at = state_at
        await row.save()
        if created:
            await hub.emit(org_id, "billing.subscription.created", _subscription_event(row))
        elif status == "canceled":
            await hub.emit(org_id, "billing.subscription.canceled", _subscription_event(row))
        elif previous != (row.plan, row.status, row.cancel_at_period_end):
            await hub.emit(org_id, "billing.subscription.updated", _subscription_event(row))
        await reconcile(hub, org_id, "payment_recovered" if previous and previous[1] == "past_due"
                        and status == "active" else reason)
        on_commit_invalidate(hub, org_id)
    return row


def _invoice_event(row: Invoice) -> dict:
    return {"id": str(row.id), "stripe_invoice_id": row.stripe_invoice_id, "status": row.status,
            "amount_due": row.amount_due, "amount_paid": row.amount_paid, "currency": row.currency,
            "hosted_invoice_url": row.hosted_invoice_url}


def _invoice_subscription(obj: dict) -> str | None:
    value = obj.get("subscription")
    if value is None:  # API versions from 2025-03
        value = ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    if isinstance(value, dict):
        value = value.get("id")
    return value


async def _store_invoice(org_id: Any, obj: dict, state_at: int) -> tuple[Invoice, bool]:
    """Mirror a Stripe invoice (inside a transaction); (row, whether it changed)."""
    row = await Invoice.filter(stripe_invoice_id=obj["id"]).first()
    if row is not None and (row.org_id != _org_uuid(org_id) or state_at < row.state_at):
        return row, False
    if row is None:
        row = Invoice(org_id=org_id, stripe_invoice_id=obj["id"])
    row.stripe_subscription_id = _invoice_subscription(obj)
    row.number = obj.get("number")
    row.status = str(obj.get("status") or "open")[:32]
    row.currency = str(obj.get("currency") or "usd")[:3]
    row.amount_due = int(obj.get("amount_due") or 0)
    row.amount_paid = int(obj.get("amount_paid") or 0)
    row.amount_remaining = int(obj.get("amount_remaining") or max(0, row.amount_due - row.amount_paid))
    row.hosted_invoice_url = (obj.get("hosted_invoice_url") or None) and obj["hosted_invoice_url"][:2048]
    row.invoice_pdf = (obj.get("invoice_pdf") or None) and obj["invoice_pdf"][:2048]
    row.period_start = _ts(obj.get("period_start"))
    row.period_end = _ts(obj.get("period_end"))
    row.stripe_created = _ts(obj.get("created"))
    row.state_at = state_at
    await row.save()
    return row, True


# -- the webhook ---------------------------------------------------------------------------------------


def verify(hub, payload: bytes, signature: str | None) -> dict:
    """The event Stripe signed, checked by the SDK (`Webhook.construct_event`: HMAC-SHA256 of
    the raw body under the endpoint's secret, timestamp within the tolerance); 400 otherwise."""
    import stripe

    config = settings(hub)
    if config.webhook_secret is None:
        raise HubError("BILLING_PROVIDER_NOT_CONFIGURED", NOT_CONFIGURED)
    if not signature:
        raise HubError("INVALID_SIGNATURE", "The Stripe-Signature header is missing")
    try:
        text = payload.decode("utf-8")
        stripe.Webhook.construct_event(text, signature, config.webhook_secret.get_secret_value(),
                                       tolerance=config.webhook_tolerance_seconds)
        event = json.loads(text)
    except stripe.SignatureVerificationError as error:
        raise HubError("INVALID_SIGNATURE", "The Stripe-Signature does not match the body, or is too old",
                       {"reason": str(error.user_message or "signature verification failed")[:200]}) from None
    except ValueError:
        raise HubError("INVALID_SIGNATURE", "The body is not a Stripe event") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str) \
            or not isinstance((event.get("data") or {}).get("object"), dict):
        raise HubError("INVALID_SIGNATURE", "The body is not a Stripe event")
    return event


async def receive(hub, payload: bytes, signature: str | None) -> bool:
    """Process a signed Stripe event once; True when its id had been processed before."""
    event = verify(hub, payload, signature)
    event_id, kind = event["id"][:255], event["type"][:100]
    if await StripeEvent.filter(event_id=event_id).exists():
        return True
    created = int(event.get("created") or time.time())
    obj = event["data"]["object"]
    try:
        async with transaction():
            record = await StripeEvent.create(event_id=event_id, type=kind, event_created=created)
            record.org_id = await _handle(hub, kind, obj, created)
            if record.org_id is not None:
                await record.save(update_fields=["org_id"])
    except IntegrityError:
        return True  # the same event, processed by a concurrent delivery
    return False


async def _handle(hub, kind: str, obj: dict, created: int) -> uuid.UUID | None:
    if kind == "checkout.session.completed":
        return await _checkout_completed(hub, obj, created)
    if kind in ("customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
                "customer.subscription.paused", "customer.subscription.resumed"):
        row = await apply_stripe_subscription(hub, obj, created, reason="subscription",
                                              deleted=kind.endswith(".deleted"))
        return row.org_id if row else None
    if kind.startswith("invoice."):
        return await _invoice_event_received(hub, kind, obj, created)
    return None


async def _checkout_completed(hub, session: dict, created: int) -> uuid.UUID | None:
    org_id = _org_uuid(session.get("client_reference_id") or (session.get("metadata") or {}).get("org_id"))
    if org_id is None or (await hub.tenants.get(org_id)).status == "unknown":
        log.warning("billing: checkout session %s names no organization here; ignored", session.get("id"))
        return None
    customer_id = session.get("customer")
    if isinstance(customer_id, str) and not await Customer.for_org(org_id).exists() \
            and not await Customer.filter(stripe_customer_id=customer_id).exists():
        customer = await Customer.create(org_id=org_id, stripe_customer_id=customer_id,
                                         email=(session.get("customer_details") or {}).get("email"))
        await hub.emit(org_id, "billing.customer.created", {"id": str(customer.id), "stripe_customer_id": customer_id})
    subscription_id = session.get("subscription")
    if isinstance(subscription_id, dict):
        subscription_id = subscription_id.get("id")
    plan = (session.get("metadata") or {}).get("plan")
    if not subscription_id or plan not in catalogue(hub):
        log.warning("billing: checkout session %s has no subscription or plan; ignored", session.get("id"))
        return org_id
    if await Subscription.filter(stripe_subscription_id=subscription_id).exists():
        await reconcile(hub, org_id, "checkout")  # its own events came first
        return org_id
    paid = session.get("payment_status") in ("paid", "no_payment_required")
    row = await Subscription.create(
        org_id=org_id, provider="stripe", stripe_subscription_id=subscription_id,
        stripe_customer_id=customer_id if isinstance(customer_id, str) else None, plan=plan,
        status="active" if paid else "incomplete", state_at=0)  # any event about it is newer news
    await hub.emit(org_id, "billing.subscription.created", _subscription_event(row))
    await reconcile(hub, org_id, "checkout")
    on_commit_invalidate(hub, org_id)
    return org_id


def on_commit_invalidate(hub, org_id: Any) -> None:
    """Once the change is committed: forget the organization here at once, and tell every process."""

    def announce() -> None:
        hub.tenants.forget(org_id)
        asyncio.ensure_future(hub.tenants.invalidate(org_id))

    on_commit(announce)


async def _invoice_event_received(hub, kind: str, obj: dict, created: int) -> uuid.UUID | None:
    subscription_id = _invoice_subscription(obj)
    subscription = await Subscription.filter(stripe_subscription_id=subscription_id).first() \
        if subscription_id else None
    org_id = subscription.org_id if subscription is not None else await _org_for(hub, obj)
    if org_id is None:
        log.warning("billing: Stripe invoice %s belongs to no organization here; ignored", obj.get("id"))
        return None
    row, changed = await _store_invoice(org_id, obj, created)
    if not changed:
        return org_id
    if kind in ("invoice.paid", "invoice.payment_succeeded"):
        await hub.emit(org_id, "billing.invoice.paid", _invoice_event(row))
        if subscription is not None and subscription.status in ("past_due", "unpaid") \
                and created >= subscription.state_at:
            subscription.status, subscription.past_due_since, subscription.state_at = "active", None, created
            await subscription.save()
            await hub.emit(org_id, "billing.subscription.updated", _subscription_event(subscription))
            await reconcile(hub, org_id, "payment_recovered")
            on_commit_invalidate(hub, org_id)
    elif kind == "invoice.payment_failed":
        await hub.emit(org_id, "billing.invoice.payment_failed", _invoice_event(row))
        if subscription is not None and subscription.status in ("active", "trialing") \
                and created >= subscription.state_at:
            subscription.status, subscription.state_at = "past_due", created
            subscription.past_due_since = subscription.past_due_since or _ts(created)
            await subscription.save()
            await hub.emit(org_id, "billing.subscription.updated", _subscription_event(subscription))
            await reconcile(hub, org_id, "payment_failed")
            on_commit_invalidate(hub, org_id)
    return org_id


# -- metered usage to Stripe -------------------------------------------------------------------------
#
# `meter_events` maps the Hub's metered units (core.record_usage: api_calls, ai_tokens, ...) to
# the `event_name` of Stripe meters. Every `meter_interval_seconds` each process ticks; one of
# them claims the window for each organization with a Stripe customer and enqueues its report
# job. The job reports, per unit and month, what the core counted beyond what Stripe already
# accepted (`MeterCursor.reported`): it writes the report (value, identifier, timestamp) as
# pending first, sends it as a meter event, then adds it to `reported`. A report that failed
# or whose answer was lost (a crash, a 500) stays pending and is sent again unchanged, with the
# same identifier, which Stripe counts once.

REPORT_JOB = "billing.report_usage"
METER_NAMESPACE = uuid.UUID("0c3b7f52-5d1e-4f43-9a55-6a3e0b8f6d21")  # the Hub's meter event identifiers


def meter_window(hub, now: float | None = None) -> int:
    """The report window `now` falls in (unix seconds // meter_interval_seconds)."""
    return int((time.time() if now is None else now) // settings(hub).meter_interval_seconds)


def meter_identifier(org_id: Any, unit: str, period: str, window: int, reported: int) -> str:
    """The meter event's identifier: the same for the same organization, unit, month, window
    and units already accepted, so a retry or a second process sends the same event, and a
    new one for every new report (`reported` grows)."""
    return "hub_" + uuid.uuid5(METER_NAMESPACE, f"{org_id}:{unit}:{period}:{window}:{reported}").hex


async def enqueue_usage_reports(hub, now: float | None = None) -> list:
    """This window's report job for every organization with a Stripe customer (each claimed by
    a conditional update: one process enqueues it, however many tick); the jobs enqueued."""
    from core import enqueue

    config = settings(hub)
    if config.provider != "stripe" or not config.meter_events:
        return []
    window = meter_window(hub, now)
    jobs = []
    for customer_id, org_id in await Customer.filter(meter_window__lt=window).values_list("id", "org_id"):
        if await Customer.filter(id=customer_id, meter_window__lt=window).update(meter_window=window):
            jobs.append(await enqueue(org_id, REPORT_JOB, {"window": window}, hub=hub))
    return jobs


def _month_end(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


async def report_usage(hub, org_id: Any, window: int, now: float | None = None) -> dict[str, int]:
    """Send the organization's metered units not yet accepted by Stripe as meter events; the
    units sent per unit. Last month's late counts go too while its cursor exists."""
    from core import usage_totals

    config = settings(hub)
    customer = await Customer.for_org(org_id).first()
    if config.provider != "stripe" or not config.meter_events or customer is None:
        return {}  # turned off since the job was enqueued
    client = stripe_client(hub)
    now_ts = int(time.time() if now is None else now)
    today = datetime.fromtimestamp(now_ts, timezone.utc).date()
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    sent: dict[str, int] = {}
    for month in (last_month, this_month):
        period = f"{month:%Y-%m}"
        units = config.meter_events
        if month == last_month:  # only the units already reported for it (not a first report)
            units = {unit: name for unit, name in units.items()
                     if await MeterCursor.for_org(org_id).filter(unit=unit, period=period).exists()}
            if not units:
                continue
        totals = await usage_totals(org_id, month, min(_month_end(month), today), hub=hub)
        # the events' time: now, or the month's last second for last month's late units
        month_end_ts = int(datetime(*(_month_end(month) + timedelta(days=1)).timetuple()[:3],
                                    tzinfo=timezone.utc).timestamp()) - 1
        for unit, event_name in units.items():
            value = await _report_unit(client, customer, unit, event_name, period, totals.get(unit, 0), window,
                                       min(now_ts, month_end_ts))
            sent[unit] = sent.get(unit, 0) + value
    return sent


async def _cursor(org_id: Any, unit: str, period: str) -> MeterCursor:
    cursor = await MeterCursor.for_org(org_id).filter(unit=unit, period=period).first()
    if cursor is None:
        try:
            cursor = await MeterCursor.create(org_id=org_id, unit=unit, period=period)
        except IntegrityError:  # another process made it meanwhile
            cursor = await MeterCursor.for_org(org_id).get(unit=unit, period=period)
    return cursor


async def _report_unit(client, customer: Customer, unit: str, event_name: str, period: str, total: int,
                       window: int, timestamp: int) -> int:
    """Report one unit of one month: the pending report again, else the units beyond `reported`."""
    cursor = await _cursor(customer.org_id, unit, period)
    if cursor.pending_identifier is None:
        value = total - cursor.reported
        if value <= 0:
            return 0
        identifier = meter_identifier(customer.org_id, unit, period, window, cursor.reported)
        claimed = await MeterCursor.filter(id=cursor.id, pending_identifier=None, reported=cursor.reported).update(
            pending_identifier=identifier, pending_value=value, pending_timestamp=timestamp)
        if not claimed:
            return 0  # another process is reporting it
        await cursor.refresh_from_db()
    await _send_meter_event(client, event_name, customer.stripe_customer_id, cursor)
    await MeterCursor.filter(id=cursor.id, pending_identifier=cursor.pending_identifier).update(
        reported=cursor.reported + cursor.pending_value, pending_identifier=None, pending_value=None,
        pending_timestamp=None)
    log.info("billing: reported %s %s of %s for organization %s", cursor.pending_value, unit, period, customer.org_id)
    return int(cursor.pending_value)


async def _send_meter_event(client, event_name: str, stripe_customer_id: str, cursor: MeterCursor) -> None:
    import stripe

    params = {"event_name": event_name, "identifier": cursor.pending_identifier,
              "timestamp": cursor.pending_timestamp,
              "payload": {"stripe_customer_id": stripe_customer_id, "value": str(cursor.pending_value)}}
    try:
        await client.v1.billing.meter_events.create_async(params=params)
    except stripe.StripeError as error:
        message = str(getattr(error, "user_message", None) or "").lower()
        if isinstance(error, stripe.InvalidRequestError) and "identifier" in message \
                and ("exist" in message or "duplicate" in message):
            return  # Stripe has this very event already (accepted before its answer was lost)
        raise hub_error(error) from None


# -- usage against the plan ----------------------------------------------------------------------------

AGENT_RUNS = "agent_runs"  # what the AI agents count per run (POST /api/agents/{id}/execute)
MEGABYTE = 1024 * 1024  # as the core's files count storage_mb


async def usage_limits(hub, org_id: Any, plan_name: str) -> dict[str, dict] | None:
    """Every limit of the organization's plan (the `hub_usage_limits` entries of
    GET /api/v1/usage) against its current value; None for a plan outside the catalogue."""
    from core import member_count, open_connections, storage_used, usage_totals

    plan = catalogue(hub).get(plan_name)
    if plan is None:
        return None
    today = utcnow().date()
    month = await usage_totals(org_id, today.replace(day=1), today, hub=hub)
    entries: dict[str, dict] = {}

    def limit_of(field: str) -> dict:  # a limit the plan leaves unset is the Hub's configured one
        value = getattr(plan, field)
        return {} if value is None else {"limit": value}

    for unit, field in MONTHLY_UNITS.items():
        if unit in ("collaborators", "websocket_connections", "storage_mb"):
            continue  # what is held now rather than counted over the month: below
        entries[unit] = {**limit_of(field), "used": month.get(unit, 0), "period": "month"}
    stored = await storage_used(org_id)  # bytes; a started megabyte counts
    entries["storage_mb"] = {**limit_of("storage_mb"), "used": -(-stored // MEGABYTE), "period": "current"}
    entries["collaborators"] = {**limit_of("collaborators"), "used": await member_count(org_id), "period": "current"}
    entries["websocket_connections"] = {**limit_of("websocket_connections"), "period": "current",
                                        "used": await open_connections(org_id, hub=hub)}
    # The plan's rate limits (left to [rate_limits] when unset: then not listed). Requests are
    # limited per user in a token bucket (each response's X-RateLimit-* headers): not counted here.
    if plan.requests_per_hour is not None:
        entries["requests_per_hour"] = {"limit": plan.requests_per_hour, "used": None, "period": "hour"}
    if plan.ai_agent_calls_per_day is not None:
        agent_runs = (await usage_totals(org_id, today, today, hub=hub)).get(AGENT_RUNS, 0)
        entries["ai_agent_calls_per_day"] = {"limit": plan.ai_agent_calls_per_day, "used": agent_runs,
                                             "period": "day"}
    return entries

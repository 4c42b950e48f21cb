"""The billing tests' Stripe: `localstripe` (a Stripe emulator from PyPI) on the loopback for the
whole session, a small fake of what localstripe lacks (Checkout sessions, billing meter events),
and the session app's billing settings switched to the Stripe provider for one test."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
import stripe
from pydantic import SecretStr

from plugins.billing.service import close_client

WEBHOOK_SECRET = "whsec_test_" + "b" * 24
SECRET_KEY = "sk_test_hub_billing"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory):
    """A localstripe process on 127.0.0.1 (started from scratch, stopped at the end)."""
    port = free_port()
    executable = Path(sys.executable).with_name("localstripe")
    log = open(tmp_path_factory.mktemp("localstripe") / "localstripe.log", "wb")
    process = subprocess.Popen([str(executable), "--port", str(port), "--from-scratch"], stdout=log,
                               stderr=subprocess.STDOUT, cwd=str(tmp_path_factory.getbasetemp()))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/v1/customers", headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=1)
            break
        except httpx.TransportError:
            assert process.poll() is None, "localstripe exited"
            assert time.monotonic() < deadline, "localstripe did not start"
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)
    log.close()


@pytest.fixture(scope="session")
def stripe_prices(localstripe_url):
    """Recurring prices for pro and enterprise in localstripe (its API names them plans)."""
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe_url})
    product = client.v1.products.create(params={"name": "The Hub"})
    prices = {}
    for name, amount in (("pro", 4900), ("enterprise", 49900)):
        created = client.v1.plans.create(params={
            "id": f"price_{name}_{uuid.uuid4().hex[:8]}", "product": product.id, "amount": amount,
            "currency": "usd", "interval": "month"})
        prices[name] = created.id
    return prices


class FakeStripe:
    """The parts of Stripe localstripe lacks, as far as the Hub uses them, form-encoded as the
    SDK sends them: `POST /v1/checkout/sessions` (answers a session), `POST /v1/billing/meter_events`
    (counts each `identifier` once, as Stripe does) and `POST /v1/customers` (for the meter tests'
    customers). Every request is recorded."""

    def __init__(self) -> None:
        self.requests: list[dict] = []  # checkout sessions
        self.meter_requests: list[dict] = []  # every meter event sent, retries included
        self.meter_events: dict[str, dict] = {}  # identifier -> the event Stripe counts
        self.answers_to_lose = 0  # meter events accepted whose answer is then a 500
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = dict(parse_qsl(body))
                if self.path == "/v1/checkout/sessions":
                    fake.requests.append({"form": form, "authorization": self.headers.get("Authorization")})
                    session = "cs_test_" + uuid.uuid4().hex
                    self._answer(200, {"id": session, "object": "checkout.session", "mode": "subscription",
                                       "url": f"https://checkout.stripe.com/c/pay/{session}"})
                elif self.path == "/v1/billing/meter_events":
                    self._meter_event(form)
                elif self.path == "/v1/customers":
                    self._answer(200, {"id": "cus_" + uuid.uuid4().hex[:14], "object": "customer",
                                       "email": form.get("email"), "metadata": {}})
                else:
                    self._answer(404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}})

            def _meter_event(self, form: dict) -> None:
                fake.meter_requests.append(form)
                missing = [key for key in ("event_name", "payload[stripe_customer_id]", "payload[value]")
                           if not form.get(key)]
                if missing:
                    self._answer(400, {"error": {"type": "invalid_request_error", "param": missing[0],
                                                 "message": f"Missing required param: {missing[0]}."}})
                    return
                identifier = form.get("identifier") or uuid.uuid4().hex
                fake.meter_events.setdefault(identifier, form)  # a repeated identifier counts once
                if fake.answers_to_lose:
                    fake.answers_to_lose -= 1
                    self._answer(500, {"error": {"type": "api_error", "message": "An unknown error occurred"}},
                                 {"Stripe-Should-Retry": "false"})
                    return
                self._answer(200, {"object": "billing.meter_event", "created": int(time.time()),
                                   "event_name": form["event_name"], "identifier": identifier, "livemode": False,
                                   "payload": {"stripe_customer_id": form["payload[stripe_customer_id]"],
                                               "value": form["payload[value]"]},
                                   "timestamp": int(form.get("timestamp") or time.time())})

            def _answer(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def counted(self, stripe_customer_id: str, event_name: str) -> int:
        """The units Stripe counts for the customer's meter (each identifier once)."""
        return sum(int(form["payload[value]"]) for form in self.meter_events.values()
                   if form["payload[stripe_customer_id]"] == stripe_customer_id and form["event_name"] == event_name)

    def sent_to(self, stripe_customer_id: str) -> list[dict]:
        return [form for form in self.meter_requests if form.get("payload[stripe_customer_id]") == stripe_customer_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def fake_stripe():
    fake = FakeStripe()
    yield fake
    fake.close()


@pytest.fixture
async def billing(hub):
    """`billing(provider="stripe", api_base=..., ...)`: the session app's billing settings for
    one test (restored after it), with the StripeClient made again from them."""
    settings = hub.plugin_settings("billing")
    saved = {name: getattr(settings, name) for name in type(settings).model_fields}
    saved_plans = {name: plan.model_copy() for name, plan in settings.plans.items()}

    def configure(prices: dict[str, str] | None = None, **values):
        for name, value in values.items():
            if name in ("secret_key", "webhook_secret") and isinstance(value, str):
                value = SecretStr(value)
            setattr(settings, name, value)
        for name, price in (prices or {}).items():
            settings.plans[name].stripe_price_id = price
        hub.extensions.pop("billing.stripe_client", None)  # made again from these settings
        return settings

    yield configure
    for name, value in saved.items():
        setattr(settings, name, value)
    settings.plans.clear()
    settings.plans.update(saved_plans)
    await close_client(hub)


@pytest.fixture
def with_webhook_secret(billing):
    return billing(webhook_secret=WEBHOOK_SECRET)


@pytest.fixture
def with_localstripe(billing, localstripe_url, stripe_prices):
    return billing(provider="stripe", secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET,
                   api_base=localstripe_url, price_parameter="plan", prices=stripe_prices)


@pytest.fixture
def stripe_client(localstripe_url):
    """The SDK pointed at localstripe, as a test's own view of "Stripe"."""
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe_url})


def signed(event: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[str, dict]:
    """The body and headers Stripe would send: signed by the SDK's own helper."""
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return payload, {"Stripe-Signature": header, "Content-Type": "application/json"}


def stripe_event(kind: str, obj: dict, created: int | None = None, event_id: str | None = None) -> dict:
    return {"id": event_id or "evt_" + uuid.uuid4().hex, "object": "event", "type": kind,
            "created": created or int(time.time()), "livemode": False, "api_version": "2024-06-20",
            "data": {"object": obj}}


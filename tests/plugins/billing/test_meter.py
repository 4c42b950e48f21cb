"""Metered usage to Stripe: each organization's units (core.record_usage, the API calls the core
counts) sent as meter events through the SDK to a fake of Stripe's /v1/billing/meter_events on
the loopback, once per window, only what is new, and never twice after a failure."""

from __future__ import annotations

import asyncio
import time

import pytest

from core import HubError, record_usage, usage_totals, utcnow
from plugins.billing.models import MeterCursor
from plugins.billing.service import enqueue_usage_reports, meter_identifier, meter_window, report_usage

HOUR = 3600
METERS = {"api_calls": "hub_api_calls", "ai_tokens": "hub_ai_tokens"}


@pytest.fixture
def metered(billing, fake_stripe):
    return billing(provider="stripe", secret_key="sk_test_meter", webhook_secret="whsec_x", api_base=fake_stripe.url,
                   meter_events=METERS, meter_interval_seconds=HOUR)


async def customer_of(api) -> str:
    return (await api.post("/api/v1/customers", {"email": "meter@example.com"}))["stripe_customer_id"]


async def run_tick(hub, api, now: float) -> list[dict]:
    """One tick of the schedule (what every process's loop does) and this organization's jobs, run."""
    jobs = [job for job in await enqueue_usage_reports(hub, now) if str(job.org_id) == api.org_id]
    return [await api.wait_for_job(str(job.id)) for job in jobs]


async def test_usage_is_reported_once_per_window_and_only_what_is_new(api, other_api, hub, fake_stripe, metered):
    customer = await customer_of(api)
    await customer_of(other_api)
    await record_usage(api.org_id, "ai_tokens", 1_200, hub=hub)
    await record_usage(other_api.org_id, "ai_tokens", 7, hub=hub)
    await api.get("/api/auth/me")  # an API call the core counts
    today = utcnow().date()
    calls = (await usage_totals(api.org_id, today.replace(day=1), today, hub=hub))["api_calls"]
    assert calls >= 1

    now = time.time()
    window, period = meter_window(hub, now), f"{today:%Y-%m}"
    [job] = await run_tick(hub, api, now)
    assert job["status"] == "completed", job
    sent = {form["event_name"]: form for form in fake_stripe.sent_to(customer)}
    assert set(sent) == {"hub_api_calls", "hub_ai_tokens"}
    tokens = sent["hub_ai_tokens"]
    assert tokens["payload[value]"] == "1200"
    assert tokens["identifier"] == meter_identifier(api.org_id, "ai_tokens", period, window, 0)
    assert abs(int(tokens["timestamp"]) - now) < 5 * 60  # Stripe takes up to 5 minutes ahead
    # the calls so far (and the job polls of this test the core counted meanwhile)
    assert int(sent["hub_api_calls"]["payload[value]"]) >= calls
    # the other organization's units went to its own customer, not this one
    assert fake_stripe.counted(customer, "hub_ai_tokens") == 1_200

    # the same window again (another process's tick): nothing is enqueued for it
    assert await run_tick(hub, api, now) == []
    # the next window: only what was counted since
    await record_usage(api.org_id, "ai_tokens", 300, hub=hub)
    [job] = await run_tick(hub, api, now + HOUR)
    assert job["status"] == "completed", job
    new = [form for form in fake_stripe.sent_to(customer) if form["event_name"] == "hub_ai_tokens"]
    assert [form["payload[value]"] for form in new] == ["1200", "300"]
    assert new[1]["identifier"] == meter_identifier(api.org_id, "ai_tokens", period, window + 1, 1_200)
    assert fake_stripe.counted(customer, "hub_ai_tokens") == 1_500
    # no new tokens: no token event (API calls go on: this test's job polls are API calls)
    before = len(fake_stripe.sent_to(customer))
    await run_tick(hub, api, now + 2 * HOUR)
    assert [form["event_name"] for form in fake_stripe.sent_to(customer)[before:]] == ["hub_api_calls"]
    # reported without polling (what a job does): Stripe counts every API call of the month, once
    await report_usage(hub, api.org_id, meter_window(hub, now + 2 * HOUR))
    calls = (await usage_totals(api.org_id, today.replace(day=1), today, hub=hub))["api_calls"]
    assert fake_stripe.counted(customer, "hub_api_calls") == calls


async def test_a_report_whose_answer_was_lost_is_sent_again_and_counted_once(api, hub, fake_stripe, metered):
    customer = await customer_of(api)
    await record_usage(api.org_id, "ai_tokens", 500, hub=hub)
    window = meter_window(hub)
    metered.meter_events = {"ai_tokens": "hub_ai_tokens"}

    fake_stripe.answers_to_lose = 1  # Stripe takes the event, then the Hub sees a 500
    with pytest.raises(HubError) as failure:
        await report_usage(hub, api.org_id, window)
    assert failure.value.code == "BILLING_PROVIDER_UNAVAILABLE"
    cursor = await MeterCursor.for_org(api.org_id).get(unit="ai_tokens")
    assert (cursor.reported, cursor.pending_value) == (0, 500)  # in flight, not lost

    await record_usage(api.org_id, "ai_tokens", 40, hub=hub)  # counted while the report was in flight
    assert await report_usage(hub, api.org_id, window) == {"ai_tokens": 500}  # the same event again
    first, again = fake_stripe.sent_to(customer)
    assert first == again  # same identifier, value and time
    assert fake_stripe.counted(customer, "hub_ai_tokens") == 500  # once

    assert await report_usage(hub, api.org_id, window) == {"ai_tokens": 40}
    assert fake_stripe.counted(customer, "hub_ai_tokens") == 540
    cursor = await MeterCursor.for_org(api.org_id).get(unit="ai_tokens")
    assert (cursor.reported, cursor.pending_identifier) == (540, None)


async def test_two_processes_reporting_at_once_count_each_unit_once(api, hub, fake_stripe, metered):
    customer = await customer_of(api)
    metered.meter_events = {"ai_tokens": "hub_ai_tokens"}
    await record_usage(api.org_id, "ai_tokens", 900, hub=hub)
    window = meter_window(hub)
    results = await asyncio.gather(*(report_usage(hub, api.org_id, window) for _ in range(3)))
    assert sum(result.get("ai_tokens", 0) for result in results) >= 900
    assert fake_stripe.counted(customer, "hub_ai_tokens") == 900
    cursor = await MeterCursor.for_org(api.org_id).get(unit="ai_tokens")
    assert (cursor.reported, cursor.pending_identifier) == (900, None)


async def test_metering_is_off_without_meter_events(api, hub, fake_stripe, billing):
    billing(provider="stripe", secret_key="sk_test_meter", webhook_secret="whsec_x", api_base=fake_stripe.url)
    customer = await customer_of(api)
    await record_usage(api.org_id, "ai_tokens", 10, hub=hub)
    assert await enqueue_usage_reports(hub) == []
    assert fake_stripe.sent_to(customer) == []

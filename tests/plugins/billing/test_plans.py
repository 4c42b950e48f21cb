"""The plan catalogue drives every limit: GET /api/v1/plans, an admin's assignment with the
local provider, and the plan's rate limits, quotas and WebSocket limit on the next request."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from plugins.billing.settings import BillingSettings
from tests.live_server import ROOT, hub_environment


async def test_plans_list_every_limit_the_seeds_name(api, api_of):
    viewer = await api_of(role="viewer")
    body = await viewer.get("/api/v1/plans")
    assert body["current_plan"] == "starter" and body["provider"] == "local"
    plans = {plan["id"]: plan for plan in body["plans"]}
    assert {"free", "starter", "pro", "enterprise"} <= set(plans)
    # seed 004's table
    assert [(plans[p]["limits"]["requests_per_hour"], plans[p]["limits"]["websocket_connections"],
             plans[p]["limits"]["ai_agent_calls_per_day"]) for p in ("free", "pro", "enterprise")] == [
        (1_000, 5, 100), (10_000, 25, 1_000), (100_000, 100, 10_000)]
    # seed 001's quotas and seed 003's recommendations
    assert set(plans["free"]["limits"]) >= {"workflow_executions", "ai_api_calls", "ai_tokens", "storage_mb",
                                            "collaborators", "recommendations_per_month", "api_calls"}
    assert plans["starter"]["current"] and not plans["pro"]["current"]
    assert not plans["pro"]["purchasable"]  # the local provider sells nothing


async def test_admin_assigns_a_plan_and_its_limits_apply_on_the_next_request(api, events, hub):
    response, _ = await api.request("GET", "/api/v1/plans")
    assert response.headers["X-RateLimit-Limit"] == "500"  # starter: the [rate_limits] rule of /api/*

    assigned = await api.put("/api/v1/billing/plan", {"plan": "free"})
    assert (assigned["plan"], assigned["previous_plan"]) == ("free", "starter")
    response, body = await api.request("GET", "/api/v1/plans")
    assert body["current_plan"] == "free"
    assert response.headers["X-RateLimit-Limit"] == "1000"  # 1,000 requests an hour at most
    usage = await api.get("/api/v1/usage")
    assert usage["quota"]["api_calls_limit"] == 100_000
    assert (await hub.extensions["metering"].limits_for(api.org_id))["workflow_executions"] == 1_000
    assert await hub.extensions["websocket"].connection_limit(api.org_id) == ("free", 5)

    moved = await api.put("/api/v1/billing/plan", {"plan": "pro"})
    response, _ = await api.request("GET", "/api/v1/plans")
    assert response.headers["X-RateLimit-Limit"] == "10000"
    assert (await api.get("/api/v1/usage"))["quota"]["api_calls_limit"] == 10_000_000
    assert await hub.extensions["websocket"].connection_limit(api.org_id) == ("pro", 25)
    changes = [e.data for e in events.of(api.org_id, "billing.plan.changed")]
    assert changes == [{"plan": "free", "previous_plan": "starter", "reason": "assigned"},
                       {"plan": "pro", "previous_plan": "free", "reason": "assigned"}]
    assert (await api.get("/api/v1/tenant"))["plan"] == "pro"
    # each assignment is the organization's local subscription until the next one
    current = await api.get(f"/api/v1/subscriptions/{moved['subscription_id']}")
    assert (current["provider"], current["plan"], current["status"]) == ("local", "pro", "active")
    ended = await api.get(f"/api/v1/subscriptions/{assigned['subscription_id']}")
    assert (ended["plan"], ended["status"]) == ("free", "canceled") and ended["canceled_at"]
    assert (await api.put("/api/v1/billing/plan", {"plan": "pro"}))["subscription_id"] == moved["subscription_id"]
    assert [row["id"] for row in (await api.get("/api/v1/subscriptions"))["subscriptions"]] == [
        moved["subscription_id"], assigned["subscription_id"]]


async def test_the_plan_rate_limit_refuses_past_an_hours_requests(api, billing, hub):
    billing().plans["free"].requests_per_hour = 3
    hub.extensions["rate_limiter"]._plan_rules.clear()
    await api.put("/api/v1/billing/plan", {"plan": "free"})
    statuses = []
    for _ in range(4):  # three an hour: the fourth request at the latest is refused
        response, body = await api.request("GET", "/api/v1/plans")
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert body["error"]["code"] == "RATE_LIMIT_EXCEEDED" and response.headers["Retry-After"]
            break
    assert statuses[-1] == 429 and len(statuses) >= 2, statuses
    assert response.headers.get("X-RateLimit-Limit") in (None, "3")
    hub.extensions["rate_limiter"]._plan_rules.clear()


async def test_only_admins_assign_and_only_known_plans(api, api_of):
    member = await api_of(role="member")
    await member.error("PUT", "/api/v1/billing/plan", {"plan": "enterprise"}, status=403, code="FORBIDDEN")
    await api.error("PUT", "/api/v1/billing/plan", {"plan": "platinum"}, status=400, field="plan")
    await api.error("PUT", "/api/v1/billing/plan", {"plan": "pro", "price": 0}, status=400)
    assert (await api.get("/api/v1/plans"))["current_plan"] == "starter"


async def test_with_stripe_plans_are_not_assigned_by_hand(api, billing):
    billing(provider="stripe")
    await api.error("PUT", "/api/v1/billing/plan", {"plan": "enterprise"}, status=409,
                    code="BILLING_MANAGED_BY_STRIPE")


async def test_without_stripe_the_payment_routes_say_so(api):
    for path, body in (("/api/v1/customers", {}),
                       ("/api/v1/subscriptions", {"plan": "pro", "payment_method_id": "pm_1"}),
                       ("/api/v1/checkout", {"plan": "pro", "success_url": "https://a.example/ok",
                                             "cancel_url": "https://a.example/no"})):
        error = await api.error("POST", path, body, status=409, code="BILLING_PROVIDER_NOT_CONFIGURED")
        assert "provider" in error["message"]
    await api.error("PUT", "/api/v1/subscriptions/current", {"plan": "pro"}, status=409,
                    code="BILLING_PROVIDER_NOT_CONFIGURED")


def test_config_changes_plans_field_by_field_and_adds_plans():
    settings = BillingSettings.model_validate({
        "plans": {"pro": {"requests_per_hour": 20_000, "stripe_price_id": "price_1"},
                  "team": {"name": "Team", "requests_per_hour": 5_000}}})
    assert settings.plans["pro"].requests_per_hour == 20_000
    assert settings.plans["pro"].websocket_connections == 25  # the rest as built in
    assert settings.plans["team"].rate_rules()["/api/*"] == {
        "requests_per_minute": 84, "burst_size": 5_000, "scope": "user"}
    assert "sk_live_abc" not in repr(BillingSettings(secret_key="sk_live_abc"))
    with pytest.raises(ValueError):
        BillingSettings.model_validate({"fallback_plan": "gold"})


async def hub_command(settings, *args: str) -> subprocess.CompletedProcess:
    """`hub.py <args>` in a child process on the suite's data dir and database."""
    env = hub_environment(settings.data_dir, {"HUB_DATABASE_URL": settings.effective_database_url})
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, str(ROOT / "hub.py"), *args], cwd=ROOT, env=env, capture_output=True,
        text=True, stdin=subprocess.DEVNULL, timeout=300)


async def test_an_operator_sets_a_plan_on_the_command_line(api, settings):
    result = await hub_command(settings, "billing", "set-plan", "--org", api.org_id, "--plan", "pro")
    assert result.returncode == 0, result.stderr
    [row] = (await api.get("/api/v1/subscriptions"))["subscriptions"]
    assert result.stdout.strip() == f"Organization {api.org_id}: plan starter -> pro (subscription {row['id']})"
    assert (row["provider"], row["plan"], row["status"]) == ("local", "pro", "active")

    for arguments, reason in ((("--org", api.org_id, "--plan", "platinum"), "unknown plan"),
                              (("--org", "acme", "--plan", "pro"), "not an organization id")):
        failed = await hub_command(settings, "billing", "set-plan", *arguments)
        assert failed.returncode == 1 and reason in failed.stderr, failed.stderr
    assert (await api.get("/api/v1/subscriptions"))["total"] == 1

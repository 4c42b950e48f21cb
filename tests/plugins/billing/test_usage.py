"""GET /api/v1/usage against every limit of the plan: the monthly quotas from the core's metering,
seats, open WebSocket connections, AI agent calls today and the rate limits the plan sets
(the billing plugin's `hub_usage_limits` entries)."""

from __future__ import annotations

import pytest

from core import HubError, record_usage


async def test_hook_hub_usage_limits_every_limit_of_the_plan_against_its_value(api, api_of, hub, ws):
    await api.put("/api/v1/billing/plan", {"plan": "free"})
    await api_of(role="member")
    await record_usage(api.org_id, "ai_tokens", 1_234, hub=hub)
    await record_usage(api.org_id, "workflow_executions", 10, hub=hub)
    await record_usage(api.org_id, "agent_runs", 3, hub=hub)

    async with ws(api.account):
        body = await api.get("/api/v1/usage")
    assert body["plan"] == "free"
    limits = body["limits"]
    assert limits["ai_tokens"] == {"limit": 200_000, "used": 1_234, "remaining": 198_766,
                                   "percentage_used": 0.62, "period": "month"}
    assert limits["workflow_executions"]["used"] == 10 and limits["workflow_executions"]["limit"] == 1_000
    assert limits["collaborators"] == {"limit": 3, "used": 2, "remaining": 1, "percentage_used": 66.67,
                                       "period": "current"}
    assert limits["websocket_connections"] == {"limit": 5, "used": 1, "remaining": 4, "percentage_used": 20.0,
                                               "period": "current"}
    assert limits["ai_agent_calls_per_day"]["used"] == 3 and limits["ai_agent_calls_per_day"]["limit"] == 100
    # limited, but not counted by the Hub: said so with null
    assert limits["requests_per_hour"] == {"limit": 1_000, "used": None, "remaining": None,
                                           "percentage_used": None, "period": "hour"}
    assert limits["storage_mb"] == {"limit": 500, "used": 0, "remaining": 500, "percentage_used": 0.0,
                                    "period": "current"}  # the files it stores (none)
    assert {"api_calls", "ai_api_calls", "recommendations_served"} <= set(limits)
    # seed 003's shape stays
    assert body["quota"]["api_calls_limit"] == 100_000 == limits["api_calls"]["limit"]
    assert set(body["metrics"]) >= {"api_calls", "recommendations_served", "items_indexed", "average_latency_ms"}

    # after the socket closed, and on another plan
    await api.put("/api/v1/billing/plan", {"plan": "pro"})
    limits = (await api.get("/api/v1/usage"))["limits"]
    assert limits["ai_tokens"]["limit"] == 20_000_000 and limits["ai_tokens"]["used"] == 1_234
    assert limits["collaborators"]["limit"] == 25 and limits["requests_per_hour"]["limit"] == 10_000


async def test_a_plan_leaving_limits_to_the_config_shows_the_configured_ones(api, other_api, hub):
    body = await api.get("/api/v1/usage")
    assert body["plan"] == "starter"
    limits = body["limits"]
    configured = await hub.extensions["metering"].limits_for(api.org_id)
    for unit, limit in configured.items():
        assert limits[unit]["limit"] == limit, unit
    assert "requests_per_hour" not in limits  # the [rate_limits] rules apply, not the plan's
    assert limits["collaborators"]["used"] == 1
    # another organization's usage is its own
    await record_usage(api.org_id, "ai_tokens", 99, hub=hub)
    assert (await other_api.get("/api/v1/usage"))["limits"]["ai_tokens"]["used"] == 0
    assert (await api.get("/api/v1/usage"))["limits"]["ai_tokens"]["used"] == 99


async def test_the_llm_functions_read_usage_and_the_subscription_with_the_callers_rights(api, other_api, hub, app):
    from core import call_function, available_functions
    from core.tenancy.principals import principal_from_credential

    assigned = await api.put("/api/v1/billing/plan", {"plan": "pro"})
    await record_usage(api.org_id, "ai_tokens", 42, hub=hub)
    async with app.app_context():
        principal = await principal_from_credential(api.headers["Authorization"].split()[1], hub)
        intruder = await principal_from_credential(other_api.headers["Authorization"].split()[1], hub)
        assert {"get_billing_usage", "get_subscription"} <= {f.name for f in await available_functions(hub, principal)}
        usage = await call_function(hub, principal, "get_billing_usage", {})
        assert usage["plan"] == "pro" and usage["limits"]["ai_tokens"] == {"limit": 20_000_000, "used": 42,
                                                                           "period": "month"}
        current = await call_function(hub, principal, "get_subscription", {})
        assert (current["id"], current["plan"], current["provider"]) == (assigned["subscription_id"], "pro", "local")
        assert await call_function(hub, principal, "get_subscription",
                                   {"subscription_id": assigned["subscription_id"]}) == current
        with pytest.raises(HubError) as caught:  # another organization's subscription: not found
            await call_function(hub, intruder, "get_subscription", {"subscription_id": assigned["subscription_id"]})
        assert caught.value.code == "NOT_FOUND"
        with pytest.raises(HubError) as caught:  # it has none
            await call_function(hub, intruder, "get_subscription", {})
        assert caught.value.code == "NOT_FOUND"

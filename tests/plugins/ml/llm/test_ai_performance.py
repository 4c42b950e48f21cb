"""GET /api/analytics/ai-performance (seed 004) and agents' `performance`: the numbers are
the formulas of plugins/ml/llm/agents.py over the recorded runs. Here the run records are
written directly (as finished runs of every kind, on chosen days); test_agents.py checks
the same numbers after real runs on the model."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from plugins.ml.llm.agents import AgentSettings
from plugins.ml.llm.models import AgentRun
from tests.plugins.crm.support import assert_same_types

# seed 004 "Analytics API", verbatim
SEED_AI_PERFORMANCE = {
    "agents": [{
        "agentId": "agent_123", "name": "Sales Assistant",
        "metrics": {"totalInteractions": 1250, "successfulInteractions": 975, "avgResponseTime": 1.2,
                    "costPerInteraction": 0.02, "leadQualificationRate": 0.78},
    }],
    "overall": {"totalCost": 125.50, "totalSavings": 15000, "automationRate": 0.65},
}
DEFAULTS = AgentSettings()
SAVED_PER_SUCCESS = DEFAULTS.minutes_saved_per_success / 60 * DEFAULTS.hourly_rate


async def record_run(org_id, agent: dict, status: str, *, latency_ms: float = 1000, cost: float = 0.0,
                     executed: int = 0, lead_actions: int = 0, days_ago: int = 0) -> AgentRun:
    run = await AgentRun.create(
        org_id=org_id, agent_id=agent["id"], agent_name=agent["name"], mode="execute", status=status,
        success=status == "succeeded", latency_ms=latency_ms, cost=cost, executed_actions=executed,
        lead_actions=lead_actions, prompt_tokens=100, completion_tokens=20,
    )
    if days_ago:
        when = datetime.now(timezone.utc) - timedelta(days=days_ago)
        await AgentRun.filter(id=run.id).update(created_at=when)
    return run


async def test_empty_organization(api):
    body = await api.get("/api/analytics/ai-performance")
    assert body == {"agents": [], "overall": {"totalCost": 0.0, "totalSavings": 0.0, "automationRate": 0.0}}
    agent = await api.post("/api/agents", {"name": "Idle"})
    body = await api.get("/api/analytics/ai-performance")
    assert body["agents"] == [{"agentId": agent["id"], "name": "Idle", "metrics": {
        "totalInteractions": 0, "successfulInteractions": 0, "avgResponseTime": 0.0, "costPerInteraction": 0.0,
        "leadQualificationRate": 0.0}}]


async def test_numbers_follow_the_recorded_runs(api, other_api):
    org = api.account.org_id
    sales = await api.post("/api/agents", {"name": "Sales Assistant", "capabilities": ["create_lead"]})
    support = await api.post("/api/agents", {"name": "Support"})
    gone = await api.post("/api/agents", {"name": "Deleted later"})
    # sales: 4 finished runs (2 succeeded with a lead action, 1 succeeded without action, 1 partial)
    await record_run(org, sales, "succeeded", latency_ms=1000, cost=0.01, executed=1, lead_actions=1)
    await record_run(org, sales, "succeeded", latency_ms=2000, cost=0.02, executed=2, lead_actions=1)
    await record_run(org, sales, "succeeded", latency_ms=3000, cost=0.03)
    await record_run(org, sales, "partial", latency_ms=6000, cost=0.04, executed=1, lead_actions=1)
    await record_run(org, sales, "running")  # not finished: not counted anywhere
    # support: 1 failed, 1 succeeded with an executed action that is not about leads
    await record_run(org, support, "failed", latency_ms=500, cost=0.0)
    await record_run(org, support, "succeeded", latency_ms=1500, cost=0.005, executed=1)
    # a deleted agent's run still counts in the overall numbers
    await record_run(org, gone, "succeeded", latency_ms=100, cost=0.001, executed=1)
    await api.delete(f"/api/agents/{gone['id']}")
    # another organization's runs never count
    stranger = await other_api.post("/api/agents", {"name": "Stranger"})
    await record_run(other_api.account.org_id, stranger, "succeeded", cost=5.0, executed=1)

    body = await api.get("/api/analytics/ai-performance")
    assert_same_types(body, SEED_AI_PERFORMANCE)
    by_name = {agent["name"]: agent for agent in body["agents"]}
    assert list(by_name) == ["Sales Assistant", "Support"]  # oldest agent first; deleted ones left out
    assert by_name["Sales Assistant"] == {"agentId": sales["id"], "name": "Sales Assistant", "metrics": {
        "totalInteractions": 4, "successfulInteractions": 3, "avgResponseTime": 3.0,
        "costPerInteraction": 0.025, "leadQualificationRate": 0.5}}
    assert by_name["Support"]["metrics"] == {
        "totalInteractions": 2, "successfulInteractions": 1, "avgResponseTime": 1.0,
        "costPerInteraction": 0.0025, "leadQualificationRate": 0.0}
    succeeded, automated, finished = 5, 4, 7
    assert body["overall"] == {
        "totalCost": pytest.approx(0.106),
        "totalSavings": round(succeeded * SAVED_PER_SUCCESS, 2),
        "automationRate": round(automated / finished, 4),
    }

    # the agents' performance in the list and the detail comes from the same records
    listed = {agent["id"]: agent["performance"] for agent in (await api.get("/api/agents"))["agents"]}
    assert listed[sales["id"]] == {"totalInteractions": 4, "successRate": 0.75, "avgResponseTime": 3.0}
    assert listed[support["id"]] == {"totalInteractions": 2, "successRate": 0.5, "avgResponseTime": 1.0}
    assert (await api.get(f"/api/agents/{sales['id']}"))["performance"] == listed[sales["id"]]


async def test_date_range(api):
    org = api.account.org_id
    agent = await api.post("/api/agents", {"name": "Dated"})
    await record_run(org, agent, "succeeded", executed=1, days_ago=10)
    await record_run(org, agent, "failed", days_ago=3)
    await record_run(org, agent, "succeeded")
    today = datetime.now(timezone.utc).date()

    def metrics(body):
        return body["agents"][0]["metrics"]

    everything = await api.get("/api/analytics/ai-performance")
    assert metrics(everything)["totalInteractions"] == 3
    recent = await api.get(f"/api/analytics/ai-performance?startDate={today - timedelta(days=5)}")
    assert metrics(recent)["totalInteractions"] == 2 and metrics(recent)["successfulInteractions"] == 1
    assert recent["overall"]["automationRate"] == 0.0  # the one with an action was before the range
    old = await api.get(f"/api/analytics/ai-performance?endDate={today - timedelta(days=5)}")
    assert metrics(old)["totalInteractions"] == 1 and old["overall"]["automationRate"] == 1.0
    assert old["overall"]["totalSavings"] == round(SAVED_PER_SUCCESS, 2)
    day = today - timedelta(days=3)
    single = await api.get(f"/api/analytics/ai-performance?startDate={day}&endDate={day}T23:00:00Z")
    assert metrics(single)["totalInteractions"] == 1 and metrics(single)["successfulInteractions"] == 0
    # the agent's overall performance is not limited by the range
    assert (await api.get(f"/api/agents/{agent['id']}"))["performance"]["totalInteractions"] == 3


@pytest.mark.parametrize("query, field", [
    ("startDate=yesterday", "startDate"),
    ("endDate=2024-13-01", "endDate"),
    ("startDate=2024-02-01&endDate=2024-01-01", "startDate"),
])
async def test_bad_dates(api, query, field):
    await api.error("GET", f"/api/analytics/ai-performance?{query}", field=field)


async def test_next_to_the_crm_analytics(api):
    # both plugins serve /api/analytics/* without colliding
    assert "summary" in await api.get("/api/analytics/dashboard")
    assert "overall" in await api.get("/api/analytics/ai-performance")

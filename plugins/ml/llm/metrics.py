"""The llm's analytics metrics (`hub_metrics`, served by the analytics plugin): tokens (the
metered unit `ai_tokens` of every generation), agent runs, their success rate, tokens and cost."""

from __future__ import annotations

from core import UsageCounter
from plugins.ml.llm.models import AgentRun

RUN_DIMENSIONS = {"status": "Status", "agent_name": "Agent", "mode": "Mode"}


def register_metrics(register) -> None:
    register("tokens", "AI tokens", model=UsageCounter, aggregate="sum", value="value", time="day",
             where={"metric": "ai_tokens"}, description="Tokens generated and read by the local model, per day")
    register("agent_runs", "Agent runs", model=AgentRun, dimensions=RUN_DIMENSIONS,
             description="Agent runs started in the period")
    register("successful_agent_runs", "Successful agent runs", model=AgentRun, where={"success": True},
             dimensions=RUN_DIMENSIONS, description="Agent runs that succeeded")
    register("agent_success_rate", "Agent success rate", aggregate="ratio", numerator="successful_agent_runs",
             denominator="agent_runs", format="percent", description="Successful agent runs / agent runs")
    register("agent_completion_tokens", "Agent completion tokens", model=AgentRun, aggregate="sum",
             value="completion_tokens", dimensions=RUN_DIMENSIONS, description="Tokens the agents generated")
    register("agent_cost", "Agent cost", model=AgentRun, aggregate="sum", value="cost", dimensions=RUN_DIMENSIONS,
             format="currency", description="Cost of the agent runs")
    register("agent_latency_ms", "Agent latency (ms)", model=AgentRun, aggregate="average", value="latency_ms",
             dimensions=RUN_DIMENSIONS, description="Mean duration of an agent run")

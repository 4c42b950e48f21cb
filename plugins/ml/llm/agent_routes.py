"""AI agents API (seed 004): /api/agents, /api/agents/{id}/execute, the agent's runs, and
GET /api/analytics/ai-performance (one exact path next to the CRM plugin's
/api/analytics/dashboard, so the two plugins' routes never collide). Logic in agents.py."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import document_response, validate_request

from core import (
    OffsetQuery,
    current_org_id,
    current_principal,
    document_errors,
    require,
    validate_query,
    validation_error,
)
from plugins.ml.llm import agents
from plugins.ml.llm.agent_schemas import (
    AgentCreate,
    AgentList,
    AgentOut,
    AgentQuery,
    AgentUpdate,
    AIPerformance,
    ExecuteRequest,
    ExecuteResponse,
    PerformanceQuery,
    RunList,
)

bp = Blueprint("llm_agents", __name__)


@bp.get("/api/agents")
@require("llm.agents.read")
@validate_query(AgentQuery)
@document_response(AgentList)
async def list_agents(query_args: AgentQuery):
    """The organization's agents, newest first, with their performance."""
    page = query_args.page()
    rows, total = await agents.list_agents(current_org_id(), page, query_args.status, query_args.type)
    return page.listing("agents", rows, total, camel=True)


@bp.post("/api/agents")
@require("llm.agents.write")
@validate_request(AgentCreate)
@document_response(AgentOut, 201)
async def create_agent(data: AgentCreate):
    """Create an agent: its type, capabilities (hub functions) and model settings."""
    return await agents.create_agent(current_org_id(), current_principal().user_id, data.model_dump()), 201


@bp.get("/api/agents/<agent_id>")
@require("llm.agents.read")
@document_response(AgentOut)
async def get_agent(agent_id: str):
    """One agent, with its performance."""
    return await agents.get_agent(current_org_id(), agent_id)


@bp.put("/api/agents/<agent_id>")
@require("llm.agents.write")
@validate_request(AgentUpdate)
@document_response(AgentOut)
async def update_agent(agent_id: str, data: AgentUpdate):
    """Change an agent (its config is merged, not replaced)."""
    changes = data.model_dump(exclude_unset=True)
    if data.config is not None:
        changes["config"] = data.config.model_dump(exclude_unset=True)
    return await agents.update_agent(current_org_id(), agent_id, changes)


@bp.delete("/api/agents/<agent_id>")
@require("llm.agents.delete")
@document_response(None, 204)
async def delete_agent(agent_id: str):
    """Delete an agent (its runs stay, for the cost and savings history)."""
    await agents.delete_agent(current_org_id(), agent_id)
    return "", 204


@bp.post("/api/agents/<agent_id>/execute")
@require("llm.agents.execute")
@validate_request(ExecuteRequest)
@document_response(ExecuteResponse)
@document_errors(409, 503)
async def execute_agent(agent_id: str, data: ExecuteRequest):
    """Run the agent on a message: a bounded loop of model steps and function calls, with the
    caller's permissions (409 for an inactive agent)."""
    return await agents.execute(current_principal(), agent_id, data.input.model_dump())


@bp.get("/api/agents/<agent_id>/runs")
@require("llm.agents.read")
@validate_query(OffsetQuery)
@document_response(RunList)
async def list_runs(agent_id: str, query_args: OffsetQuery):
    """An agent's runs, newest first."""
    page = query_args.page()
    rows, total = await agents.list_runs(current_org_id(), agent_id, page)
    return page.listing("runs", rows, total, camel=True)


@bp.get("/api/analytics/ai-performance")
@require("llm.agents.read")
@validate_query(PerformanceQuery)
@document_response(AIPerformance)
async def ai_performance(query_args: PerformanceQuery):
    """Seed 004's AI performance: each agent's interactions, success, latency and cost, and overall."""
    start, end = query_args.start_date, query_args.end_date
    if start and end and start > end:
        raise validation_error("startDate", "must not be after endDate")
    return await agents.ai_performance(current_org_id(), start, end)

"""AI agents API (seed 004): /api/agents, /api/agents/{id}/execute, the agent's runs, and
GET /api/analytics/ai-performance (one exact path next to the CRM plugin's
/api/analytics/dashboard, so the two plugins' routes never collide). Logic in agents.py."""

from __future__ import annotations

from datetime import date, datetime, timezone

from quart import Blueprint, request
from quart_schema import document_response, validate_request

from core import current_org_id, current_principal, paginate, require, validation_error
from plugins.ml.llm import agents
from plugins.ml.llm.agent_schemas import (
    AgentCreate,
    AgentList,
    AgentOut,
    AgentUpdate,
    AIPerformance,
    ExecuteRequest,
    ExecuteResponse,
    RunList,
)

bp = Blueprint("llm_agents", __name__)


def _choice(name: str, allowed) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        raise validation_error(name, f"must be one of {', '.join(sorted(allowed))}")
    return value


def _date(name: str) -> date | None:
    """A UTC day from `YYYY-MM-DD` or an ISO 8601 date-time."""
    value = request.args.get(name) or None
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise validation_error(name, "must be a date (YYYY-MM-DD) or an ISO 8601 date-time") from None
    return (moment.astimezone(timezone.utc) if moment.tzinfo else moment).date()


@bp.get("/api/agents")
@require("llm.agents.read")
@document_response(AgentList)
async def list_agents():
    page = paginate("offset")
    status = _choice("status", {"active", "inactive"})
    agent_type = (request.args.get("type") or "").strip().lower() or None
    rows, total = await agents.list_agents(current_org_id(), page, status, agent_type)
    return page.respond({"agents": rows, "total": total, "pagination": page.info(total)}, total)


@bp.post("/api/agents")
@require("llm.agents.write")
@validate_request(AgentCreate)
@document_response(AgentOut, 201)
async def create_agent(data: AgentCreate):
    return await agents.create_agent(current_org_id(), current_principal().user_id, data.model_dump()), 201


@bp.get("/api/agents/<agent_id>")
@require("llm.agents.read")
@document_response(AgentOut)
async def get_agent(agent_id: str):
    return await agents.get_agent(current_org_id(), agent_id)


@bp.put("/api/agents/<agent_id>")
@require("llm.agents.write")
@validate_request(AgentUpdate)
@document_response(AgentOut)
async def update_agent(agent_id: str, data: AgentUpdate):
    changes = data.model_dump(exclude_unset=True)
    if data.config is not None:
        changes["config"] = data.config.model_dump(exclude_unset=True)
    return await agents.update_agent(current_org_id(), agent_id, changes)


@bp.delete("/api/agents/<agent_id>")
@require("llm.agents.delete")
async def delete_agent(agent_id: str):
    await agents.delete_agent(current_org_id(), agent_id)
    return "", 204


@bp.post("/api/agents/<agent_id>/execute")
@require("llm.agents.execute")
@validate_request(ExecuteRequest)
@document_response(ExecuteResponse)
async def execute_agent(agent_id: str, data: ExecuteRequest):
    return await agents.execute(current_principal(), agent_id, data.input.model_dump())


@bp.get("/api/agents/<agent_id>/runs")
@require("llm.agents.read")
@document_response(RunList)
async def list_runs(agent_id: str):
    page = paginate("offset")
    rows, total = await agents.list_runs(current_org_id(), agent_id, page)
    return page.respond({"runs": rows, "total": total, "pagination": page.info(total)}, total)


@bp.get("/api/analytics/ai-performance")
@require("llm.agents.read")
@document_response(AIPerformance)
async def ai_performance():
    start, end = _date("startDate"), _date("endDate")
    if start and end and start > end:
        raise validation_error("startDate", "must not be after endDate")
    return await agents.ai_performance(current_org_id(), start, end)

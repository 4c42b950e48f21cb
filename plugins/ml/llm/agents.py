"""AI agents (seed 004): CRUD, the bounded tool loop that runs them, run records, and the
ai-performance analytics computed from those records. Callable without HTTP.

An agent is a system prompt, `capabilities` (names of hub functions it may call) and a
config. `execute(principal, agent_id, input)` runs it for a caller:

    offered = agent.capabilities ∩ core.functions.available_functions(caller)
    step 1..maxSteps:  model(messages, tools=offered) -> answer, or function calls
                       each call -> core.functions.call_function(caller, ...) -> result
                       (mode "propose": calls are returned as actions, not run, and the loop ends)
                       results (and errors, as {"error": ...}) go back to the model
    until the model answers in text, maxSteps model calls were made, or timeoutSeconds passed.

So the caller's permissions, organization and plugin switches are enforced by the core for
every call; a capability the caller may not use is neither offered nor run (if none is
left, the run is refused with 403 before the model is called).

`toolChoice` in the config steers the first step: "auto" lets the model decide at every
step; "required" or a capability's name forces a function call on the first step, and the
following step then answers without tools ("none"): one action, then the reply. A small
model (SmolLM2-135M in development) rarely decides to call a function by itself, so agents
meant to act should name their function here.

Run statuses: `succeeded` (answered within the bounds), `partial` (maxSteps or the timeout
hit after at least one step), `failed` (an error, or the timeout before any step). Model
unavailable (503 AI_SERVICE_UNAVAILABLE) and token quota exhausted (429 AI_QUOTA_EXCEEDED)
are answered as errors after the run is recorded; bounds hit are answered 200 with the run's
status, and the actions done so far.

Tokens are metered per organization with the runtime's helpers, like /v1/chat/completions:
before each model call `runtime.check_quota` (ai_tokens left? counts one ai_api_calls; else
429 AI_QUOTA_EXCEEDED), after it `runtime.record_tokens` (core.metering.record of ai_tokens),
so tokens a call really spent are always counted, even when they cross the limit, and the
next call is refused. Each run also counts one `agent_runs` unit (core.metering.consume) before
it starts, so a plan can limit agent runs per month (`[quotas.plans] free = {agent_runs = 3000}`);
over it: 429 AI_QUOTA_EXCEEDED, and no run.

`output.confidence` is a heuristic, not a model probability: the share of the run's
function calls that validated and ran (or were proposed) without error (1.0 without calls),
halved if the answer was cut off by maxTokens, halved for a partial run, 0 for a failed one.

Analytics (`ai_performance`, per agent and overall, over finished runs, optionally between
two dates). The token price is `[plugins.llm] cost_per_1k_tokens` (0 by default: a local
model costs nothing per token); the savings settings are `[plugins.llm.agents]` (settings.AgentSettings):
    totalInteractions       finished runs
    successfulInteractions  runs with status succeeded
    avgResponseTime         mean run latency, seconds
    costPerInteraction      sum(cost) / runs, a run's cost = (input + output tokens) / 1000 * cost_per_1k_tokens
                            (priced when the run ends; a later price change does not rewrite history)
    leadQualificationRate   succeeded runs that executed a function changing leads
                            (permission crm.leads.write) / runs
    totalCost               sum(cost)
    totalSavings            successful runs * minutes_saved_per_success / 60 * hourly_rate
    automationRate          succeeded runs that executed at least one action / runs
An agent's `performance` (list and detail) is the same data over all its runs.

Events (core.events.emit): `agent.status` {agentId, status: "processing", currentTask, runId,
step} before each model call and each function call; `agent.completed` {agentId, runId,
status, success, actions, usage, latencyMs, error} when the run ends, however it ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, time as day_time, timedelta, timezone
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Avg, Count, Sum

from core import (
    Hub,
    HubError,
    HubFunction,
    Page,
    Principal,
    available_functions,
    call_function,
    consume_quota,
    current_hub,
    emit,
    iso,
    openai_tool,
    transaction,
    utcnow,
    validation_error,
)
from plugins.ml.llm.models import Agent, AgentRun
from plugins.ml.llm.settings import AgentSettings

log = logging.getLogger("hub.llm.agents")

# An executed call of a function with this permission counts as qualifying a lead.
LEAD_WRITE_PERMISSION = "crm.leads.write"
RUNS_METRIC = "agent_runs"
FORCED_CHOICES = ("required",)  # + any capability's name
FREE_CHOICES = ("auto", "none")


def agent_settings(hub: Hub | None = None) -> AgentSettings:
    """`[plugins.llm.agents]`."""
    return (hub or current_hub()).plugin_settings("llm").agents


def price_per_1k_tokens(hub: Hub | None = None) -> float:
    """`[plugins.llm] cost_per_1k_tokens`, the plugin's one token price (0 by default: a
    local model costs nothing per token; set it to compare with a hosted model)."""
    hub = hub or current_hub()
    return float(getattr(hub.plugin_settings("llm"), "cost_per_1k_tokens", 0.0))


def plain_json(value: Any) -> Any:
    """`value` as JSON types only (datetimes and UUIDs become strings)."""
    return json.loads(json.dumps(value, default=str))


# -- agents: CRUD --------------------------------------------------------------------------------

CONFIG_FIELDS = ("model", "temperature", "max_tokens", "system_prompt", "mode", "max_steps", "timeout_seconds",
                 "tool_choice")


def _check_capabilities(hub: Hub, capabilities: list[str], tool_choice: str) -> None:
    unknown = [name for name in capabilities if name not in hub.functions]
    if unknown:
        raise validation_error("capabilities", f"unknown function(s): {', '.join(unknown)}; "
                               "capabilities are names of hub functions (GET /v1/functions)")
    if tool_choice in FREE_CHOICES:
        return
    if tool_choice == "required":
        if not capabilities:
            raise validation_error("config.toolChoice", "'required' needs at least one capability")
    elif tool_choice not in capabilities:
        raise validation_error("config.toolChoice", "must be auto, none, required or one of the capabilities")


def _check_model(model: str | None) -> None:
    """A configured model must be one this Hub serves (null: the default model)."""
    from plugins.ml.llm import runtime

    if model is None:
        return
    served = runtime.current_runtime()
    if not served.accepts(model):
        names = ", ".join([served.name, *served.settings.aliases])
        raise validation_error("config.model", f"unknown model; this Hub serves: {names} (or null for the default)")


def _empty_performance() -> dict:
    return {"totalInteractions": 0, "successRate": 0.0, "avgResponseTime": 0.0}


def agent_json(agent: Agent, performance: dict | None = None) -> dict:
    return {
        "id": str(agent.id), "name": agent.name, "type": agent.type, "status": agent.status,
        "capabilities": list(agent.capabilities),
        "performance": performance or _empty_performance(),
        "config": {
            "model": agent.model, "temperature": agent.temperature, "maxTokens": agent.max_tokens,
            "systemPrompt": agent.system_prompt, "mode": agent.mode, "maxSteps": agent.max_steps,
            "timeoutSeconds": agent.timeout_seconds, "toolChoice": agent.tool_choice,
        },
        "createdAt": iso(agent.created_at), "updatedAt": iso(agent.updated_at),
    }


async def list_agents(org_id, page: Page, status: str | None = None, agent_type: str | None = None):
    query = Agent.for_org(org_id)
    if status:
        query = query.filter(status=status)
    if agent_type:
        query = query.filter(type=agent_type)
    agents, total = await page.fetch(query, "-created_at")
    performance = await _performance(org_id, [agent.id for agent in agents])
    return [agent_json(agent, performance.get(agent.id)) for agent in agents], total


async def get_agent(org_id, agent_id) -> dict:
    agent = await Agent.get_for_org(org_id, agent_id, "Agent")
    return agent_json(agent, (await _performance(org_id, [agent.id])).get(agent.id))


async def create_agent(org_id, actor_id, data: dict) -> dict:
    config = data.pop("config")
    _check_capabilities(current_hub(), data["capabilities"], config["tool_choice"])
    _check_model(config["model"])
    agent = await Agent.create(org_id=org_id, created_by=actor_id, **data, **config)
    return agent_json(agent)


async def update_agent(org_id, agent_id, changes: dict) -> dict:
    agent = await Agent.get_for_org(org_id, agent_id, "Agent")
    config = changes.pop("config", None) or {}
    capabilities = changes.get("capabilities", agent.capabilities)
    tool_choice = config.get("tool_choice", agent.tool_choice)
    if "capabilities" in changes or "tool_choice" in config:
        _check_capabilities(current_hub(), capabilities, tool_choice)
    if config.get("model") is not None:
        _check_model(config["model"])
    for name, value in {**changes, **config}.items():
        setattr(agent, name, value)
    await agent.save()
    return agent_json(agent, (await _performance(org_id, [agent.id])).get(agent.id))


async def delete_agent(org_id, agent_id) -> None:
    # Its runs stay: they are the organization's cost and savings history.
    agent = await Agent.get_for_org(org_id, agent_id, "Agent")
    await agent.delete()


# -- runs: records and analytics -----------------------------------------------------------------


def _finished_runs(org_id):
    return AgentRun.for_org(org_id).exclude(status="running")


async def _run_totals(query, group_by_agent: bool) -> list[dict]:
    """One row (per agent, if asked) of counts and sums over the runs of `query`."""
    aggregates = dict(
        runs=Count("id"),
        succeeded=Count("id", _filter=Q(status="succeeded")),
        automated=Count("id", _filter=Q(status="succeeded", executed_actions__gt=0)),
        qualified=Count("id", _filter=Q(status="succeeded", lead_actions__gt=0)),
        latency_ms=Avg("latency_ms"),
        cost=Sum("cost"),
    )
    query = query.annotate(**aggregates)
    if group_by_agent:
        return await query.group_by("agent_id").values("agent_id", *aggregates)
    return await query.values(*aggregates)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


async def _performance(org_id, agent_ids: list) -> dict:
    """Seed `performance` of each agent that has finished runs, by agent id."""
    if not agent_ids:
        return {}
    rows = await _run_totals(_finished_runs(org_id).filter(agent_id__in=agent_ids), group_by_agent=True)
    return {
        row["agent_id"]: {
            "totalInteractions": row["runs"],
            "successRate": _rate(row["succeeded"], row["runs"]),
            "avgResponseTime": round(float(row["latency_ms"] or 0) / 1000, 3),
        }
        for row in rows
    }


def _day_start(day: date) -> datetime:
    return datetime.combine(day, day_time.min, tzinfo=timezone.utc)


async def ai_performance(org_id, start: date | None = None, end: date | None = None) -> dict:
    """Seed 004 ai-performance over the runs created from `start` to `end` (UTC days,
    inclusive); the formulas are in the module docstring."""
    settings = agent_settings()
    runs = _finished_runs(org_id)
    if start is not None:
        runs = runs.filter(created_at__gte=_day_start(start))
    if end is not None:
        runs = runs.filter(created_at__lt=_day_start(end + timedelta(days=1)))
    per_agent = {row["agent_id"]: row for row in await _run_totals(runs, group_by_agent=True)}
    agents = []
    for agent in await Agent.for_org(org_id).order_by("created_at", "id").values("id", "name"):
        row = per_agent.get(agent["id"])
        count = row["runs"] if row else 0
        agents.append({
            "agentId": str(agent["id"]), "name": agent["name"],
            "metrics": {
                "totalInteractions": count,
                "successfulInteractions": row["succeeded"] if row else 0,
                "avgResponseTime": round(float(row["latency_ms"] or 0) / 1000, 3) if row else 0.0,
                "costPerInteraction": round(float(row["cost"] or 0) / count, 6) if count else 0.0,
                "leadQualificationRate": _rate(row["qualified"], count) if row else 0.0,
            },
        })
    [overall] = await _run_totals(runs, group_by_agent=False)
    succeeded = overall["succeeded"] or 0
    return {
        "agents": agents,
        "overall": {
            "totalCost": round(float(overall["cost"] or 0), 6),
            "totalSavings": round(succeeded * settings.minutes_saved_per_success / 60 * settings.hourly_rate, 2),
            "automationRate": _rate(overall["automated"] or 0, overall["runs"] or 0),
        },
    }


def run_json(run: AgentRun) -> dict:
    return {
        "id": str(run.id), "agentId": str(run.agent_id), "status": run.status, "success": run.success,
        "mode": run.mode, "input": run.input, "response": run.response, "actions": run.actions,
        "steps": run.steps,
        "usage": {"inputTokens": run.prompt_tokens, "outputTokens": run.completion_tokens,
                  "totalCost": round(run.cost, 8)},
        "latencyMs": round(run.latency_ms, 1),
        "error": {"code": run.error_code, "message": run.error_message or ""} if run.error_code else None,
        "userId": str(run.user_id) if run.user_id else None,
        "createdAt": iso(run.created_at), "finishedAt": iso(run.finished_at),
    }


async def list_runs(org_id, agent_id, page: Page) -> tuple[list[dict], int]:
    agent = await Agent.get_for_org(org_id, agent_id, "Agent")
    query = AgentRun.for_org(org_id).filter(agent_id=agent.id)
    runs, total = await page.fetch(query, "-created_at")
    return [run_json(run) for run in runs], total


# -- execution: the tool loop --------------------------------------------------------------------


class _OutOfTime(Exception):
    """The run's wall-clock budget (timeoutSeconds) is spent."""


@dataclass
class _Run:
    """What one execution has done so far."""

    agent: Agent
    principal: Principal
    record: AgentRun
    offered: dict[str, HubFunction]
    withheld: list[str]
    deadline: float
    started: float
    messages: list[dict] = field(default_factory=list)
    actions: list[dict] = field(default_factory=list)
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    response: str | None = None
    last_finish_reason: str | None = None
    status: str = "running"
    error: tuple[str, str] | None = None

    @property
    def org_id(self):
        return self.principal.org_id

    @property
    def remaining(self) -> float:
        return self.deadline - time.monotonic()


def _task_of(data: dict) -> str:
    message = " ".join(data["message"].split())
    summary = message if len(message) <= 80 else message[:77] + "..."
    return f"Lead {data['lead_id']}: {summary}" if data.get("lead_id") else summary


def _user_message(data: dict) -> str:
    parts = [data["message"]]
    if data.get("lead_id"):
        parts.append(f"Lead id: {data['lead_id']}")
    if data.get("context"):
        parts.append("Context: " + json.dumps(data["context"], default=str, ensure_ascii=False))
    return "\n\n".join(parts)


def _first_messages(agent: Agent, data: dict) -> list[dict]:
    system = agent.system_prompt.strip() or (
        f"You are {agent.name}, an assistant working inside a CRM. Use the functions you are given "
        "when the request needs an action, then answer briefly."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": _user_message(data)}]


def _tool_choice(agent: Agent, step: int) -> str | dict:
    """Step 1 follows the config; after a forced first step the model answers ("none")."""
    choice = agent.tool_choice
    if choice in FREE_CHOICES:
        return choice
    if step > 1:
        return "none"
    if choice == "required":
        return "required"
    return {"type": "function", "function": {"name": choice}}


async def _within(run: _Run, awaitable, *, finish_in_background: bool = False):
    """Await `awaitable` within the run's remaining time. A generation that runs out of time
    is cancelled (the runtime stops it at the next token and frees the model); a function call
    is not (it may be inside a transaction): it finishes in the background, and the run stops."""
    remaining = run.remaining
    if remaining <= 0:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise _OutOfTime()
    if not finish_in_background:
        try:
            return await asyncio.wait_for(awaitable, remaining)
        except asyncio.TimeoutError:
            raise _OutOfTime() from None
    task = asyncio.ensure_future(awaitable)
    try:
        return await asyncio.wait_for(asyncio.shield(task), remaining)
    except asyncio.TimeoutError:
        task.add_done_callback(lambda done: done.cancelled() or done.exception())  # retrieve, never raise
        raise _OutOfTime() from None


async def _status(run: _Run, task: str) -> None:
    await emit(run.org_id, "agent.status", {
        "agentId": str(run.agent.id), "status": "processing", "currentTask": task,
        "runId": str(run.record.id), "step": run.steps,
    })


async def _model_step(run: _Run, task: str):
    """One model call: quota check, `agent.status`, generation, tokens recorded."""
    from plugins.ml.llm import runtime

    await runtime.check_quota(run.org_id, 1)  # 429 AI_QUOTA_EXCEEDED when no tokens are left
    run.steps += 1
    await _status(run, f"{task} (step {run.steps} of {run.agent.max_steps})")
    tools = [openai_tool(function) for function in run.offered.values()] or None
    try:
        completion = await _within(run, runtime.complete(
            run.messages, tools=tools, tool_choice=_tool_choice(run.agent, run.steps) if tools else "auto",
            max_tokens=run.agent.max_tokens, temperature=run.agent.temperature, model=run.agent.model,
        ))
    except HubError as error:
        if error.code != "NOT_FOUND":
            raise
        # the agent names a model this Hub no longer serves (its config changed since)
        raise HubError("AI_SERVICE_UNAVAILABLE", f"The agent's model {run.agent.model!r} is not served here",
                       {**error.details, "field": "config.model"}) from None
    run.prompt_tokens += completion.prompt_tokens
    run.completion_tokens += completion.completion_tokens
    run.last_finish_reason = completion.finish_reason
    await runtime.record_tokens(run.org_id, completion)
    return completion


def _result_for_model(value: Any, limit: int) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + " …(truncated)"


async def _run_call(run: _Run, call, settings: AgentSettings) -> str:
    """Run (or propose) one function call; record it as an action; return the text the
    model sees as the call's result."""
    action: dict[str, Any] = {"type": call.name, "parameters": plain_json(call.arguments)}
    run.actions.append(action)
    function = run.offered.get(call.name)
    if function is None:  # not offered to this caller: never run, whatever the model says
        action.update(status="failed", error={"code": "FORBIDDEN", "message": "Function not available"})
        return _result_for_model({"error": action["error"]}, settings.max_result_chars)
    if run.agent.mode == "propose":
        action["status"] = "proposed"
        return _result_for_model({"proposed": True}, settings.max_result_chars)
    await _status(run, f"Running {call.name}")
    hub = current_hub()
    try:
        result = plain_json(await _within(run, call_function(hub, run.principal, call.name, call.arguments),
                                          finish_in_background=True))
    except _OutOfTime:
        action.update(status="failed", error={"code": "TIMEOUT", "message": "The run's time ran out during the call"})
        raise
    except HubError as error:  # refused or invalid: the model gets to see why
        action.update(status="failed", error={"code": error.code, "message": error.message,
                                              "details": plain_json(error.details)})
        return _result_for_model({"error": action["error"]}, settings.max_result_chars)
    except Exception:
        log.exception("agent %s: function %s failed", run.agent.id, call.name)
        action.update(status="failed", error={"code": "INTERNAL_ERROR", "message": "The function failed"})
        return _result_for_model({"error": action["error"]}, settings.max_result_chars)
    text = _result_for_model(result, settings.max_result_chars)
    action.update(status="executed", result=result if len(text) <= settings.max_result_chars else None)
    return text


async def _loop(run: _Run, task: str) -> None:
    settings = agent_settings()
    while run.steps < run.agent.max_steps:
        forced = run.offered and _tool_choice(run.agent, run.steps + 1) not in FREE_CHOICES
        completion = await _model_step(run, task)
        if forced and not completion.tool_calls:  # only when the call was cut off by maxTokens
            run.status = "partial" if run.actions else "failed"
            run.error = ("INVALID_TOOL_CALL", "The model's function call did not fit into maxTokens; raise maxTokens")
            return
        if not completion.tool_calls:
            run.response = (completion.content or "").strip()
            run.status = "succeeded"
            return
        run.messages.append({
            "role": "assistant", "content": completion.content,
            "tool_calls": [{"id": call.id, "type": "function",
                            "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
                           for call in completion.tool_calls],
        })
        for call in completion.tool_calls:
            result = await _run_call(run, call, settings)
            run.messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name, "content": result})
        if run.agent.mode == "propose":  # the model cannot go on without the results
            run.response = (completion.content or "").strip()
            run.status = "succeeded"
            return
    run.status = "partial"
    run.error = ("MAX_STEPS", f"The agent made {run.steps} model calls (maxSteps) without a final answer")


def _confidence(run: _Run) -> float:
    if run.status == "failed":
        return 0.0
    good = sum(1 for action in run.actions if action.get("status") in ("executed", "proposed"))
    score = good / len(run.actions) if run.actions else 1.0
    if run.last_finish_reason == "length":
        score /= 2
    if run.status == "partial":
        score /= 2
    return round(score, 4)


def _fallback_response(run: _Run) -> str:
    """What to say when the model gave no text (a forced call, a bound hit)."""
    done = [a["type"] for a in run.actions if a.get("status") in ("executed", "proposed")]
    if not done:
        return ""
    verb = "Proposed" if run.agent.mode == "propose" else "Executed"
    return f"{verb}: {', '.join(done)}."


async def _finish(run: _Run) -> None:
    record = run.record
    record.status = run.status
    record.success = run.status == "succeeded"
    record.error_code, record.error_message = run.error or (None, None)
    record.response = run.response if run.response else _fallback_response(run)
    record.actions = run.actions
    record.executed_actions = sum(1 for a in run.actions if a.get("status") == "executed")
    record.lead_actions = sum(
        1 for a in run.actions
        if a.get("status") == "executed" and run.offered.get(a["type"]) is not None
        and run.offered[a["type"]].permission == LEAD_WRITE_PERMISSION
    )
    record.steps = run.steps
    record.prompt_tokens, record.completion_tokens = run.prompt_tokens, run.completion_tokens
    record.cost = round((run.prompt_tokens + run.completion_tokens) / 1000 * price_per_1k_tokens(), 8)
    record.latency_ms = (time.monotonic() - run.started) * 1000
    record.finished_at = utcnow()
    async with transaction():  # the event exists exactly when the finished run does
        await record.save()
        await _emit_completed(run, record)


async def _emit_completed(run: _Run, record: AgentRun) -> None:
    await emit(run.org_id, "agent.completed", {
        "agentId": str(run.agent.id), "runId": str(record.id), "status": record.status,
        "success": record.success, "actions": [{"type": a["type"], "status": a.get("status")} for a in run.actions],
        "usage": _usage(record), "latencyMs": round(record.latency_ms, 1),
        "error": {"code": record.error_code, "message": record.error_message} if record.error_code else None,
    })


def _usage(record: AgentRun) -> dict:
    return {"inputTokens": record.prompt_tokens, "outputTokens": record.completion_tokens,
            "totalCost": round(record.cost, 8)}


async def _offered(hub: Hub, principal: Principal, agent: Agent) -> tuple[dict[str, HubFunction], list[str]]:
    """The agent's capabilities the caller may use here, and those withheld."""
    usable = {function.name: function for function in await available_functions(hub, principal)}
    offered = {name: usable[name] for name in agent.capabilities if name in usable}
    return offered, [name for name in agent.capabilities if name not in usable]


async def _count_run(org_id) -> None:
    """One `agent_runs` unit per run; a plan may limit them (seed 004: AI agent calls per plan)."""
    try:
        await consume_quota(org_id, RUNS_METRIC, 1)
    except HubError as error:
        if error.code != "QUOTA_EXCEEDED":
            raise
        raise HubError("AI_QUOTA_EXCEEDED", error.message, error.details, headers=error.headers) from None


async def execute(principal: Principal, agent_id, data: dict) -> dict:
    """Run the agent for `principal` on `data` ({message, lead_id, context}); the seed's
    execute response plus the run's id and status."""
    hub = current_hub()
    agent = await Agent.get_for_org(principal.org_id, agent_id, "Agent")
    if agent.status != "active":
        raise HubError("CONFLICT", "The agent is inactive", {"field": "status", "reason": "inactive"})
    offered, withheld = await _offered(hub, principal, agent)
    forced = agent.tool_choice not in FREE_CHOICES + FORCED_CHOICES
    if (agent.capabilities and not offered) or (forced and agent.tool_choice not in offered):
        raise HubError("FORBIDDEN", "The caller may not use the functions this agent needs",
                       {"functions": withheld, "reason": "missing permission, or plugin off for the organization"})
    await _count_run(principal.org_id)
    started = time.monotonic()
    record = await AgentRun.create(
        org_id=principal.org_id, agent_id=agent.id, agent_name=agent.name, user_id=principal.user_id,
        api_key_id=principal.api_key_id, mode=agent.mode,
        input=plain_json({"message": data["message"], "leadId": data.get("lead_id"), "context": data.get("context") or {}}),
    )
    run = _Run(agent, principal, record, offered, withheld, deadline=started + agent.timeout_seconds,
               started=started, messages=_first_messages(agent, data))
    task = _task_of(data)
    try:
        await _status(run, task)
        await _loop(run, task)
    except _OutOfTime:
        run.status = "partial" if run.steps and (run.actions or run.steps > 1) else "failed"
        run.error = ("TIMEOUT", f"The run took longer than timeoutSeconds ({agent.timeout_seconds:g} s)")
    except HubError as error:  # model unavailable, quota: recorded, then answered as the error
        run.status, run.error = "failed", (error.code, error.message)
        await _finish(run)
        raise
    except BaseException as error:  # a bug, or the request was cancelled: still recorded
        run.status, run.error = "failed", ("INTERNAL_ERROR", type(error).__name__)
        await asyncio.shield(_finish(run))
        raise
    await _finish(run)
    return {
        "runId": str(record.id),
        "output": {"response": record.response or "", "actions": run.actions, "confidence": _confidence(run)},
        "usage": _usage(record),
        "run": {"id": str(record.id), "status": record.status, "steps": record.steps,
                "latencyMs": round(record.latency_ms, 1), "withheldCapabilities": withheld,
                "error": {"code": record.error_code, "message": record.error_message} if record.error_code else None},
    }

"""Request and response models of the AI agents API (seed 004 "AI Agents API" and the
"Analytics API" ai-performance), camelCase like the CRM plugin.

Beyond the seed: an agent's `config` also has `mode`, `maxSteps`, `timeoutSeconds` and
`toolChoice`; an execute response also has `runId` and `run` (status, steps, error), and
each action has a `status` (and `result` or `error`)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StringConstraints, field_validator

from core import Blankable, CamelModel, CamelPagination, OffsetQuery, Query, Timestamp

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
AgentType = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=32,
                                             pattern=r"^[A-Za-z0-9_-]{1,32}$")]
FunctionName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
SystemPrompt = Annotated[str, StringConstraints(max_length=20_000)]
Temperature = Annotated[float, Field(ge=0, le=2)]
MaxTokens = Annotated[int, Field(ge=1, le=8192)]
MaxSteps = Annotated[int, Field(ge=1, le=20)]
TimeoutSeconds = Annotated[float, Field(gt=0, le=600)]
ModelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# "auto" (the model decides at each step), "required" (the first step must call a function),
# "none" (no function calls), or a capability's name (the first step calls that function)
ToolChoice = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def _not_null(value):
    """An update may leave a field out, but not set a required one to null."""
    if value is None:
        raise ValueError("may not be null")
    return value


def _unique(names: list[str] | None) -> list[str] | None:
    return None if names is None else list(dict.fromkeys(names))


# -- agents --------------------------------------------------------------------------------------


class AgentConfigIn(CamelModel):
    model: ModelName | None = None
    temperature: Temperature = 0.0
    max_tokens: MaxTokens = 512
    system_prompt: SystemPrompt = ""
    mode: Literal["execute", "propose"] = "execute"
    max_steps: MaxSteps = 4
    timeout_seconds: TimeoutSeconds = 60.0
    tool_choice: ToolChoice = "auto"


class AgentConfigUpdate(CamelModel):
    model: ModelName | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    system_prompt: SystemPrompt | None = None
    mode: Literal["execute", "propose"] | None = None
    max_steps: MaxSteps | None = None
    timeout_seconds: TimeoutSeconds | None = None
    tool_choice: ToolChoice | None = None

    _required = field_validator(
        "temperature", "max_tokens", "system_prompt", "mode", "max_steps", "timeout_seconds", "tool_choice",
        mode="before",
    )(_not_null)


class AgentCreate(CamelModel):
    name: Name
    type: AgentType = "general"
    status: Literal["active", "inactive"] = "active"
    capabilities: list[FunctionName] = Field(default_factory=list, max_length=50)
    config: AgentConfigIn = Field(default_factory=AgentConfigIn)

    _unique_capabilities = field_validator("capabilities")(_unique)


class AgentUpdate(CamelModel):
    name: Name | None = None
    type: AgentType | None = None
    status: Literal["active", "inactive"] | None = None
    capabilities: list[FunctionName] | None = Field(default=None, max_length=50)
    config: AgentConfigUpdate | None = None

    _unique_capabilities = field_validator("capabilities")(_unique)
    _required = field_validator("name", "type", "status", "capabilities", "config", mode="before")(_not_null)


class PerformanceOut(CamelModel):
    total_interactions: int
    success_rate: float
    avg_response_time: float  # seconds


class AgentConfigOut(CamelModel):
    model: str | None
    temperature: float
    max_tokens: int
    system_prompt: str
    mode: Literal["execute", "propose"]
    max_steps: int
    timeout_seconds: float
    tool_choice: str


class AgentOut(CamelModel):
    id: str
    name: str
    type: str
    status: Literal["active", "inactive"]
    capabilities: list[str]
    performance: PerformanceOut
    config: AgentConfigOut
    created_at: Timestamp
    updated_at: Timestamp


class AgentList(CamelModel):
    agents: list[AgentOut]
    total: int
    pagination: CamelPagination


class AgentQuery(OffsetQuery):
    status: Blankable[Literal["active", "inactive"]] = None
    type: Blankable[AgentType] = None


# -- execution -----------------------------------------------------------------------------------


class ExecuteInput(CamelModel):
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8_000)]
    lead_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    # free-form facts for the model (seed: previousInteractions, leadValue); JSON, at most 4 kB
    context: dict[str, Any] = Field(default_factory=dict, json_schema_extra={
        "x-bounded-by": "at most 4,000 characters of JSON (checked below)"})

    @field_validator("context")
    @classmethod
    def _small_context(cls, context: dict[str, Any]) -> dict[str, Any]:
        import json

        if len(json.dumps(context, default=str)) > 4_000:
            raise ValueError("at most 4000 characters of JSON")
        return context


class ExecuteRequest(CamelModel):
    input: ExecuteInput


class ActionOut(CamelModel):
    type: str  # the hub function's name
    parameters: dict[str, Any]
    status: Literal["executed", "proposed", "failed"]
    result: Any = None
    error: dict[str, Any] | None = None


class ExecuteOutput(CamelModel):
    response: str
    actions: list[ActionOut]
    confidence: float


class UsageOut(CamelModel):
    input_tokens: int
    output_tokens: int
    total_cost: float


class RunError(CamelModel):
    code: str
    message: str


class RunInfo(CamelModel):
    id: str
    status: Literal["running", "succeeded", "partial", "failed"]
    steps: int
    latency_ms: float
    withheld_capabilities: list[str]
    error: RunError | None


class ExecuteResponse(CamelModel):
    run_id: str
    output: ExecuteOutput
    usage: UsageOut
    run: RunInfo


class RunOut(CamelModel):
    id: str
    agent_id: str
    status: str
    success: bool
    mode: str
    input: dict[str, Any]
    response: str | None
    actions: list[dict[str, Any]]
    steps: int
    usage: UsageOut
    latency_ms: float
    error: RunError | None
    user_id: str | None
    created_at: Timestamp
    finished_at: Timestamp | None


class RunList(CamelModel):
    runs: list[RunOut]
    total: int
    pagination: CamelPagination


# -- analytics -----------------------------------------------------------------------------------


class AgentMetrics(CamelModel):
    total_interactions: int
    successful_interactions: int
    avg_response_time: float
    cost_per_interaction: float
    lead_qualification_rate: float


class AgentPerformance(CamelModel):
    agent_id: str
    name: str
    metrics: AgentMetrics


class OverallPerformance(CamelModel):
    total_cost: float
    total_savings: float
    automation_rate: float


class AIPerformance(CamelModel):
    agents: list[AgentPerformance]
    overall: OverallPerformance


def _utc_day(value: Any) -> Any:
    """A UTC day from `YYYY-MM-DD` or an ISO 8601 date-time."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date (YYYY-MM-DD) or an ISO 8601 date-time") from None
    return (moment.astimezone(timezone.utc) if moment.tzinfo else moment).date()


UtcDay = Blankable[Annotated[date, BeforeValidator(_utc_day)]]


class PerformanceQuery(Query):
    start_date: UtcDay = Field(None, alias="startDate", description="From this day (UTC), inclusive")
    end_date: UtcDay = Field(None, alias="endDate", description="To this day (UTC), inclusive")


# -- events (hub_event_types) -----------------------------------------------------------------------


class AgentStatus(CamelModel):
    agent_id: str
    status: Literal["processing"]
    current_task: str
    run_id: str
    step: int


class AgentActionSummary(CamelModel):
    type: str
    status: str | None = None


class AgentRunError(CamelModel):
    code: str
    message: str | None = None


class AgentCompleted(CamelModel):
    agent_id: str
    run_id: str
    status: str
    success: bool
    actions: list[AgentActionSummary]
    usage: UsageOut
    latency_ms: float
    error: AgentRunError | None = None


EVENT_TYPES = (
    ("agent.status", AgentStatus, "An agent started a step of a run (seed 004 status update)", "004"),
    ("agent.completed", AgentCompleted, "An agent run finished: outcome, actions, tokens and latency", None),
)

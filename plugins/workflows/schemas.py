"""Request and response bodies of the workflows plugin (seed 001: snake_case), and its events."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from core import Blankable, OffsetQuery, PageNumberQuery, Pagination, SnakeModel

NODE_ID = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
PORT = r"^[a-z][a-z0-9_]{0,31}$"
JSON_VALUE = {"x-bounded-by": "the request body's size ([http] max_body_bytes); a JSON value kept as given"}
NODE_CONFIG = {"x-bounded-by": "the node type's config schema (GET /api/workflows/node-types), checked on save"}
STATUSES = Literal["pending", "running", "completed", "failed", "cancelled", "timeout"]


# -- definitions ----------------------------------------------------------------------------------


class Position(SnakeModel):
    x: float = Field(0, ge=-1e6, le=1e6)
    y: float = Field(0, ge=-1e6, le=1e6)


class NodePort(SnakeModel):
    id: str = Field(pattern=PORT, max_length=32)
    name: str | None = Field(None, max_length=100)
    type: str = Field("any", pattern=r"^[a-z][a-z0-9_]{0,31}$", max_length=32)


class NodeSettings(SnakeModel):
    """Per-node behaviour (n8n's "retry on fail" and "continue on fail")."""

    retries: int = Field(0, ge=0, le=10)
    retry_backoff_seconds: float = Field(1.0, ge=0, le=300)
    timeout_seconds: float = Field(60, gt=0, le=3600)
    continue_on_error: bool = False


class ValidationRule(SnakeModel):
    rule: str = Field(max_length=100, description="e.g. required, min_length, pattern")
    value: Any = Field(None, json_schema_extra=JSON_VALUE)
    message: str | None = Field(None, max_length=500)


class WorkflowNode(SnakeModel):
    id: str = Field(pattern=NODE_ID, max_length=64)
    type: str = Field(min_length=1, max_length=100)
    position: Position = Position()
    title: str = Field("", max_length=200)
    description: str | None = Field(None, max_length=2000)
    config: dict[str, Any] = Field(default_factory=dict, json_schema_extra=NODE_CONFIG)
    inputs: list[NodePort] = Field(default_factory=list, max_length=32)
    outputs: list[NodePort] = Field(default_factory=list, max_length=32)
    validation: list[ValidationRule] = Field(default_factory=list, max_length=50)
    settings: NodeSettings = NodeSettings()


class WorkflowEdge(SnakeModel):
    id: str = Field(pattern=NODE_ID, max_length=64)
    source_node_id: str = Field(max_length=64)
    source_port: str = Field("main", max_length=32)
    target_node_id: str = Field(max_length=64)
    target_port: str = Field("main", max_length=32)
    type: Literal["data", "control", "conditional"] = "data"
    condition: str | None = Field(None, max_length=2000)


class WorkflowVariable(SnakeModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", max_length=64)
    type: Literal["string", "number", "boolean", "object", "array"] = "string"
    default_value: Any = Field(None, json_schema_extra=JSON_VALUE)
    description: str | None = Field(None, max_length=1000)


class WorkflowTrigger(SnakeModel):
    """`event`: `config` is `{"event_type": <a type of GET /api/v1/events/types>, "filter":
    {field: value}}` (optional): the workflow starts on each such event of its organization whose
    data has those values, with the data as input (event_triggers.py)."""

    type: Literal["manual", "webhook", "schedule", "event"]
    config: dict[str, Any] = Field(default_factory=dict, json_schema_extra=JSON_VALUE)


class WorkflowSettings(SnakeModel):
    timeout_seconds: int = Field(3600, ge=1, le=86_400)
    max_concurrency: int = Field(4, ge=1, le=32, description="steps of one execution running at once")
    error_workflow_id: uuid.UUID | None = Field(None, description="started with the details of a failed execution")


class WorkflowCreateRequest(SnakeModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    category: str | None = Field(None, max_length=100)
    is_active: bool = True
    nodes: list[WorkflowNode] = Field(default_factory=list, max_length=500)
    edges: list[WorkflowEdge] = Field(default_factory=list, max_length=2000)
    variables: list[WorkflowVariable] = Field(default_factory=list, max_length=100)
    triggers: list[WorkflowTrigger] = Field(default_factory=list, max_length=20)
    settings: WorkflowSettings = WorkflowSettings()


class WorkflowUpdateRequest(WorkflowCreateRequest):
    expected_version: int | None = Field(None, ge=1, le=1_000_000_000,
                                         description="the version you edited: a 409 if another was saved since")


class WorkflowDefinition(BaseModel):
    id: str
    name: str
    description: str | None
    category: str | None
    version: int
    organization_id: str
    created_by: str | None
    created_at: str
    updated_at: str
    is_active: bool
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    variables: list[dict[str, Any]]
    triggers: list[dict[str, Any]]
    settings: dict[str, Any]


class WorkflowSummary(BaseModel):
    id: str
    name: str
    description: str | None
    category: str | None
    version: int
    is_active: bool
    node_count: int
    created_by: str | None
    created_at: str
    updated_at: str


class WorkflowList(BaseModel):
    workflows: list[WorkflowSummary]
    total: int | None
    pagination: Pagination


Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class WorkflowQuery(PageNumberQuery):
    """Seed 001: `page` (from 1) and `limit` (default 20)."""

    search: Blankable[Text] = Field(None, description="Part of the name or description, any case")
    category: Blankable[Text] = None


class NodeType(BaseModel):
    name: str
    aliases: list[str]
    description: str
    plugin: str
    inputs: list[str]
    outputs: list[str]
    config_schema: dict[str, Any]


class NodeTypeList(BaseModel):
    node_types: list[NodeType]
    missing: dict[str, str] = Field(description="seed node types whose plugin is not enabled: type -> plugin")


# -- templates ----------------------------------------------------------------------------------


class TemplateDefinition(SnakeModel):
    """A workflow's graph, where `{{ params.<name> }}` stands for a parameter's value."""

    nodes: list[WorkflowNode] = Field(default_factory=list, max_length=500)
    edges: list[WorkflowEdge] = Field(default_factory=list, max_length=2000)
    variables: list[WorkflowVariable] = Field(default_factory=list, max_length=100)
    triggers: list[WorkflowTrigger] = Field(default_factory=list, max_length=20)
    settings: WorkflowSettings = WorkflowSettings()


class ParameterOption(SnakeModel):
    value: Any = Field(json_schema_extra=JSON_VALUE)
    label: str = Field(max_length=200)
    description: str | None = Field(None, max_length=1000)


class ParameterRule(SnakeModel):
    rule: Literal["min", "max", "min_length", "max_length", "pattern"]
    value: float | int | str = Field(json_schema_extra={"x-bounded-by": "numbers and patterns of at most 200 characters"})
    message: str | None = Field(None, max_length=500)


class TemplateParameter(SnakeModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", max_length=64)
    type: Literal["string", "number", "boolean", "select", "multiselect"]
    label: str = Field(max_length=200)
    description: str | None = Field(None, max_length=1000)
    required: bool = False
    default_value: Any = Field(None, json_schema_extra=JSON_VALUE)
    options: list[ParameterOption] = Field(default_factory=list, max_length=100)
    validation: list[ParameterRule] = Field(default_factory=list, max_length=20)


class TemplateCreateRequest(SnakeModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    category: str = Field(min_length=1, max_length=100)
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=50)]] = Field(default_factory=list, max_length=20)
    is_public: bool = False
    definition: TemplateDefinition = TemplateDefinition()
    parameters: list[TemplateParameter] = Field(default_factory=list, max_length=50)
    preview_image: str | None = Field(None, max_length=2000, pattern=r"^https://", description="an https URL, shown as given")


class TemplateReviewRequest(SnakeModel):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=2000)


class TemplateReview(BaseModel):
    user_id: str | None = Field(description="the reviewer, when of your organization (others are not named)")
    rating: int
    comment: str | None
    created_at: str
    updated_at: str


class WorkflowTemplate(BaseModel):
    id: str
    name: str
    description: str
    category: str
    tags: list[str]
    version: int
    is_public: bool
    built_in: bool
    organization_id: str | None
    created_by: str | None
    created_at: str
    updated_at: str
    definition: dict[str, Any]
    parameters: list[dict[str, Any]]
    preview_image: str | None
    usage_count: int
    rating: float
    reviews: list[TemplateReview]


class TemplateList(BaseModel):
    templates: list[WorkflowTemplate]
    total: int | None
    pagination: Pagination


class TemplateQuery(OffsetQuery):
    category: Blankable[Text] = None
    public_only: Blankable[bool] = Field(None, description="only public templates (default: also this organization's own)")
    search: Blankable[Text] = Field(None, description="Part of the name, description or a tag, any case")


class InstantiateRequest(SnakeModel):
    name: str | None = Field(None, min_length=1, max_length=200, description="default: the template's name")
    parameters: dict[str, Any] = Field(default_factory=dict, json_schema_extra={
        "x-bounded-by": "the template's parameters (unknown names refused) and the request body's size"})


# -- executions ---------------------------------------------------------------------------------


class ExecuteRequest(SnakeModel):
    inputs: dict[str, Any] = Field(default_factory=dict, json_schema_extra=JSON_VALUE)
    context: dict[str, Any] = Field(default_factory=dict, json_schema_extra=JSON_VALUE)


class ExecutionAccepted(BaseModel):
    execution_id: str
    status: Literal["pending", "running"]
    created_at: str


class CancelRequest(SnakeModel):
    reason: str | None = Field(None, max_length=500, description="kept as the execution's error_message")


class RerunRequest(SnakeModel):
    from_node_id: str | None = Field(None, max_length=64, description="default: the first failed step")


class ExecutionStep(BaseModel):
    node_id: str
    node_name: str
    node_type: str
    status: str
    attempt: int
    reused: bool
    input_data: Any = None
    output_data: Any = None
    error_message: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    duration_ms: float | None = None


class ExecutionMetrics(BaseModel):
    total_duration_ms: float
    ai_processing_time_ms: float
    api_calls_count: int
    tokens_used: int
    cost_estimate: float


class WorkflowExecution(BaseModel):
    id: str
    workflow_id: str
    workflow_version: int
    status: STATUSES
    input_data: dict[str, Any]
    output_data: dict[str, Any] | None = None
    error_message: str | None = None
    progress: int
    started_at: str | None = None
    completed_at: str | None = None
    created_by: str | None
    created_at: str
    rerun_of: str | None = None
    steps: list[ExecutionStep]
    metrics: ExecutionMetrics


class ExecutionSummary(BaseModel):
    id: str
    workflow_id: str
    workflow_version: int
    status: STATUSES
    progress: int
    error_message: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    created_by: str | None
    created_at: str
    trigger: str | None = Field(None, description="what started it when not a plain run (e.g. webhook, schedule)")
    rerun_of: str | None = None


class ExecutionList(BaseModel):
    executions: list[ExecutionSummary]
    total: int | None
    pagination: Pagination


class ExecutionQuery(OffsetQuery):
    status: Blankable[STATUSES] = None


# -- events -------------------------------------------------------------------------------------


class ExecutionEvent(SnakeModel):
    execution_id: str
    workflow_id: str
    status: STATUSES
    progress: int
    current_step: str | None = None
    error_message: str | None = None


class StepEvent(SnakeModel):
    execution_id: str
    workflow_id: str
    node_id: str
    status: str
    attempt: int
    progress: int
    error_message: str | None = None
    duration_ms: float | None = None


class WorkflowChanged(SnakeModel):
    id: str
    name: str
    version: int
    is_active: bool
    created_by: str | None
    node_types: list[str] = Field(description="the node types the workflow's current version uses")


class CollaborationChanged(SnakeModel):
    workflow_id: str
    editor_id: str
    operation: str
    data: dict[str, Any]
    version: int


class CollaborationPresence(SnakeModel):
    workflow_id: str
    editor_id: str
    operation: str
    data: dict[str, Any]


EVENT_TYPES = (
    ("workflow.created", WorkflowChanged, "A workflow was created"),
    ("workflow.updated", WorkflowChanged, "A workflow was saved as a new version"),
    ("workflow.deleted", WorkflowChanged, "A workflow and its executions were deleted"),
    ("workflow.execution.started", ExecutionEvent, "An execution began running"),
    ("workflow.execution.step_started", StepEvent, "A step of an execution began (attempt counted)"),
    ("workflow.execution.step_finished", StepEvent, "A step completed, failed or was skipped"),
    ("workflow.execution.completed", ExecutionEvent, "An execution finished with every step done"),
    ("workflow.execution.failed", ExecutionEvent, "An execution stopped at a failed step"),
    ("workflow.execution.cancelled", ExecutionEvent, "An execution was cancelled"),
    ("workflow.execution.timed_out", ExecutionEvent, "An execution passed its workflow's timeout"),
    ("workflow.collaboration.changed", CollaborationChanged,
     "An editor changed a workflow live (a node or an edge), saved as the given version"),
    ("workflow.collaboration.presence", CollaborationPresence,
     "An editor's selection or cursor moved (volatile: only open sockets get it)"),
)

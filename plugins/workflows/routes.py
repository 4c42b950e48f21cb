"""Workflows, executions and their live progress: paths as seed 001 gives them."""

from __future__ import annotations

import uuid

from quart import Blueprint
from quart_schema import document_request, document_response, validate_request, validate_response

from core import (
    current_hub,
    current_principal,
    document_errors,
    iso,
    optional_body,
    public,
    require,
    serve_topic,
    validate_query,
)
from plugins.workflows import service
from plugins.workflows.models import Execution
from plugins.workflows.schemas import (
    CancelRequest,
    ExecuteRequest,
    ExecutionAccepted,
    ExecutionList,
    ExecutionQuery,
    ExecutionSummary,
    NodeTypeList,
    RerunRequest,
    WorkflowCreateRequest,
    WorkflowDefinition,
    WorkflowExecution,
    WorkflowList,
    WorkflowQuery,
    WorkflowUpdateRequest,
)

bp = Blueprint("workflows", __name__)


def _scopes():
    """An API key's scopes, for what its executions may do later; None for a user."""
    principal = current_principal()
    return sorted(principal.permissions) if principal.kind == "api_key" else None


# -- definitions -------------------------------------------------------------------------------------


@bp.get("/api/workflows")
@require("workflows.read")
@validate_query(WorkflowQuery)
@document_response(WorkflowList)
async def list_workflows(query_args: WorkflowQuery):
    """The organization's workflows, most recently saved first (`page` from 1, `limit` 20)."""
    page = query_args.page(default_limit=20)
    rows, total = await service.list_workflows(current_principal().org_id, page, query_args.search, query_args.category)
    return page.listing("workflows", rows, total)


@bp.post("/api/workflows")
@require("workflows.edit")
@validate_request(WorkflowCreateRequest)
@validate_response(WorkflowDefinition, 201)
async def create_workflow(data: WorkflowCreateRequest):
    """Save a new workflow (version 1). The graph is checked first: a 400 lists every problem
    in `details.problems` (unknown node type, bad config, edge to a missing node or port,
    port type mismatch, cycle, unreachable node)."""
    principal = current_principal()
    body = await service.create_workflow(current_hub(), principal.org_id, principal.user_id, data.model_dump(mode="json"))
    return WorkflowDefinition(**body), 201


@bp.get("/api/workflows/node-types")
@require("workflows.read")
@document_response(NodeTypeList)
async def list_node_types():
    """The node types a workflow of this organization may use: from every enabled plugin
    (`hub_workflow_nodes`), with their seed names, ports and config schemas."""
    return await service.describe_node_types(current_hub(), current_principal().org_id)


@bp.get("/api/workflows/<workflow_id>")
@require("workflows.read")
@validate_response(WorkflowDefinition)
async def get_workflow(workflow_id: str):
    """The workflow's current version."""
    return WorkflowDefinition(**service.workflow_json(await service.get_workflow(current_principal().org_id, workflow_id)))


@bp.get("/api/workflows/<workflow_id>/versions/<workflow_version>")
@require("workflows.read")
@validate_response(WorkflowDefinition)
async def get_workflow_version(workflow_id: str, workflow_version: str):
    """An earlier (or the current) version, as it was saved (versions count from 1)."""
    return WorkflowDefinition(**await service.get_version(current_principal().org_id, workflow_id, workflow_version))


@bp.put("/api/workflows/<workflow_id>")
@require("workflows.edit")
@validate_request(WorkflowUpdateRequest)
@validate_response(WorkflowDefinition)
@document_errors(409)
async def update_workflow(workflow_id: str, data: WorkflowUpdateRequest):
    """Save the workflow as a new version (checked as on create). With `version`, the version
    you edited: a 409 if someone saved another since. Running executions keep their version."""
    principal = current_principal()
    body = data.model_dump(mode="json")
    expected = body.pop("expected_version")
    return WorkflowDefinition(**await service.update_workflow(
        current_hub(), principal.org_id, principal.user_id, workflow_id, body, expected))


@bp.delete("/api/workflows/<workflow_id>")
@require("workflows.delete")
@document_response(None, 204)
@document_errors(409)
async def delete_workflow(workflow_id: str):
    """Delete the workflow, its versions and its finished executions (a 409 while one runs)."""
    await service.delete_workflow(current_principal().org_id, workflow_id)
    return "", 204


# -- executions -----------------------------------------------------------------------------------------


@bp.post("/api/workflows/<workflow_id>/execute")
@require("workflows.execute")
@validate_request(ExecuteRequest)
@validate_response(ExecutionAccepted, 202)
@document_errors(409)
async def execute_workflow(workflow_id: str, data: ExecuteRequest):
    """Start the workflow's current version with `inputs` (and `context.variables` over its
    variables): 202 with the execution's id; follow it at GET /api/executions/{id} or
    WS /ws/executions/{id}. Counts against the `workflow_executions` quota."""
    principal = current_principal()
    execution = await service.start_execution(current_hub(), principal.org_id, workflow_id, principal.user_id,
                                              inputs=data.inputs, context=data.context, scopes=_scopes())
    return ExecutionAccepted(execution_id=str(execution.id), status="pending",
                             created_at=iso(execution.created_at)), 202


@bp.get("/api/workflows/<workflow_id>/executions")
@require("workflows.read")
@validate_query(ExecutionQuery)
@document_response(ExecutionList)
async def list_executions(workflow_id: str, query_args: ExecutionQuery):
    """The workflow's executions, newest first."""
    page = query_args.page()
    rows, total = await service.list_executions(current_principal().org_id, workflow_id, page, query_args.status)
    return page.listing("executions", rows, total)


@bp.get("/api/executions/<execution_id>")
@require("workflows.read")
@validate_response(WorkflowExecution)
async def get_execution(execution_id: str):
    """The execution with its steps (input, output, attempts, durations) and metrics."""
    execution = await service.get_execution(current_principal().org_id, execution_id)
    return WorkflowExecution(**await service.execution_json(execution))


@bp.post("/api/executions/<execution_id>/cancel")
@require("workflows.execute")
@document_request(CancelRequest)  # optional
@validate_response(ExecutionSummary, 202)
@document_errors(409)
async def cancel_execution(execution_id: str):
    """Cancel: a pending execution at once, a running one within half a second (its running
    steps are cancelled). 409 once it has ended. The body (optional) may give a `reason`."""
    data = await optional_body(CancelRequest)
    execution = await service.cancel_execution(current_hub(), current_principal().org_id, execution_id, data.reason)
    return ExecutionSummary(**service.execution_summary(execution)), 202


@bp.post("/api/executions/<execution_id>/rerun")
@require("workflows.execute")
@validate_request(RerunRequest)
@validate_response(ExecutionAccepted, 202)
@document_errors(409)
async def rerun_execution(execution_id: str, data: RerunRequest):
    """Run an ended execution again from a step (default: its first failed one): the steps
    before it keep their outputs and do not run again. A new execution, same version and inputs."""
    principal = current_principal()
    execution = await service.rerun_execution(current_hub(), principal.org_id, execution_id, principal.user_id,
                                              data.from_node_id, scopes=_scopes())
    return ExecutionAccepted(execution_id=str(execution.id), status="pending",
                             created_at=iso(execution.created_at)), 202


# -- live progress (seed 001: ExecutionStatusUpdate) ---------------------------------------------------


def execution_status(message: dict) -> dict:
    """`workflow.execution.*` events as seed 001's ExecutionStatusUpdate."""
    data = message["data"]
    step_event = message["type"].startswith("workflow.execution.step_")
    return {"type": "execution_status", "execution_id": data["execution_id"],
            "status": "running" if step_event else data["status"], "progress": data.get("progress"),
            "current_step": data.get("node_id") if step_event else data.get("current_step"),
            "step_status": data.get("status") if step_event else None, "timestamp": message["timestamp"]}


@bp.websocket("/ws/executions/<execution_id>")
@public  # the socket authenticates itself (token, API key or first message), as /ws does
async def execution_socket(execution_id: str):
    async def authorize(principal) -> bool:
        try:
            wanted = uuid.UUID(execution_id)
        except ValueError:
            return False
        return principal.can("workflows.read") and await Execution.for_org(principal.org_id).filter(id=wanted).exists()

    await serve_topic({"execution_id": execution_id}, types=["workflow.execution.*"], authorize=authorize,
                      name="execution", render=execution_status)

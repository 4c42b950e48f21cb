"""Workflows, executions and their live progress: paths as seed 001 gives them."""

from __future__ import annotations

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
from plugins.workflows import collaboration, service, templates
from plugins.workflows.schemas import (
    CancelRequest,
    ExecuteRequest,
    ExecutionAccepted,
    ExecutionList,
    ExecutionQuery,
    ExecutionSummary,
    InstantiateRequest,
    NodeTypeList,
    RerunRequest,
    TemplateCreateRequest,
    TemplateList,
    TemplateQuery,
    TemplateReviewRequest,
    WorkflowCreateRequest,
    WorkflowDefinition,
    WorkflowExecution,
    WorkflowList,
    WorkflowQuery,
    WorkflowTemplate,
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


# -- templates ---------------------------------------------------------------------------------------


@bp.get("/api/templates")
@require("workflows.read")
@validate_query(TemplateQuery)
@document_response(TemplateList)
async def list_templates(query_args: TemplateQuery):
    """Templates this organization sees: its own and every public one (the built-ins too),
    most used first. `public_only=true`: the public ones only. Reviews are in GET /api/templates/{id}."""
    page = query_args.page()
    rows, total = await templates.list_templates(current_principal().org_id, page, query_args.category,
                                                 query_args.public_only, query_args.search)
    return page.listing("templates", rows, total)


@bp.post("/api/templates")
@require("workflows.edit")
@validate_request(TemplateCreateRequest)
@validate_response(WorkflowTemplate, 201)
async def create_template(data: TemplateCreateRequest):
    """Publish a template (to this organization, or to everyone with `is_public`). Its graph is
    checked as a workflow's; `{{ params.<name> }}` marks where each parameter goes."""
    principal = current_principal()
    body = await templates.create_template(current_hub(), principal.org_id, principal.user_id, data.model_dump(mode="json"))
    return WorkflowTemplate(**body), 201


@bp.get("/api/templates/<template_id>")
@require("workflows.read")
@validate_response(WorkflowTemplate)
async def get_template(template_id: str):
    """A template with its parameters, rating and latest reviews."""
    org_id = current_principal().org_id
    return WorkflowTemplate(**await templates.template_json(await templates.get_visible(org_id, template_id), org_id))


@bp.put("/api/templates/<template_id>")
@require("workflows.edit")
@validate_request(TemplateCreateRequest)
@validate_response(WorkflowTemplate)
async def update_template(template_id: str, data: TemplateCreateRequest):
    """Change a template this organization published (403 for another's public one or a built-in)."""
    return WorkflowTemplate(**await templates.update_template(
        current_hub(), current_principal().org_id, template_id, data.model_dump(mode="json")))


@bp.delete("/api/templates/<template_id>")
@require("workflows.delete")
@document_response(None, 204)
async def delete_template(template_id: str):
    """Delete a template this organization published (workflows made from it stay)."""
    await templates.delete_template(current_principal().org_id, template_id)
    return "", 204


@bp.post("/api/templates/<template_id>/instantiate")
@require("workflows.edit")
@validate_request(InstantiateRequest)
@validate_response(WorkflowDefinition, 201)
async def instantiate_template(template_id: str, data: InstantiateRequest):
    """A new workflow from the template: `parameters` checked against the template's rules (a
    400 names every refused one), put in place, the graph checked; the template's usage_count + 1."""
    principal = current_principal()
    body = await templates.instantiate(current_hub(), principal.org_id, principal.user_id, template_id, data.name,
                                       data.parameters)
    return WorkflowDefinition(**body), 201


@bp.post("/api/templates/<template_id>/reviews")
@require("workflows.execute")
@validate_request(TemplateReviewRequest)
@validate_response(WorkflowTemplate, 201)
@document_response(WorkflowTemplate, 200)
async def review_template(template_id: str, data: TemplateReviewRequest):
    """Rate a template (1-5) with an optional comment: one review per user (201), a second one
    replaces the first (200)."""
    principal = current_principal()
    body, created = await templates.review_template(principal.org_id, principal.user_id, template_id, data.rating,
                                                    data.comment)
    return WorkflowTemplate(**body), 201 if created else 200


# -- live progress (seed 001: ExecutionStatusUpdate) ---------------------------------------------------


def execution_status(message: dict, principal=None) -> dict:
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
    async def authorize(principal) -> None:  # another organization's execution: 4404, as a 404 over HTTP
        await service.get_execution(principal.org_id, execution_id)

    await serve_topic({"execution_id": execution_id}, types=["workflow.execution.*"], authorize=authorize,
                      permission="workflows.read", name="execution", render=execution_status)


@bp.websocket("/ws/workflows/<workflow_id>/collaboration")
@public  # the socket authenticates itself, as /ws does
async def collaboration_socket(workflow_id: str):
    """Seed 001's WorkflowCollaboration: editors' operations relayed to the others; changes
    saved as versions with optimistic concurrency (plugins/workflows/collaboration.py)."""
    hub = current_hub()

    async def authorize(principal) -> None:
        await service.get_workflow(principal.org_id, workflow_id)

    async def on_message(principal, message: dict, reply) -> None:
        await collaboration.handle(hub, workflow_id, principal, message, reply)

    await serve_topic({"workflow_id": workflow_id}, types=["workflow.collaboration.*"], authorize=authorize,
                      permission="workflows.read", name="collaboration", render=collaboration.for_the_others, on_message=on_message)

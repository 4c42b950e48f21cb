"""Workflows without HTTP: definitions and their versions, starting, cancelling and re-running
executions. Routes (routes.py), hub functions (functions.py) and the engine call these."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from tortoise.expressions import Q

from core import Hub, HubError, Page, consume_quota, emit, enqueue, iso, not_found, transaction, utcnow, validation_error
from plugins.workflows import event_triggers
from plugins.workflows.graph import SEED_NODE_TYPES, Graph, check
from plugins.workflows.models import Execution, ExecutionStep, Workflow, WorkflowVersion
from plugins.workflows.schedules import next_run

DEFINITION_PARTS = ("nodes", "edges", "variables", "triggers", "settings")


def graph_parts(definition: dict) -> dict:
    """Every part of a definition's graph, the missing ones empty."""
    return {part: definition.get(part, {} if part == "settings" else []) for part in DEFINITION_PARTS}


def refused(message: str, problems: list[dict]) -> HubError:
    """One 400 naming every problem (`{"field", "reason"}`), the first one also at the top."""
    return HubError("VALIDATION_ERROR", message, {**problems[0], "problems": problems})
EXECUTION_JOB = "workflows.execute"
JOB_TIMEOUT_MARGIN_SECONDS = 120  # the job outlives the workflow's own timeout, which the runner enforces


# -- node types ---------------------------------------------------------------------------------


async def node_types(hub: Hub, org_id: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(the node types the organization may use by name, seed node types whose plugin is off: type -> plugin)."""
    disabled = await hub.disabled_for_org(org_id)
    usable = {name: kind for name, kind in hub.workflow_nodes.items() if kind.plugin not in disabled}
    missing = {seed: target.split(".", 1)[0] for seed, target in SEED_NODE_TYPES.items() if target not in usable}
    return usable, missing


async def describe_node_types(hub: Hub, org_id: Any) -> dict:
    usable, missing = await node_types(hub, org_id)
    aliases: dict[str, list[str]] = {}
    for seed, target in SEED_NODE_TYPES.items():
        aliases.setdefault(target, []).append(seed)
    return {"node_types": [{**kind.describe(), "aliases": aliases.get(name, [])} for name, kind in sorted(usable.items())],
            "missing": missing}


# -- definitions -----------------------------------------------------------------------------------


def workflow_json(workflow: Workflow, definition: dict | None = None, version: int | None = None) -> dict:
    definition = definition if definition is not None else workflow.definition
    return {
        "id": str(workflow.id), "name": workflow.name, "description": workflow.description,
        "category": workflow.category, "version": version or workflow.version,
        "organization_id": str(workflow.org_id), "created_by": str(workflow.created_by) if workflow.created_by else None,
        "created_at": iso(workflow.created_at), "updated_at": iso(workflow.updated_at), "is_active": workflow.is_active,
        **graph_parts(definition),
    }


def summary_json(workflow: Workflow) -> dict:
    return {
        "id": str(workflow.id), "name": workflow.name, "description": workflow.description,
        "category": workflow.category, "version": workflow.version, "is_active": workflow.is_active,
        "node_count": len(workflow.definition.get("nodes", [])),
        "created_by": str(workflow.created_by) if workflow.created_by else None,
        "created_at": iso(workflow.created_at), "updated_at": iso(workflow.updated_at),
    }


async def checked_definition(hub: Hub, org_id: Any, data: dict, *, editing: bool = False,
                             authors: tuple = ()) -> dict:
    """The graph part of a create/update request, or a 400 naming every problem. `editing`
    (live collaboration, one operation at a time): a node not connected yet is no problem.
    `authors`: the user ids that must be allowed to read the events of its event triggers."""
    definition = {part: data[part] for part in DEFINITION_PARTS}
    usable, missing = await node_types(hub, org_id)
    problems = check(definition, usable, missing)
    problems += await event_triggers.check(hub, org_id, definition, authors)
    if editing:
        problems = [p for p in problems if not p["reason"].endswith("cannot be reached from a trigger")]
    error_workflow = definition["settings"].get("error_workflow_id")
    if error_workflow is not None:
        definition["settings"]["error_workflow_id"] = str(error_workflow)
        if not await Workflow.for_org(org_id).filter(id=error_workflow).exists():
            problems.append({"field": "settings.error_workflow_id", "reason": "no such workflow in this organization"})
    if problems:
        raise refused(f"The workflow has {len(problems)} problem(s)", problems)
    return definition


async def list_workflows(org_id: Any, page: Page, search: str | None, category: str | None, *,
                         active: bool | None = None, full: bool = False) -> tuple[list[dict], int | None]:
    """A page of the organization's workflows, last changed first: summaries, or with `full`
    their whole definitions."""
    query = Workflow.for_org(org_id)
    if search:
        query = query.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if category:
        query = query.filter(category=category)
    if active is not None:
        query = query.filter(is_active=active)
    rows, total = await page.fetch(query, "-updated_at")
    return [workflow_json(row) if full else summary_json(row) for row in rows], total


async def set_active(org_id: Any, workflow_id: Any, active: bool) -> dict:
    """Switch the workflow on or off (its schedules and webhooks with it) without a new version."""
    async with transaction():
        workflow = await get_workflow(org_id, workflow_id)
        if workflow.is_active != active:
            workflow.is_active, workflow.updated_at = active, utcnow()
            workflow.next_run_at = next_run(workflow.definition, utcnow(), active)
            await workflow.save(update_fields=["is_active", "updated_at", "next_run_at"])
            await event_triggers.sync(workflow)
            await emit(org_id, "workflow.updated", changed_payload(workflow))
    return workflow_json(workflow)


def changed_payload(workflow: Workflow) -> dict:
    """What workflow.created/updated/deleted say: enough for a plugin to keep an index of
    workflows by the node types they use (the n8n plugin's webhooks) without reading this
    plugin's tables."""
    return {"id": str(workflow.id), "name": workflow.name, "version": workflow.version,
            "is_active": workflow.is_active, "created_by": str(workflow.created_by) if workflow.created_by else None,
            "node_types": sorted({node["type"] for node in workflow.definition.get("nodes", [])})}


async def create_workflow(hub: Hub, org_id: Any, user_id: Any, data: dict) -> dict:
    definition = await checked_definition(hub, org_id, data, authors=(user_id,))
    async with transaction():
        workflow = await Workflow.create(
            org_id=org_id, name=data["name"], description=data.get("description"), category=data.get("category"),
            is_active=data.get("is_active", True), definition=definition, created_by=user_id, version=1,
            next_run_at=next_run(definition, utcnow(), data.get("is_active", True)))
        await WorkflowVersion.create(org_id=org_id, workflow_id=workflow.id, version=1, name=workflow.name,
                                     definition=definition, created_by=user_id)
        await event_triggers.sync(workflow)
        await emit(org_id, "workflow.created", changed_payload(workflow))
    return workflow_json(workflow)


# Seed 001's error codes ride in `details.seed_code` of the Hub's own codes (a 404 stays
# NOT_FOUND, the same for an unknown id and another organization's).
WORKFLOW_NOT_FOUND = {"seed_code": "WF_001"}
WORKFLOW_EXECUTION_FAILED = {"seed_code": "WF_002"}
TEMPLATE_NOT_FOUND = {"seed_code": "TPL_001"}


async def get_workflow(org_id: Any, workflow_id: Any) -> Workflow:
    try:
        return await Workflow.get_for_org(org_id, workflow_id, "Workflow")
    except HubError as error:
        raise HubError(error.code, error.message, WORKFLOW_NOT_FOUND) from None


async def get_version(org_id: Any, workflow_id: Any, version: str) -> dict:
    workflow = await get_workflow(org_id, workflow_id)
    number = int(version) if version.isdigit() and len(version) <= 9 else None
    row = number and await WorkflowVersion.for_org(org_id).filter(workflow_id=workflow.id, version=number).first()
    if row is None:
        raise not_found("Workflow version")
    return {**workflow_json(workflow, row.definition, row.version), "name": row.name}


async def update_workflow(hub: Hub, org_id: Any, user_id: Any, workflow_id: Any, data: dict,
                          expected_version: int | None = None, *, editing: bool = False,
                          on_saved: Callable[[Workflow], Awaitable[None]] | None = None) -> dict:
    """Save as a new version (the graph is checked as on create). `expected_version`: refuse
    with 409 when someone saved another version since (optimistic concurrency). `on_saved`
    runs in the saving transaction (an event that must exist exactly when the version does)."""
    owner = (await get_workflow(org_id, workflow_id)).created_by  # another organization's id: 404 before any 400
    definition = await checked_definition(hub, org_id, data, editing=editing, authors=(user_id, owner))
    async with transaction():
        workflow = await get_workflow(org_id, workflow_id)
        if expected_version is not None and workflow.version != expected_version:
            raise HubError("CONFLICT", f"The workflow is at version {workflow.version}, not {expected_version}",
                           {"version": workflow.version})
        settings = definition["settings"]
        if settings.get("error_workflow_id") == str(workflow.id):
            raise validation_error("settings.error_workflow_id", "a workflow cannot be its own error workflow")
        updated = await Workflow.filter(id=workflow.id, version=workflow.version).update(
            name=data["name"], description=data.get("description"), category=data.get("category"),
            is_active=data.get("is_active", True), definition=definition, version=workflow.version + 1,
            updated_at=utcnow(), next_run_at=next_run(definition, utcnow(), data.get("is_active", True)))
        if not updated:
            raise HubError("CONFLICT", "The workflow was saved by someone else meanwhile; load it again")
        workflow = await Workflow.get(id=workflow.id)
        await WorkflowVersion.create(org_id=org_id, workflow_id=workflow.id, version=workflow.version,
                                     name=workflow.name, definition=definition, created_by=user_id)
        await event_triggers.sync(workflow)
        await emit(org_id, "workflow.updated", changed_payload(workflow))
        if on_saved is not None:
            await on_saved(workflow)
    return workflow_json(workflow)


async def delete_workflow(org_id: Any, workflow_id: Any) -> None:
    async with transaction():
        workflow = await get_workflow(org_id, workflow_id)
        if await Execution.for_org(org_id).filter(workflow_id=workflow.id, status__in=("pending", "running")).exists():
            raise HubError("CONFLICT", "The workflow has executions still running: cancel them first")
        executions = Execution.for_org(org_id).filter(workflow_id=workflow.id)
        execution_ids = await executions.values_list("id", flat=True)
        await ExecutionStep.for_org(org_id).filter(execution_id__in=execution_ids).delete()
        await executions.delete()
        await WorkflowVersion.for_org(org_id).filter(workflow_id=workflow.id).delete()
        await workflow.delete()
        await event_triggers.forget(workflow.id)
        await emit(org_id, "workflow.deleted", changed_payload(workflow))


# -- executions ----------------------------------------------------------------------------------


async def start_execution(hub: Hub, org_id: Any, workflow_id: Any, user_id: Any, *, inputs: dict,
                          context: dict | None = None, scopes: list[str] | None = None, metered: bool = True,
                          rerun_of: Execution | None = None, reuse: list[ExecutionStep] = (),
                          trigger_event_id: str | None = None) -> Execution:
    """Record an execution of the workflow's current version (a re-run: of the version the
    first run used) and hand it to the workers; returns it "pending". `trigger_event_id`: the
    event that starts it (an event trigger), at most one execution per workflow and event
    (tortoise's IntegrityError for a second)."""
    workflow = await get_workflow(org_id, workflow_id)
    if not workflow.is_active and rerun_of is None:
        raise HubError("CONFLICT", "The workflow is not active", WORKFLOW_EXECUTION_FAILED)
    if metered:
        await consume_quota(org_id, "workflow_executions", hub=hub)
    version = rerun_of.workflow_version if rerun_of is not None else workflow.version
    definition = (await WorkflowVersion.get(workflow_id=workflow.id, version=version)).definition
    context = {key: value for key, value in (context or {}).items() if key != "_scopes"}  # only set here
    if scopes is not None:
        context["_scopes"] = list(scopes)  # an API key's run acts with the key's rights only
    async with transaction():
        execution = await Execution.create(
            org_id=org_id, workflow_id=workflow.id, workflow_version=version, input_data=inputs, context=context,
            created_by=user_id, rerun_of=rerun_of.id if rerun_of else None, metrics={},
            trigger_event_id=trigger_event_id)
        for step in reuse:
            await ExecutionStep.create(
                org_id=org_id, execution_id=execution.id, node_id=step.node_id, node_name=step.node_name,
                node_type=step.node_type, status=step.status, attempt=step.attempt, reused=True,
                input_data=step.input_data, output_data=step.output_data, usage={}, started_at=step.started_at,
                completed_at=step.completed_at, duration_ms=step.duration_ms)
    timeout = (definition.get("settings") or {}).get("timeout_seconds", 3600) + JOB_TIMEOUT_MARGIN_SECONDS
    job = await enqueue(org_id, EXECUTION_JOB, {"execution_id": str(execution.id)}, user_id=user_id,
                        timeout_seconds=timeout, hub=hub)
    await Execution.filter(id=execution.id).update(job_id=job.id)
    execution.job_id = job.id
    return execution


async def get_execution(org_id: Any, execution_id: Any) -> Execution:
    return await Execution.get_for_org(org_id, execution_id, "Execution")


async def execution_json(execution: Execution) -> dict:
    steps = await ExecutionStep.for_org(execution.org_id).filter(execution_id=execution.id).order_by("started_at", "node_id")
    metrics = {"total_duration_ms": 0.0, "ai_processing_time_ms": 0.0, "api_calls_count": 0, "tokens_used": 0,
               "cost_estimate": 0.0, **(execution.metrics or {})}
    return {
        **execution_summary(execution), "input_data": execution.input_data, "output_data": execution.output_data,
        "metrics": metrics,
        "steps": [{
            "node_id": s.node_id, "node_name": s.node_name, "node_type": s.node_type, "status": s.status,
            "attempt": s.attempt, "reused": s.reused, "input_data": s.input_data, "output_data": s.output_data,
            "error_message": s.error_message, "started_at": iso(s.started_at), "completed_at": iso(s.completed_at),
            "duration_ms": s.duration_ms,
        } for s in steps],
    }


def execution_summary(execution: Execution) -> dict:
    return {
        "id": str(execution.id), "workflow_id": str(execution.workflow_id), "workflow_version": execution.workflow_version,
        "status": execution.status, "progress": execution.progress, "error_message": execution.error_message,
        "started_at": iso(execution.started_at), "completed_at": iso(execution.completed_at),
        "created_by": str(execution.created_by) if execution.created_by else None, "created_at": iso(execution.created_at),
        "trigger": (execution.context or {}).get("trigger"), "rerun_of": str(execution.rerun_of) if execution.rerun_of else None,
    }


async def list_executions(org_id: Any, workflow_id: Any, page: Page,
                          status: str | list[str] | None) -> tuple[list[dict], int | None]:
    """A page of executions, newest first: of one workflow, or (workflow_id None) of all; in
    one status or any of several."""
    query = Execution.for_org(org_id)
    if workflow_id is not None:
        workflow = await get_workflow(org_id, workflow_id)
        query = query.filter(workflow_id=workflow.id)
    if isinstance(status, list):
        query = query.filter(status__in=status)
    elif status:
        query = query.filter(status=status)
    rows, total = await page.fetch(query, "-created_at")
    return [execution_summary(row) for row in rows], total


async def delete_execution(org_id: Any, execution_id: Any) -> dict:
    """Delete an ended execution and its steps (409 while it runs); returns what it was."""
    async with transaction():
        execution = await get_execution(org_id, execution_id)
        if execution.status in ("pending", "running"):
            raise HubError("CONFLICT", "The execution is still running: cancel it first", {"status": execution.status})
        summary = execution_summary(execution)
        await ExecutionStep.for_org(org_id).filter(execution_id=execution.id).delete()
        await execution.delete()
    return summary


async def cancel_execution(hub: Hub, org_id: Any, execution_id: Any, reason: str | None = None) -> Execution:
    """A pending execution is cancelled at once; a running one stops at its runner's next look
    (within half a second), its running steps cancelled."""
    from plugins.workflows.engine import status_message

    execution = await get_execution(org_id, execution_id)
    if execution.status in ("completed", "failed", "cancelled", "timeout"):
        raise HubError("CONFLICT", f"The execution already ended ({execution.status})", {"status": execution.status})
    async with transaction():
        if await Execution.filter(id=execution.id, status="pending").update(
                status="cancelled", cancel_requested=True, error_message=reason or "Cancelled",
                completed_at=utcnow(), updated_at=utcnow()):
            execution = await get_execution(org_id, execution.id)
            await emit(org_id, "workflow.execution.cancelled", status_message(execution), hub=hub)
            return execution
        await Execution.filter(id=execution.id).update(cancel_requested=True, error_message=reason, updated_at=utcnow())
    return await get_execution(org_id, execution.id)


async def rerun_execution(hub: Hub, org_id: Any, execution_id: Any, user_id: Any, from_node_id: str | None,
                          scopes: list[str] | None = None) -> Execution:
    """A new execution of the same version and inputs that starts at `from_node_id` (default:
    the first failed step): the steps before it are reused with their outputs, not run again."""
    previous = await get_execution(org_id, execution_id)
    if previous.status in ("pending", "running"):
        raise HubError("CONFLICT", "The execution is still running")
    steps = await ExecutionStep.for_org(org_id).filter(execution_id=previous.id)
    if from_node_id is None:
        failed = sorted((s for s in steps if s.status in ("failed", "timeout", "cancelled")),
                        key=lambda s: s.started_at or utcnow())
        if not failed:
            raise validation_error("from_node_id", "the execution has no failed step: name the step to start from")
        from_node_id = failed[0].node_id
    definition = (await WorkflowVersion.get(workflow_id=previous.workflow_id, version=previous.workflow_version)).definition
    graph = Graph.of(definition)
    if from_node_id not in graph.nodes:
        raise validation_error("from_node_id", f"no node {from_node_id!r} in version {previous.workflow_version}")
    again = graph.downstream(from_node_id)
    reuse = [s for s in steps if s.node_id not in again and s.status in ("completed", "skipped")]
    return await start_execution(hub, org_id, previous.workflow_id, user_id, inputs=previous.input_data,
                                 context={k: v for k, v in (previous.context or {}).items() if k != "_scopes"},
                                 scopes=scopes, rerun_of=previous, reuse=reuse)


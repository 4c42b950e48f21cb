"""LLM-callable functions (hub_functions): agents and other plugins (the n8n API) list, edit,
start and watch workflows through these, with the caller's rights."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from core import Page, current_hub
from plugins.workflows import service
from plugins.workflows.schemas import STATUSES, WorkflowCreateRequest

Id = Field(max_length=64)


def _scopes(ctx) -> list[str] | None:
    """An API key's rights, which its executions keep when they run later; None for a user."""
    principal = ctx.principal
    return sorted(principal.permissions) if principal is not None and principal.kind == "api_key" else None


class ListWorkflowsArgs(BaseModel):
    search: str | None = Field(None, max_length=200, description="Part of the name or description")
    active: bool | None = Field(None, description="Only active (true) or inactive (false) workflows")
    full: bool = Field(False, description="Whole definitions (nodes, edges, settings) instead of summaries")
    limit: int = Field(20, ge=1, le=250)
    offset: int = Field(0, ge=0, le=10_000_000)


class WorkflowArgs(BaseModel):
    workflow_id: str = Id


class SaveWorkflowArgs(WorkflowCreateRequest):
    workflow_id: str | None = Field(None, max_length=64, description="The workflow to save a new version of; none: create one")


class SetActiveArgs(WorkflowArgs):
    active: bool


class RunWorkflowArgs(BaseModel):
    workflow_id: str = Id
    inputs: dict[str, Any] = Field(default_factory=dict, description="The execution's input data")
    trigger: Literal["manual", "webhook", "api"] = Field("manual", description="What starts it (shown on the execution)")


class ExecutionArgs(BaseModel):
    execution_id: str = Id


class ListExecutionsArgs(BaseModel):
    workflow_id: str | None = Field(None, max_length=64, description="Only this workflow's executions")
    statuses: list[STATUSES] | None = Field(None, max_length=6, description="Only executions in these states")
    limit: int = Field(20, ge=1, le=250)
    offset: int = Field(0, ge=0, le=10_000_000)


class RerunArgs(ExecutionArgs):
    from_node_id: str | None = Field(None, max_length=64, description="Default: the first failed step")


async def list_workflows(ctx, args: ListWorkflowsArgs) -> dict:
    rows, total = await service.list_workflows(ctx.org_id, Page(args.offset, args.limit, count=True), args.search, None,
                                               active=args.active, full=args.full)
    return {"workflows": rows, "total": total}


async def get_workflow(ctx, args: WorkflowArgs) -> dict:
    return service.workflow_json(await service.get_workflow(ctx.org_id, args.workflow_id))


async def save_workflow(ctx, args: SaveWorkflowArgs) -> dict:
    data = args.model_dump(mode="json", exclude={"workflow_id"})
    if args.workflow_id is None:
        return await service.create_workflow(current_hub(), ctx.org_id, ctx.user_id, data)
    return await service.update_workflow(current_hub(), ctx.org_id, ctx.user_id, args.workflow_id, data)


async def set_workflow_active(ctx, args: SetActiveArgs) -> dict:
    return await service.set_active(ctx.org_id, args.workflow_id, args.active)


async def delete_workflow(ctx, args: WorkflowArgs) -> dict:
    workflow = service.workflow_json(await service.get_workflow(ctx.org_id, args.workflow_id))
    await service.delete_workflow(ctx.org_id, args.workflow_id)
    return workflow


async def run_workflow(ctx, args: RunWorkflowArgs) -> dict:
    context = {"trigger": args.trigger} if args.trigger != "manual" else {}
    execution = await service.start_execution(current_hub(), ctx.org_id, args.workflow_id, ctx.user_id,
                                              inputs=args.inputs, context=context, scopes=_scopes(ctx))
    return {"execution_id": str(execution.id), "status": execution.status, "job_id": str(execution.job_id)}


async def get_execution(ctx, args: ExecutionArgs) -> dict:
    return await service.execution_json(await service.get_execution(ctx.org_id, args.execution_id))


async def list_executions(ctx, args: ListExecutionsArgs) -> dict:
    rows, total = await service.list_executions(ctx.org_id, args.workflow_id, Page(args.offset, args.limit, count=True),
                                                args.statuses)
    return {"executions": rows, "total": total}


async def delete_execution(ctx, args: ExecutionArgs) -> dict:
    return await service.delete_execution(ctx.org_id, args.execution_id)


async def rerun_execution(ctx, args: RerunArgs) -> dict:
    execution = await service.rerun_execution(current_hub(), ctx.org_id, args.execution_id, ctx.user_id,
                                              args.from_node_id, scopes=_scopes(ctx))
    return {"execution_id": str(execution.id), "status": execution.status, "job_id": str(execution.job_id)}


FUNCTIONS = (
    ("list_workflows", "List the organization's workflows (id, name, description)", ListWorkflowsArgs,
     "workflows.read", list_workflows),
    ("get_workflow", "A workflow's whole current definition", WorkflowArgs, "workflows.read", get_workflow),
    ("save_workflow", "Create a workflow, or save a new version of one (workflow_id)", SaveWorkflowArgs,
     "workflows.edit", save_workflow),
    ("set_workflow_active", "Switch a workflow on or off (its schedules and webhooks with it)", SetActiveArgs,
     "workflows.edit", set_workflow_active),
    ("delete_workflow", "Delete a workflow, its versions and its executions", WorkflowArgs, "workflows.delete",
     delete_workflow),
    ("run_workflow", "Start a workflow with input data; returns the execution id to watch", RunWorkflowArgs,
     "workflows.execute", run_workflow),
    ("get_execution", "An execution's status, progress, steps and result", ExecutionArgs,
     "workflows.read", get_execution),
    ("list_executions", "Executions, newest first: of one workflow or of all, by status", ListExecutionsArgs,
     "workflows.read", list_executions),
    ("delete_execution", "Delete an ended execution and its steps", ExecutionArgs, "workflows.edit", delete_execution),
    ("rerun_execution", "Run an ended execution again from a step (default: its first failed one)", RerunArgs,
     "workflows.execute", rerun_execution),
)

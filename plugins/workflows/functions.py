"""LLM-callable functions (hub_functions): agents list workflows, start them and watch them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from core import Page, current_hub
from plugins.workflows import service


class ListWorkflowsArgs(BaseModel):
    search: str | None = Field(None, max_length=200, description="Part of the name or description")
    limit: int = Field(20, ge=1, le=50)


class RunWorkflowArgs(BaseModel):
    workflow_id: str = Field(max_length=64)
    inputs: dict[str, Any] = Field(default_factory=dict, description="The execution's input data")


class GetExecutionArgs(BaseModel):
    execution_id: str = Field(max_length=64)


async def list_workflows(ctx, args: ListWorkflowsArgs) -> dict:
    rows, total = await service.list_workflows(ctx.org_id, Page(0, args.limit, count=True), args.search, None)
    return {"workflows": rows, "total": total}


async def run_workflow(ctx, args: RunWorkflowArgs) -> dict:
    execution = await service.start_execution(current_hub(), ctx.org_id, args.workflow_id, ctx.user_id,
                                              inputs=args.inputs)
    return {"execution_id": str(execution.id), "status": execution.status}


async def get_execution(ctx, args: GetExecutionArgs) -> dict:
    return await service.execution_json(await service.get_execution(ctx.org_id, args.execution_id))


FUNCTIONS = (
    ("list_workflows", "List the organization's workflows (id, name, description)", ListWorkflowsArgs,
     "workflows.read", list_workflows),
    ("run_workflow", "Start a workflow with input data; returns the execution id to watch", RunWorkflowArgs,
     "workflows.execute", run_workflow),
    ("get_execution", "An execution's status, progress, steps and result", GetExecutionArgs,
     "workflows.read", get_execution),
)

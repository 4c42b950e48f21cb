"""The workflows' analytics metrics (`hub_metrics`, served by the analytics plugin):
executions by status, failures and the failure rate (of the executions that finished)."""

from __future__ import annotations

from plugins.workflows.models import Execution

FINISHED = ("completed", "failed", "cancelled", "timeout")


def register_metrics(register) -> None:
    register("executions", "Executions", model=Execution, dimensions={"status": "Status", "workflow_id": "Workflow"},
             description="Workflow executions started in the period")
    register("finished_executions", "Finished executions", model=Execution, where={"status": list(FINISHED)},
             dimensions={"workflow_id": "Workflow"}, description="Executions that finished, whatever the outcome")
    register("failed_executions", "Failed executions", model=Execution, where={"status": ["failed", "timeout"]},
             dimensions={"workflow_id": "Workflow"}, description="Executions that failed or timed out")
    register("failure_rate", "Failure rate", aggregate="ratio", numerator="failed_executions",
             denominator="finished_executions", format="percent",
             description="Failed or timed-out executions / finished executions")

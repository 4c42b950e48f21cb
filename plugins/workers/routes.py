"""Seed 002's Workers Service at the root mount:

    POST   /api/v1/workflows/execute   {workflow_type, input_data, priority 1-10}   workers.run
                                       201 {job_id, status: "pending", message}
    GET    /api/v1/workflows/<job_id>  the job (seed 002's shape)                   workers.read
    DELETE /api/v1/workflows/<job_id>  200 cancelled / 202 asked to stop / 409      workers.cancel
    GET    /api/v1/metrics             the organization's job totals               workers.read
"""

from __future__ import annotations

from quart import Blueprint, jsonify
from quart_schema import document_response, validate_request, validate_response

from core import cancel_job, current_hub, current_principal, document_errors, get_job, job_body, job_totals, require
from plugins.workers import service
from plugins.workers.schemas import ExecuteAccepted, ExecuteRequest, WorkerJob, WorkerMetrics

bp = Blueprint("workers", __name__)


def _view(job) -> dict:
    body = job_body(job)
    return {key: body[key] for key in WorkerJob.model_fields}


@bp.post("/api/v1/workflows/execute")
@require("workers.run")
@validate_request(ExecuteRequest)
@validate_response(ExecuteAccepted, 201)
async def execute(data: ExecuteRequest):
    """Start a job type or a Hub workflow (by name or id) with `input_data` at `priority`
    (1-10; more urgent jobs start before less urgent ones still waiting). An unknown
    `workflow_type` is a 400 listing the valid ones. Follow it at GET /api/v1/workflows/{job_id}."""
    job = await service.execute(current_hub(), current_principal(), data.workflow_type, data.input_data,
                                data.priority)
    return ExecuteAccepted(job_id=str(job.id), status="pending", message="Workflow execution started"), 201


@bp.get("/api/v1/workflows/<job_id>")
@require("workers.read")
@validate_response(WorkerJob)
async def get_workflow_job(job_id: str):
    """A job's status, progress, input and output, started and completed times."""
    job = await get_job(current_principal().org_id, job_id)
    return WorkerJob(**_view(job))


@bp.delete("/api/v1/workflows/<job_id>")
@require("workers.cancel")
@document_response(WorkerJob, 200)
@document_response(WorkerJob, 202)
@document_errors(409)
async def cancel_workflow_job(job_id: str):
    """Cancel a job: a pending one at once (200); a running one stops at its next progress
    point (202, then `cancelled`); 409 when it had already finished."""
    job, finished = await cancel_job(current_principal().org_id, job_id)
    response = jsonify(WorkerJob(**_view(job)).model_dump(mode="json"))
    response.status_code = 200 if finished else 202
    return response


@bp.get("/api/v1/metrics")
@require("workers.read")
@validate_response(WorkerMetrics)
async def metrics():
    """The organization's jobs: totals per state and the average run time of completed ones."""
    return WorkerMetrics(**await job_totals(current_principal().org_id))

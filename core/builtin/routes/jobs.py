"""`/api/v1/jobs`: the organization's background jobs (status, progress, result) and cancel.

    GET    /api/v1/jobs?status=running,pending&type=crm.import&limit=&offset=   jobs.read
    GET    /api/v1/jobs/<id>                                                    jobs.read
    DELETE /api/v1/jobs/<id>    200 + the job when it is now cancelled,        jobs.manage
                                202 + the job when it runs and was asked to stop,
                                409 when it had already finished

Seed 002's workers API will be a view over the same rows (`core.jobs.job_body`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints
from quart import Blueprint, jsonify
from quart_schema import document_response, validate_response

from core.http.auth import current_principal, require
from core.http.openapi import document_errors
from core.http.pagination import OffsetQuery, Pagination
from core.http.query import CommaSeparated, validate_query
from core.jobs import api as jobs
from core.jobs.models import JOB_STATUSES, Job

bp = Blueprint("core_jobs", __name__)

JobStatus = Literal[JOB_STATUSES]
JobType = Annotated[str, StringConstraints(max_length=100)]


class JobResponse(BaseModel):
    id: str
    organization_id: str
    user_id: str | None
    job_type: str
    status: str
    progress: int
    input_data: Any
    output_data: Any
    error: str | None
    attempts: int
    max_attempts: int
    priority: int
    timeout_seconds: int | None
    cancel_requested: bool
    run_after: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None


class JobList(BaseModel):
    jobs: list[JobResponse]
    total: int
    pagination: Pagination


class JobQuery(OffsetQuery):
    status: CommaSeparated[JobStatus] = Field([], max_length=len(JOB_STATUSES),
                                              description="Only jobs in these states (comma-separated)")
    type: CommaSeparated[JobType] = Field([], max_length=50, description="Only jobs of these types (comma-separated)")
    job_type: CommaSeparated[JobType] = Field([], max_length=50, description="Seed 002's name for `type`")


@bp.get("/api/v1/jobs")
@require("jobs.read")
@validate_query(JobQuery)
@document_response(JobList)
async def list_jobs(query_args: JobQuery):
    """The organization's background jobs, newest first."""
    page = query_args.page()
    query = Job.for_org(current_principal().org_id)
    if query_args.status:
        query = query.filter(status__in=query_args.status)
    types = query_args.type or query_args.job_type
    if types:
        query = query.filter(type__in=types)
    rows, total = await page.fetch(query, "-created_at")
    return page.listing("jobs", [jobs.job_body(job) for job in rows], total)


@bp.get("/api/v1/jobs/<job_id>")
@require("jobs.read")
@validate_response(JobResponse)
async def get_job(job_id: str):
    """One job: its status, progress and result."""
    job = await Job.get_for_org(current_principal().org_id, job_id, "Job")
    return JobResponse(**jobs.job_body(job))


@bp.delete("/api/v1/jobs/<job_id>")
@require("jobs.manage")
@document_response(JobResponse, 200)
@document_response(JobResponse, 202)
@document_errors(409)
async def cancel_job(job_id: str):
    """Cancel a job: 200 when it is now cancelled, 202 when it runs and was asked to stop, 409
    when it had already finished."""
    job, finished = await jobs.cancel(current_principal().org_id, job_id)
    response = jsonify(jobs.job_body(job))
    response.status_code = 200 if finished else 202
    return response

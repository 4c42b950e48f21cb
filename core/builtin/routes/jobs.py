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
from typing import Any

from pydantic import BaseModel
from quart import Blueprint, jsonify, request
from quart_schema import document_response, validate_response

from core.jobs import api as jobs
from core.http.auth import current_principal, require
from core.kernel.errors import validation_error
from core.jobs.models import JOB_STATUSES, Job
from core.http.pagination import paginate

bp = Blueprint("core_jobs", __name__)


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
    timeout_seconds: int | None
    cancel_requested: bool
    run_after: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None


class JobPagination(BaseModel):
    limit: int
    offset: int
    hasMore: bool


class JobList(BaseModel):
    jobs: list[JobResponse]
    total: int
    pagination: JobPagination


def _list_param(name: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    raw = request.args.get(name, "")
    values = [part.strip() for part in raw.split(",") if part.strip()]
    for value in values:
        if allowed is not None and value not in allowed:
            raise validation_error(name, f"must be one of {', '.join(allowed)} (got {value!r})")
        if len(value) > 100:
            raise validation_error(name, "too long")
    return values


@bp.get("/api/v1/jobs")
@require("jobs.read")
@document_response(JobList)
async def list_jobs():
    page = paginate("offset")
    query = Job.for_org(current_principal().org_id)
    statuses = _list_param("status", JOB_STATUSES)
    if statuses:
        query = query.filter(status__in=statuses)
    types = _list_param("type") or _list_param("job_type")
    if types:
        query = query.filter(type__in=types)
    total = await query.count()
    rows = await query.order_by("-created_at", "-id").offset(page.offset).limit(page.limit)
    body = {"jobs": [jobs.job_body(job) for job in rows], "total": total, "pagination": page.info(total)}
    return page.respond(body, total)


@bp.get("/api/v1/jobs/<job_id>")
@require("jobs.read")
@validate_response(JobResponse)
async def get_job(job_id: str):
    job = await Job.get_for_org(current_principal().org_id, job_id, "Job")
    return JobResponse(**jobs.job_body(job))


@bp.delete("/api/v1/jobs/<job_id>")
@require("jobs.manage")
@document_response(JobResponse, 200)
async def cancel_job(job_id: str):
    job, finished = await jobs.cancel(current_principal().org_id, job_id)
    response = jsonify(jobs.job_body(job))
    response.status_code = 200 if finished else 202
    return response

"""Request and response bodies of seed 002's Workers Service."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt

from core import SnakeModel

JSON_OBJECT = {"type": "object", "additionalProperties": True,
               "x-bounded-by": "the request body's size ([http] max_body_bytes); the job's own input, as given"}


class ExecuteRequest(SnakeModel):
    workflow_type: str = Field(min_length=1, max_length=100,
                               description="A registered job type, or a Hub workflow's name or id")
    input_data: dict[str, Any] = Field(default_factory=dict, json_schema_extra=JSON_OBJECT)
    priority: StrictInt = Field(5, ge=1, le=10, description="1 (lowest) to 10 (most urgent)")


class ExecuteAccepted(BaseModel):
    job_id: str
    status: Literal["pending"]
    message: str


class WorkerJob(BaseModel):
    id: str
    organization_id: str
    user_id: str | None
    job_type: str
    status: str
    priority: int
    progress: int
    input_data: Any
    output_data: Any
    error: str | None
    attempts: int
    cancel_requested: bool
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None


class WorkerMetrics(BaseModel):
    total_jobs: int
    pending_jobs: int
    running_jobs: int
    completed_jobs: int
    failed_jobs: int
    avg_execution_time_seconds: float

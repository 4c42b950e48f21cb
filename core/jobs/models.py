"""The job table: every background job is a row before it is sent to a worker."""

from __future__ import annotations

from tortoise import fields

from core.kernel.models import TenantModel

JOB_STATUSES = ("pending", "running", "completed", "failed", "cancelled", "timeout")


class Job(TenantModel):
    # Every background job is a row before it is sent to a worker, so none is lost when a
    # process dies: unfinished rows are re-sent at start.
    type = fields.CharField(max_length=100, db_index=True)
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    progress = fields.IntField(default=0)
    payload = fields.JSONField(default=dict)
    result = fields.JSONField(null=True)
    error = fields.TextField(null=True)
    attempts = fields.IntField(default=0)
    max_attempts = fields.IntField(default=3)
    timeout_seconds = fields.IntField(null=True)
    user_id = fields.UUIDField(null=True)
    cancel_requested = fields.BooleanField(default=False)
    run_after = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    worker = fields.CharField(max_length=100, null=True)
    heartbeat_at = fields.DatetimeField(null=True)
    # 1 (lowest) to 10 (most urgent), default 5: which dramatiq queue the job's messages go to
    # (core/jobs/runtime.py, "Priorities"), and the order of the recovery sweep's re-sends.
    priority = fields.SmallIntField(default=5)

    class Meta:
        table = "core_job"

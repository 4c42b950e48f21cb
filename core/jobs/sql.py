"""The job runtime's hot statements, written out for PostgreSQL.

A job's life is a handful of statements (insert, claim, finish), and building each through the
ORM's query builder costs more CPU than the database spends on it. On PostgreSQL these are
plain parametrised SQL on the model's current connection (so they join a caller's
transaction like any ORM query); the claim is one `UPDATE ... RETURNING *` instead of a
SELECT and an UPDATE. On SQLite (the embedded default, one process) the ORM does the same.
The conditions are the same on both paths: a claim takes only a pending, not cancelled, due
row; a finish writes only a row still running for this worker.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from core.jobs.models import Job
from core.kernel.times import utcnow

TABLE = '"core_job"'
JSON_COLUMNS = {"payload", "result"}
EARLY_TOLERANCE = timedelta(seconds=1)  # a delayed job may start this early (as the ORM path)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


class JobSQL:
    def __init__(self) -> None:
        self._fast: bool | None = None

    @property
    def fast(self) -> bool:
        if self._fast is None:
            try:
                self._fast = Job._meta.db.capabilities.dialect == "postgres"
            except Exception:  # no database yet
                return False
        return self._fast

    async def create(self, **values: Any) -> Job:
        """Insert a pending job row; the `Job` (as `Job.create` returns it)."""
        if not self.fast:
            return await Job.create(**values)
        now = utcnow()
        job = Job(id=uuid.uuid4(), created_at=now, updated_at=now, status="pending", progress=0, result=None,
                  error=None, attempts=0, cancel_requested=False, started_at=None, finished_at=None, worker=None,
                  **values)
        await Job._meta.db.execute_query(
            f'INSERT INTO {TABLE} ("id", "created_at", "updated_at", "org_id", "type", "status", "progress", '
            '"payload", "attempts", "max_attempts", "timeout_seconds", "user_id", "cancel_requested", "run_after", '
            '"heartbeat_at", "priority") '
            "VALUES ($1, $2, $2, $3, $4, 'pending', 0, $5::jsonb, 0, $6, $7, $8, false, $9, $10, $11)",
            [job.id, now, _uuid(job.org_id), job.type, _json(job.payload), job.max_attempts, job.timeout_seconds,
             _uuid(job.user_id), job.run_after, job.heartbeat_at, job.priority],
        )
        job._saved_in_db = True
        return job

    async def claim(self, job_id: Any, worker: str) -> Job | None:
        """Take a pending, due, not cancelled job for `worker` (attempts + 1); the row as it is
        now, or None if it is not there to take (PostgreSQL only: see `fast`)."""
        now = utcnow()
        rows = await Job._meta.db.execute_query_dict(
            f'UPDATE {TABLE} SET "status" = \'running\', "worker" = $2, "attempts" = "attempts" + 1, '
            '"progress" = 0, "started_at" = $3, "heartbeat_at" = $3, "updated_at" = $3 '
            'WHERE "id" = $1 AND "status" = \'pending\' AND NOT "cancel_requested" '
            'AND ("run_after" IS NULL OR "run_after" <= $4) RETURNING *',
            [_uuid(job_id), worker, now, now + EARLY_TOLERANCE],
        )
        return Job._init_from_db(**rows[0]) if rows else None

    async def update_running(self, job_id: Any, worker: str, fields: dict[str, Any]) -> int:
        """Write `fields` to the job if it is still running for `worker`; rows changed (0/1)."""
        if not self.fast:
            return await Job.filter(id=job_id, worker=worker, status="running").update(**fields)
        sets, values = [], [_uuid(job_id), worker]
        for name, value in fields.items():
            if name not in Job._meta.fields_map or name == "id":
                raise ValueError(f"not a job column: {name}")
            values.append(_json(value) if name in JSON_COLUMNS else value)
            sets.append(f'"{name}" = ${len(values)}' + ("::jsonb" if name in JSON_COLUMNS else ""))
        updated, _ = await Job._meta.db.execute_query(
            f'UPDATE {TABLE} SET {", ".join(sets)} WHERE "id" = $1 AND "worker" = $2 AND "status" = \'running\'',
            values,
        )
        return updated


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))

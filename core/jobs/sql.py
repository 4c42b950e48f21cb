"""The job runtime's hot statements, written out for PostgreSQL.

A job's life is a handful of statements (insert, claim, finish), and building each through the
ORM's query builder costs more CPU than the database spends on it. On PostgreSQL these are
plain parametrised SQL on the model's current connection (so they join a caller's
transaction like any ORM query), and they come in batches: the runtime hands every insert,
claim or finish that is waiting while the previous one runs to one statement
(core/kernel/batching.py's Coalescer), so a deep queue costs a round trip per batch, not per
job. A claim writes the job's `job.started` outbox row and a finish its `job.completed` (or
failed, cancelled, timed_out) row in the same statement: the event exists exactly when the
change does, in one round trip. On SQLite (the embedded default, one process) the ORM does the
same, one job at a time. The conditions are the same on both paths: a claim takes only a
pending, not cancelled, due row; a finish writes only a row still running for this worker.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from core.jobs.models import Job
from core.kernel.times import utcnow

TABLE = '"core_job"'
# core/events/models.py's OutboxEvent (the jobs layer sits under the events layer: no import)
OUTBOX = '"core_event_outbox"'
OUTBOX_COLUMNS = '("id", "org_id", "type", "data", "timestamp", "sequence", "lease_until", "attempts", "created_at")'
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
        return (await self.create_many([values]))[0]

    async def create_many(self, rows: list[dict[str, Any]]) -> list[Job]:
        """Insert pending job rows in one statement (PostgreSQL only: see `fast`)."""
        now = utcnow()
        jobs = [Job(id=uuid.uuid4(), created_at=now, updated_at=now, status="pending", progress=0, result=None,
                    error=None, attempts=0, cancel_requested=False, started_at=None, finished_at=None, worker=None,
                    **values) for values in rows]
        await Job._meta.db.execute_query(
            f'INSERT INTO {TABLE} ("id", "created_at", "updated_at", "org_id", "type", "status", "progress", '
            '"payload", "attempts", "max_attempts", "timeout_seconds", "user_id", "cancel_requested", "run_after", '
            '"heartbeat_at", "priority") '
            "SELECT id, $1, $1, org_id, type, 'pending', 0, payload::jsonb, 0, max_attempts, timeout_seconds, "
            "user_id, false, run_after, heartbeat_at, priority "
            "FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int[], $7::int[], $8::uuid[], "
            "$9::timestamptz[], $10::timestamptz[], $11::smallint[]) "
            "AS v(id, org_id, type, payload, max_attempts, timeout_seconds, user_id, run_after, heartbeat_at, priority)",
            [now, [job.id for job in jobs], [_uuid(job.org_id) for job in jobs], [job.type for job in jobs],
             [_json(job.payload) for job in jobs], [job.max_attempts for job in jobs],
             [job.timeout_seconds for job in jobs], [_uuid(job.user_id) for job in jobs],
             [job.run_after for job in jobs], [job.heartbeat_at for job in jobs], [job.priority for job in jobs]],
        )
        for job in jobs:
            job._saved_in_db = True
        return jobs

    async def claim_many(self, job_ids: list[Any], worker: str, started: list[Any]) -> list[Job]:
        """Take the pending, due, not cancelled jobs among `job_ids` (distinct) for `worker`
        (attempts + 1) and write each taken job's `job.started` outbox row, with the identity
        `started[i]` (an `outbox.stage()`) for `job_ids[i]`; the taken rows as they are now
        (PostgreSQL only: see `fast`). The event's data is the runtime's (`JobRuntime._data`)."""
        now = utcnow()
        rows = await Job._meta.db.execute_query_dict(
            "WITH claimed AS ("
            f'UPDATE {TABLE} SET "status" = \'running\', "worker" = $2, "attempts" = "attempts" + 1, '
            '"progress" = 0, "started_at" = $3, "heartbeat_at" = $3, "updated_at" = $3 '
            'WHERE "id" = ANY($1::uuid[]) AND "status" = \'pending\' AND NOT "cancel_requested" '
            'AND ("run_after" IS NULL OR "run_after" <= $4) RETURNING *), '
            f"started AS (INSERT INTO {OUTBOX} {OUTBOX_COLUMNS} "
            "SELECT e.event_id, c.org_id::text, 'job.started', jsonb_build_object('id', c.id::text, "
            "'job_id', c.id::text, 'job_type', c.type, 'status', c.status, 'progress', c.progress, "
            "'attempt', c.attempts), e.ts, e.sequence, e.lease_until, 0, $3 "
            "FROM claimed AS c JOIN unnest($1::uuid[], $5::text[], $6::text[], $7::bigint[], $8::timestamptz[]) "
            "AS e(job_id, event_id, ts, sequence, lease_until) ON e.job_id = c.id) "
            "SELECT * FROM claimed",
            [[_uuid(job_id) for job_id in job_ids], worker, now, now + EARLY_TOLERANCE,
             [s.id for s in started], [s.timestamp for s in started], [s.sequence for s in started],
             [s.lease_until for s in started]],
        )
        return [Job._init_from_db(**row) for row in rows]

    async def finish_many(self, worker: str, finishes: list[tuple[Any, dict[str, Any], Any, Any]]) -> set[str]:
        """Write each `(job_id, fields, staged, event)`'s end (`fields`: status, error,
        finished_at, updated_at, and maybe result and progress) if the job still runs for
        `worker`, with its event's outbox row, in one statement; the ids (str) written."""
        rows = await Job._meta.db.execute_query_dict(
            "WITH v AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bool[], $5::text[], "
            "$6::int[], $7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "
            "$13::bigint[], $14::timestamptz[]) AS v(id, status, result, set_result, error, progress, finished_at, "
            "event_id, org_id, event_type, data, ts, sequence, lease_until)), "
            f'done AS (UPDATE {TABLE} AS j SET "status" = v.status, '
            '"result" = CASE WHEN v.set_result THEN v.result::jsonb ELSE j."result" END, "error" = v.error, '
            '"progress" = COALESCE(v.progress, j."progress"), "finished_at" = v.finished_at, '
            '"updated_at" = v.finished_at '
            'FROM v WHERE j."id" = v.id AND j."worker" = $15 AND j."status" = \'running\' RETURNING j."id"), '
            f"finished AS (INSERT INTO {OUTBOX} {OUTBOX_COLUMNS} "
            "SELECT v.event_id, v.org_id, v.event_type, v.data::jsonb, v.ts, v.sequence, v.lease_until, 0, "
            "v.finished_at FROM v JOIN done ON done.id = v.id) "
            "SELECT id FROM done",
            [[_uuid(job_id) for job_id, *_ in finishes],
             [fields["status"] for _, fields, _, _ in finishes],
             [_json(fields.get("result")) for _, fields, _, _ in finishes],
             ["result" in fields for _, fields, _, _ in finishes],
             [fields.get("error") for _, fields, _, _ in finishes],
             [fields.get("progress") for _, fields, _, _ in finishes],
             [fields["finished_at"] for _, fields, _, _ in finishes],
             [staged.id for _, _, staged, _ in finishes],
             [event.org_id for *_, event in finishes],
             [event.type for *_, event in finishes],
             [_json(event.data) for *_, event in finishes],
             [staged.timestamp for _, _, staged, _ in finishes],
             [staged.sequence for _, _, staged, _ in finishes],
             [staged.lease_until for _, _, staged, _ in finishes],
             worker],
        )
        return {str(row["id"]) for row in rows}

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

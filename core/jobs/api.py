"""What plugins use of the job system: `enqueue`, `JobContext`, `JobFailed`, `JobCancelled`,
and the reading and cancelling the routes do. How jobs run: core/jobs/runtime.py."""

from __future__ import annotations

import asyncio
import random
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from core.jobs.models import Job
from core.kernel.errors import HubError
from core.kernel.times import iso, utcnow

if TYPE_CHECKING:
    from core.jobs.runtime import JobRuntime

FINISHED_STATUSES = ("completed", "failed", "cancelled", "timeout")
UNFINISHED_STATUSES = ("pending", "running")
PROGRESS_MESSAGE_INTERVAL = 0.5  # a new progress message with the same percentage is recorded at most this often

_ACTIVE: list[Any] = []
# The priority of jobs enqueued without one inside `with default_priority(p):` (e.g. the job a
# Hub workflow's execution enqueues when the workers API starts it at a priority).
_PRIORITY: ContextVar[int | None] = ContextVar("hub_job_priority", default=None)  # started runtimes of this process (enqueue without an app context)


class JobFailed(Exception):
    """Raise in a job to fail it; `retry=True` lets it be retried like any other error."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


class JobCancelled(Exception):
    """Raised by `ctx.raise_if_cancelled()`; ends the job as cancelled."""


@dataclass(frozen=True)
class JobType:
    name: str
    func: Callable[["JobContext", dict], Awaitable[Any]]
    plugin: str
    max_attempts: int = 3
    timeout_seconds: float | None = None
    # Jobs of this type one organization may have running at once (None: no limit); a plan may
    # change it with the limit "concurrent_jobs.<type>" (hub_plan_limits or [quotas.plans]).
    concurrency_per_org: int | None = None
    # Who may start it with a payload of their own (the workers API, seed 002): callers holding
    # this permission. None: only its plugin's code enqueues it (its payload names rows that
    # code made), never a client.
    start_permission: str | None = None

    @property
    def concurrency_limit_name(self) -> str:
        return f"concurrent_jobs.{self.name}"


class JobContext:
    """What a job function gets besides its payload.

    `job_id`, `org_id`, `user_id` (str or None), `job_type`, `attempt` (1 on the first run),
    `max_attempts`, `payload`, `hub`; `await ctx.progress(percent, message=None)`;
    `ctx.cancelled` (True once a cancel was requested, or this attempt lost the job to
    another worker: stop early either way); `ctx.raise_if_cancelled()`.
    """

    def __init__(self, runtime: "JobRuntime", job: Job) -> None:
        self.job_id = str(job.id)
        self.org_id = str(job.org_id)
        self.user_id = str(job.user_id) if job.user_id else None
        self.job_type = job.type
        self.attempt = job.attempts
        self.max_attempts = job.max_attempts
        self.payload = job.payload
        self.hub = runtime.hub
        self._runtime = runtime
        self._percent = 0
        self._message: str | None = None
        self._progress_at = 0.0
        self._cancel_reason: str | None = None  # "requested" or "lost"
        self._cancel_seen: float | None = None
        self._forced = False
        self._task: asyncio.Future | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancel_reason is not None

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled("cancelled")

    async def progress(self, percent: float, message: str | None = None) -> None:
        """Record progress (0-100, clamped) and emit `job.progress`. Unchanged values are
        skipped, and so is a new message at the same percentage within half a second (so at
        most ~100 writes plus two a second, however often a job reports)."""
        if self.cancelled:
            return  # the row takes no more progress from this attempt
        value = max(0, min(100, int(percent)))
        if value == self._percent and (
            message == self._message or time.monotonic() - self._progress_at < PROGRESS_MESSAGE_INTERVAL
        ):
            return  # unchanged, or only a new message too soon after the last one
        self._percent, self._message, self._progress_at = value, message, time.monotonic()
        now = utcnow()
        updated = await Job.filter(
            id=self.job_id, worker=self._runtime.worker_id, status="running", cancel_requested=False
        ).update(progress=value, heartbeat_at=now, updated_at=now)
        if not updated:
            await self._runtime._refresh_cancel(self)
            return
        data = {"progress": value}
        if message is not None:
            data["message"] = message
        await self._runtime._emit_for(self, "job.progressed", "running", **data)

    # -- runtime side --

    def _request_cancel(self, reason: str) -> None:
        if self._cancel_reason is None:
            self._cancel_reason = reason
            self._cancel_seen = time.monotonic()

    def _force_cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._forced = True
            self._task.cancel()


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retrying after failed attempt `attempt` (1-based):
    base * 2**(attempt-1), capped, with "equal jitter" (between half and all of it)."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay / 2 + random.uniform(0, delay / 2)


async def enqueue(
    org_id: Any,
    job_type: str,
    payload: dict | None = None,
    *,
    user_id: Any = None,
    max_attempts: int | None = None,
    delay_seconds: float | None = None,
    timeout_seconds: float | None = None,
    priority: int | None = None,
    hub: Any = None,
) -> Job:
    """Record a job and send it to the workers; returns the `Job` row (status "pending").

    `priority` is 1 (lowest) to 10 (most urgent), default 5 (or the caller's
    `default_priority(...)` scope): a more urgent job starts before less urgent ones that
    are still queued.

    Raises ValueError for an unknown type or bad arguments, TypeError for a payload that is
    not a JSON object. If the broker cannot be reached the row stays pending and is re-sent
    later, so an accepted job is never lost. Call it outside a database transaction (or the
    worker may look for the row before it is committed; it waits MISSING_ROW_GRACE_SECONDS).
    """
    runtime = runtime_of(hub)
    return await runtime.enqueue(
        org_id, job_type, payload, user_id=user_id, max_attempts=max_attempts,
        delay_seconds=delay_seconds, timeout_seconds=timeout_seconds,
        priority=priority if priority is not None else _PRIORITY.get(),
    )


@contextmanager
def default_priority(priority: int | None):
    """Jobs enqueued inside this block without a `priority` of their own get this one."""
    token = _PRIORITY.set(priority)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


def runtime_of(hub: Any = None) -> "JobRuntime":
    if hub is None:
        try:
            from core.kernel.hub import current_hub

            hub = current_hub()
        except RuntimeError:  # no app context: the one started runtime of this process
            if len(_ACTIVE) == 1:
                return _ACTIVE[0]
            raise RuntimeError("core.jobs needs a Hub: call it inside the app context or pass hub=") from None
    runtime = hub.extensions.get("jobs")
    if runtime is None:
        raise RuntimeError("the jobs runtime is not installed on this Hub")
    return runtime


# -- reading and cancelling (routes, and seed 002's workers view later) ------------------------


def job_body(job: Job) -> dict[str, Any]:
    """The API shape of a job (seed 002 names: job_type, input_data, output_data, completed_at)."""
    return {
        "id": str(job.id),
        "organization_id": str(job.org_id),
        "user_id": str(job.user_id) if job.user_id else None,
        "job_type": job.type,
        "status": job.status,
        "progress": job.progress,
        "input_data": job.payload,
        "output_data": job.result,
        "error": job.error,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "priority": job.priority,
        "timeout_seconds": job.timeout_seconds,
        "cancel_requested": job.cancel_requested,
        "run_after": iso(job.run_after),
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "started_at": iso(job.started_at),
        "completed_at": iso(job.finished_at),
    }


async def cancel(org_id: Any, job_id: Any, *, hub: Any = None) -> tuple[Job, bool]:
    """Cancel a job of this organization: returns (job, finished) where finished is True if
    it is now cancelled, False if it runs and was asked to stop. 404 for another
    organization's job, 409 for a job that already finished otherwise."""
    runtime = runtime_of(hub)
    job = await Job.get_for_org(org_id, job_id, "Job")
    now = utcnow()
    if job.status == "pending":
        if await Job.filter(id=job.id, status="pending").update(
            status="cancelled", cancel_requested=True, finished_at=now, updated_at=now
        ):
            job = await Job.get(id=job.id)
            await runtime._emit(job, "job.cancelled")
            return job, True
        job = await Job.get(id=job.id)  # taken by a worker meanwhile
    if job.status == "running":
        if await Job.filter(id=job.id, status="running").update(cancel_requested=True, updated_at=now):
            job = await Job.get(id=job.id)
            await runtime._emit(job, "job.cancel_requested")
            # Told after the event is queued, so job.cancelled (this process's worker may end the
            # job at once) always comes after job.cancel_requested.
            runtime._cancel_local(str(job.id))
            if job.status == "running":
                return job, False
        job = await Job.get(id=job.id)
    if job.status == "cancelled":
        return job, True
    if job.status in UNFINISHED_STATUSES:  # went back to pending between the reads: try again
        return await cancel(org_id, job_id, hub=runtime.hub)
    raise HubError("CONFLICT", f"Job already {job.status}", {"status": job.status, "id": str(job.id)})


# -- what seed 002's workers view needs (exported by core/__init__.py) ----------------------------


def job_types(hub: Any = None) -> dict[str, JobType]:
    """The registered job types by name (each with its plugin and `start_permission`)."""
    return dict(runtime_of(hub).types)


async def get_job(org_id: Any, job_id: Any) -> Job:
    """One job of this organization (404 `NOT_FOUND` for another organization's id)."""
    return await Job.get_for_org(org_id, job_id, "Job")


cancel_job = cancel


async def job_totals(org_id: Any) -> dict[str, Any]:
    """Seed 002's metrics for one organization: jobs per status and the average run time
    (first claim to finish, seconds) of its completed jobs. `failed_jobs` counts failed and
    timed-out jobs; cancelled ones count only in `total_jobs`."""
    from tortoise.functions import Count

    rows = await Job.for_org(org_id).annotate(count=Count("id")).group_by("status").values("status", "count")
    by_status = {row["status"]: row["count"] for row in rows}
    db = Job._meta.db
    table = Job._meta.db_table
    if db.capabilities.dialect == "postgres":
        sql = (f'SELECT AVG(EXTRACT(EPOCH FROM ("finished_at" - "started_at"))) FROM "{table}" '
               f'WHERE "org_id" = $1 AND "status" = \'completed\' AND "started_at" IS NOT NULL')
    else:
        sql = (f'SELECT AVG((julianday("finished_at") - julianday("started_at")) * 86400.0) FROM "{table}" '
               f'WHERE "org_id" = ? AND "status" = \'completed\' AND "started_at" IS NOT NULL')
    result = await db.execute_query_dict(sql, [org_id if db.capabilities.dialect == "postgres" else str(org_id)])
    average = next(iter(result[0].values())) if result else None
    return {
        "total_jobs": sum(by_status.values()),
        "pending_jobs": by_status.get("pending", 0),
        "running_jobs": by_status.get("running", 0),
        "completed_jobs": by_status.get("completed", 0),
        "failed_jobs": by_status.get("failed", 0) + by_status.get("timeout", 0),
        "avg_execution_time_seconds": round(float(average), 3) if average is not None else 0.0,
    }

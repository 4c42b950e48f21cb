"""Job types of the workers tests (registered on the session app by conftest.py) and helpers."""

from __future__ import annotations

import asyncio
import time

from core import JobFailed

FINISHED = ("completed", "failed", "cancelled", "timeout")
GATES: dict[str, asyncio.Event] = {}
STARTED: list[str] = []  # workers_test.gate: gate names in the order their jobs started


async def add(ctx, payload):
    return {"sum": sum(payload["numbers"])}


async def refuse(ctx, payload):
    raise JobFailed("refused on purpose")


async def loop_until_cancelled(ctx, payload):
    """Reports progress until cancelled (each progress call is where a cancel is noticed)."""
    for step in range(100_000):
        await ctx.progress(step % 99 + 1)
        if ctx.cancelled:
            return {"stopped_at": step}
        await asyncio.sleep(0.01)
    return {"stopped_at": None}


async def gate(ctx, payload):
    """Holds a worker thread until the test opens its gate (bounded, so a failing test ends)."""
    STARTED.append(payload["name"])
    await asyncio.wait_for(GATES[payload["gate"]].wait(), 120)
    return {"name": payload["name"]}


def hub_jobs(register):
    # clients holding workers.run may start these through the workers API
    register("workers_test.add", add, start_permission="workers.run")
    register("workers_test.refuse", refuse, max_attempts=1, start_permission="workers.run")
    register("workers_test.loop", loop_until_cancelled, max_attempts=1, start_permission="workers.run")
    register("workers_test.gate", gate, max_attempts=1, start_permission="workers.run")
    register("workers_test.internal", add)  # no start_permission: only its plugin enqueues it


async def execute(api, workflow_type, input_data=None, priority=5, status=201):
    return await api.post("/api/v1/workflows/execute",
                          {"workflow_type": workflow_type, "input_data": input_data or {}, "priority": priority},
                          status=status)


async def wait_job(api, job_id, statuses=FINISHED, until=None, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        job = await api.get(f"/api/v1/workflows/{job_id}")
        if job["status"] in statuses and (until is None or until(job)):
            return job
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.02)

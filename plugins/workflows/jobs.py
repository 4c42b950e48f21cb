"""The job that runs an execution (on a `hub worker`, or in process without Redis)."""

from __future__ import annotations

from core import JobContext


async def execute(ctx: JobContext, payload: dict) -> dict:
    from plugins.workflows import engine

    return await engine.run(ctx, payload["execution_id"])

"""The example plugin's job type: count slowly, reporting progress, stopping when cancelled."""

from __future__ import annotations

import asyncio
import os
import uuid

from pydantic import BaseModel, Field


async def slow_count(ctx, payload: dict) -> dict:
    count = int(payload.get("count", 10))
    delay = float(payload.get("delay", 0.02))
    counted = 0
    for _ in range(count):
        if ctx.cancelled:
            break
        await asyncio.sleep(delay)
        counted += 1
        await ctx.progress(counted * 100 // count, f"counted {counted} of {count}")
    return {"counted": counted, "count": count, "pid": os.getpid(), "attempt": ctx.attempt}


# -- a workflow node (hub_workflow_nodes): a step that takes its time and leaves a trace --------


class WaitConfig(BaseModel):
    label: str = Field(max_length=50)
    seconds: float = Field(0.0, ge=0, le=30)


async def wait_step(ctx, config: WaitConfig, inputs: dict) -> dict:
    """Writes a note "step <label>" each time it starts (so a test counts how often each step
    ran), waits, and passes its input on with its label."""
    from hub_example_plugin.models import ExampleNote

    await ExampleNote.create(org_id=ctx.org_id, author_id=ctx.user_id or uuid.uuid4(), text=f"step {config.label}")
    await asyncio.sleep(config.seconds)
    return {"main": {"label": config.label, "input": inputs.get("main")}}

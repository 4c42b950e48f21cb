"""The example plugin's job type: count slowly, reporting progress, stopping when cancelled."""

from __future__ import annotations

import asyncio
import os


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

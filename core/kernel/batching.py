"""Counters kept in memory and written in batches, so that no request pays for a write."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("hub.batching")


class PeriodicFlush:
    """Subclasses implement `flush()`; it runs every `interval` seconds and on `stop()`."""

    interval: float = 1.0

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None

    async def flush(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._flush_forever())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            self._task = None
        await self.flush()

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:
                log.exception("%s: flushing failed", type(self).__name__)

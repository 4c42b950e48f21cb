"""Writes in batches: counters kept in memory and written periodically, so that no request
pays for a write (`PeriodicFlush`), and calls made at the same time that share one statement
(`Coalescer`)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, Awaitable, Callable, Generic, TypeVar

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


Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """`await coalescer.submit(item)` returns `flush([..., item, ...])`'s result for that item,
    where `flush` takes every item submitted while the previous flush ran (at most `max_batch`)
    and returns one result per item, in order. One flush runs at a time, so under load the
    batches grow by themselves (one round trip for many callers), while a lone call waits for
    nothing but its own flush: no timer, no batching delay. A failing flush fails each of its
    callers. Flushes run in an empty context: never in a caller's transaction."""

    def __init__(self, flush: Callable[[list[Item]], Awaitable[list[Result]]], max_batch: int = 100) -> None:
        self.flush = flush
        self.max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future]] = []
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats = {"flushes": 0, "items": 0}

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first use, or a new event loop (tests, CLI commands)
            self._loop, self._pending, self._task = loop, [], None
        future = loop.create_future()
        self._pending.append((item, future))
        if self._task is None:
            self._task = loop.create_task(self._drain(), context=contextvars.Context())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Any, asyncio.Future]] = []
        try:
            while self._pending:
                batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                self.stats["flushes"] += 1
                self.stats["items"] += len(batch)
                try:
                    results: Any = await self.flush([item for item, _ in batch])
                except Exception as error:  # noqa: BLE001 - handed to the callers
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._task = None
            # Cancelled (the loop is closing): no caller waits forever.
            for _, future in batch + self._pending:
                if not future.done():
                    future.cancel()
            self._pending = []

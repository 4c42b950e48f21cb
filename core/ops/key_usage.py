"""Per-API-key request counters, recorded by the core for every request made with a key.

Counting in memory and writing in batches keeps a database write off every request; the
batch is flushed every FLUSH_SECONDS, on shutdown, and before usage is read.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

from quart import g, request
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from core.http.pipeline import Stage
from core.kernel.batching import PeriodicFlush
from core.kernel.times import utcnow
from core.tenancy.models import ApiKey, ApiKeyUsage

FLUSH_SECONDS = 1.0


class KeyUsageRecorder(PeriodicFlush):
    interval = FLUSH_SECONDS

    def __init__(self) -> None:
        super().__init__()
        self._counts: dict[tuple[Any, str], list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
        self._last_used: dict[Any, datetime] = {}
        self._lock = asyncio.Lock()

    def record(self, key_id: Any, endpoint: str, status: int, duration_ms: float, at: datetime) -> None:
        counts = self._counts[(key_id, endpoint)]
        counts[0] += 1
        counts[1 if status < 400 else 2] += 1
        counts[3] += duration_ms
        self._last_used[key_id] = at

    async def flush(self) -> None:
        async with self._lock:
            counts, self._counts = self._counts, defaultdict(lambda: [0, 0, 0, 0.0])
            last_used, self._last_used = self._last_used, {}
            per_key: dict[Any, int] = defaultdict(int)
            for (key_id, endpoint), (requests, successes, failures, total_ms) in counts.items():
                per_key[key_id] += int(requests)
                await _add(key_id, endpoint, int(requests), int(successes), int(failures), total_ms)
            for key_id, requests in per_key.items():
                await ApiKey.filter(id=key_id).update(
                    usage_count=F("usage_count") + requests, last_used_at=last_used[key_id]
                )



async def _add(key_id, endpoint, requests, successes, failures, total_ms) -> None:
    increments = dict(
        requests=F("requests") + requests,
        successes=F("successes") + successes,
        failures=F("failures") + failures,
        total_duration_ms=F("total_duration_ms") + total_ms,
    )
    if await ApiKeyUsage.filter(key_id=key_id, endpoint=endpoint).update(**increments):
        return
    try:
        await ApiKeyUsage.create(
            key_id=key_id, endpoint=endpoint, requests=requests, successes=successes,
            failures=failures, total_duration_ms=total_ms,
        )
    except IntegrityError:  # another process created the row first
        await ApiKeyUsage.filter(key_id=key_id, endpoint=endpoint).update(**increments)


def install(app, hub) -> Stage:
    """Count every request made with an API key (a pipeline stage); flush with the server."""
    recorder = KeyUsageRecorder()
    hub.extensions["key_usage"] = recorder

    async def _record(response):
        principal = getattr(g, "principal", None)
        if principal is not None and principal.api_key_id is not None:
            endpoint = request.url_rule.rule if request.url_rule else request.path
            elapsed_ms = (time.perf_counter() - g.started) * 1000
            recorder.record(principal.api_key_id, endpoint, response.status_code, elapsed_ms, utcnow())
        return response

    @app.before_serving
    async def _start() -> None:
        recorder.start()

    @app.after_serving
    async def _stop() -> None:
        await recorder.stop()  # before the core closes the database

    return Stage("key_usage", after=_record)

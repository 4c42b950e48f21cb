"""Job counters for `/metrics`: outcomes, retries and run times per job type.

Each process counts what its runtime records (a finished attempt, a retry, a cancel); the
totals are plain numbers keyed `kind|type|...`. Without Redis the serving process runs every
job, so its own totals are the whole story. With Redis the jobs run in `hub worker`
processes: every process adds its new counts to one Redis hash (`<namespace>:hub-job-metrics`)
every `[jobs] heartbeat_seconds` and before it answers a scrape, and a scrape reads that hash,
so any server shows the totals of every worker. core/ops/observability turns them into
Prometheus families, beside the queue depths it reads from the job table at scrape time.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class JobStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.totals: Counter[str] = Counter()  # everything this process counted
        self._unsent: Counter[str] = Counter()  # not yet added to Redis

    def _add(self, key: str, value: float = 1.0) -> None:
        with self._lock:
            self.totals[key] += value
            self._unsent[key] += value

    def finished(self, job_type: str, status: str, seconds: float | None) -> None:
        self._add(f"finished|{job_type}|{status}")
        if seconds is not None:
            seconds = max(0.0, seconds)
            self._add(f"duration_count|{job_type}")
            self._add(f"duration_sum|{job_type}", seconds)
            for bound in DURATION_BUCKETS:
                if seconds <= bound:
                    self._add(f"duration_bucket|{job_type}|{bound}")

    def retried(self, job_type: str) -> None:
        self._add(f"retries|{job_type}")

    def take_unsent(self) -> dict[str, float]:
        with self._lock:
            unsent, self._unsent = dict(self._unsent), Counter()
        return unsent

    def give_back(self, unsent: dict[str, float]) -> None:
        """A flush failed: count these again next time."""
        with self._lock:
            self._unsent.update(unsent)


async def flush(stats: JobStats, redis: Any, key: str) -> None:
    unsent = stats.take_unsent()
    if not unsent:
        return
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for field, value in unsent.items():
                pipe.hincrbyfloat(key, field, value)
            await pipe.execute()
    except Exception:
        stats.give_back(unsent)
        raise


async def totals(stats: JobStats, redis: Any, key: str) -> dict[str, float]:
    """Every process's totals (Redis), or this process's (without Redis)."""
    if redis is None:
        with stats._lock:
            return dict(stats.totals)
    await flush(stats, redis, key)
    raw = await redis.hgetall(key)
    return {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in raw.items()}

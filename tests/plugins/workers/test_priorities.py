"""Priorities are real: a priority-9 job enqueued behind 1,000 priority-1 jobs starts before
them, in process (the session app's StubBroker and dramatiq Worker) and with Redis and a real
`hub worker` process (tests/cluster.py). The bound is the worker's prefetch: the low jobs a
worker had already taken from their queue before the urgent one arrived may start first."""

from __future__ import annotations

import asyncio
import time

import pytest

from core import enqueue
from core.jobs.models import Job
from tests.plugins.workers.support import GATES, execute, wait_job

LOW_JOBS = 1000
ORDER: list[str] = []  # workers_test.mark: names in the order their jobs started


async def mark(ctx, payload):
    ORDER.append(payload["name"])
    return None


@pytest.fixture(autouse=True)
def _mark_type(runtime):
    if "workers_test.mark" not in runtime.types:
        runtime.registrar("workers_test")("workers_test.mark", mark, max_attempts=1, start_permission="workers.run")
    return runtime


async def test_a_priority_9_job_behind_1000_priority_1_jobs_starts_before_them(api, hub, _mark_type):
    runtime = _mark_type
    threads, prefetch = runtime.worker.worker_threads, runtime.worker.queue_prefetch
    key = f"priority-{time.monotonic_ns()}"
    GATES[key] = asyncio.Event()
    ORDER.clear()
    try:
        # every worker thread busy, so the queue fills up behind them
        holders = [await execute(api, "workers_test.gate", {"gate": key, "name": f"hold-{i}"}, priority=10)
                   for i in range(threads)]
        for holder in holders:
            await wait_job(api, holder["job_id"], ("running",))
        low = [await enqueue(api.org_id, "workers_test.mark", {"name": f"low-{n}"}, priority=1, hub=hub)
               for n in range(LOW_JOBS)]
        high = await execute(api, "workers_test.mark", {"name": "high"}, priority=9)
        # An idle queue's consumer polls Redis at most every 0.5 s: wait until the worker has
        # taken the urgent message, so the order below depends on the queues, not on timing.
        deadline = time.monotonic() + 60
        while not _taken(runtime, "hub_run_job_high"):
            assert time.monotonic() < deadline, "the high band's message never reached the worker"
            await asyncio.sleep(0.01)
    finally:
        GATES[key].set()
    done = await wait_job(api, high["job_id"])
    assert done["status"] == "completed"
    ids = [job.id for job in low]
    deadline = time.monotonic() + 300
    while await Job.filter(id__in=ids, status="completed").count() < LOW_JOBS:
        assert time.monotonic() < deadline, "the low jobs did not finish"
        await asyncio.sleep(0.1)
    assert len(ORDER) == LOW_JOBS + 1
    ahead = ORDER.index("high")
    # only low jobs the worker had prefetched before the urgent one was sent may go first
    assert ahead <= prefetch, (ahead, prefetch, ORDER[:ahead + 1])
    high_started = (await Job.get(id=high["job_id"])).started_at
    later = await Job.filter(id__in=ids, started_at__gt=high_started).count()
    assert later >= LOW_JOBS - prefetch, later

def _taken(runtime, actor_name: str) -> bool:
    """A message of this actor waits in the worker's work queue (dramatiq's PriorityQueue)."""
    return any(item.message.actor_name == actor_name for item in list(runtime.worker.work_queue.queue))


ENQUEUE_MANY = """
import asyncio, sys, uuid
async def main():
    from core.jobs import api as jobs
    from core.app import create_app
    app = create_app()
    await app.startup()
    try:
        async with app.app_context():
            org = uuid.UUID(sys.argv[1])
            for n in range(int(sys.argv[2])):
                await jobs.enqueue(org, "core.echo", {"n": n}, priority=1)
            high = await jobs.enqueue(org, "core.echo", {"n": "high"}, priority=9)
        print(high.id, flush=True)
    finally:
        await app.shutdown()
asyncio.run(main())
"""

LIVE_WORKERS = """
import asyncio
async def main():
    from core.app import create_app
    app = create_app()
    await app.startup()
    try:
        async with app.app_context():
            client = app.test_client()
            body = await (await client.get("/health")).get_json()
            print(body["checks"]["workers"], body["status"], flush=True)
    finally:
        await app.shutdown()
asyncio.run(main())
"""


async def test_with_redis_a_hub_worker_takes_the_priority_9_job_first_and_health_sees_it(cluster):
    # nothing consumes yet: /health in a server of this cluster says so
    assert cluster.script(LIVE_WORKERS).split()[0] == "degraded"
    high_id = cluster.script(ENQUEUE_MANY, cluster.org_id, str(LOW_JOBS))
    cluster.start_worker("worker")  # 2 threads, prefetch 4
    deadline = time.monotonic() + 300
    while True:
        ((done,),) = await cluster.rows("SELECT COUNT(*) FROM core_job WHERE status = 'completed'")
        if done == LOW_JOBS + 1:
            break
        assert time.monotonic() < deadline, (done, cluster.logs())
        await asyncio.sleep(0.2)
    ((high_started,),) = await cluster.rows("SELECT started_at FROM core_job WHERE id = ?", cluster.uuid_value(high_id))
    ((earlier,),) = await cluster.rows(
        "SELECT COUNT(*) FROM core_job WHERE priority = 1 AND started_at < ?", high_started)
    assert earlier <= 2 * 2 + 2, earlier  # at most what the worker had prefetched (2 x threads) and was running
    assert cluster.script(LIVE_WORKERS).split()[0] == "healthy"  # the worker's heartbeat, seen by a server

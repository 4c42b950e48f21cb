"""Jobs: does an urgent job overtake a backlog? Redis broker, a real `hub worker`.

For each run, with no worker running, this process enqueues N `core.echo` jobs at priority 1
(through `core.jobs.enqueue`, as a Hub server would) and then one more job, then starts
`python hub.py worker --processes 1 --threads T` and waits until all are done. It reports the
last job's rank among the N+1 by `started_at` (0: it started first) and when it started,
counted from the first job's start (the worker starts after the enqueueing), against the
backlog's median:
  * priority  the last job has priority 9 (the high band's queue);
  * fifo      the reference, same run: the last job has priority 1 like the backlog, so it waits
              for all of them (what every job got before priorities existed).

    python bench/job_priority.py [--jobs 1000] [--threads 8] [--database postgres|sqlite]
        [--redis redis://127.0.0.1:6379/3]

Prints a table and writes bench/results/job_priority.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from reporting import machine, write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import jobs_throughput as base  # noqa: E402 - migrated_env, _forget

RESULTS = ROOT / "bench" / "results" / "job_priority.json"


async def one_run(args, env: dict, last_priority: int) -> dict:
    import redis

    from core.jobs import api as jobs
    from core.jobs.models import Job

    org_id = uuid.uuid4()
    started = time.perf_counter()
    for number in range(args.jobs):
        await jobs.enqueue(org_id, "core.echo", {"n": number}, priority=1)
    last = await jobs.enqueue(org_id, "core.echo", {"n": "last"}, priority=last_priority)
    enqueued = time.perf_counter() - started
    client = redis.Redis.from_url(args.redis)
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "hub.py"), "worker", "--processes", "1", "--threads", str(args.threads)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 900
        while await Job.filter(org_id=org_id, status="completed").count() < args.jobs + 1:
            assert worker.poll() is None, "hub worker exited"
            assert time.monotonic() < deadline, "jobs did not finish"
            await asyncio.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.to_thread(worker.wait, 120)
        client.close()
    rows = await Job.filter(org_id=org_id).values("id", "created_at", "started_at")
    order = sorted(rows, key=lambda row: row["started_at"])
    rank = next(i for i, row in enumerate(order) if row["id"] == last.id)
    waits = [(row["started_at"] - row["created_at"]).total_seconds() for row in rows if row["id"] != last.id]
    mine = next((row["started_at"] - row["created_at"]).total_seconds() for row in rows if row["id"] == last.id)
    # the backlog's waits include the time its later rows spent being enqueued; the last job's
    # wait is measured from its own enqueue, after the whole backlog.
    first_start = order[0]["started_at"]
    mine_after_first = next((row["started_at"] - first_start).total_seconds() for row in rows if row["id"] == last.id)
    backlog_after_first = statistics.median((row["started_at"] - first_start).total_seconds()
                                            for row in rows if row["id"] != last.id)
    return {"last_priority": last_priority, "last_job_started_seconds_after_the_first": round(mine_after_first, 3),
            "backlog_median_started_seconds_after_the_first": round(backlog_after_first, 3), "rank_of_last_job": rank, "jobs_started_before_it": rank,
            "backlog": args.jobs, "last_job_wait_seconds": round(mine, 3),
            "backlog_median_wait_seconds": round(statistics.median(waits), 3),
            "enqueue_seconds": round(enqueued, 3)}


async def run_all(args, env: dict) -> list[dict]:
    import redis

    from core.app import create_app

    app = create_app()  # enqueues only (Redis): the worker process runs the jobs
    await app.startup()
    runs = []
    try:
        async with app.app_context():
            for label, priority in (("fifo", 1), ("priority", 9)):
                result = await one_run(args, env, priority)
                result["run"] = label
                runs.append(result)
                print(f"{label:>8}: last job (priority {priority}) started after {result['rank_of_last_job']:>5} "
                      f"of {args.jobs} priority-1 jobs, {result['last_job_started_seconds_after_the_first']:.3f} s "
                      f"after the first one started (the backlog's median: "
                      f"{result['backlog_median_started_seconds_after_the_first']:.3f} s)", flush=True)
    finally:
        await app.shutdown()
        base._forget(redis.Redis.from_url(args.redis), env["HUB_JOBS__NAMESPACE"])
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    args = parser.parse_args()
    args.prefetch = 2 * args.threads
    env = base.migrated_env(args, f"bench-prio-{uuid.uuid4().hex[:8]}")
    load = os.getloadavg()
    runs = asyncio.run(run_all(args, env))
    result = {
        "benchmark": "an urgent job behind a backlog (Redis broker, one hub worker process)",
        "database": args.database, "backlog_jobs": args.jobs, "threads": args.threads, "prefetch": args.prefetch,
        "machine": machine(load),
        "runs": runs,
    }
    write_results(RESULTS, result)


if __name__ == "__main__":
    main()

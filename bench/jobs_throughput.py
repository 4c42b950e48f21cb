"""Jobs: enqueue-to-done throughput with the Redis broker, 1 vs 2 `hub worker` processes.

For each process count, the same run measures
  * hub       N `core.echo` jobs enqueued through `core.jobs.enqueue` (a database row, then a
              Redis message) by this process while `python hub.py worker --processes P` runs
              them (claim, run, result, job.started/job.completed events); the clock runs from
              the first enqueue to the last completed row;
  * dramatiq  the reference: the same Redis, P bare dramatiq worker processes with the same
              threads and prefetch, a no-op actor that only counts in Redis, N messages.
The ratio hub/dramatiq is what the Hub's bookkeeping costs on this machine.

    python bench/jobs_throughput.py [--jobs 2000] [--threads 8] [--prefetch N]
        [--processes 1,2] [--database postgres|sqlite] [--redis redis://127.0.0.1:6379/3]

PostgreSQL: a database of its own (`bench_jobs`, created if missing) at --postgres.
Prints a table and writes bench/results/jobs_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
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

RESULTS = ROOT / "bench" / "results" / "jobs_throughput.json"


# -- the reference: bare dramatiq -----------------------------------------------------------------


def _bare_worker(redis_url: str, namespace: str, threads: int, prefetch: int, ready, stop) -> None:
    import dramatiq
    import redis
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=redis_url, namespace=namespace, middleware=[])
    counter = redis.Redis.from_url(redis_url)

    def noop(number: int) -> None:
        counter.incr(f"{namespace}:done")

    dramatiq.Actor(noop, broker=broker, actor_name="noop", queue_name="bench", priority=0, options={})
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=500)
    worker.queue_prefetch = prefetch
    worker.start()
    ready.set()
    stop.wait()
    worker.stop()


def bench_bare(redis_url: str, processes: int, threads: int, prefetch: int, jobs: int) -> dict:
    import dramatiq
    import redis
    from dramatiq.brokers.redis import RedisBroker

    namespace = f"bench-bare-{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    readies = [context.Event() for _ in range(processes)]
    children = [context.Process(target=_bare_worker, args=(redis_url, namespace, threads, prefetch, ready, stop))
                for ready in readies]
    for child in children:
        child.start()
    for ready in readies:
        assert ready.wait(60), "bare dramatiq worker did not start"
    broker = RedisBroker(url=redis_url, namespace=namespace, middleware=[])
    actor = dramatiq.Actor(lambda number: None, broker=broker, actor_name="noop", queue_name="bench",
                           priority=0, options={})
    client = redis.Redis.from_url(redis_url)
    started = time.perf_counter()
    for number in range(jobs):
        broker.enqueue(actor.message(number))
    enqueued = time.perf_counter() - started
    deadline = time.monotonic() + 600
    while int(client.get(f"{namespace}:done") or 0) < jobs:
        assert time.monotonic() < deadline, "bare dramatiq did not finish"
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    stop.set()
    for child in children:
        child.join(60)
    _forget(client, namespace)
    return {"jobs_per_second": round(jobs / elapsed, 1), "enqueue_per_second": round(jobs / enqueued, 1),
            "seconds": round(elapsed, 3)}


# -- the Hub ---------------------------------------------------------------------------------------


def hub_env(args, database_url: str, namespace: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_ENV="test", HUB_DATA_DIR=str(ROOT / "data" / "bench"), HUB_DATABASE_URL=database_url,
        HUB_REDIS_URL=args.redis, HUB_SECRET_KEY="bench-secret-key-that-is-long-enough-for-hs256",
        HUB_JOBS__NAMESPACE=namespace, HUB_JOBS__PREFETCH=str(args.prefetch), HUB_AUTO_MIGRATE="false",
        HUB_LOG_LEVEL="WARNING", HUB_RATE_LIMITS__ENABLED="false",
    )
    return env


def migrated_env(args, namespace: str, name: str = "jobs", **extra: str) -> dict:
    """The Hub's environment for this run (plus `extra` HUB_* variables), its database (`name`'s
    own) migrated, and made this process's own (the in-process Hub that enqueues reads it).
    Other bench scripts import it (bench/messaging_throughput.py)."""
    env = {**hub_env(args, database_url(args, name), namespace), **extra}
    migrated = subprocess.run([sys.executable, str(ROOT / "hub.py"), "migrate"], env=env, cwd=ROOT,
                              capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stderr
    os.environ.clear()
    os.environ.update(env)
    return env


async def bench_hub(args, env: dict, processes: int) -> dict:
    """Runs inside the Hub app of this process (started once: tortoise is process-global)."""
    import redis

    from core.jobs import api as jobs
    from core.jobs.models import Job

    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "hub.py"), "worker", "--processes", str(processes), "--threads", str(args.threads)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True,
    )
    client = redis.Redis.from_url(args.redis)
    namespace = env["HUB_JOBS__NAMESPACE"]
    try:
        # Ready when every worker process has polled Redis (dramatiq's heartbeat set; this
        # process's own broker appears there too once it has sent something).
        client.delete(f"{namespace}:__heartbeats__")
        deadline = time.monotonic() + 120
        while client.zcard(f"{namespace}:__heartbeats__") < processes:
            assert worker.poll() is None, "hub worker exited"
            assert time.monotonic() < deadline, "hub worker did not start"
            await asyncio.sleep(0.1)
        org_id = uuid.uuid4()
        # warm-up: connections, the workers' first queries
        warm = [await jobs.enqueue(org_id, "core.echo", {"warm": i}) for i in range(4 * processes)]
        await _wait_done(Job, org_id, len(warm))
        org_id = uuid.uuid4()
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(args.concurrency)

        async def one(number: int) -> None:
            async with semaphore:
                await jobs.enqueue(org_id, "core.echo", {"n": number})

        await asyncio.gather(*(one(n) for n in range(args.jobs)))
        enqueued = time.perf_counter() - started
        await _wait_done(Job, org_id, args.jobs)
        elapsed = time.perf_counter() - started
        rows = await Job.filter(org_id=org_id).values_list("created_at", "finished_at", "status")
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.to_thread(worker.wait, 120)
    assert all(status == "completed" for _, _, status in rows), "some jobs did not complete"
    latencies = sorted((finished - created).total_seconds() * 1000 for created, finished, _ in rows)
    return {
        "jobs_per_second": round(args.jobs / elapsed, 1),
        "enqueue_per_second": round(args.jobs / enqueued, 1),
        "seconds": round(elapsed, 3),
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1], 1),
    }


async def run_all(args, env: dict) -> list[dict]:
    import redis

    from core.app import create_app

    app = create_app()  # this process enqueues as a Hub server would (with Redis: it only enqueues)
    await app.startup()
    runs = []
    try:
        async with app.app_context():
            for processes in [int(p) for p in args.processes.split(",")]:
                bare = await asyncio.to_thread(bench_bare, args.redis, processes, args.threads, args.prefetch, args.jobs)
                hub = await bench_hub(args, env, processes)
                runs.append({"processes": processes, "hub": hub, "dramatiq_bare": bare,
                             "hub_vs_bare": round(hub["jobs_per_second"] / bare["jobs_per_second"], 3)})
                print(f"{processes} process(es) x {args.threads} threads: hub {hub['jobs_per_second']:>8.1f} jobs/s "
                      f"(enqueue {hub['enqueue_per_second']:.0f}/s, latency p50 {hub['latency_ms_p50']} ms, "
                      f"p99 {hub['latency_ms_p99']} ms)   bare dramatiq {bare['jobs_per_second']:>8.1f} jobs/s   "
                      f"ratio {runs[-1]['hub_vs_bare']}", flush=True)
    finally:
        await app.shutdown()
        _forget(redis.Redis.from_url(args.redis), env["HUB_JOBS__NAMESPACE"])
    return runs


async def _wait_done(Job, org_id, count: int) -> None:
    deadline = time.monotonic() + 900
    while await Job.filter(org_id=org_id, status="completed").count() < count:
        assert time.monotonic() < deadline, "jobs did not finish"
        await asyncio.sleep(0.02)


def _forget(client, namespace: str) -> None:
    keys = list(client.scan_iter(f"{namespace}:*", count=1000))
    if keys:
        client.delete(*keys)


def database_url(args, name: str = "jobs") -> str:
    if args.database == "sqlite":
        path = ROOT / "data" / "bench" / f"{name}_bench.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite://{path}"
    import asyncpg

    async def prepare() -> None:
        connection = await asyncpg.connect(args.postgres.replace("postgres://", "postgresql://", 1) + "/postgres")
        try:
            await connection.execute(f"DROP DATABASE IF EXISTS bench_{name} WITH (FORCE)")
            await connection.execute(f"CREATE DATABASE bench_{name}")
        finally:
            await connection.close()

    asyncio.run(prepare())
    return f"{args.postgres}/bench_{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8, help="jobs at once per worker process")
    parser.add_argument("--prefetch", type=int, default=0, help="0: the Hub's default, 2 x threads")
    parser.add_argument("--concurrency", type=int, default=32, help="enqueue calls in flight")
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    args = parser.parse_args()

    args.prefetch = args.prefetch or 2 * args.threads
    env = migrated_env(args, f"bench-hub-{uuid.uuid4().hex[:8]}")
    load = os.getloadavg()
    runs = asyncio.run(run_all(args, env))
    if len(runs) > 1:
        scale = runs[-1]["hub"]["jobs_per_second"] / runs[0]["hub"]["jobs_per_second"]
        print(f"hub: {runs[-1]['processes']} vs {runs[0]['processes']} process(es): x{scale:.2f}")
    result = {
        "benchmark": "jobs enqueue-to-done throughput (Redis broker)",
        "database": args.database,
        "jobs": args.jobs, "threads": args.threads, "prefetch": args.prefetch, "enqueue_concurrency": args.concurrency,
        "machine": machine(load),
        "runs": runs,
    }
    write_results(RESULTS, result)


if __name__ == "__main__":
    main()

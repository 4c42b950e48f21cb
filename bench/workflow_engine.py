"""Workflows: what the engine costs per step, and executions per second with worker processes.

1. Engine overhead per step (in one process, jobs run in process): a chain of --steps no-op nodes
   (data-transformation with an empty mapping), run as an execution: every step's start and end
   written (with its event) before the next is scheduled. Against the reference measured in the
   same run: the same node function called --steps times directly. Reported per step:
   (execution time - reference) / steps, with the execution's time from its own record
   (started_at -> completed_at) and from the caller's clock (enqueue -> completed row seen).
   On SQLite and on PostgreSQL (+ Redis for events).
2. Executions per second on PostgreSQL + Redis with `hub worker --processes P` (P in --processes):
   --executions executions of a --small-steps chain enqueued at once; the clock runs from the
   first enqueue to the last completed execution.

    .venv/bin/python bench/workflow_engine.py [--steps 200] [--repeat 3] [--executions 100]
        [--small-steps 5] [--processes 1,2] [--threads 4] [--redis redis://127.0.0.1:6379/3]

Writes bench/results/workflow_engine.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from reporting import write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "workflow_engine.json"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/3"  # keys under a namespace of the run's own, deleted at the end; never flushed
SECRET = "bench-secret-key-that-is-long-enough-for-hs256"


def chain(steps: int) -> dict:
    nodes = [{"id": f"s{i}", "type": "data-transformation", "config": {"mapping": {}, "keep_input": True}}
             for i in range(steps)]
    edges = [{"id": f"e{i}", "source_node_id": f"s{i}", "target_node_id": f"s{i + 1}"} for i in range(steps - 1)]
    return {"name": f"Chain of {steps}", "nodes": nodes, "edges": edges, "settings": {"timeout_seconds": 3600}}


def env_for(database_url: str, redis_url: str | None, data_dir: Path, namespace: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_ENV="test", HUB_DATA_DIR=str(data_dir), HUB_DATABASE_URL=database_url, HUB_SECRET_KEY=SECRET,
               HUB_JOBS__NAMESPACE=namespace, HUB_LOG_LEVEL="WARNING", HUB_RATE_LIMITS__ENABLED="false",
               HUB_QUOTAS__ENABLED="false")
    if redis_url:
        env["HUB_REDIS_URL"] = redis_url
    return env


async def fresh_postgres(name: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES.replace("postgres://", "postgresql://") + "/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return f"{POSTGRES}/{name}"


async def drop_postgres(name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES.replace("postgres://", "postgresql://") + "/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def hub_app():
    from core.app import create_app

    app = create_app()
    await app.startup()
    return app


async def organization():
    from core.tenancy.models import Organization

    return (await Organization.create(name="Bench", plan="enterprise")).id


async def new_workflow(hub, org_id, steps: int) -> str:
    from plugins.workflows import service
    from plugins.workflows.schemas import WorkflowCreateRequest

    data = WorkflowCreateRequest.model_validate(chain(steps)).model_dump(mode="json")
    return (await service.create_workflow(hub, org_id, None, data))["id"]


async def wait_finished(execution_ids: list, timeout: float = 1800) -> list:
    from plugins.workflows.models import Execution

    deadline = time.monotonic() + timeout
    while True:
        rows = await Execution.filter(id__in=execution_ids).values("id", "status", "started_at", "completed_at")
        if len(rows) == len(execution_ids) and all(r["status"] not in ("pending", "running") for r in rows):
            return rows
        assert time.monotonic() < deadline, "executions did not finish"
        await asyncio.sleep(0.005)


# -- 1. engine overhead per step (a child process per backend) ----------------------------------------


async def engine_part(args) -> dict:
    from core import NodeContext
    from plugins.workflows import service
    from plugins.workflows.nodes import TransformConfig, transform

    app = await hub_app()
    try:
        async with app.app_context():
            hub = app.extensions["hub"]
            org_id = await organization()
            workflow_id = await new_workflow(hub, org_id, args.steps)
            runs = []
            for repetition in range(args.repeat + 1):  # the first: warm-up
                config = TransformConfig(mapping={}, keep_input=True)
                context = NodeContext(org_id, None, hub)
                started = time.perf_counter()
                data: dict = {"n": repetition}
                for _ in range(args.steps):
                    data = (await transform(context, config, {"main": data}))["main"]
                reference = time.perf_counter() - started

                started = time.perf_counter()
                execution = await service.start_execution(hub, org_id, workflow_id, None, inputs={"n": repetition},
                                                          metered=False)
                (row,) = await wait_finished([execution.id])
                wall = time.perf_counter() - started
                assert row["status"] == "completed", row
                recorded = (row["completed_at"] - row["started_at"]).total_seconds()
                if repetition:
                    runs.append({"reference_ms": reference * 1000, "execution_recorded_ms": recorded * 1000,
                                 "execution_wall_ms": wall * 1000})
            await hub.bus.settle()
    finally:
        await app.shutdown()

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    steps = args.steps
    return {
        "steps": steps, "runs": runs,
        "reference_ms_per_step": round(median("reference_ms") / steps, 4),
        "engine_ms_per_step_recorded": round((median("execution_recorded_ms") - median("reference_ms")) / steps, 3),
        "engine_ms_per_step_wall": round((median("execution_wall_ms") - median("reference_ms")) / steps, 3),
    }


# -- 2. executions per second with worker processes ----------------------------------------------------


async def workers_part(args, env: dict) -> list[dict]:
    import redis

    app = await hub_app()  # with Redis configured this process only enqueues, as a server would
    client = redis.Redis.from_url(env["HUB_REDIS_URL"])
    namespace = env["HUB_JOBS__NAMESPACE"]
    results = []
    try:
        async with app.app_context():
            from plugins.workflows import service

            hub = app.extensions["hub"]
            org_id = await organization()
            workflow_id = await new_workflow(hub, org_id, args.small_steps)
            for processes in [int(p) for p in args.processes.split(",")]:
                worker = subprocess.Popen(
                    [sys.executable, str(ROOT / "hub.py"), "worker", "--processes", str(processes),
                     "--threads", str(args.threads)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                    start_new_session=True)
                try:
                    client.delete(f"{namespace}:__heartbeats__")
                    deadline = time.monotonic() + 120
                    while client.zcard(f"{namespace}:__heartbeats__") < processes:
                        assert worker.poll() is None and time.monotonic() < deadline, "hub worker did not start"
                        await asyncio.sleep(0.1)
                    warm = [(await service.start_execution(hub, org_id, workflow_id, None, inputs={}, metered=False)).id
                            for _ in range(2 * processes)]
                    await wait_finished(warm)
                    started = time.perf_counter()
                    ids = [(await service.start_execution(hub, org_id, workflow_id, None, inputs={"i": i},
                                                          metered=False)).id for i in range(args.executions)]
                    enqueued = time.perf_counter() - started
                    rows = await wait_finished(ids)
                    elapsed = time.perf_counter() - started
                finally:
                    worker.send_signal(signal.SIGTERM)
                    await asyncio.to_thread(worker.wait, 120)
                failed = [r for r in rows if r["status"] != "completed"]
                assert not failed, failed[:3]
                results.append({"processes": processes, "threads": args.threads, "executions": args.executions,
                                "steps_each": args.small_steps, "seconds": round(elapsed, 3),
                                "enqueue_seconds": round(enqueued, 3),
                                "executions_per_second": round(args.executions / elapsed, 2),
                                "steps_per_second": round(args.executions * args.small_steps / elapsed, 1)})
                print(f"   {processes} worker process(es) x {args.threads} threads: "
                      f"{results[-1]['executions_per_second']:.1f} executions/s "
                      f"({results[-1]['steps_per_second']:.0f} steps/s)", flush=True)
    finally:
        await app.shutdown()
        keys = list(client.scan_iter(f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
    if len(results) == 2:
        results.append({"scaling": round(results[1]["executions_per_second"] / results[0]["executions_per_second"], 2)})
    return results


# -- orchestration --------------------------------------------------------------------------------------


def child(part: str, args, env: dict, backend: str) -> dict:
    output = Path(env["HUB_DATA_DIR"]) / f"{part}-{backend}.json"
    command = [sys.executable, __file__, "--_part", part, "--_output", str(output), "--steps", str(args.steps),
               "--repeat", str(args.repeat), "--executions", str(args.executions), "--small-steps",
               str(args.small_steps), "--processes", args.processes, "--threads", str(args.threads)]
    subprocess.run([sys.executable, str(ROOT / "hub.py"), "migrate"], env=env, cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    subprocess.run(command, env=env, cwd=ROOT, check=True, timeout=3600)
    return json.loads(output.read_text())


async def main_async(args) -> dict:
    import tempfile

    report: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]},
                    "settings": vars(args).copy(), "engine": {}, "workers": None}
    work = Path(tempfile.mkdtemp(prefix="hub-workflow-bench-"))
    name = f"bench_workflows_{uuid.uuid4().hex[:8]}"
    try:
        sqlite_dir = work / "sqlite"
        sqlite_dir.mkdir()
        env = env_for(f"sqlite://{sqlite_dir / 'hub.sqlite3'}", None, sqlite_dir, f"wfbench-{uuid.uuid4().hex[:8]}")
        print("-- engine overhead, SQLite", flush=True)
        report["engine"]["sqlite"] = child("engine", args, env, "sqlite")
        postgres_dir = work / "postgres"
        postgres_dir.mkdir()
        url = await fresh_postgres(name)
        env = env_for(url, args.redis, postgres_dir, f"wfbench-{uuid.uuid4().hex[:8]}")
        print("-- engine overhead, PostgreSQL + Redis (jobs in process)", flush=True)
        report["engine"]["postgres"] = child("engine", args, {**env, "HUB_JOBS__RUN_IN_SERVER": "true"}, "postgres")
        print("-- executions per second, PostgreSQL + Redis, hub worker processes", flush=True)
        report["workers"] = child("workers", args, env, "postgres")["workers"]
    finally:
        await drop_postgres(name)
    for backend, result in report["engine"].items():
        print(f"{backend:<9} engine {result['engine_ms_per_step_recorded']:.3f} ms/step (recorded), "
              f"{result['engine_ms_per_step_wall']:.3f} ms/step (caller's clock); reference "
              f"{result['reference_ms_per_step'] * 1000:.1f} us/step; {result['steps']} steps")
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--executions", type=int, default=100)
    parser.add_argument("--small-steps", type=int, default=5)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--redis", default=REDIS_URL)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--_part", help=argparse.SUPPRESS)
    parser.add_argument("--_output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._part == "engine":
        Path(args._output).write_text(json.dumps(asyncio.run(engine_part(args))))
        return
    if args._part == "workers":
        Path(args._output).write_text(json.dumps({"workers": asyncio.run(workers_part(args, dict(os.environ)))}))
        return
    report = asyncio.run(main_async(args))
    report["settings"]["output"] = str(args.output)
    write_results(args.output, report)


if __name__ == "__main__":
    main()

"""`hub worker`: a master process keeping N worker processes alive, each one the Hub app
without HTTP, consuming jobs from Redis until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import time
from typing import Any

from core.jobs.runtime import JobRuntime

log = logging.getLogger("hub.jobs")


def run_worker_process(app: Any, threads: int | None = None) -> int:
    """One worker process (`hub worker --child`): the Hub app without HTTP, consuming jobs
    until SIGTERM/SIGINT, or until its master process disappears."""
    runtime: JobRuntime = app.extensions["hub"].extensions["jobs"]
    if not app.extensions["hub"].settings.redis_url:
        raise SystemExit("hub worker needs redis_url (HUB_REDIS_URL); without Redis, `hub serve` runs jobs itself")
    runtime.consume = True
    # No HTTP, so no WebSockets here: the gateway only publishes this process's events.
    app.extensions["hub"].extensions["process_role"] = "worker"
    runtime.threads = threads
    asyncio.run(_serve_worker(app, runtime))
    return 0


async def _serve_worker(app: Any, runtime: JobRuntime) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    parent = os.getppid()
    await app.startup()
    log.info("jobs: worker process %d ready (%s)", os.getpid(), runtime.worker_id)
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                if os.getppid() != parent:
                    log.warning("jobs: the master process is gone; stopping")
                    break
    finally:
        log.info("jobs: worker process %d stopping", os.getpid())
        await app.shutdown()


def supervise(processes: int, command: list[str], grace_seconds: float) -> int:
    """The `hub worker` master: start `processes` children running `command`, start a new one
    when one dies, and on SIGTERM/SIGINT pass SIGTERM on and wait for them."""
    stopping = False

    def on_signal(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    children: list[subprocess.Popen | None] = [None] * processes
    failures: list[float] = []
    print(f"hub worker: {processes} process(es), master pid {os.getpid()}", flush=True)
    while not stopping:
        for index, child in enumerate(children):
            if child is not None and child.poll() is None:
                continue
            if child is not None:
                log.warning("jobs: worker process %d exited with %s; starting another", child.pid, child.returncode)
                failures = [t for t in failures if time.monotonic() - t < 30] + [time.monotonic()]
                if len(failures) > 5:  # crashing at start: do not spin
                    time.sleep(min(10.0, len(failures)))
                    if stopping:
                        break
            children[index] = subprocess.Popen(command)
        time.sleep(0.2)
    for child in children:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds + 40
    code = 0
    for child in children:
        if child is None:
            continue
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("jobs: worker process %d did not stop; killing it", child.pid)
            child.kill()
            child.wait()
            code = 1
    return code

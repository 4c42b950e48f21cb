"""The scaled-out deployment of deploy/ (N `hub serve` + M `hub worker` on one PostgreSQL and one
Redis), in small: 2 servers on two ports and 2 workers, all real processes started at once, on a
PostgreSQL database of this test's own (created and dropped here, in both CI runs) and a Redis
database of its own. Across the two servers: rate limits are one bucket, an event emitted by one
reaches the WebSockets of the other, every job runs exactly once, and an organization's plugin
switch and plan change made through one are seen by the other.

"Seen by the other" is polled with a deadline, not timed: with Redis the change's request answers
only once every process has acknowledged it, so the first read normally sees it already."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx
import pytest
import redis as redis_client
from websockets.sync.client import connect as ws_connect

from tests.live_server import ROOT, free_port, hub_environment, live_account

# A database on the CI's PostgreSQL (the PostgreSQL run's server, or 127.0.0.1 in the SQLite run)
SERVER_URL = os.environ.get("HUB_TEST_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
# Redis databases of this test's own: one per CI run, as both runs go side by side.
REDIS_DB = 6 if os.environ.get("HUB_TEST_DATABASE_URL") else 5
REDIS_BASE = os.environ.get("HUB_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
START_TIMEOUT = 120
SEEN_DEADLINE = 10.0  # generous for a loaded CI machine; with Redis it is seen at once
BURST = 4  # /api/auth/me in this test: 4 requests at once per user, refilled at 1 a minute


def _with_path(url: str, path: str) -> str:
    return urlunparse(urlparse(url)._replace(path=path))


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_with_path(SERVER_URL, "/postgres").replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _rows(database_url: str, query: str, *args) -> list:
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


class Deployment:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tag = f"hubtest-deploy-{uuid.uuid4().hex[:8]}"
        self.database = self.tag.replace("-", "_")
        self.database_url = _with_path(SERVER_URL, f"/{self.database}")
        self.redis_url = _with_path(REDIS_BASE, f"/{REDIS_DB}")
        self.env = {
            "HUB_DATABASE_URL": self.database_url,
            "HUB_REDIS_URL": self.redis_url,
            "HUB_AUTO_MIGRATE": "false",  # `hub migrate` runs once first, as deploy/ does
            "HUB_FILES__PATH": str(root / "files"),  # one file store, like a shared volume
            "HUB_RATE_LIMITS__KEY_PREFIX": f"{self.tag}:ratelimit",
            "HUB_QUOTAS__KEY_PREFIX": f"{self.tag}:usage",
            "HUB_JOBS__NAMESPACE": self.tag,
            "HUB_RATE_LIMITS__RULES": json.dumps({
                "/api/auth/me": {"requests_per_minute": 1, "burst_size": BURST, "scope": "user"},
                "/api/auth/*": {"requests_per_minute": 100_000, "burst_size": 100_000},
            }),
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self.urls: list[str] = []

    def environment(self, name: str) -> dict[str, str]:
        data_dir = self.root / name  # each process its own data_dir (metrics files); the rest is shared
        data_dir.mkdir(parents=True, exist_ok=True)
        return hub_environment(data_dir, {**self.env, "HUB_LOG_LEVEL": "INFO"})

    def start(self, name: str, *args: str) -> None:
        log = open(self.root / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen(
            [sys.executable, str(ROOT / "hub.py"), *args], cwd=ROOT, env=self.environment(name),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-2500:]}"
                         for path in sorted(self.root.glob("*.log")))

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        waiting = set(self.urls)
        while waiting:
            for name, process in self.processes.items():
                assert process.poll() is None, f"{name} exited with {process.returncode}\n{self.logs()}"
            for url in list(waiting):
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        waiting.discard(url)
                except httpx.TransportError:
                    pass
            assert time.monotonic() < deadline, f"not serving after {START_TIMEOUT} s: {waiting}\n{self.logs()}"
            time.sleep(0.2)

    def stop(self) -> dict[str, int | None]:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                codes[name] = None
        return codes


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    redis = redis_client.Redis.from_url(_with_path(REDIS_BASE, f"/{REDIS_DB}"), socket_connect_timeout=2)
    redis.ping()  # CI runs PostgreSQL and Redis in both runs: a missing one is a failure, not a skip
    cluster = Deployment(tmp_path_factory.mktemp("deploy"))
    asyncio.run(_admin(f'CREATE DATABASE "{cluster.database}"'))
    try:
        migrated = subprocess.run([sys.executable, str(ROOT / "hub.py"), "migrate"], cwd=ROOT,
                                  env=cluster.environment("migrate"), capture_output=True, text=True, timeout=300)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        for index in (1, 2):  # all four at once: start-up is most of this test's time
            port = free_port()
            cluster.urls.append(f"http://127.0.0.1:{port}")
            cluster.start(f"server{index}", "serve", "--port", str(port), "--workers", "1")
            cluster.start(f"worker{index}", "worker", "--processes", "1", "--threads", "2")
        cluster.wait_until_serving()
        yield cluster
        codes = cluster.stop()
        assert codes == {name: 0 for name in codes}, f"{codes}\n{cluster.logs()}"
    finally:
        cluster.stop()
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{cluster.database}" WITH (FORCE)'))
        for key in redis.scan_iter(f"{cluster.tag}*", count=1000):
            redis.delete(key)


@pytest.fixture(scope="module")
def account(deployment) -> dict:
    """An organization's admin, registered on server 1."""
    registered = live_account(deployment.urls[0])
    me = httpx.get(f"{deployment.urls[0]}/api/v1/tenant", headers=registered["headers"], timeout=30)
    assert me.status_code == 200, me.text
    return {**registered, "org_id": me.json()["tenant_id"]}


def seen_within(deadline_seconds: float, check) -> float:
    """Poll `check()` until it is true; the seconds it took. Fails at the deadline."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < deadline_seconds, "not seen before the deadline"
        time.sleep(0.05)
    return time.monotonic() - started


def next_message(socket, types: set[str], timeout: float = SEEN_DEADLINE, match=lambda message: True) -> dict:
    """The socket's next message of one of `types` (for which `match` is true), skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {types} message before the deadline"
        message = json.loads(socket.recv(timeout=remaining))
        if message["type"] in types and match(message):
            return message


def test_the_two_workers_and_no_server_consume_jobs(deployment):
    """Each process that consumes jobs keeps a heartbeat in Redis (`<namespace>:hub-workers`):
    exactly the two `hub worker` processes, not the servers (with Redis they run no jobs)."""
    redis = redis_client.Redis.from_url(deployment.redis_url)
    seen_within(60, lambda: redis.zcard(f"{deployment.tag}:hub-workers") == 2)
    consumers = {member.decode() for member in redis.zrange(f"{deployment.tag}:hub-workers", 0, -1)}
    assert len(consumers) == 2, consumers
    for url in deployment.urls:
        health = httpx.get(f"{url}/health", timeout=30).json()
        assert health["checks"]["workers"] == "healthy", health
        assert health["checks"]["database"] == "healthy", health


def test_rate_limits_are_one_bucket_across_servers(deployment, account):
    first, second = deployment.urls
    statuses = []
    for index in range(BURST + 2):  # alternate: 1, 2, 1, 2, ... each server sees half of them
        url = (first, second)[index % 2]
        statuses.append(httpx.get(f"{url}/api/auth/me", headers=account["headers"], timeout=30).status_code)
    # One shared bucket: the burst is spent over both servers together, then both refuse.
    # (Per-process buckets would let each server answer BURST times: no 429 at all here.)
    assert statuses == [200] * BURST + [429, 429], statuses


def test_an_event_on_one_server_reaches_sockets_on_the_other(deployment, account):
    first, second = deployment.urls
    with ExitStack() as stack:
        sockets = [stack.enter_context(ws_connect(f"{url.replace('http://', 'ws://')}/ws?token={account['token']}"))
                   for url in (first, second)]
        for socket in sockets:
            assert next_message(socket, {"connected", "error"})["type"] == "connected"
        for made_on, socket in ((first, sockets[1]), (second, sockets[0])):  # each way round
            created = httpx.post(f"{made_on}/api/leads", headers=account["headers"], timeout=30,
                                 json={"name": "Ada Lovelace", "email": f"{uuid.uuid4().hex[:8]}@example.com"})
            assert created.status_code == 201, created.text
            lead_id = created.json()["id"]
            message = next_message(socket, {"lead.created"}, match=lambda message: message["data"]["id"] == lead_id)
            assert message["data"]["name"] == "Ada Lovelace"


def test_every_job_runs_exactly_once_on_the_workers(deployment, account):
    first, second = deployment.urls
    with ws_connect(f"{first.replace('http://', 'ws://')}/ws?token={account['token']}") as socket:
        assert next_message(socket, {"connected", "error"})["type"] == "connected"
        jobs = {}
        for index in range(12):  # half through each server
            url = (first, second)[index % 2]
            started = httpx.post(f"{url}/api/v1/workflows/execute", headers=account["headers"], timeout=30,
                                 json={"workflow_type": "core.echo", "input_data": {"n": index}})
            assert started.status_code == 201, started.text
            jobs[started.json()["job_id"]] = index
        started_events: dict[str, int] = {}
        completed: set[str] = set()
        while completed != set(jobs):
            message = next_message(socket, {"job.started", "job.completed", "job.failed"}, timeout=60)
            job_id = message["data"]["job_id"]
            if message["type"] == "job.started":
                started_events[job_id] = started_events.get(job_id, 0) + 1
            else:
                assert message["type"] == "job.completed", (message, deployment.logs())
                completed.add(job_id)
    assert started_events == {job_id: 1 for job_id in jobs}
    rows = asyncio.run(_rows(deployment.database_url,
                             "SELECT id::text, status, attempts, worker, result FROM core_job WHERE org_id = $1",
                             uuid.UUID(account["org_id"])))
    by_id = {row["id"]: row for row in rows}
    for job_id, index in jobs.items():
        row = by_id[job_id]
        assert (row["status"], row["attempts"]) == ("completed", 1), dict(row)
        assert json.loads(row["result"]) == {"echo": {"n": index}}
        assert row["worker"]  # a `hub worker` process took it (the servers run no jobs with Redis)
    for url in (first, second):  # either server reads any job's result
        job_id = next(iter(jobs))
        assert httpx.get(f"{url}/api/v1/jobs/{job_id}", headers=account["headers"],
                         timeout=30).json()["status"] == "completed"


def test_a_plugin_switched_off_on_one_server_is_off_on_the_other(deployment, account):
    first, second = deployment.urls
    leads = lambda url: httpx.get(f"{url}/api/leads", headers=account["headers"], timeout=30).status_code  # noqa: E731
    assert (leads(first), leads(second)) == (200, 200)  # both have the switch cached as "on"
    switched = httpx.put(f"{first}/api/v1/plugins/crm", headers=account["headers"], json={"enabled": False},
                         timeout=30)
    assert switched.status_code == 200, switched.text
    print(f"off seen by the other server after {seen_within(SEEN_DEADLINE, lambda: leads(second) == 404):.3f} s")
    assert leads(first) == 404
    switched = httpx.put(f"{second}/api/v1/plugins/crm", headers=account["headers"], json={"enabled": True},
                         timeout=30)
    assert switched.status_code == 200, switched.text
    print(f"on seen by the other server after {seen_within(SEEN_DEADLINE, lambda: leads(first) == 200):.3f} s")


def test_a_plan_change_on_one_server_is_seen_by_the_other(deployment, account):
    first, second = deployment.urls
    plan = lambda url: httpx.get(f"{url}/api/v1/usage", headers=account["headers"], timeout=30).json()["plan"]  # noqa: E731
    before = plan(second)
    assert plan(first) == before  # both have the plan cached
    target = "pro" if before != "pro" else "starter"
    changed = httpx.put(f"{first}/api/v1/billing/plan", headers=account["headers"], json={"plan": target}, timeout=30)
    assert changed.status_code == 200, changed.text
    print(f"plan seen by the other server after {seen_within(SEEN_DEADLINE, lambda: plan(second) == target):.3f} s")
    assert plan(first) == target

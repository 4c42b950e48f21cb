"""Real `hub worker` processes for durability tests: `cluster` starts workers against Redis
DB 3 (a job namespace of their own) and a database of their own (a SQLite file, or a fresh
PostgreSQL database in the PostgreSQL run), enqueues from another process, reads rows back and
stops everything at the end (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from tests.helpers import DATABASE_URL, REDIS_URL, TEST_SECRET

ROOT = Path(__file__).resolve().parent.parent


ENQUEUE = """
import asyncio, json, sys, uuid
async def main():
    from core.jobs import api as jobs
    from core.app import create_app
    app = create_app()
    await app.startup()
    try:
        async with app.app_context():
            job = await jobs.enqueue(uuid.UUID(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]))
        print(job.id, flush=True)
    finally:
        await app.shutdown()
asyncio.run(main())
"""


def _redis_url_db3() -> str:
    parsed = urlparse(REDIS_URL or "redis://127.0.0.1:6379/0")
    return urlunparse(parsed._replace(path="/3"))


class Cluster:
    """`python hub.py worker` processes against Redis DB 3 (a namespace of their own) and
    a database of their own (a SQLite file, or a fresh PostgreSQL database in the PG run)."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.tmp_path = tmp_path
        self.database_url = database_url
        self.org_id = str(uuid.uuid4())
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        self.env.update(
            HUB_ENV="test", HUB_DATA_DIR=str(tmp_path), HUB_SECRET_KEY=TEST_SECRET, HUB_DATABASE_URL=database_url,
            HUB_REDIS_URL=_redis_url_db3(), HUB_JOBS__NAMESPACE=f"hubtest-{uuid.uuid4().hex[:8]}",
            HUB_JOBS__HEARTBEAT_SECONDS="0.25", HUB_JOBS__STALE_AFTER_SECONDS="1.5",
            HUB_JOBS__SHUTDOWN_GRACE_SECONDS="0.5", HUB_AUTO_MIGRATE="false", HUB_LOG_LEVEL="INFO",
        )
        self.workers: list[subprocess.Popen] = []

    def hub(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "hub.py"), *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=180, **kwargs)

    def start_worker(self, name: str) -> subprocess.Popen:
        log_file = open(self.tmp_path / f"{name}.log", "w")
        worker = subprocess.Popen(
            [sys.executable, str(ROOT / "hub.py"), "worker", "--processes", "1", "--threads", "2"],
            env=self.env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.workers.append(worker)
        return worker

    def enqueue(self, job_type: str, payload: dict) -> str:
        return self.script(ENQUEUE, self.org_id, job_type, json.dumps(payload))

    async def rows(self, query: str, *args) -> list[tuple]:
        """Rows of a query written with `?` placeholders, on either database."""
        if self.database_url.startswith("sqlite://"):
            with sqlite3.connect(self.database_url.removeprefix("sqlite://")) as db:
                return [tuple(row) for row in db.execute(query, args).fetchall()]
        import asyncpg

        numbered, count = query, 0
        while "?" in numbered:
            count += 1
            numbered = numbered.replace("?", f"${count}", 1)
        connection = await asyncpg.connect(self.database_url.replace("postgres://", "postgresql://", 1))
        try:
            return [tuple(row) for row in await connection.fetch(numbered, *args)]
        finally:
            await connection.close()

    def uuid_value(self, value: str):
        """An id as the database's driver takes it (SQLite stores uuids as text)."""
        return value if self.database_url.startswith("sqlite://") else uuid.UUID(value)

    def script(self, code: str, *args: str) -> str:
        """Run Python `code` (with `sys.argv[1:] = args`) in a process of the cluster's settings;
        its last line of output."""
        result = subprocess.run([sys.executable, "-c", code, *args], env=self.env, cwd=ROOT, capture_output=True,
                                text=True, timeout=180)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout.strip().splitlines()[-1]

    async def read(self, job_id: str) -> dict:
        query = "SELECT status, progress, attempts, worker, result, error FROM core_job WHERE id = ?"
        (row,) = await self.rows(query, self.uuid_value(job_id))
        status, progress, attempts, worker, result, error = row
        result = json.loads(result) if isinstance(result, str) else result
        return {"status": status, "progress": progress, "attempts": attempts, "worker": worker,
                "result": result, "error": error}

    async def wait(self, job_id: str, condition, timeout: float = 90.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            row = await self.read(job_id)
            if condition(row):
                return row
            assert time.monotonic() < deadline, f"{row} ({self.logs()})"
            await asyncio.sleep(0.1)

    def logs(self) -> str:
        return "\n".join(p.read_text()[-2000:] for p in self.tmp_path.glob("*.log"))

    def stop_all(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


@pytest.fixture
async def cluster(tmp_path):
    import redis as redis_client

    try:
        redis_client.Redis.from_url(_redis_url_db3(), socket_connect_timeout=1).ping()
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"needs Redis at {_redis_url_db3()}: {error}")
    dropped = None
    if DATABASE_URL:
        import asyncpg

        name = f"test_jobs_{uuid.uuid4().hex[:8]}"
        admin_url = DATABASE_URL.replace("postgres://", "postgresql://", 1)
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        parsed = urlparse(DATABASE_URL)
        database_url, dropped = urlunparse(parsed._replace(path=f"/{name}")), (admin_url, name)
    else:
        database_url = f"sqlite://{tmp_path / 'jobs.sqlite3'}"
    cluster = Cluster(tmp_path, database_url)
    migrated = cluster.hub("migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    try:
        yield cluster
    finally:
        cluster.stop_all()
        client = redis_client.Redis.from_url(_redis_url_db3())
        keys = list(client.scan_iter(f"{cluster.env['HUB_JOBS__NAMESPACE']}:*"))
        if keys:
            client.delete(*keys)
        if dropped:
            import asyncpg

            connection = await asyncpg.connect(dropped[0])
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{dropped[1]}" WITH (FORCE)')
            finally:
                await connection.close()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False



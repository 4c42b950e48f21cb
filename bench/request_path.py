"""The Hub's per-request cost, measured as a user would: `wrk` (a C load generator, so the client
is not the ceiling) against real servers, every case in one run on the same machine, reported
as ratios (the machine may be shared: absolute numbers move, ratios much less).

Cases (16 connections, 2 wrk threads; per case a warm-up run, then --repeat runs of --duration
seconds, interleaved case by case so that background load hits every case alike; medians):

  quart_bare      a bare Quart route returning 50 static rows in the leads envelope, served by
                  hypercorn as `hub serve` serves the Hub (bench/peers/quart_bare.py): ratio 1.00
  fastapi_peer    FastAPI + uvicorn (asyncio loop, h11) verifying the Hub's JWT with PyJWT and
                  reading the same 50 leads with SQLAlchemy async from the Hub's own database
                  (bench/peers/fastapi_peer.py): what a user would write instead of the Hub
  hub_healthz     the Hub's GET /healthz (public, no database)
  hub_me_jwt      GET /api/auth/me with a JWT        hub_me_key      ... with an API key
  hub_leads_jwt   GET /api/leads?limit=50 with a JWT hub_leads_key   ... with an API key

Checks (the run stops with the reason when one fails): before and after the measured runs each
case's URL is fetched once and must answer 200 with the expected body (the 50 newest of the 60
leads, the same from the Hub with either credential and from the peer; the user's e-mail from
/api/auth/me; {"status": "ok"}); every wrk run must have no socket error, no timeout and no
response with a status >= 400 (what wrk counts as "Non-2xx or 3xx"); and every request the Hub
itself counted (its /metrics, http_requests_total by status code, all workers) must be a 2xx.
ERROR lines in the Hub's log are printed and kept in the results.

The Hub is a real `hub serve` in its own process group with rate limiting and quotas ON and rules
no client reaches, HUB_LOG_LEVEL=WARNING and the access log at its default (on: the cost of
building and filtering its INFO lines is measured, not of writing them); one organization with
60 leads created through the HTTP API, a JWT from /api/auth/login and an API key (scopes read).
--hub-root PATH serves (and profiles) the Hub from another checkout, e.g. a `git worktree` of
HEAD for a "before" run: cwd and PYTHONPATH at PATH; where `core` is imported from is printed
by the server process itself and by the profiling child, and must be under PATH.

Backends: SQLite (a private file), and PostgreSQL (a database of this run's own,
hub_request_path_<pid>, created and dropped here; never `test`) + Redis (db 9, under key
prefixes of this run's own, deleted at the end). Workers: --workers 1,2 measures every case at
each count; the scaling factor is the 2-worker requests/s over the 1-worker requests/s.

Server CPU per request (from /proc, the server's process group: PostgreSQL, Redis and wrk not
included) moves far less than requests/s when the machine is shared; its ratios are what the
requests/s ratios would be for CPU-bound servers with the machine to themselves. With several
workers, "top%" is the busiest process's share of that CPU: hypercorn's workers share one
listening socket, and wrk's 16 keep-alive connections may all land on one worker.

Then a per-stage profile, in a child process: the Hub app (create_app with the same settings,
PROMETHEUS_MULTIPROC_DIR set as `hub serve` sets it) driven through its ASGI callable by 16
concurrent tasks (no HTTP server: hypercorn's share is in the bare Quart case). First every case
unprofiled: wall, CPU and the garbage collector's pauses per request (a full collection of a big
heap stops every request in flight: the p99s). Then --profile-requests requests of
GET /api/leads?limit=50 with a JWT and with an API key: time per stage from pyinstrument
(sampling the event loop's thread; busy samples scaled to the thread's unprofiled CPU time), calls
per request from cProfile (a coroutine counts once per resumption), in microseconds per request.
Then the same request with one setting changed at a time (access log, metrics, rate limiting,
quotas off; log level INFO), measured without a profiler in process CPU time, --ablation-rounds
interleaved rounds: a difference is "resolved" only when every round agrees on its sign (on a
busy machine, rounds differ by more than most of these settings cost).

Writes bench/results/request_path.json (machine, code, settings, per case requests/s, p50, p99,
server CPU per request, ratios, the checks, the profile) and prints the tables.

    .venv/bin/python bench/request_path.py --backend both --workers 1,2 --duration 10 --repeat 3
    .venv/bin/python bench/request_path.py --backend sqlite --workers 1 --duration 3 --repeat 1

    git worktree add /tmp/hub-before HEAD    # "before": the last commit, served from its own checkout
    .venv/bin/python bench/request_path.py --hub-root /tmp/hub-before --output bench/results/request_path_before.json
    git worktree remove --force /tmp/hub-before

wrk is installed with apt-get if missing; fastapi, uvicorn, sqlalchemy[asyncio], aiosqlite,
asyncpg and pyinstrument with pip into this interpreter's environment (benchmark-only packages).
Every process started here (servers, wrk, the profiling child) runs in its own process group and
is stopped on exit, on errors, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterator
from reporting import write_results

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "request_path.json"
SECRET = "request-path-bench-secret-" + "x" * 40
PASSWORD = "benchmark-pass-1"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/9"
CONNECTIONS, THREADS = 16, 2
LEADS, PAGE = 60, 50

CASES = {  # key: (server, path, credential)
    "quart_bare": ("quart", "/api/leads", None),
    "fastapi_peer": ("peer", "/api/leads?limit=50", "jwt"),
    "hub_healthz": ("hub", "/healthz", None),
    "hub_me_jwt": ("hub", "/api/auth/me", "jwt"),
    "hub_me_key": ("hub", "/api/auth/me", "key"),
    "hub_leads_jwt": ("hub", "/api/leads?limit=50", "jwt"),
    "hub_leads_key": ("hub", "/api/leads?limit=50", "key"),
}
TARGETS = [  # (case, against, minimum requests/s ratio at 1 worker): the goals of the issue
    ("hub_leads_jwt", "quart_bare", 0.5),
    ("hub_leads_jwt", "fastapi_peer", 1.0),
    ("hub_me_jwt", "quart_bare", 0.6),
    ("hub_healthz", "quart_bare", 0.85),
]
SCALING_TARGET = 1.6  # hub_leads_jwt, 2 workers over 1


# -- processes: each in its own group, all stopped on the way out ---------------------------------

_PROCESSES: list[subprocess.Popen] = []


def spawn(command: list[str], **kwargs: Any) -> subprocess.Popen:
    process = subprocess.Popen(command, start_new_session=True, **kwargs)
    _PROCESSES.append(process)
    return process


def stop(process: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM to the process (a master stops its workers), then SIGKILL to its whole group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # leftover workers of the group, if any
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
    if process in _PROCESSES:
        _PROCESSES.remove(process)


def _interrupted(signum, frame):  # SIGTERM / SIGHUP: unwind through the finally blocks
    raise KeyboardInterrupt(f"signal {signum}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ensure_tools() -> str:
    """wrk (apt-get) and the peer's and the profile's packages (pip); the path of wrk."""
    import importlib.util

    if not shutil.which("wrk"):
        print("wrk not found: apt-get install -y wrk", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", "wrk"], env=env).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, check=True)
            subprocess.run(["apt-get", "install", "-y", "wrk"], env=env, check=True)
    packages = {"fastapi": "fastapi", "uvicorn": "uvicorn", "sqlalchemy": "sqlalchemy[asyncio]", "greenlet": "greenlet",
                "aiosqlite": "aiosqlite", "asyncpg": "asyncpg", "pyinstrument": "pyinstrument"}
    missing = [spec for module, spec in packages.items() if importlib.util.find_spec(module) is None]
    if missing:
        print(f"pip install {' '.join(missing)}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)
    return shutil.which("wrk") or sys.exit("could not install wrk")


# -- wrk, and the server's CPU -------------------------------------------------------------------

WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n', summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> dict[int, float]:
    """User + system CPU seconds of each live process of the group (a server and its workers)."""
    seconds = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    text = stat.read()
            except OSError:  # gone meanwhile
                continue
            fields = text[text.rindex(")") + 2:].split()  # from field 3 (state) on
            if int(fields[2]) == pgid:  # field 5: pgrp; 14, 15: utime, stime
                seconds[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def run_wrk(wrk: str, lua: Path, url: str, headers: dict[str, str], seconds: int, server_pgid: int) -> dict:
    """One wrk run, and the CPU the server's processes spent meanwhile. Raises on any socket
    error, timeout or status >= 400 (wrk counts those as its "status" errors)."""
    command = [wrk, "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency",
               "--timeout", "10s", "-s", str(lua), *(f"-H{name}: {value}" for name, value in headers.items()), url]
    before = group_cpu_seconds(server_pgid)
    process = spawn(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=seconds + 60)
    finally:
        stop(process, grace=2)
    after = group_cpu_seconds(server_pgid)
    match = re.search(r"^WRKJSON (\{.*\})$", out, re.MULTILINE)
    if process.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({process.returncode}) on {url}: {out[-1500:]}\n{err[-1500:]}")
    raw = json.loads(match.group(1))
    errors = {kind: raw[kind] for kind in ("connect", "read", "write", "status", "timeout") if raw[kind]}
    if errors or not raw["requests"]:
        raise RuntimeError(f"wrk on {url}: {raw['requests']} requests, errors {errors} (status: answers >= 400)")
    elapsed = raw["duration_us"] / 1e6
    per_process = sorted((after[pid] - before.get(pid, 0.0) for pid in after), reverse=True)
    cpu = sum(per_process)
    return {
        "requests": raw["requests"], "rps": round(raw["requests"] / elapsed, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2), "p99_ms": round(raw["p99_us"] / 1000, 2),
        "cpu_us": round(cpu / raw["requests"] * 1e6, 1),  # the server's CPU per request
        "cores": round(cpu / elapsed, 2),
        "top_share": round(per_process[0] / cpu, 2) if cpu else 0.0,  # the busiest process's part
    }


# -- backends ------------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str  # "sqlite" | "postgres"
    data_dir: Path
    hub_url: str  # HUB_DATABASE_URL
    peer_url: str  # SQLAlchemy's URL of the same database
    redis_url: str | None = None


def _postgres(*statements: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(f"{POSTGRES}/postgres")
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@contextmanager
def backend(name: str, work_dir: Path, run_id: str) -> Iterator[Backend]:
    data_dir = work_dir / name
    data_dir.mkdir(parents=True)
    if name == "sqlite":
        path = data_dir / "hub.sqlite3"
        yield Backend(name, data_dir, f"sqlite://{path}", f"sqlite+aiosqlite:///{path}")
        return
    database = f"hub_request_path_{os.getpid()}"  # this run's own; never `test`
    _postgres(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', f'CREATE DATABASE "{database}"')
    try:
        yield Backend(name, data_dir, f"postgres://postgres@127.0.0.1:5432/{database}",
                      f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}", REDIS_URL)
    finally:
        import redis

        try:  # the keys of this run (hub_env gives every Redis key of the Hub this prefix)
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(f"{run_id}*"))
            if keys:
                client.delete(*keys)
            client.close()
        except Exception as error:  # noqa: BLE001 - cleaning up must not hide the run's own error
            print(f"warning: cleaning Redis db 9 failed: {error}", file=sys.stderr)
        try:
            _postgres(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        except Exception as error:  # noqa: BLE001
            print(f"warning: DROP DATABASE {database} failed: {error}", file=sys.stderr)


# -- servers -------------------------------------------------------------------------------------


def hub_env(b: Backend, hub_root: Path, run_id: str) -> dict[str, str]:
    """The environment of the Hub (served or profiled): the machine's, without its HUB_*
    settings, plus these."""
    rule = {"requests_per_minute": 10_000_000, "burst_size": 10_000_000, "scope": "user"}
    patterns = ("*", "/api/*", "/api/auth/*", "/api/auth/me", "/api/v1/*", "/api/v1/auth/*")  # all a case may match
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("HUB_") and name not in ("PYTHONPATH", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({
        "PYTHONPATH": str(hub_root),
        "HUB_ENV": "production",
        "HUB_DATA_DIR": str(b.data_dir),
        "HUB_DATABASE_URL": b.hub_url,
        "HUB_SECRET_KEY": SECRET,
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_AUTH__ACCESS_TOKEN_MINUTES": "1440",
        # fast password hashing (as tests/live_server.py): only registration and login use it
        "HUB_AUTH__PASSWORD_TIME_COST": "1", "HUB_AUTH__PASSWORD_MEMORY_KIB": "1024",
        "HUB_AUTH__PASSWORD_PARALLELISM": "1",
        "HUB_RATE_LIMITS__ENABLED": "true",
        "HUB_RATE_LIMITS__RULES": json.dumps({pattern: rule for pattern in patterns}),
        "HUB_QUOTAS__ENABLED": "true",  # the organization's plan (starter) allows 2,000,000 api_calls a month
        "HUB_RATE_LIMITS__KEY_PREFIX": f"{run_id}:ratelimit",
        "HUB_QUOTAS__KEY_PREFIX": f"{run_id}:usage",
        "HUB_JOBS__NAMESPACE": f"{run_id}:jobs",
    })
    if b.redis_url:
        env["HUB_REDIS_URL"] = b.redis_url
    return env


# `hub.py serve` (as `python hub.py serve`), after printing where `import core` will load core from
HUB_LAUNCHER = ("import importlib.util, runpy, sys; print('core from', importlib.util.find_spec('core').origin, "
                "flush=True); sys.argv[0] = 'hub.py'; runpy.run_path('hub.py', run_name='__main__')")


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(kind: str, b: Backend, workers: int, args) -> Server:
    port = free_port()
    if kind == "hub":
        command = [sys.executable, "-c", HUB_LAUNCHER, "serve", "--workers", str(workers), "--port", str(port)]
        if args.server != "hypercorn":  # (an older checkout has no --server: hypercorn only)
            command += ["--server", args.server]
        cwd, env, ready = args.hub_root, hub_env(b, args.hub_root, args.run_id), "/healthz"
    else:
        env = {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}
        env["PYTHONPATH"] = str(ROOT)
        cwd = ROOT
        if kind == "quart":  # hypercorn as `hub serve` runs it
            command, ready = [sys.executable, "bench/peers/quart_bare.py", "--port", str(port),
                              "--workers", str(workers)], "/api/leads"
        elif kind == "quart_uvicorn":  # uvicorn as `hub serve --server uvicorn` runs it
            command, ready = [sys.executable, "-m", "uvicorn", "bench.peers.quart_bare:app", "--port", str(port),
                              "--workers", str(workers), "--no-access-log", "--log-level", "warning"], "/api/leads"
        else:  # uvicorn's asyncio loop and h11 parser, as hypercorn's; its access log filtered as the Hub's
            env.update(PEER_DATABASE_URL=b.peer_url, PEER_JWT_SECRET=SECRET)
            command, ready = [sys.executable, "-m", "uvicorn", "bench.peers.fastapi_peer:app", "--port", str(port),
                              "--workers", str(workers), "--loop", "asyncio", "--http", "h11",
                              "--log-level", "warning"], "/docs"
    log_path = b.data_dir / f"{kind}-{workers}w.log"
    with open(log_path, "wb") as log:
        process = spawn(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    import httpx

    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} server exited with {process.returncode}:\n{server.log()[-3000:]}")
        try:
            httpx.get(server.url + ready, timeout=2)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not answer within 120 s:\n{server.log()[-3000:]}") from None
            time.sleep(0.2)
    if kind == "hub":
        check_core_origin(server.log().partition("core from ")[2].split("\n", 1)[0], args.hub_root, "hub serve")
    return server


def check_core_origin(origin: str, hub_root: Path, who: str) -> None:
    if not origin or not Path(origin).resolve().is_relative_to(hub_root):
        raise RuntimeError(f"{who} imports core from {origin or '?'}, not from --hub-root {hub_root}")


def hub_statuses(hub_url: str) -> dict[str, float]:
    """Requests the Hub counted since it started, per "METHOD endpoint status" (its /metrics,
    summed over every worker): the server's own count of what it answered."""
    import httpx

    counts = {}
    for line in httpx.get(hub_url + "/metrics", timeout=30).text.splitlines():
        if line.startswith("http_requests_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            counts[f"{labels['method']} {labels['endpoint']} {labels['status_code']}"] = float(line.rsplit(" ", 1)[1])
    return counts


def log_errors(text: str) -> list[str]:
    """The messages of the ERROR (and worse) lines of a Hub's JSON log."""
    errors = []
    for line in text.splitlines():
        if '"level": "ERROR"' in line or '"level": "CRITICAL"' in line:
            try:
                errors.append(json.loads(line)["message"])
            except (ValueError, KeyError):
                errors.append(line[:300])
    return errors


# -- the organization, and what each case must answer --------------------------------------------


def lead_payload(i: int) -> dict:
    return {"name": f"Lead {i}", "email": f"lead{i}@example.com", "phone": f"+1555{i:07d}",
            "company": f"Company {i % 7}", "status": ("new", "contacted", "qualified", "converted", "lost")[i % 5],
            "source": ("website", "referral", "social", "advertising", "event")[i % 5],
            "value": float(1000 + 17 * i), "notes": "seeded by bench/request_path.py" if i % 3 == 0 else None}


def seed(hub_url: str) -> dict[str, str]:
    """Register an organization, log in, create an API key and 60 leads, through HTTP."""
    import httpx

    with httpx.Client(base_url=hub_url, timeout=60) as client:
        def call(method: str, path: str, status: int, **kwargs: Any) -> dict:
            response = client.request(method, path, **kwargs)
            if response.status_code != status:
                raise RuntimeError(f"seeding: {method} {path} answered {response.status_code}: {response.text[:500]}")
            return response.json()

        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        call("POST", "/api/auth/register", 201, json={"email": email, "password": PASSWORD, "first_name": "Bench",
                                                       "last_name": "Mark", "organization_name": "Request path bench"})
        token = call("POST", "/api/auth/login", 200, json={"email": email, "password": PASSWORD})["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        key = call("POST", "/api/v1/keys", 201, headers=auth, json={"name": "bench", "scopes": ["read"]})["key"]
        for i in range(LEADS):
            call("POST", "/api/leads", 201, headers=auth, json=lead_payload(i))
    return {"email": email, "jwt": token, "key": key}


def headers_for(credential: str | None, org: dict[str, str]) -> dict[str, str]:
    if credential == "jwt":
        return {"Authorization": f"Bearer {org['jwt']}"}
    return {"X-API-Key": org["key"]} if credential == "key" else {}


def check_cases(urls: dict[str, str], headers: dict[str, dict], org: dict[str, str]) -> dict[str, int]:
    """GET each case's URL once: 200 and the expected body, else RuntimeError. Bytes per case."""
    import httpx

    bodies, sizes = {}, {}
    for key, url in urls.items():
        response = httpx.get(url, headers=headers[key], timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"{key}: GET {url} answered {response.status_code}: {response.text[:500]}")
        bodies[key], sizes[key] = response.json(), len(response.content)

    def expect(key: str, ok: bool, what: str) -> None:
        if not ok:
            raise RuntimeError(f"{key}: expected {what}, got {json.dumps(bodies[key])[:500]}")

    hub_leads = bodies["hub_leads_jwt"]
    for key in [key for key in CASES if key.startswith("quart_bare")] + ["hub_leads_jwt"]:
        leads = bodies[key].get("leads") or []
        expect(key, len(leads) == PAGE and bodies[key].get("total") == LEADS, f"{PAGE} leads of {LEADS}")
    expect("hub_leads_jwt", {lead["name"] for lead in hub_leads["leads"]} == {f"Lead {i}" for i in range(LEADS - PAGE, LEADS)},
           f"the {PAGE} newest leads")
    expect("hub_leads_key", bodies["hub_leads_key"] == hub_leads, "the body of hub_leads_jwt")
    expect("fastapi_peer", bodies["fastapi_peer"] == hub_leads, "the body of hub_leads_jwt (same leads, same JSON)")
    for key in ("hub_me_jwt", "hub_me_key"):
        expect(key, bodies[key].get("email") == org["email"], f"the user {org['email']}")
    expect("hub_healthz", bodies["hub_healthz"] == {"status": "ok"}, '{"status": "ok"}')
    return sizes


# -- measuring -----------------------------------------------------------------------------------


def measure_backend(b: Backend, args, wrk: str, lua: Path) -> dict:
    org: dict[str, str] | None = None
    per_workers: dict[str, dict] = {}
    for workers in args.workers:
        print(f"-- {b.name}, {workers} worker(s)", flush=True)
        servers: dict[str, Server] = {}
        try:
            servers["hub"] = start_server("hub", b, workers, args)
            org = org or seed(servers["hub"].url)
            servers["quart"] = start_server("quart", b, workers, args)
            if "quart_bare_uvicorn" in CASES:
                servers["quart_uvicorn"] = start_server("quart_uvicorn", b, workers, args)
            servers["peer"] = start_server("peer", b, workers, args)
            urls = {key: servers[server].url + path for key, (server, path, _) in CASES.items()}
            headers = {key: headers_for(credential, org) for key, (_, _, credential) in CASES.items()}
            pgids = {key: servers[server].process.pid for key, (server, _, _) in CASES.items()}
            sizes = check_cases(urls, headers, org)
            for key in CASES:  # warm-up: imports, caches, connection pools
                run_wrk(wrk, lua, urls[key], headers[key], args.warmup, pgids[key])
            runs: dict[str, list[dict]] = {key: [] for key in CASES}
            for repetition in range(args.repeat):
                for key in CASES:
                    run = run_wrk(wrk, lua, urls[key], headers[key], args.duration, pgids[key])
                    run["loadavg"] = round(os.getloadavg()[0], 2)
                    runs[key].append(run)
                    print(f"   [{repetition + 1}/{args.repeat}] {key:<18} {run['rps']:>8.1f} req/s  p50 {run['p50_ms']:>6.2f} ms"
                          f"  p99 {run['p99_ms']:>7.2f} ms  server CPU {run['cpu_us']:>6.0f} us/req on {run['cores']:.2f}"
                          f" cores (top {run['top_share']:.0%})  load {run['loadavg']}", flush=True)
            check_cases(urls, headers, org)  # still the same answers after the load
            statuses = hub_statuses(servers["hub"].url)
            hub_errors = log_errors(servers["hub"].log())
        finally:
            for server in servers.values():
                stop(server.process)
        if hub_errors:
            print(f"   WARNING: {len(hub_errors)} ERROR line(s) in the Hub's log, e.g. {hub_errors[0]!r}", flush=True)
        not_2xx = {name: count for name, count in statuses.items() if not re.search(r" 2\d\d$", name)}
        if not_2xx:
            raise RuntimeError(f"the Hub answered other than 2xx (its /metrics): {not_2xx}")
        cases = {key: summarize(runs[key], sizes[key]) for key in CASES}
        for key, case in cases.items():  # requests/s ratios, and the same from the servers' CPU per request
            case["x_bare"] = round(case["rps"] / cases["quart_bare"]["rps"], 3)
            case["cpu_x_bare"] = round(cases["quart_bare"]["cpu_us"] / case["cpu_us"], 3)
            leads = "leads" in key or key == "fastapi_peer"
            case["x_peer"] = round(case["rps"] / cases["fastapi_peer"]["rps"], 3) if leads else None
            case["cpu_x_peer"] = round(cases["fastapi_peer"]["cpu_us"] / case["cpu_us"], 3) if leads else None
        per_workers[str(workers)] = {"cases": cases, "hub_answered": statuses, "hub_log_errors": hub_errors[:20],
                                     "hub_log_error_count": len(hub_errors)}
    result: dict[str, Any] = {"workers": per_workers}
    if "1" in per_workers and "2" in per_workers:
        result["scaling_2_over_1"] = {key: round(per_workers["2"]["cases"][key]["rps"] / per_workers["1"]["cases"][key]["rps"], 2)
                                      for key in CASES}
    return result


def summarize(runs: list[dict], size: int) -> dict:
    def median(name: str) -> float:
        return round(statistics.median(run[name] for run in runs), 2)

    return {"rps": median("rps"), "p50_ms": median("p50_ms"),
            "p99_ms": median("p99_ms"), "cpu_us": median("cpu_us"), "cores": median("cores"),
            "top_share": median("top_share"), "response_bytes": size, "runs": runs}


def targets(result: dict) -> list[dict]:
    checks = []
    one = result["workers"].get("1", {}).get("cases")
    if one:
        for case, against, minimum in TARGETS:
            ratio = one[case]["rps"] / one[against]["rps"]
            checks.append({"target": f"{case} >= {minimum}x {against} (1 worker)", "ratio": round(ratio, 3),
                           "met": ratio >= minimum, "cpu_ratio": round(one[against]["cpu_us"] / one[case]["cpu_us"], 3)})
        if "quart_bare_uvicorn" in one:  # the same targets against bare Quart on the Hub's server
            for case, against, minimum in TARGETS:
                if against != "quart_bare":
                    continue
                ratio = one[case]["rps"] / one["quart_bare_uvicorn"]["rps"]
                checks.append({"target": f"{case} >= {minimum}x quart_bare_uvicorn (1 worker)", "ratio": round(ratio, 3),
                               "met": ratio >= minimum,
                               "cpu_ratio": round(one["quart_bare_uvicorn"]["cpu_us"] / one[case]["cpu_us"], 3)})
    if "scaling_2_over_1" in result:
        ratio = result["scaling_2_over_1"]["hub_leads_jwt"]
        checks.append({"target": f"hub_leads_jwt 2 workers >= {SCALING_TARGET}x 1 worker", "ratio": ratio,
                       "met": ratio >= SCALING_TARGET})
    return checks


# -- the per-stage profile (a child process: tortoise and prometheus keep process-wide state) ----

# (depth, label, [(file suffix, function name), ...]): the cumulative time of the matching
# functions while they run on the event loop's thread (a suspended coroutine is not on the
# stack: a stage's time is its CPU on the loop, not its wait for the database). Stages whose
# functions do not exist in the profiled code (another --hub-root) are left out.
STAGES = [
    (0, "quart ASGIHTTPConnection.__call__ (request, tasks)", [("quart/asgi.py", "__call__")]),
    (0, "quart ASGIHTTPConnection.handle_request", [("quart/asgi.py", "handle_request")]),
    (1, "Quart.handle_request", [("quart/app.py", "handle_request")]),
    (2, "Quart.full_dispatch_request", [("quart/app.py", "full_dispatch_request")]),
    (3, "Quart.preprocess_request: the pipeline's befores", [("quart/app.py", "preprocess_request")]),
    (4, "pipeline._assign_request_id", [("core/http/pipeline.py", "_assign_request_id")]),
    (4, "pipeline._begin_unit_of_work", [("core/http/pipeline.py", "_begin_unit_of_work")]),
    (4, "observability _begin_request (traceparent, gauge)", [("observability/__init__.py", "_begin_request")]),
    (4, "pipeline._refuse_nul_in_url", [("core/http/pipeline.py", "_refuse_nul_in_url")]),
    (4, "versioning._select_version", [("core/http/versioning.py", "_select_version")]),
    (4, "ratelimit._limit_unauthenticated", [("core/ops/ratelimit.py", "_limit_unauthenticated")]),
    (3, "HubApp.dispatch_request (timeout) -> the view", [("core/http/application.py", "dispatch_request")]),
    (4, "auth require.<locals>.wrapper", [("core/http/auth.py", "wrapper")]),
    (5, "auth.authenticate", [("core/http/auth.py", "authenticate")]),
    (6, "principals.PrincipalCache.get", [("core/tenancy/principals.py", "get")]),
    (6, "principals._principal_from_jwt", [("core/tenancy/principals.py", "_principal_from_jwt")]),
    (7, "security.decode_access_token (PyJWT)", [("core/tenancy/security.py", "decode_access_token")]),
    (6, "principals._principal_from_api_key", [("core/tenancy/principals.py", "_principal_from_api_key")]),
    (6, "principals._active_user", [("core/tenancy/principals.py", "_active_user")]),
    (5, "auth.check_plugin_enabled", [("core/http/auth.py", "check_plugin_enabled")]),
    (5, "guard ratelimit._limit_principal", [("core/ops/ratelimit.py", "_limit_principal")]),
    (6, "RateLimiter.hit (throttled-py GCRA)", [("core/ops/ratelimit.py", "hit")]),
    (5, "guard metering.api_call_quota -> Metering.consume", [("core/ops/metering.py", "api_call_quota")]),
    (5, "query.parse_query (validate_query)", [("core/http/query.py", "parse_query")]),
    (5, "view crm routes.list_leads", [("plugins/crm/routes.py", "list_leads")]),
    (6, "crm service.list_leads", [("plugins/crm/service.py", "list_leads")]),
    (7, "pagination Page.fetch (count + page)", [("core/http/pagination.py", "fetch")]),
    (7, "crm service.lead_json", [("plugins/crm/service.py", "lead_json")]),
    (6, "pagination Page.listing -> jsonify", [("core/http/pagination.py", "listing")]),
    (5, "view auth routes.me", [("routes/auth.py", "me")]),
    (3, "Quart.finalize_request", [("quart/app.py", "finalize_request")]),
    (4, "Quart.process_response: the pipeline's afters", [("quart/app.py", "process_response")]),
    (5, "ratelimit._rate_limit_headers", [("core/ops/ratelimit.py", "_rate_limit_headers")]),
    (5, "metering._record_latency", [("core/ops/metering.py", "_record_latency")]),
    (5, "versioning._answer_in_version", [("core/http/versioning.py", "_answer_in_version")]),
    (5, "observability _end_request (metrics, access log)", [("observability/__init__.py", "_end_request")]),
    (6, "HubMetrics.observe_request (prometheus)", [("observability/metrics.py", "observe_request")]),
    (6, "access log: Logger.log (filtered)", [("logging/__init__.py", "log")]),
    (5, "key_usage._record", [("core/ops/key_usage.py", "_record")]),
    (5, "pipeline._echo_request_id", [("core/http/pipeline.py", "_echo_request_id")]),
    (5, "pipeline._finish_the_body", [("core/http/pipeline.py", "_finish_the_body")]),
    (2, "Quart.do_teardown_request", [("quart/app.py", "do_teardown_request")]),
    (0, "quart ASGIHTTPConnection._send_response", [("quart/asgi.py", "_send_response")]),
    (0, "across stages: tortoise QuerySet._execute (queries)", [("tortoise/queryset.py", "_execute")]),
    (1, "metrics counted() around each query", [("observability/metrics.py", "counted")]),
    (1, "HubMetrics.observe_query (one call per SQL statement)", [("observability/metrics.py", "observe_query")]),
    (1, "driver: aiosqlite / asyncpg", [("aiosqlite/core.py", "_execute"), ("asyncpg/connection.py", "_execute")]),
    (0, "across stages: redis Script.__call__ (rate limit, quota)", [("redis/commands/core.py", "__call__")]),
]
ABLATION_REQUESTS = 1000  # per run
ABLATIONS = [  # settings changed one at a time, in the same process, unprofiled
    ("as served", {}),
    ("access log off", {"HUB_OBSERVABILITY__ACCESS_LOG": "false"}),
    ("metrics off", {"HUB_OBSERVABILITY__METRICS_ENABLED": "false"}),
    ("rate limiting off", {"HUB_RATE_LIMITS__ENABLED": "false"}),
    ("quotas off", {"HUB_QUOTAS__ENABLED": "false"}),
    ("all four off", {"HUB_OBSERVABILITY__ACCESS_LOG": "false", "HUB_OBSERVABILITY__METRICS_ENABLED": "false",
                      "HUB_RATE_LIMITS__ENABLED": "false", "HUB_QUOTAS__ENABLED": "false"}),
    ("log level INFO", {"HUB_LOG_LEVEL": "INFO"}),  # the default: one JSON access line per request written
]


def _asgi_scope(path: str, query: bytes, headers: dict[str, str]) -> dict:
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
            "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "extensions": {},
            "headers": [(b"host", b"127.0.0.1:8000")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]}


async def _drive(app, scope: dict, total: int) -> dict[str, float]:
    """`total` requests through the app's ASGI callable by 16 concurrent tasks, as a server
    would make them; wall, process CPU, loop-thread CPU, and the garbage collector's pauses
    (all generations; the longest: a full collection of a big heap) in seconds. All must answer 200."""
    import gc

    remaining = iter(range(total))
    statuses: list[int] = []
    pauses: list[float] = []

    def collecting(phase: str, info: dict) -> None:
        if phase == "start":
            pauses.append(time.perf_counter())
        else:
            pauses[-1] = time.perf_counter() - pauses[-1]

    async def one() -> None:
        received = False

        async def receive():
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Future()  # the client stays connected; Quart cancels this when done

        async def send(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(dict(scope), receive, send)

    async def worker() -> None:
        for _ in remaining:
            await one()

    gc.callbacks.append(collecting)
    wall, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    try:
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    finally:
        gc.callbacks.remove(collecting)
    timing = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "loop_cpu": time.thread_time() - loop_cpu,
              "gc": sum(pauses), "gc_longest": max(pauses, default=0.0)}
    if statuses.count(200) != total:
        raise RuntimeError(f"{total - statuses.count(200)} of {total} in-process requests did not answer 200")
    return timing


def _short(key: tuple) -> str:
    filename, line, function = key
    return f"{filename.replace(str(ROOT) + '/', '').split('site-packages/')[-1]}:{line}({function})"


def _tables(root) -> tuple[dict, dict]:
    """(cumulative, own) seconds per (file, line, function) of pyinstrument's frame tree; a
    function found again below itself (recursion, a coroutine awaiting itself) counts once."""
    cumulative: dict = {}
    own: dict = {}

    def walk(frame, above: frozenset) -> None:
        key = (frame.file_path or "~", frame.line_no or 0, frame.function)
        children = [child for child in frame.children if not child.is_synthetic]
        if key not in above:
            cumulative[key] = cumulative.get(key, 0.0) + frame.time
        own[key] = own.get(key, 0.0) + frame.time - sum(child.time for child in children)
        for child in children:
            walk(child, above | {key})

    walk(root, frozenset())
    return cumulative, own


def _matching(table: dict, matchers) -> float:
    return sum(value for (filename, _, function), value in table.items()
               if any(function == name and filename.endswith(suffix) for suffix, name in matchers))


async def _profile_async(args) -> dict:
    import cProfile
    import logging
    import logging.config

    from pyinstrument import Profiler

    import core
    from core.app import create_app
    from core.kernel.settings import load_settings
    from core.ops.observability.logs import logging_config
    from peers.quart_bare import app as bare_app  # bench/ is this script's directory

    logging.config.dictConfig(logging_config(load_settings()))  # as `hub serve` configures its workers
    n = args.profile_requests
    out: dict[str, Any] = {"core_imported_from": core.__file__, "requests": n, "concurrency": CONNECTIONS}
    app = create_app(load_settings())  # from the HUB_* environment the parent gave, as `hub serve`
    async with app.test_app() as test_app:
        client = test_app.test_client()
        email = f"profile-{uuid.uuid4().hex[:8]}@example.com"
        await client.post("/api/auth/register", json={"email": email, "password": PASSWORD, "first_name": "Pro",
                                                      "last_name": "File", "organization_name": "Profile"})
        login = await (await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})).get_json()
        jwt_headers = {"Authorization": f"Bearer {login['access_token']}"}
        key = (await (await client.post("/api/v1/keys", headers=jwt_headers,
                                        json={"name": "profile", "scopes": ["read"]})).get_json())["key"]
        for i in range(LEADS):
            created = await client.post("/api/leads", headers=jwt_headers, json=lead_payload(i))
            assert created.status_code == 201, await created.get_data(as_text=True)
        scopes = {
            "hub_healthz": _asgi_scope("/healthz", b"", {}),
            "hub_me_jwt": _asgi_scope("/api/auth/me", b"", jwt_headers),
            "hub_me_key": _asgi_scope("/api/auth/me", b"", {"X-API-Key": key}),
            "hub_leads_jwt": _asgi_scope("/api/leads", b"limit=50", jwt_headers),
            "hub_leads_key": _asgi_scope("/api/leads", b"limit=50", {"X-API-Key": key}),
        }

        def per_request(timing: dict) -> dict:
            return {"wall_us": round(timing["wall"] / n * 1e6, 1), "cpu_us": round(timing["cpu"] / n * 1e6, 1),
                    "loop_cpu_us": round(timing["loop_cpu"] / n * 1e6, 1), "gc_us": round(timing["gc"] / n * 1e6, 1),
                    "gc_longest_ms": round(timing["gc_longest"] * 1000, 1)}

        async with bare_app.test_app():
            bare_scope = _asgi_scope("/api/leads", b"", {})
            await _drive(bare_app, bare_scope, 300)
            out["in_process"] = {"quart_bare": per_request(await _drive(bare_app, bare_scope, n))}
        for name, scope in scopes.items():  # warm, then timed without a profiler
            await _drive(app, scope, 300)
            out["in_process"][name] = per_request(await _drive(app, scope, n))
        out["profiles"] = {}
        for name in args.profile_cases.split(","):
            # time from a sampling profiler (little distortion), call counts from cProfile (exact,
            # but it slows every call down, small ones most)
            sampler = Profiler(interval=0.001, async_mode="disabled")
            sampler.start()
            timing = await _drive(app, scopes[name], n)
            sampler.stop()
            cumulative, own = _tables(sampler.last_session.root_frame())
            counter = cProfile.Profile()
            counter.enable()
            await _drive(app, scopes[name], n)
            counter.disable()
            counter.create_stats()
            calls = {key: stat[0] for key, stat in counter.stats.items()}
            # The samples are the loop thread's wall time: its CPU, time preempted or waiting for
            # the GIL, and time idle in epoll. The busy samples are scaled to its unprofiled CPU.
            idle = _matching(cumulative, [("selectors.py", "select")])
            scale = out["in_process"][name]["loop_cpu_us"] / ((timing["wall"] - idle) / n * 1e6)
            stages = []
            for depth, label, matchers in STAGES:
                seconds, count = _matching(cumulative, matchers), _matching(calls, matchers)
                if seconds or count:
                    stages.append({"depth": depth, "stage": label, "us": round(seconds / n * 1e6 * scale, 1),
                                   "calls": round(count / n, 2)})
            busiest = sorted(((seconds, key) for key, seconds in own.items()  # not the idle epoll wait
                              if not key[2].endswith("poll") and not key[0].endswith("selectors.py")), reverse=True)[:25]
            out["profiles"][name] = {
                "scale_to_unprofiled": round(scale, 3), "stages": stages,
                "top_own_time": [{"function": _short(key), "us": round(seconds / n * 1e6 * scale, 1),
                                  "calls": round(calls.get(key, 0) / n, 2)} for seconds, key in busiest],
            }
    if args.ablation_rounds:
        from tortoise import context as tortoise_context

        cpu: dict[str, list[float]] = {label: [] for label, _ in ABLATIONS}
        for round_ in range(args.ablation_rounds):  # interleaved, every other round backwards: load and drift hit each alike
            for label, overrides in ABLATIONS if round_ % 2 == 0 else ABLATIONS[::-1]:
                # one app at a time (tortoise's connections are process-wide); close_database leaves
                # tortoise's global context set, and a second init would refuse to start
                tortoise_context._global_context = None
                saved = dict(os.environ)
                os.environ.update(overrides)
                variant = create_app(load_settings())
                os.environ.clear()
                os.environ.update(saved)
                root, level = logging.getLogger(), logging.getLogger().level
                root.setLevel(overrides.get("HUB_LOG_LEVEL", level))  # dictConfig ran once, at WARNING
                try:
                    async with variant.test_app():
                        await _drive(variant, scopes["hub_leads_jwt"], 300)
                        timing = await _drive(variant, scopes["hub_leads_jwt"], ABLATION_REQUESTS)
                        cpu[label].append(timing["cpu"] / ABLATION_REQUESTS * 1e6)
                finally:
                    root.setLevel(level)
        # each round's difference to "as served" in the same round; resolved when every round agrees on the sign
        out["ablation_hub_leads_jwt"] = {}
        for label, overrides in ABLATIONS:
            deltas = [variant - served for variant, served in zip(cpu[label], cpu["as served"])]
            out["ablation_hub_leads_jwt"][label] = {
                "settings": overrides, "cpu_us_median": round(statistics.median(cpu[label]), 1),
                "delta_us_median": round(statistics.median(deltas), 1),
                "delta_us_range": [round(min(deltas), 1), round(max(deltas), 1)],
                "resolved": min(deltas) > 0 or max(deltas) < 0, "cpu_us_runs": [round(t, 1) for t in cpu[label]]}
    return out


def profile_backend(b: Backend, args) -> dict:
    """The profile, in a child process with the served Hub's settings."""
    env = hub_env(b, args.hub_root, args.run_id)
    if b.name == "sqlite":  # a file of its own: the served organization stays as it was
        env["HUB_DATABASE_URL"] = f"sqlite://{b.data_dir / 'profile.sqlite3'}"
    env["PROMETHEUS_MULTIPROC_DIR"] = str(b.data_dir / "profile-prometheus")  # as `hub serve` sets it
    (b.data_dir / "profile-prometheus").mkdir()
    out_file, log_path = b.data_dir / "profile.json", b.data_dir / "profile.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--_profile", str(out_file),
               "--profile-requests", str(args.profile_requests), "--ablation-rounds", str(args.ablation_rounds),
               "--profile-cases", args.profile_cases]
    with open(log_path, "wb") as log:
        process = spawn(command, cwd=args.hub_root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        process.wait(timeout=1800)
    finally:
        stop(process, grace=5)
    if process.returncode != 0 or not out_file.exists():
        raise RuntimeError(f"profile child failed ({process.returncode}):\n{log_path.read_text(errors='replace')[-4000:]}")
    profile = json.loads(out_file.read_text())
    check_core_origin(profile["core_imported_from"], args.hub_root, "the profiling child")
    return profile


# -- report --------------------------------------------------------------------------------------


def git(root: Path, *arguments: str) -> str:
    return subprocess.run(["git", *arguments], cwd=root, capture_output=True, text=True).stdout.strip()


def machine(wrk: str) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    packages = {}
    for name in ("quart", "hypercorn", "quart-schema", "tortoise-orm", "pydantic", "PyJWT", "prometheus_client",
                 "throttled-py", "redis", "asyncpg", "aiosqlite", "fastapi", "uvicorn", "sqlalchemy", "pyinstrument"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True)
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
            "wrk": (wrk_version.stdout + wrk_version.stderr).strip().split("\n")[0], "packages": packages,
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def _ratio(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else ""


def print_backend(name: str, result: dict) -> None:
    for workers, data in result["workers"].items():
        print(f"\n== {name}, {workers} worker(s): {CONNECTIONS} connections, median of runs; "
              f"x bare / x peer: requests/s ratios; CPU x: the same from server CPU per request")
        print(f"{'case':<18} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'x bare':>6} {'x peer':>6} "
              f"{'CPU us':>7} {'CPU x bare':>10} {'CPU x peer':>10} {'cores':>5} {'top%':>4} {'bytes':>6}")
        for key, case in data["cases"].items():
            print(f"{key:<18} {case['rps']:>8.1f} {case['p50_ms']:>7.2f} {case['p99_ms']:>7.2f} {case['x_bare']:>6.2f} "
                  f"{_ratio(case['x_peer']):>6} {case['cpu_us']:>7.0f} {case['cpu_x_bare']:>10.2f} "
                  f"{_ratio(case['cpu_x_peer']):>10} {case['cores']:>5.2f} {case['top_share'] * 100:>4.0f} "
                  f"{case['response_bytes']:>6}")
    if "scaling_2_over_1" in result:
        print("scaling 2 workers / 1: " + ", ".join(f"{k} {v:.2f}x" for k, v in result["scaling_2_over_1"].items()))
    for check in result["targets"]:
        cpu = f" (from server CPU per request: {check['cpu_ratio']:.2f}x)" if "cpu_ratio" in check else ""
        print(f"target {'MET   ' if check['met'] else 'MISSED'} {check['target']}: {check['ratio']:.2f}x{cpu}")


def print_profile(name: str, profile: dict) -> None:
    print(f"\n== {name}: the Hub app in process (no HTTP server), {profile['requests']} requests per case, "
          f"{profile['concurrency']} concurrent; core from {profile['core_imported_from']}")
    print(f"{'per request':<14} {'wall us':>8} {'CPU us':>8} {'loop-thread CPU us':>19} {'GC us':>6} {'longest GC pause ms':>20}")
    for case, row in profile["in_process"].items():
        print(f"{case:<14} {row['wall_us']:>8.0f} {row['cpu_us']:>8.0f} {row['loop_cpu_us']:>19.0f} {row['gc_us']:>6.0f}"
              f" {row['gc_longest_ms']:>20.1f}")
    for case, data in profile["profiles"].items():
        print(f"\n-- {case}: us per request on the loop thread (pyinstrument, scaled x{data['scale_to_unprofiled']:.2f} "
              f"to the unprofiled CPU), calls per request (cProfile; a coroutine counts once per resumption)")
        for row in data["stages"]:
            print(f"{('  ' * row['depth'] + row['stage'])[:72]:<72} {row['us']:>8.1f} {row['calls']:>7.2f}")
        print("top functions by own time:")
        for row in data["top_own_time"][:15]:
            calls = f"{row['calls']:>7.2f} calls" if row["calls"] else " " * 13
            print(f"   {row['us']:>7.1f} us {calls}  {row['function']}")
    ablation = profile.get("ablation_hub_leads_jwt")
    if ablation:
        print("\n-- hub_leads_jwt in process, one setting changed at a time: process CPU us/request (median of rounds),"
              " difference to 'as served' in the same round (median, range)")
        for label, row in ablation.items():
            low, high = row["delta_us_range"]
            delta = "" if label == "as served" else (f"delta {row['delta_us_median']:>+6.0f} us ({low:+.0f}..{high:+.0f})"
                                                     f"{'' if row['resolved'] else '  within noise'}")
            print(f"   {label:<18} {row['cpu_us_median']:>7.0f} us   {delta}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--workers", default="1,2", help="worker counts, e.g. 1 or 1,2")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of the warm-up run per case")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per case (the median is reported)")
    parser.add_argument("--hub-root", type=Path, default=ROOT, help="serve and profile the Hub from this checkout")
    parser.add_argument("--profile-requests", type=int, default=2000, help="requests per profiled case (0: no profile)")
    parser.add_argument("--profile-cases", default="hub_leads_jwt,hub_leads_key",
                        help="the Hub cases profiled stage by stage, e.g. hub_me_jwt,hub_leads_jwt")
    parser.add_argument("--ablation-rounds", type=int, default=4, help="rounds of the settings ablation (0: none)")
    parser.add_argument("--profile-only", action="store_true", help="skip the wrk runs")
    parser.add_argument("--server", choices=["hypercorn", "uvicorn"], default="hypercorn",
                        help="serve the Hub with `hub serve --server`; uvicorn adds the case quart_bare_uvicorn "
                             "(bare Quart on uvicorn: the reference of the same targets on that server)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--_profile", help=argparse.SUPPRESS)  # the profiling child writes its result here
    args = parser.parse_args()
    if args._profile:
        Path(args._profile).write_text(json.dumps(asyncio.run(_profile_async(args)), indent=2))
        return

    args.workers = [int(w) for w in args.workers.split(",")]
    if args.server == "uvicorn":
        CASES["quart_bare_uvicorn"] = ("quart_uvicorn", "/api/leads", None)
    args.hub_root = args.hub_root.resolve()
    args.run_id = f"hubbench-{uuid.uuid4().hex[:8]}"  # the prefix of this run's Redis keys
    if not (args.hub_root / "hub.py").exists() or not (args.hub_root / "core").is_dir():
        sys.exit(f"--hub-root {args.hub_root}: no hub.py and core/ there")
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGHUP, _interrupted)
    wrk = ensure_tools()
    work_dir = Path(tempfile.mkdtemp(prefix="hub-request-path-"))
    lua = work_dir / "done.lua"
    lua.write_text(WRK_LUA)
    report: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "hub_code": {"root": str(args.hub_root), "git_commit": git(args.hub_root, "rev-parse", "HEAD"),
                     "uncommitted_files": len(git(args.hub_root, "status", "--porcelain").splitlines())},
        "machine": machine(wrk),
        "settings": {"connections": CONNECTIONS, "wrk_threads": THREADS, "duration_s": args.duration,
                     "warmup_s": args.warmup, "repeat": args.repeat, "workers": args.workers, "leads": LEADS,
                     "page": PAGE, "statistic": "median of runs", "hub_server": args.server,
                     "hub_env": {k: v for k, v in hub_env(Backend("sqlite", Path("."), "", ""), args.hub_root, "<run>").items()
                                 if k.startswith("HUB_") and k not in ("HUB_SECRET_KEY", "HUB_DATA_DIR", "HUB_DATABASE_URL")}},
        "backends": {},
    }
    print(f"Hub code: {args.hub_root} at {report['hub_code']['git_commit'][:12]}"
          f" + {report['hub_code']['uncommitted_files']} uncommitted file(s)", flush=True)
    try:
        for name in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
            with backend(name, work_dir, args.run_id) as b:
                result = {"workers": {}} if args.profile_only else measure_backend(b, args, wrk, lua)
                result["database"] = b.hub_url.split("@")[-1] if b.redis_url else "sqlite (file)"
                result["redis"] = b.redis_url
                result["targets"] = targets(result)
                if args.profile_requests:
                    print(f"-- {name}: profiling the Hub in process", flush=True)
                    result["profile"] = profile_backend(b, args)
                report["backends"][name] = result
            print_backend(name, result)
            if "profile" in result:
                print_profile(name, result["profile"])
    finally:
        for process in list(reversed(_PROCESSES)):
            stop(process, grace=10)
        report["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        if report["backends"]:
            write_results(args.output, report)
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

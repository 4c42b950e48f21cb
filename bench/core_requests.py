"""Requests/s and latency of the core's request path, served by a real `hub serve`.

Compares, in one run: a bare Quart route served by hypercorn with the same worker count
(bench/bare_app.py, the reference), the Hub's public route with no database access
(/healthz), an authenticated, rate-limited, tenant-scoped list (GET /api/v1/tenant/members)
with a JWT and with an API key (hash lookup + usage recording), and a tenant read.
Rate limiting stays on with a rule no client reaches, so its cost is measured.
Prints a table with each route's ratio to the bare route, writes bench/results/core_requests.json.

    .venv/bin/python bench/core_requests.py [--requests 2000] [--concurrency 64] [--workers 1]
    HUB_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/core_requests.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live_server import free_port, live_hub  # noqa: E402


async def measure(client: httpx.AsyncClient, path: str, headers: dict, total: int, concurrency: int) -> dict:
    latencies: list[float] = []
    errors = 0
    queue = iter(range(total))

    async def worker() -> None:
        nonlocal errors
        for _ in queue:
            started = time.perf_counter()
            try:
                response = await client.get(path, headers=headers)
            except httpx.TransportError:  # a reset connection counts as an error, not a crash
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": total,
        "errors": errors,
        "requests_per_second": round(total / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


async def run(args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    # The limiter runs on every request, with rules one client on one address never reaches.
    huge = {"requests_per_minute": 10_000_000, "burst_size": 10_000_000}
    rules = {pattern: {**huge, "scope": "user"} for pattern in ("/api/*", "/api/auth/*", "/api/v1/auth/*", "*")}
    env = {"HUB_RATE_LIMITS__RULES": json.dumps(rules)}
    if os.environ.get("HUB_DATABASE_URL"):
        env["HUB_DATABASE_URL"] = os.environ["HUB_DATABASE_URL"]
    bare_port = free_port()
    bare = subprocess.Popen(
        [sys.executable, "-m", "hypercorn", "bare_app:app", "--bind", f"127.0.0.1:{bare_port}",
         "--workers", str(args.workers)],
        cwd=ROOT / "bench", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        with live_hub(data_dir, workers=args.workers, env=env) as hub:
            limits = httpx.Limits(max_connections=args.concurrency)
            async with httpx.AsyncClient(base_url=hub.url, limits=limits, timeout=30) as client:
                email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
                await client.post("/api/auth/register", json={"email": email, "password": "benchmark-pass",
                                                              "first_name": "B", "last_name": "M"})
                tokens = (await client.post("/api/auth/login", json={"email": email, "password": "benchmark-pass"})).json()
                jwt_headers = {"Authorization": f"Bearer {tokens['access_token']}"}
                key = (await client.post("/api/v1/keys", headers=jwt_headers, json={"name": "bench", "scopes": ["read"]})).json()
                key_headers = {"X-API-Key": key["key"]}
                started = time.perf_counter()
                for _ in range(5):
                    await client.post("/api/auth/login", json={"email": email, "password": "benchmark-pass"})
                login_ms = (time.perf_counter() - started) / 5 * 1000
                results = {}
                bare_base = f"http://127.0.0.1:{bare_port}"
                async with httpx.AsyncClient(base_url=bare_base, limits=limits, timeout=30) as bare_client:
                    for _ in range(200):
                        try:
                            if (await bare_client.get("/items")).status_code == 200:
                                break
                        except httpx.TransportError:
                            await asyncio.sleep(0.1)
                    await measure(bare_client, "/items", {}, min(200, args.requests), args.concurrency)
                    results["bare Quart GET /items"] = await measure(
                        bare_client, "/items", {}, args.requests, args.concurrency)
                for name, path, headers in [
                    ("Hub public /healthz", "/healthz", {}),
                    ("JWT GET /api/v1/tenant/members", "/api/v1/tenant/members", jwt_headers),
                    ("API key GET /api/v1/tenant/members", "/api/v1/tenant/members", key_headers),
                    ("JWT GET /api/v1/tenant", "/api/v1/tenant", jwt_headers),
                ]:
                    await measure(client, path, headers, min(200, args.requests), args.concurrency)  # warm-up
                    results[name] = await measure(client, path, headers, args.requests, args.concurrency)
    finally:
        bare.terminate()
        bare.wait(timeout=20)
    return {
        "database": os.environ.get("HUB_DATABASE_URL", "sqlite (embedded)").split("@")[-1],
        "workers": args.workers,
        "concurrency": args.concurrency,
        "login_ms_sequential": round(login_ms, 1),
        "routes": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    report = asyncio.run(run(args))
    print(f"database={report['database']} workers={report['workers']} concurrency={report['concurrency']}")
    print(f"login (argon2 verify + token issue), sequential: {report['login_ms_sequential']} ms")
    print(f"{'route':<36} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    base = report["routes"]["bare Quart GET /items"]["requests_per_second"]
    for name, row in report["routes"].items():
        print(f"{name:<36} {row['requests_per_second']:>8} {row['p50_ms']:>8} {row['p99_ms']:>8} {row['errors']:>6}"
              f"   ({row['requests_per_second'] / base:.2f}x of bare Quart)")
    database = "postgres" if os.environ.get("HUB_DATABASE_URL", "").startswith("postgres") else "sqlite"
    out = ROOT / "bench" / "results" / f"core_requests_{database}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

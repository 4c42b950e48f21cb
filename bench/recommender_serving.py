"""Recommender over HTTP on a real `hub serve`: ingest throughput, training time, and the
latency of POST /api/v1/recommendations with and without the response cache.

For each database: start `hub serve` on an empty database, register an organization,
upload a synthetic catalog (default 100,000 items in 50 categories) and interactions
(users who favour two categories, items drawn with a Zipf skew) through the public batch
endpoints in requests of 10,000 records, train a matrix-factorization model through the
API and wait for the job, then send requests one at a time and report p50/p95/p99:

  reference      GET /api/v1/recommender/settings (authentication + one indexed query):
                 what any authenticated request costs on this machine, in the same run
  miss           a different known user each time (no cached answer)
  miss+filter    the same, restricted to 3 of the 50 categories (post-filtered ANN search)
  unknown user   users the model never saw (popular items)
  hit            the same request again (answered from the cache)
  after upload   the first request after a 1-item upload (it adds the item to the served model)

`server_ms` is the latency the endpoint reports itself (`metadata.latency_ms`, inside the
handler), `http_ms` the client's round trip. Prints a table and writes
bench/results/recommender_serving.json.

    .venv/bin/python bench/recommender_serving.py                       # SQLite, 100k items
    .venv/bin/python bench/recommender_serving.py --items 20000 --interactions 60000 --requests 100
    .venv/bin/python bench/recommender_serving.py --database postgres \\
        --postgres-url postgres://postgres@127.0.0.1:5432/test_recommender_bench --redis-url redis://127.0.0.1:6379/12

PostgreSQL: the database in --postgres-url is created if missing and its `public` schema is
dropped and recreated first (use a database of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from reporting import write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live_server import live_hub  # noqa: E402

PASSWORD = "correct horse battery"
BATCH = 10_000
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/test_recommender_bench"


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "mean": round(statistics.fmean(ordered), 3),
            "n": len(ordered)}


def synthetic(items: int, interactions: int, users: int, categories: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    category_of = rng.integers(0, categories, items)
    catalog = [
        {"item_id": f"item-{n}", "title": f"Product {n} of line {n % 997}",
         "description": f"A {['red', 'blue', 'green', 'black'][n % 4]} thing for category {category_of[n]}",
         "category": f"cat-{category_of[n]}", "tags": [f"tag-{n % 31}", f"tag-{n % 17 + 31}"]}
        for n in range(items)
    ]
    by_category = [np.flatnonzero(category_of == c) for c in range(categories)]
    favourite = rng.integers(0, categories, (users, 2))
    kinds = np.array(["view", "click", "add_to_cart", "purchase", "like", "dislike"])
    kind_p = np.array([0.55, 0.25, 0.08, 0.06, 0.04, 0.02])
    rows = []
    start = 1_735_689_600  # 2025-01-01
    user_of = rng.integers(0, users, interactions)
    for n, user in enumerate(user_of):
        pool = by_category[favourite[user, rng.integers(0, 2)]] if rng.random() < 0.85 else np.arange(items)
        rank = min(len(pool) - 1, int(rng.zipf(1.3)) - 1)
        item = pool[rank]
        rows.append({"user_id": f"user-{user}", "item_id": f"item-{item}",
                     "interaction_type": str(kinds[rng.choice(len(kinds), p=kind_p)]),
                     "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + n * 60))})
    return catalog, rows


async def account(http: httpx.AsyncClient) -> dict:
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    registered = await http.post("/api/auth/register", json={
        "email": email, "password": PASSWORD, "first_name": "B", "last_name": "R", "organization_name": "Bench"})
    assert registered.status_code == 201, registered.text
    login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def upload(http, headers, path: str, key: str, records: list) -> dict:
    seconds = []
    for start in range(0, len(records), BATCH):
        began = time.perf_counter()
        response = await http.post(path, json={key: records[start:start + BATCH]}, headers=headers)
        seconds.append(time.perf_counter() - began)
        assert response.status_code == 200 and response.json()["rejected"] == 0, response.text[:500]
    return {"records": len(records), "requests": len(seconds), "seconds_per_10k_request": percentiles(seconds),
            "records_per_second": round(len(records) / sum(seconds), 1)}


async def timed(http, method: str, path: str, headers: dict, body: dict | None = None) -> tuple[float, dict]:
    began = time.perf_counter()
    response = await http.request(method, path, json=body, headers=headers)
    elapsed = (time.perf_counter() - began) * 1000
    assert response.status_code == 200, response.text[:500]
    return elapsed, response.json()


async def serve(http, headers, label: str, bodies: list[dict]) -> dict:
    http_ms, server_ms, hits, counts = [], [], 0, []
    for body in bodies:
        elapsed, answer = await timed(http, "POST", "/api/v1/recommendations", headers, body)
        http_ms.append(elapsed)
        server_ms.append(answer["metadata"]["latency_ms"])
        hits += answer["metadata"]["cache_hit"]
        counts.append(len(answer["recommendations"]))
    return {"case": label, "http_ms": percentiles(http_ms), "server_ms": percentiles(server_ms),
            "cache_hits": hits, "mean_results": round(statistics.fmean(counts), 2)}


async def run(args, database: str) -> dict:
    env = {"HUB_RATE_LIMITS__ENABLED": "false", "HUB_PLUGINS__RECOMMENDER__RATE_LIMIT_PER_MINUTE": "0",
           "HUB_HTTP__MAX_BODY_BYTES": str(64 * 1024 * 1024), "HUB_LOG_LEVEL": "WARNING",
           "HUB_OBSERVABILITY__ACCESS_LOG": "false"}
    if database == "postgres":
        reset_postgres(args.postgres_url)
        env["HUB_DATABASE_URL"] = args.postgres_url
    if args.redis_url:
        env["HUB_REDIS_URL"] = args.redis_url
        env["HUB_JOBS__RUN_IN_SERVER"] = "true"
    catalog, rows = synthetic(args.items, args.interactions, args.users, args.categories)
    result: dict = {"database": database, "redis": bool(args.redis_url), "items": args.items,
                    "interactions": args.interactions, "users": args.users, "embedding_dim": args.embedding_dim}
    with tempfile.TemporaryDirectory() as directory, live_hub(Path(directory), env=env) as hub:
        async with httpx.AsyncClient(base_url=hub.url, timeout=600) as http:
            headers = await account(http)
            result["ingest_items"] = await upload(http, headers, "/api/v1/items", "items", catalog)
            result["ingest_interactions"] = await upload(http, headers, "/api/v1/recommender/interactions",
                                                         "interactions", rows)
            print(f"[{database}] ingest: {result['ingest_items']['records_per_second']} items/s, "
                  f"{result['ingest_interactions']['records_per_second']} interactions/s", flush=True)
            if args.ingest_only:
                result["serving"] = []
                return result
            began = time.perf_counter()
            response = await http.post("/api/v1/recommender/training", headers=headers, json={"training_config": {
                "model_type": "matrix_factorization",
                "hyperparameters": {"epochs": args.epochs, "ranker_rounds": args.ranker_rounds,
                                    "embedding_dim": args.embedding_dim}}})
            assert response.status_code == 202, response.text
            job_id = response.json()["job_id"]
            while True:
                job = (await http.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
                if job["status"] not in ("pending", "running"):
                    break
                await asyncio.sleep(0.5)
            assert job["status"] == "completed", job
            result["training_seconds"] = round(time.perf_counter() - began, 2)
            result["training_metrics"] = {k: v for k, v in job["output_data"]["metrics"].items()
                                          if k != "ranker_feature_gain"}
            print(f"[{database}] training: {result['training_seconds']} s", flush=True)

            n = args.requests
            known = sorted({r["user_id"] for r in rows})
            await serve(http, headers, "warm-up", [{"user_id": known[i], "count": 10} for i in range(20)])
            reference = []
            for _ in range(n):
                elapsed, _ = await timed(http, "GET", "/api/v1/recommender/settings", headers)
                reference.append(elapsed)
            cases = [{"case": "reference GET settings", "http_ms": percentiles(reference)}]
            cases.append(await serve(http, headers, "miss", [
                {"user_id": known[(i * 7919 + 20) % len(known)], "count": 10} for i in range(n)]))
            cases.append(await serve(http, headers, "miss+filter (3 of 50 categories)", [
                {"user_id": known[(i * 104729 + 21) % len(known)], "count": 10,
                 "filters": {"categories": [f"cat-{i % 50}", f"cat-{(i + 1) % 50}", f"cat-{(i + 2) % 50}"]}}
                for i in range(n)]))
            cases.append(await serve(http, headers, "unknown user", [
                {"user_id": f"stranger-{i}", "count": 10} for i in range(n)]))
            # An item upload makes the next request add the new items to the served model first.
            after_upload = []
            for i in range(args.uploads):
                await upload(http, headers, "/api/v1/items", "items", [{
                    "item_id": f"new-item-{i}", "title": f"New product {i}", "category": "cat-1",
                    "tags": ["tag-1"]}])
                elapsed, _ = await timed(http, "POST", "/api/v1/recommendations", headers,
                                         {"user_id": known[(i * 31 + 5) % len(known)], "count": 10})
                after_upload.append(elapsed)
            cases.append({"case": "first request after a 1-item upload", "http_ms": percentiles(after_upload)})
            repeated = {"user_id": known[1], "count": 10}
            await serve(http, headers, "prime", [repeated])
            cases.append(await serve(http, headers, "hit", [repeated] * n))
            result["serving"] = cases
    return result


def reset_postgres(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    base = url.rsplit("/", 1)[0]
    subprocess.run(["psql", f"{base}/postgres", "-c", f"create database {name}"], capture_output=True)
    subprocess.run(["psql", url, "-c", "drop schema public cascade; create schema public;"], check=True,
                   capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=300_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--categories", type=int, default=50)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--ranker-rounds", type=int, default=100)
    parser.add_argument("--embedding-dim", type=int, default=128, help="item vector size (the index stores one more)")
    parser.add_argument("--uploads", type=int, default=20, help="1-item uploads, each followed by a request")
    parser.add_argument("--ingest-only", action="store_true", help="measure ingest only (no training, no serving)")
    args = parser.parse_args()
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    results = {"machine_cpus": __import__("os").cpu_count(), "runs": []}
    for database in databases:
        run_result = asyncio.run(run(args, database))
        results["runs"].append(run_result)
        print(f"\n{database}: {args.items} items, {args.interactions} interactions")
        print(f"{'case':40} {'http p50':>9} {'p95':>8} {'p99':>8} {'server p50':>11} {'p99':>8}")
        for case in run_result["serving"]:
            http_ms, server = case["http_ms"], case.get("server_ms", {})
            print(f"{case['case']:40} {http_ms['p50']:>9} {http_ms['p95']:>8} {http_ms['p99']:>8} "
                  f"{server.get('p50', ''):>11} {server.get('p99', ''):>8}")
    write_results("recommender_serving.json", results)


if __name__ == "__main__":
    main()

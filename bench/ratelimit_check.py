"""Microseconds per rate-limit check: the memory backend vs the Redis backend.

Measures, in one run, the Hub's own check (`RateLimiter.hit`: rule lookup + GCRA via
throttled-py) on both backends, next to references measured the same way: for memory, the
bare throttled-py limiter; for Redis, one PING round trip on the same kind of client (so
the Redis ratio says how much the Lua script costs over the network floor). Sequential
checks give the latency of one check; 64 concurrent tasks give the throughput of one
process. Prints a table and writes bench/results/ratelimit_check.json.

    .venv/bin/python bench/ratelimit_check.py [--checks 20000] [--redis redis://127.0.0.1:6379/1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from reporting import write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

for name in list(os.environ):  # the machine's HUB_* settings must not change the measurement
    if name.startswith("HUB_"):
        del os.environ[name]


def build_limiter(redis_url: str | None, tmp: Path):
    from core.app import create_app
    from core.ops.ratelimit import current_limiter
    from core.kernel.settings import load_settings

    settings = load_settings(
        env="test", data_dir=tmp, secret_key="bench-secret-that-is-long-enough-for-hs256",
        rate_limits={
            "backend": "auto" if redis_url else "memory",
            "redis_url": redis_url,
            "key_prefix": f"hubbench-{uuid.uuid4().hex[:8]}",
            # a rate nobody reaches in the run: every check is a real, allowed GCRA update
            "rules": {"/api/bench/*": {"requests_per_minute": 10_000_000, "burst_size": 10_000_000}},
        },
    )
    app = create_app(settings, plugins=[])
    return current_limiter(app.extensions["hub"])


async def timed(call, checks: int, concurrency: int) -> dict:
    """Run `call(i)` `checks` times over `concurrency` tasks; µs per check and checks/s."""
    samples: list[float] = []
    counter = iter(range(checks))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await call(i)
            samples.append(time.perf_counter() - started)

    for i in range(min(200, checks)):  # warm up: connections, scripts loaded, caches
        await call(i)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    samples.sort()
    return {
        "checks": checks,
        "concurrency": concurrency,
        "us_per_check": round(elapsed / checks * 1e6, 2),  # wall time per check (throughput view)
        "checks_per_second": round(checks / elapsed),
        "latency_p50_us": round(statistics.median(samples) * 1e6, 1),
        "latency_p99_us": round(samples[int(len(samples) * 0.99) - 1] * 1e6, 1),
    }


async def bench_backend(limiter, checks: int, identities: int) -> dict:
    rule = limiter.rules.match("/api/bench/items")
    raw = limiter.limiter(rule)

    async def hub_check(i: int) -> None:
        decision = await limiter.hit(rule, f"user:{i % identities}")
        assert decision is not None and decision.allowed, "the bench must not hit its limit"

    async def raw_check(i: int) -> None:
        await raw.limit(f"raw:{i % identities}|{rule.pattern}")

    result = {
        "hub_check_sequential": await timed(hub_check, checks, 1),
        "hub_check_concurrent": await timed(hub_check, checks, 64),
        "throttled_limit_sequential": await timed(raw_check, checks, 1),
    }
    if limiter.backend == "redis":
        client = limiter._redis

        async def ping(_: int) -> None:
            await client.ping()

        result["redis_ping_sequential"] = await timed(ping, checks, 1)
        result["redis_ping_concurrent"] = await timed(ping, checks, 64)
    return result


def rule_match_us(limiter, rounds: int = 200_000) -> float:
    paths = ["/api/v1/tenant", "/api/auth/login", "/api/workflows/7/execute", "/health", "/api/leads/42"]
    started = time.perf_counter()
    for i in range(rounds):
        limiter.rules.match(paths[i % len(paths)])
    return round((time.perf_counter() - started) / rounds * 1e6, 3)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--identities", type=int, default=1_000, help="distinct buckets cycled through")
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1"))
    args = parser.parse_args()

    import tempfile

    results: dict = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "checks": args.checks,
        "identities": args.identities,
    }
    with tempfile.TemporaryDirectory() as tmp:
        memory = build_limiter(None, Path(tmp))
        results["memory"] = await bench_backend(memory, args.checks, args.identities)
        results["rule_match_us"] = rule_match_us(memory)
        try:
            redis_limiter = build_limiter(args.redis, Path(tmp))
            await redis_limiter._redis.ping()
        except Exception as error:  # no Redis: say so, keep the memory numbers
            results["redis"] = {"error": f"{type(error).__name__}: {error}", "url": args.redis}
        else:
            results["redis"] = await bench_backend(redis_limiter, args.checks, args.identities)
            results["redis"]["url"] = args.redis
            await redis_limiter.aclose()

    memory_us = results["memory"]["hub_check_sequential"]["latency_p50_us"]
    raw_us = results["memory"]["throttled_limit_sequential"]["latency_p50_us"]
    results["ratios"] = {"memory_hub_over_throttled_p50": round(memory_us / raw_us, 2)}
    print(f"{'backend / measurement':<42} {'µs/check':>9} {'p50 µs':>8} {'p99 µs':>8} {'checks/s':>10}")
    for backend in ("memory", "redis"):
        if "error" in results[backend]:
            print(f"{backend:<42} unavailable: {results[backend]['error']}")
            continue
        for name, row in results[backend].items():
            if isinstance(row, dict):
                print(f"{backend + ' ' + name:<42} {row['us_per_check']:>9} {row['latency_p50_us']:>8} "
                      f"{row['latency_p99_us']:>8} {row['checks_per_second']:>10}")
    if "error" not in results["redis"]:
        redis_rows = results["redis"]
        results["ratios"]["redis_check_over_ping_p50"] = round(
            redis_rows["hub_check_sequential"]["latency_p50_us"] / redis_rows["redis_ping_sequential"]["latency_p50_us"], 2
        )
        results["ratios"]["redis_over_memory_p50"] = round(
            redis_rows["hub_check_sequential"]["latency_p50_us"] / memory_us, 1
        )
    print(f"rule lookup (11 default rules): {results['rule_match_us']} µs")
    print("ratios:", json.dumps(results["ratios"]))
    write_results("ratelimit_check.json", results)


if __name__ == "__main__":
    asyncio.run(main())

"""Analytics metric queries over 1,000,000 CRM leads of one organization (plus 100,000 of another,
which must not count), on SQLite and on PostgreSQL.

For each database: build a Hub (it migrates), register two organizations through the API, write
the leads with the database driver (created_at over two years, statuses, sources and values
drawn at random), ANALYZE, then time each metric query three ways, the median of `--repeat`
runs each:

- `hub`: the analytics service (`service.query_metric`: checks, SQL built from the registered
  metric, the read-only reader connection), as the hub function and the seed route use it;
- `http`: `GET /analytics/api/v1/metrics?...` through the app (in process, no socket);
- `reference`: the same aggregate written by hand as SQL and run through the driver directly
  (sqlite3 / asyncpg), with the same result checked equal.

Prints a table and writes bench/results/analytics_queries.json. The issue's target: a metric
over the 1M rows answers in under 1 s on both databases.

    .venv/bin/python bench/analytics_queries.py                         # both databases, 1M rows
    .venv/bin/python bench/analytics_queries.py --database sqlite --rows 200000
    .venv/bin/python bench/analytics_queries.py --database postgres \\
        --postgres-url postgres://postgres@127.0.0.1:5432/analytics_bench
    # one case, without an index of the migrations (what the index buys), results in a file of their own
    .venv/bin/python bench/analytics_queries.py --query "pipeline value by source" \\
        --drop-index crm_lead_org_source_status_value --out analytics_pipeline_before.json

PostgreSQL: the database in --postgres-url is created if missing and its `public` schema is
dropped and recreated at the start (use a database of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from reporting import machine, write_results  # noqa: E402

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/analytics_bench"
STATUSES = ["new", "contacted", "qualified", "converted", "lost"]
STATUS_WEIGHTS = [40, 25, 15, 10, 10]
SOURCES = ["website", "referral", "social", "advertising", "event"]
START = datetime(2023, 1, 1, tzinfo=timezone.utc)
SPAN_SECONDS = 2 * 365 * 86400
COLUMNS = ("id", "created_at", "updated_at", "org_id", "name", "status", "source", "value")

# (label, query_metric arguments, the reference SQL per dialect: the same aggregate by hand)
SCENARIOS = [
    ("leads by month", dict(metric="crm.leads", granularity="month"), {
        "sqlite": "SELECT substr(created_at, 1, 7) || '-01', COUNT(*) FROM crm_lead WHERE org_id = ? GROUP BY 1 ORDER BY 1",
        "postgres": "SELECT date_trunc('month', created_at AT TIME ZONE 'UTC'), COUNT(*) FROM crm_lead "
                    "WHERE org_id = $1 GROUP BY 1 ORDER BY 1"}),
    ("leads by month and status", dict(metric="crm.leads", granularity="month", group_by=["status"]), {
        "sqlite": "SELECT substr(created_at, 1, 7) || '-01', status, COUNT(*) FROM crm_lead WHERE org_id = ? "
                  "GROUP BY 1, 2 ORDER BY 1, 2",
        "postgres": "SELECT date_trunc('month', created_at AT TIME ZONE 'UTC'), status, COUNT(*) FROM crm_lead "
                    "WHERE org_id = $1 GROUP BY 1, 2 ORDER BY 1, 2"}),
    ("conversion rate by month", dict(metric="crm.conversion_rate", granularity="month"), {
        "sqlite": "SELECT substr(created_at, 1, 7) || '-01', COUNT(CASE WHEN status = 'converted' THEN 1 END), "
                  "COUNT(*) FROM crm_lead WHERE org_id = ? GROUP BY 1 ORDER BY 1",
        "postgres": "SELECT date_trunc('month', created_at AT TIME ZONE 'UTC'), "
                    "COUNT(CASE WHEN status = 'converted' THEN 1 END), COUNT(*) FROM crm_lead WHERE org_id = $1 "
                    "GROUP BY 1 ORDER BY 1"}),
    ("pipeline value by source", dict(metric="crm.pipeline_value", group_by=["source"]), {
        "sqlite": "SELECT source, SUM(value) FROM crm_lead WHERE org_id = ? AND status NOT IN ('converted', 'lost') "
                  "GROUP BY 1 ORDER BY 1",
        "postgres": "SELECT source, SUM(value) FROM crm_lead WHERE org_id = $1 AND status NOT IN ('converted', 'lost') "
                    "GROUP BY 1 ORDER BY 1"}),
    ("leads by week, one quarter", dict(metric="crm.leads", granularity="week", start="2024-01-01", end="2024-03-31"), {
        "sqlite": "SELECT date(substr(created_at, 1, 10), '-6 days', 'weekday 1'), COUNT(*) FROM crm_lead "
                  "WHERE org_id = ? AND created_at >= '2024-01-01 00:00:00+00:00' "
                  "AND created_at < '2024-04-01 00:00:00+00:00' GROUP BY 1 ORDER BY 1",
        "postgres": "SELECT date_trunc('week', created_at AT TIME ZONE 'UTC'), COUNT(*) FROM crm_lead "
                    "WHERE org_id = $1 AND created_at >= '2024-01-01T00:00:00Z' AND created_at < '2024-04-01T00:00:00Z' "
                    "GROUP BY 1 ORDER BY 1"}),
]


def lead_rows(org_id: str, count: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    statuses = rng.choices(STATUSES, STATUS_WEIGHTS, k=count)
    rows = []
    for index in range(count):
        created = START + timedelta(seconds=rng.randrange(SPAN_SECONDS))
        rows.append((uuid.UUID(int=rng.getrandbits(128), version=4), created, created, uuid.UUID(org_id),
                     f"Lead {index}", statuses[index], SOURCES[index % len(SOURCES)], float(rng.randrange(0, 50_000))))
    return rows


def insert_sqlite(path: str, rows: list[tuple]) -> None:
    connection = sqlite3.connect(path)
    with connection:
        connection.executemany(
            f"INSERT INTO crm_lead ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            [(str(i), c.isoformat(" "), u.isoformat(" "), str(o), n, s, src, v) for i, c, u, o, n, s, src, v in rows])
    connection.execute("ANALYZE")
    connection.close()


async def insert_postgres(url: str, rows: list[tuple]) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.copy_records_to_table("crm_lead", records=rows, columns=list(COLUMNS))
        await connection.execute("ANALYZE crm_lead")
    finally:
        await connection.close()


def prepare_postgres(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], capture_output=True)

    async def reset() -> None:
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await connection.close()

    asyncio.run(reset())


def reference_rows(dialect: str, rows: list[tuple], metric: str) -> list[tuple]:
    """The hand-written query's rows as (key..., value), values as the Hub reports them."""
    out = []
    for row in rows:
        *key, = row
        if metric == "crm.conversion_rate":
            key, value = key[:-2], (key[-2] / key[-1] if key[-1] else None)
        else:
            key, value = key[:-1], key[-1]
        key = [(k.strftime("%Y-%m-%d") if hasattr(k, "strftime") else str(k)[:10]) if i == 0 and metric != "crm.pipeline_value"
               else k for i, k in enumerate(key)]
        out.append((*key, float(value) if value is not None else None))
    return out


def hub_rows(result: dict) -> list[tuple]:
    out = []
    for row in result["rows"]:
        key = ([row["period"][:10]] if row["period"] else []) + [row[name] for name in result["groupBy"]]
        out.append((*key, float(row["value"]) if row["value"] is not None else None))
    return out


async def measure(database: str, url: str, rows: int, noise: int, repeat: int, data_dir: Path,
                  queries: list[str] | None = None, drop_indexes: list[str] | None = None) -> dict:
    from core.app import create_app
    from quart.testing import TestApp

    from core.testing import PASSWORD, STARTUP_SECONDS, test_settings
    from plugins.analytics import service

    settings = test_settings(data_dir, database_url=url, redis_url=None, rate_limits={"enabled": False})
    app = create_app(settings)
    hub = app.extensions["hub"]
    async with TestApp(app, startup_timeout=STARTUP_SECONDS, shutdown_timeout=STARTUP_SECONDS):
        client = app.test_client()
        orgs, tokens = [], []
        for name in ("Bench", "Noise"):
            email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
            registered = await client.post("/api/auth/register", json={
                "email": email, "password": PASSWORD, "first_name": "B", "last_name": "N", "organization_name": name})
            assert registered.status_code == 201, await registered.get_data()
            login = await (await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})).get_json()
            orgs.append(login["user"].get("organization_id") or login["user"].get("org_id"))
            tokens.append(login["access_token"])
        org_id = orgs[0]
        if drop_indexes:  # after the migrations, before the rows: as if the index never existed
            from tortoise import connections

            async with app.app_context():
                for index in drop_indexes:
                    await connections.get("default").execute_script(f'DROP INDEX IF EXISTS "{index}"')
        data = lead_rows(org_id, rows, 1) + lead_rows(orgs[1], noise, 2)
        started = time.perf_counter()
        if database == "sqlite":
            insert_sqlite(url.removeprefix("sqlite://"), data)
        else:
            await insert_postgres(url, data)
        insert_seconds = time.perf_counter() - started
        print(f"{database}: {rows:,} + {noise:,} leads written in {insert_seconds:.1f} s")

        if database == "sqlite":
            reference_db = sqlite3.connect(url.removeprefix("sqlite://"))

            async def reference(sql: str) -> list[tuple]:
                return reference_db.execute(sql, (str(org_id),)).fetchall()
        else:
            import asyncpg

            reference_db = await asyncpg.connect(url)

            async def reference(sql: str) -> list[tuple]:
                return [tuple(record) for record in await reference_db.fetch(sql, uuid.UUID(org_id))]

        results = []
        try:
            for label, arguments, sqls in [scenario for scenario in SCENARIOS if not queries or scenario[0] in queries]:
                timings = {"hub": [], "http": [], "reference": []}
                answer, by_hand = None, None
                params = {"metric": arguments["metric"]}
                for key, name in (("granularity", "granularity"), ("start", "from"), ("end", "to")):
                    if arguments.get(key):
                        params[name] = arguments[key]
                if arguments.get("group_by"):
                    params["groupBy"] = ",".join(arguments["group_by"])
                for _ in range(repeat):
                    begin = time.perf_counter()
                    async with app.app_context():
                        answer = await service.query_metric(
                            hub, org_id, arguments["metric"],
                            **{k: v for k, v in arguments.items() if k != "metric"})
                    timings["hub"].append(time.perf_counter() - begin)
                    begin = time.perf_counter()
                    response = await client.get("/analytics/api/v1/metrics?" + urlencode(params),
                                                headers={"Authorization": f"Bearer {tokens[0]}"})
                    assert response.status_code == 200, await response.get_data()
                    timings["http"].append(time.perf_counter() - begin)
                    begin = time.perf_counter()
                    by_hand = await reference(sqls[database])
                    timings["reference"].append(time.perf_counter() - begin)
                mine = [row for row in hub_rows(answer) if not (arguments.get("granularity") and arguments.get("start")
                                                               and row[-1] == 0.0)]
                theirs = reference_rows(database, by_hand, arguments["metric"])
                same = len(mine) == len(theirs) and all(
                    a[:-1] == b[:-1] and (a[-1] == b[-1] or (a[-1] is not None and b[-1] is not None
                                                             and abs(a[-1] - b[-1]) < 1e-6 * max(1, abs(b[-1]))))
                    for a, b in zip(mine, theirs))
                medians = {name: statistics.median(values) for name, values in timings.items()}
                results.append({"query": label, "arguments": arguments, "rows_returned": len(answer["rows"]),
                                "same_result_as_reference": same,
                                "median_ms": {name: round(value * 1000, 1) for name, value in medians.items()},
                                "hub_vs_reference": round(medians["hub"] / medians["reference"], 2),
                                "under_1s": medians["http"] < 1.0})
                print(f"  {label:<30} hub {medians['hub'] * 1000:8.1f} ms  http {medians['http'] * 1000:8.1f} ms  "
                      f"reference {medians['reference'] * 1000:8.1f} ms  same={same}")
        finally:
            if database == "sqlite":
                reference_db.close()
            else:
                await reference_db.close()
    return {"database": database, "rows": rows, "other_organization_rows": noise,
            "insert_seconds": round(insert_seconds, 1), "dropped_indexes": drop_indexes or [], "queries": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--noise", type=int, default=100_000, help="leads of a second organization")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    parser.add_argument("--out", default="analytics_queries.json")
    parser.add_argument("--query", action="append", choices=[label for label, _, _ in SCENARIOS],
                        help="only this case (repeatable; default: all)")
    parser.add_argument("--drop-index", action="append", default=[], metavar="NAME",
                        help="drop this index of the migrations before writing the rows (repeatable)")
    args = parser.parse_args()
    load = os.getloadavg()
    report = {"machine": machine(load), "runs": []}
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    for database in databases:
        with tempfile.TemporaryDirectory(prefix="analytics-bench-") as folder:
            if database == "sqlite":
                url = f"sqlite://{Path(folder) / 'hub.sqlite3'}"
            else:
                url = args.postgres_url
                prepare_postgres(url)
            report["runs"].append(asyncio.run(measure(database, url, args.rows, args.noise, args.repeat, Path(folder),
                                                      args.query, args.drop_index)))
    report["target"] = "a metric over 1M CRM rows in under 1 s (http median)"
    report["all_under_1s"] = all(q["under_1s"] for run in report["runs"] for q in run["queries"])
    report["all_same_as_reference"] = all(q["same_result_as_reference"] for run in report["runs"] for q in run["queries"])
    write_results(args.out, report)


if __name__ == "__main__":
    main()

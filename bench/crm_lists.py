"""CRM list and search latency with 100,000 leads and 100,000 contacts in one organization,
served by a real `hub serve`, on SQLite and on PostgreSQL.

For each database: start `hub serve` on an empty database (it migrates), register an
organization, bulk-insert the rows for it through tortoise (`bulk_create` in batches, the
ORM's own encoding of UUIDs and datetimes), then measure with httpx at a fixed
concurrency: GET /api/leads (default page, a status filter, a deep offset) and
GET /api/contacts?search= (a selective and an unselective term; on SQLite through the FTS5
trigram index of migrations/0004_contact_fts.py), and the same lists by cursor (core
CursorQuery: `?cursor=` pages, which do not count): the first page, a page 50,000 rows deep
reached through successive cursors (against `?offset=50000`), a status filter, a search;
and the cost of the count: offset pages with `?total=false`, a deep cursor page with
`?total=true`. Against a tree without cursor pages or `?total=` (e.g. the commit before them:
`git worktree add /tmp/crm-before HEAD`, copy this file into it and run it there) the
scenarios it cannot serve are skipped and the report says so (`code`).
Prints a table with requests/s, p50 and p99 (and the p50 of 20 requests sent one at a time:
the server's own time, without queueing behind the other 15), the time to walk the whole
lead list 100 rows at a time by cursor and by offset (one request at a time), plus the
query plans of the measured queries (--explain), and writes bench/results/crm_lists.json.

    .venv/bin/python bench/crm_lists.py                       # both databases
    .venv/bin/python bench/crm_lists.py --database sqlite --rows 20000 --requests 200
    .venv/bin/python bench/crm_lists.py --database postgres \\
        --postgres-url postgres://postgres@127.0.0.1:5432/test_crm_bench
    .venv/bin/python bench/crm_lists.py --out bench/results/crm_lists-after.json

PostgreSQL: the database named in --postgres-url is created if missing and its `public`
schema is dropped and recreated at the start of the run (use a database of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live_server import live_hub  # noqa: E402

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/test_crm_bench"
STATUSES = [("new", 40), ("contacted", 25), ("qualified", 15), ("converted", 10), ("lost", 10)]
SOURCES = ["website", "referral", "social", "advertising", "event"]
FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
         "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin"]
COMPANIES = [f"{a} {b}" for a in ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne",
                                  "Wonka", "Tyrell") for b in ("Corp", "Labs", "Inc", "Systems", "Group")]
DOMAINS = ["gmail.com", "hotmail.com", "outlook.com", "company.io", "startup.dev", "corp.net"]
RARE_COMPANY = "Quokka Analytics"  # carried by 1 contact in 2,000: the selective search term
SELECTIVE, UNSELECTIVE = "quokka", "mail"  # "mail": gmail.com / hotmail.com, a third of the contacts


def weighted(rng: random.Random, choices) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


# -- seeding ---------------------------------------------------------------------------------------


async def open_orm(env: dict[str, str]) -> None:
    """Tortoise on the benchmark database, configured exactly as the Hub configures it."""
    os.environ.update(env)
    from tortoise import Tortoise

    from core.app import load_hub
    from core.kernel.db import tortoise_config

    await Tortoise.init(config=tortoise_config(load_hub()))


async def seed(org_id: str, rows: int, batch: int = 2000) -> dict:
    from plugins.crm.models import Contact, Lead
    from plugins.crm.service import _search_text

    rng = random.Random(42)
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    for start in range(0, rows, batch):
        leads = []
        for i in range(start, min(start + batch, rows)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            created = now - timedelta(seconds=rng.randrange(365 * 24 * 3600))
            status = weighted(rng, STATUSES)
            leads.append(Lead(
                org_id=org_id, name=f"{first} {last}", email=f"{first}.{last}{i}@{rng.choice(DOMAINS)}".lower(),
                phone=f"+1555{i:07d}", company=rng.choice(COMPANIES), status=status, source=rng.choice(SOURCES),
                value=float(rng.randrange(500, 50_000)), notes=None, created_at=created, updated_at=created,
                converted_at=created + timedelta(days=3) if status == "converted" else None,
            ))
        await Lead.bulk_create(leads)
    leads_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, rows, batch):
        contacts = []
        for i in range(start, min(start + batch, rows)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company = RARE_COMPANY if i % 2000 == 7 else rng.choice(COMPANIES)
            email = f"{first}.{last}{i}@{rng.choice(DOMAINS)}".lower()
            created = now - timedelta(seconds=rng.randrange(365 * 24 * 3600))
            contacts.append(Contact(
                org_id=org_id, name=f"{first} {last}", email=email, company=company, position="Buyer",
                tags=[], created_at=created, updated_at=created,
                search_text=_search_text(f"{first} {last}", email, company),
            ))
        await Contact.bulk_create(contacts)
    contacts_seconds = time.perf_counter() - started
    return {"leads_seconds": round(leads_seconds, 1), "contacts_seconds": round(contacts_seconds, 1)}


async def explain(org_id: str, dialect: str) -> dict[str, str]:
    """The plans of the queries behind each measured request, built as plugins/crm/service.py
    builds them (for a search: the id probe, then either the page by ids or count + page)."""
    from tortoise import connections

    from plugins.crm import service
    from plugins.crm.models import Contact, Lead
    from plugins.crm.service import CONTACT_FIELDS, FEW_MATCHES, LEAD_FIELDS

    try:
        from core.http.pagination import after
    except ImportError:  # a tree without cursor pages
        after = None
    client = connections.get("default")
    fts_table = getattr(service, "FTS_TABLE", None)
    if dialect == "sqlite" and fts_table:
        _, rows = await client.execute_query("SELECT 1 FROM sqlite_master WHERE name = ?", [fts_table])
        fts_table = fts_table if rows else None

    order = ("-created_at", "-id")
    leads = Lead.for_org(org_id)
    middle = await leads.order_by(*order).offset(50_000).limit(1).values("created_at", "id")
    deep = after(order, [middle[0]["created_at"], middle[0]["id"]]) if middle and after else None
    queries: dict[str, object] = {
        "leads default (count)": leads.count(),
        "leads default (page)": leads.order_by(*order).limit(50).values(*LEAD_FIELDS),
        "leads status (count)": leads.filter(status="qualified").count(),
        "leads status (page)": leads.filter(status="qualified").order_by(*order).limit(50).values(*LEAD_FIELDS),
        "leads deep offset (page)": leads.order_by(*order).offset(50_000).limit(50).values(*LEAD_FIELDS),
    }
    if deep is not None:
        queries["leads deep cursor (page)"] = leads.filter(deep).order_by(*order).limit(51).values(*LEAD_FIELDS)
    for label, term in (("selective", SELECTIVE), ("unselective", UNSELECTIVE)):
        search = Contact.for_org(org_id).filter(search_text__contains=term)
        if dialect == "sqlite" and fts_table:  # the trigram index finds the ids (and counts them when many)
            matches = (f"FROM {fts_table} JOIN crm_contact c ON c.rowid = {fts_table}.rowid "
                       f"WHERE {fts_table} MATCH '\"{term}\"' AND c.org_id = '{org_id}'")
            queries[f"contacts {label} (FTS5 trigram id probe)"] = f"SELECT c.id {matches} LIMIT {FEW_MATCHES + 1}"
            ids = await search.limit(FEW_MATCHES + 1).values_list("id", flat=True)
            if len(ids) > FEW_MATCHES:
                queries[f"contacts {label} (FTS5 trigram count)"] = f"SELECT count(*) {matches}"
        else:
            probe = search.limit(FEW_MATCHES + 1).values_list("id", flat=True)
            queries[f"contacts {label} (id probe)"] = probe
            ids = await probe
            if len(ids) > FEW_MATCHES:
                queries[f"contacts {label} (count)"] = search.count()
        if len(ids) <= FEW_MATCHES:
            page = Contact.for_org(org_id).filter(id__in=ids).order_by(*order).limit(50).values(*CONTACT_FIELDS)
            queries[f"contacts {label} (page of {len(ids)} ids)"] = page
        else:
            queries[f"contacts {label} (page)"] = search.order_by(*order).limit(50).values(*CONTACT_FIELDS)
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS OFF) "
    plans = {}
    for name, query in queries.items():
        sql = query if isinstance(query, str) else query.sql(params_inline=True)
        _, rows = await client.execute_query(prefix + sql)
        lines = (" | ".join(str(v) for v in dict(row).values()) for row in rows)
        plans[name] = "\n".join(line if len(line) < 300 else line[:240] + " ...)" for line in lines)
    return plans


async def walk(client: httpx.AsyncClient, headers: dict, by: str, rows: int, limit: int = 100,
               keep_at: int = 50_000) -> tuple[dict, str | None]:
    """Every lead, `limit` at a time, one request after the other: by cursor or by offset.
    Returns the timing, and (by cursor) the cursor of the page `keep_at` rows deep."""
    started, pages, seen, kept = time.perf_counter(), 0, 0, None
    latencies = []
    url = f"/api/leads?limit={limit}&cursor=" if by == "cursor" else f"/api/leads?limit={limit}&offset=0"
    while True:
        began = time.perf_counter()
        response = await client.get(url, headers=headers)
        latencies.append(time.perf_counter() - began)
        assert response.status_code == 200, response.text
        body = response.json()
        pages, seen = pages + 1, seen + len(body["leads"])
        if by == "cursor":
            following = body["pagination"]["nextCursor"]
            if seen == min(keep_at, rows - limit):
                kept = following
            if not following:
                break
            url = f"/api/leads?limit={limit}&cursor={following}"
        else:
            if not body["pagination"]["hasMore"]:
                break
            url = f"/api/leads?limit={limit}&offset={seen}"
    assert seen == rows, (by, seen, rows)
    latencies.sort()
    return {
        "pages": pages, "rows": seen, "seconds": round(time.perf_counter() - started, 2),
        "mean_page_ms": round(1000 * sum(latencies) / len(latencies), 1),
        "last_page_ms": round(1000 * latencies[-1], 1) if by == "cursor" else None,
        "p99_page_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 1),
    }, kept


# -- measuring -------------------------------------------------------------------------------------


async def measure(client: httpx.AsyncClient, path: str, headers: dict, total: int, concurrency: int) -> dict:
    latencies: list[float] = []
    errors = 0
    queue = iter(range(total))
    body_total = None

    async def worker() -> None:
        nonlocal errors, body_total
        for _ in queue:
            started = time.perf_counter()
            response = await client.get(path, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors += 1
            elif body_total is None:
                body_total = response.json().get("total", "-")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    serial = []  # one request at a time: the server's own time per request, without queueing
    for _ in range(20):
        began = time.perf_counter()
        await client.get(path, headers=headers)
        serial.append(time.perf_counter() - began)
    return {
        "requests": total,
        "errors": errors,
        "matching_rows": body_total,
        "requests_per_second": round(total / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 1),
        "serial_p50_ms": round(statistics.median(serial) * 1000, 1),
    }


# (name, path, what the server must support: "" anything, "total" ?total=, "cursor" cursor pages)
SCENARIOS = [
    ("GET /api/leads", "/api/leads", ""),
    ("GET /api/leads?total=false", "/api/leads?total=false", "total"),
    ("GET /api/leads?status=qualified", "/api/leads?status=qualified", ""),
    ("GET /api/leads?offset=50000", "/api/leads?offset=50000", ""),
    ("GET /api/leads?offset=50000&total=false", "/api/leads?offset=50000&total=false", "total"),
    (f"GET /api/contacts?search={SELECTIVE}", f"/api/contacts?search={SELECTIVE}", ""),
    (f"GET /api/contacts?search={UNSELECTIVE}", f"/api/contacts?search={UNSELECTIVE}", ""),
    # keyset pages (no count unless ?total=true); {deep}: the cursor 50,000 rows in, by successive cursors
    ("GET /api/leads?cursor=", "/api/leads?cursor=", "cursor"),
    ("GET /api/leads?cursor=<50,000 deep>", "/api/leads?cursor={deep}", "cursor"),
    ("GET /api/leads?cursor=<50,000 deep>&total=true", "/api/leads?cursor={deep}&total=true", "cursor"),
    ("GET /api/leads?status=qualified&cursor=", "/api/leads?status=qualified&cursor=", "cursor"),
    (f"GET /api/contacts?search={SELECTIVE}&cursor=", f"/api/contacts?search={SELECTIVE}&cursor=", "cursor"),
    (f"GET /api/contacts?search={UNSELECTIVE}&cursor=", f"/api/contacts?search={UNSELECTIVE}&cursor=", "cursor"),
]


async def supports(client: httpx.AsyncClient, headers: dict) -> dict[str, bool]:
    """What the server under test serves: ?total= and ?cursor= (a tree before them says 400)."""
    return {
        "": True,
        "total": (await client.get("/api/leads?limit=1&total=false", headers=headers)).status_code == 200,
        "cursor": (await client.get("/api/leads?limit=1&cursor=", headers=headers)).status_code == 200,
    }


async def reset_postgres(url: str) -> None:
    import asyncpg

    dsn = url.replace("postgres://", "postgresql://", 1)
    name = dsn.rsplit("/", 1)[1]
    admin = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


def git_head() -> str | None:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return (result.stdout.strip() + (" + uncommitted changes" if dirty else "")) if result.returncode == 0 else None


def plans_fts(plans: dict) -> list[str]:
    return [name for name in plans if "FTS5" in name]


def run_one(database: str, args) -> dict:
    """One database, in a child process (tortoise keeps process-wide state)."""
    result = subprocess.run(
        [sys.executable, __file__, "--_one", database, "--rows", str(args.rows), "--requests", str(args.requests),
         "--concurrency", str(args.concurrency), "--postgres-url", args.postgres_url]
        + (["--explain"] if args.explain else []),
        cwd=ROOT, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"{database} run failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


async def one(database: str, args) -> dict:
    data_dir = tempfile.mkdtemp(prefix="hub-crm-bench-")
    if database == "postgres":
        await reset_postgres(args.postgres_url)
        url = args.postgres_url
    else:
        url = f"sqlite://{data_dir}/x.sqlite3"
    env = {
        "HUB_DATA_DIR": data_dir, "HUB_DATABASE_URL": url, "HUB_SECRET_KEY": "bench-secret-" + "x" * 32,
        "HUB_LOG_LEVEL": "WARNING", "HUB_RATE_LIMITS__ENABLED": "false", "HUB_QUOTAS__ENABLED": "false",
        "HUB_OBSERVABILITY__ACCESS_LOG": "false",
    }
    for name in [n for n in os.environ if n.startswith("HUB_")]:
        del os.environ[name]
    with live_hub(Path(data_dir), env=env, startup_timeout=120) as hub:
        limits = httpx.Limits(max_connections=args.concurrency)
        async with httpx.AsyncClient(base_url=hub.url, limits=limits, timeout=120) as client:
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            registered = await client.post("/api/auth/register", json={
                "email": email, "password": "benchmark-pass", "first_name": "B", "last_name": "M",
                "organization_name": "Bench"})
            assert registered.status_code == 201, registered.text
            login = (await client.post("/api/auth/login", json={"email": email, "password": "benchmark-pass"})).json()
            headers = {"Authorization": f"Bearer {login['access_token']}"}
            org_id = login["user"]["tenant_id"]

            await open_orm(env)
            from tortoise import connections

            try:
                seeding = await seed(org_id, args.rows)
                await connections.get("default").execute_script("ANALYZE")  # fresh statistics for the planner
                plans = await explain(org_id, "sqlite" if database == "sqlite" else "postgres") if args.explain else {}
            finally:
                await connections.close_all()  # also on failure: aiosqlite's thread would keep the process alive

            served = await supports(client, headers)
            walks, deep = {}, None
            if served["cursor"]:
                walks["cursor"], deep = await walk(client, headers, "cursor", args.rows)
            walks["offset"], _ = await walk(client, headers, "offset", args.rows)
            results = {}
            for name, path, needs in SCENARIOS:
                if not served[needs]:
                    continue
                path = path.format(deep=deep)
                await measure(client, path, headers, min(50, args.requests), args.concurrency)  # warm-up
                results[name] = await measure(client, path, headers, args.requests, args.concurrency)
    return {
        "database": "sqlite (file)" if database == "sqlite" else url.split("@")[-1],
        "rows": {"leads": args.rows, "contacts": args.rows},
        "seeding": seeding,
        "concurrency": args.concurrency,
        "code": {"root": str(ROOT), "git_head": git_head(), "cursor_pages": served["cursor"],
                 "total_parameter": served["total"], "fts_index": bool(plans_fts(plans)) if args.explain else None},
        "routes": results,
        "walks": walks,
        "plans": plans,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    parser.add_argument("--explain", action="store_true", help="print the query plans of the measured queries")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "crm_lists.json"),
                        help="the JSON file to write (its runs of other databases are kept)")
    parser.add_argument("--_one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._one:
        print(json.dumps(asyncio.run(one(args._one, args))))
        return

    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    reports = []
    for database in databases:
        print(f"-- {database}: seeding {args.rows:,} leads and {args.rows:,} contacts, then measuring ...", flush=True)
        report = run_one(database, args)
        reports.append(report)
        print(f"database={report['database']} concurrency={report['concurrency']} "
              f"seeding: leads {report['seeding']['leads_seconds']} s, contacts {report['seeding']['contacts_seconds']} s")
        code = report["code"]
        print(f"code: {code['root']} at {code['git_head']}; cursor pages: {code['cursor_pages']}, "
              f"?total=: {code['total_parameter']}, FTS5 index: {code['fts_index']}")
        print(f"{'route':<46} {'total':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'serial p50':>10}")
        for name, row in report["routes"].items():
            counted = "-" if row["matching_rows"] is None else row["matching_rows"]  # cursor pages: not counted
            print(f"{name:<46} {counted!s:>7} {row['requests_per_second']:>8} {row['p50_ms']:>8} "
                  f"{row['p99_ms']:>8} {row['errors']:>6} {row['serial_p50_ms']:>10}")
        for by, row in report.get("walks", {}).items():
            print(f"walk every lead by {by:<6}: {row['pages']} pages of 100 in {row['seconds']} s "
                  f"(mean {row['mean_page_ms']} ms, p99 {row['p99_page_ms']} ms a page)")
        for name, plan in report["plans"].items():
            print(f"\n[{name}]\n{plan}")
        print()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing["runs"] = {**existing.get("runs", {}), **{
        ("sqlite" if r["database"].startswith("sqlite") else "postgres"): r for r in reports}}
    out.write_text(json.dumps(existing, indent=2))  # other keys (e.g. earlier baselines) are kept
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

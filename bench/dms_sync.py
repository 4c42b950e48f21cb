"""DMS sync throughput: customers synced per second from a fake DMS (tests/plugins/dms/fake_dms.py,
a real HTTP server on 127.0.0.1 speaking the Reynolds adapter's shape) holding 100,000 customers,
against a reference measured in the same run: the raw httpx paging loop over the same server
(fetch and decode every page, nothing stored), i.e. what the network and JSON alone cost.

Measured, each on a fresh SQLite database in this process (a Hub app with its jobs run in
process, as `hub serve` with `[jobs] run_in_server` runs them):
  reference   the raw paging loop (httpx.AsyncClient, same page size)
  dms_only    a full sync of customers with the CRM hand-over off (no user to write as):
              fetch, rate limiter, map, upsert dms_customer, cursor committed per page
  with_crm    the same plus each customer upserted as a CRM contact (`upsert_contact`, its
              link, its contact.created event), as a real sync does

    .venv/bin/python bench/dms_sync.py                     # 100,000 customers
    .venv/bin/python bench/dms_sync.py --customers 20000 --crm-customers 5000 --page-size 500

Prints customers/s per mode and the ratio to the reference; writes bench/results/dms_sync.json.
Needs Redis (the job queue) at --redis-url.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from reporting import machine, write_results

from tests.plugins.dms.fake_dms import FakeDms, connection_body


async def reference(fake: FakeDms, page_size: int) -> dict:
    """The raw paging loop: every page fetched and decoded, nothing else."""
    started, count = time.perf_counter(), 0
    async with httpx.AsyncClient(base_url=fake.url, headers={"X-API-Key": "dms-key-0123456789abcdef"}) as client:
        offset = 0
        while True:
            body = (await client.get("/customers", params={"limit": page_size, "offset": offset})).json()
            count += len(body["data"])
            if len(body["data"]) < page_size:
                break
            offset += page_size
    seconds = time.perf_counter() - started
    return {"customers": count, "seconds": round(seconds, 3), "per_second": round(count / seconds, 1)}


async def hub_sync(fake: FakeDms, page_size: int, with_crm: bool, redis_url: str) -> dict:
    """A full customers sync through the plugin, on a fresh SQLite database."""
    data = tempfile.mkdtemp(prefix="dms-bench-")
    os.environ.update(
        HUB_ENV="test", HUB_DATA_DIR=data, HUB_DATABASE_URL=f"sqlite://{data}/hub.sqlite3",
        HUB_REDIS_URL=redis_url, HUB_JOBS__RUN_IN_SERVER="true",
        HUB_JOBS__NAMESPACE=f"dmsbench-{uuid.uuid4().hex[:8]}", HUB_SECRET_KEY="dms-bench-secret-" + "x" * 32,
        HUB_PLUGINS__DMS__ALLOWLIST="127.0.0.1", HUB_PLUGINS__DMS__PAGE_SIZE=str(page_size),
        HUB_RATE_LIMITS__ENABLED="false", HUB_LOG_LEVEL="WARNING")
    from core.app import create_app
    from core.tenancy.models import Organization, User
    from plugins.integrations.dms import service
    from plugins.integrations.dms.models import DmsCustomer, DmsSyncRun
    from plugins.integrations.dms.schemas import ConnectionCreate

    app = create_app()
    await app.startup()
    try:
        async with app.app_context():
            hub = app.extensions["hub"]
            org = await Organization.create(name="Bench dealer")
            user = await User.create(org_id=org.id, email=f"{uuid.uuid4().hex[:8]}@bench.example", first_name="B",
                                     last_name="D", role="admin")
            owner = user.id if with_crm else None
            body = ConnectionCreate.model_validate(connection_body(fake, rpm=60_000, burst=1000)).model_dump(
                mode="json")
            connection = await service.create_connection(hub, org.id, owner, body)
            started = time.perf_counter()
            run = await service.start_sync(hub, org.id, owner, connection.id, "full", ["customers"])
            while True:
                await asyncio.sleep(0.2)
                row = await DmsSyncRun.get(id=run.id)
                if row.status in ("completed", "failed"):
                    break
            seconds = time.perf_counter() - started
            count = await DmsCustomer.filter(org_id=org.id).count()
            contacts = await DmsCustomer.filter(org_id=org.id, contact_id__isnull=False).count()
            assert row.status == "completed", row.errors
    finally:
        await app.shutdown()
        shutil.rmtree(data, ignore_errors=True)
    return {"customers": count, "crm_contacts": contacts, "pages": row.pages, "seconds": round(seconds, 3),
            "per_second": round(count / seconds, 1)}


def in_child(fake: FakeDms, page_size: int, with_crm: bool, redis_url: str) -> dict:
    """hub_sync in a process of its own (one Hub app, one tortoise context per process)."""
    result = subprocess.run([sys.executable, __file__, "--child", str(fake.port), "--page-size", str(page_size),
                             "--redis-url", redis_url, *(["--crm"] if with_crm else [])],
                            capture_output=True, text=True, timeout=7200)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--crm-customers", type=int, default=None,
                        help="customers for the with_crm run (default: --customers)")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--out", default="dms_sync.json")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # the fake's port: run one sync, print it
    parser.add_argument("--crm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fake = FakeDms(provider="Reynolds", auth="api_key", port=args.child)
        print(json.dumps(asyncio.run(hub_sync(fake, args.page_size, args.crm, args.redis_url))))
        return
    load = os.getloadavg()

    fake = FakeDms(provider="Reynolds", auth="api_key")
    fake.seed(args.customers)
    fake.vehicles, fake.appointments, fake.opportunities, fake.inventory = [], [], [], []
    fake.start()
    try:
        results = {"reference": asyncio.run(reference(fake, args.page_size))}
        print(f"reference (raw httpx paging): {results['reference']['per_second']:>9.1f} customers/s")
        results["dms_only"] = in_child(fake, args.page_size, False, args.redis_url)
        print(f"dms sync, CRM off:            {results['dms_only']['per_second']:>9.1f} customers/s")
        crm_fake = fake
        if args.crm_customers and args.crm_customers != args.customers:
            crm_fake = FakeDms(provider="Reynolds", auth="api_key")
            crm_fake.seed(args.crm_customers)
            crm_fake.vehicles, crm_fake.appointments, crm_fake.opportunities, crm_fake.inventory = [], [], [], []
            crm_fake.start()
        try:
            results["with_crm"] = in_child(crm_fake, args.page_size, True, args.redis_url)
        finally:
            if crm_fake is not fake:
                crm_fake.stop()
        print(f"dms sync into CRM contacts:   {results['with_crm']['per_second']:>9.1f} customers/s")
    finally:
        fake.stop()
    reference_rate = results["reference"]["per_second"]
    for mode in ("dms_only", "with_crm"):
        results[mode]["vs_reference"] = round(results[mode]["per_second"] / reference_rate, 4)
        print(f"  {mode}: {results[mode]['vs_reference']:.1%} of the reference")
    write_results(args.out, {"benchmark": "dms_sync", "customers": args.customers,
                             "crm_customers": args.crm_customers or args.customers, "page_size": args.page_size,
                             "database": "sqlite", "machine": machine(load), "results": results})


if __name__ == "__main__":
    main()

"""A `hub worker` killed (SIGKILL) in the middle of a DMS sync: another worker takes the job
over and goes on from the run's cursor (persisted with each page's rows): every customer once,
every CRM contact and lead once, and the pages done before the kill not asked for again.
Real worker processes (tests/cluster.py), the fake DMS in this process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

from tests.cluster import cluster
from tests.plugins.dms.fake_dms import FakeDms, connection_body

START = """
import asyncio, json, sys, uuid
async def main():
    from core.app import create_app
    from core.tenancy.models import Organization, User
    from plugins.integrations.dms import service
    from plugins.integrations.dms.schemas import ConnectionCreate
    app = create_app()
    await app.startup()
    try:
        async with app.app_context():
            hub = app.extensions["hub"]
            org = await Organization.create(id=uuid.UUID(sys.argv[1]), name="Dealer")
            user = await User.create(org_id=org.id, email="owner@dealer.example", first_name="O", last_name="W",
                                     role="admin")
            body = ConnectionCreate.model_validate_json(sys.argv[2]).model_dump(mode="json")
            connection = await service.create_connection(hub, org.id, user.id, body)
            run = await service.start_sync(hub, org.id, user.id, connection.id, "full")
        print(run.id, run.job_id, flush=True)
    finally:
        await app.shutdown()
asyncio.run(main())
"""

CUSTOMERS = 30


async def wait_for(cluster, condition, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} ({cluster.logs()})"
        await asyncio.sleep(0.05)


async def test_a_worker_killed_mid_sync_resumes_without_duplicates(cluster):
    fake = FakeDms(provider="Reynolds", auth="api_key", delay=0.15)
    fake.seed(CUSTOMERS)
    fake.start()
    try:
        cluster.env.update(HUB_PLUGINS__DMS__ALLOWLIST="127.0.0.1", HUB_PLUGINS__DMS__PAGE_SIZE="5")
        first = cluster.start_worker("first")
        body = connection_body(fake, retry_attempts=0)
        run_id, job_id = cluster.script(START, cluster.org_id, json.dumps(body)).split()
        run = cluster.uuid_value(run_id)

        async def some_pages_done():
            (row,) = await cluster.rows("SELECT pages FROM dms_sync_run WHERE id = ?", run)
            return row[0] >= 3 and row[0]

        pages_before = await wait_for(cluster, some_pages_done, "the sync never got going")
        os.killpg(first.pid, signal.SIGKILL)  # mid-sync, no chance to clean up
        first.wait(timeout=30)
        killed_at = time.monotonic()
        (state,) = await cluster.rows("SELECT status, pages, cursor FROM dms_sync_run WHERE id = ?", run)
        assert state[0] == "running"
        cursor = json.loads(state[2]) if isinstance(state[2], str) else state[2]
        resumed_offset = int(cursor["params"]["offset"])
        assert cursor["resource"] == "customers" and resumed_offset >= 5 * (pages_before - 1)

        cluster.start_worker("second")
        job = await cluster.wait(job_id, lambda row: row["status"] in ("completed", "failed"), timeout=120)
        assert job["status"] == "completed", job
        assert job["attempts"] == 2

        (final,) = await cluster.rows("SELECT status, counts, errors FROM dms_sync_run WHERE id = ?", run)
        counts = json.loads(final[1]) if isinstance(final[1], str) else final[1]
        assert final[0] == "completed" and final[2] in ("[]", []), final[2]
        assert counts["customers"] == {"created": CUSTOMERS, "updated": 0}
        org = cluster.uuid_value(cluster.org_id)
        for table, expected in (("dms_customer", CUSTOMERS), ("dms_vehicle", CUSTOMERS),
                                ("crm_contact", CUSTOMERS), ("crm_contact_link", CUSTOMERS),
                                ("crm_lead", CUSTOMERS // 10)):
            (row,) = await cluster.rows(f"SELECT count(*) FROM {table} WHERE org_id = ?", org)
            assert row[0] == expected, (table, row[0])
        (row,) = await cluster.rows("SELECT count(DISTINCT dms_customer_id) FROM dms_customer WHERE org_id = ?", org)
        assert row[0] == CUSTOMERS

        # after the kill, the customers' pages went on from the cursor: none before it again
        after = [int(e.params.get("offset", 0)) for e in fake.data_requests()
                 if e.at > killed_at and e.path == "/customers"]
        assert after and min(after) == resumed_offset, (after, resumed_offset)
    finally:
        fake.stop()

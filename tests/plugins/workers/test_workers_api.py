"""Seed 002's Workers Service (plugins/workers): run job types and Hub workflows by name with a
priority, read and cancel them, the organization's metrics; permissions, bad input and other
organizations' ids."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from core.testing import assert_error
from tests.plugins.workers.support import GATES, execute, wait_job
from tests.plugins.workflows.support import node, transform, workflow

# -- execute and read --------------------------------------------------------------------------


async def test_a_job_type_runs_and_reads_back_in_the_seeds_shape(api, admin):
    started = await execute(api, "workers_test.add", {"numbers": [1, 2, 39]}, priority=7)
    assert set(started) == {"job_id", "status", "message"}
    assert started["status"] == "pending" and started["message"] == "Workflow execution started"

    job = await wait_job(api, started["job_id"])
    assert {"id", "organization_id", "user_id", "job_type", "status", "input_data", "output_data",
            "started_at", "completed_at"} <= set(job)
    assert job["id"] == started["job_id"]
    assert job["organization_id"] == admin.org_id and job["user_id"] == admin.user_id
    assert job["job_type"] == "workers_test.add" and job["status"] == "completed"
    assert job["input_data"] == {"numbers": [1, 2, 39]} and job["output_data"] == {"sum": 42}
    assert job["priority"] == 7 and job["progress"] == 100
    assert job["started_at"] <= job["completed_at"]
    # the same row is the core's job
    assert (await api.get(f"/api/v1/jobs/{job['id']}"))["priority"] == 7


async def test_priority_defaults_to_five(api):
    started = await api.post("/api/v1/workflows/execute", {"workflow_type": "core.echo"})
    job = await wait_job(api, started["job_id"])
    assert job["priority"] == 5 and job["output_data"] == {"echo": {}}


async def test_a_hub_workflow_runs_by_name_or_id_at_the_given_priority(api, admin):
    definition = workflow("Double it", [
        node("start", "webhook-trigger"),
        transform("double", {"value": "{{ number(input.amount) * 2 }}"}),
    ], [{"id": "e1", "source_node_id": "start", "source_port": "main", "target_node_id": "double",
         "target_port": "main"}])
    created = await api.post("/api/workflows", definition)

    by_name = await execute(api, "Double it", {"amount": 21}, priority=9)
    job = await wait_job(api, by_name["job_id"])
    assert job["status"] == "completed", job
    assert job["job_type"] == "workflows.execute" and job["priority"] == 9
    assert job["organization_id"] == admin.org_id
    execution = await api.get(f"/api/executions/{job['input_data']['execution_id']}")
    assert execution["status"] == "completed" and execution["input_data"] == {"amount": 21}
    assert execution["workflow_id"] == created["id"]

    by_id = await execute(api, created["id"], {"amount": 1}, priority=2)
    job = await wait_job(api, by_id["job_id"])
    assert (job["status"], job["priority"]) == ("completed", 2)


async def test_an_unknown_workflow_type_is_a_400_listing_the_valid_types(api):
    await api.post("/api/workflows", workflow("Known flow", [node("start", "webhook-trigger")]))
    error = await api.error("POST", "/api/v1/workflows/execute", {"workflow_type": "data_processing"},
                            field="workflow_type")
    valid = error["details"]["valid_types"]
    assert "core.echo" in valid and "workers_test.add" in valid and "Known flow" in valid
    # job types without a start_permission (only their plugin enqueues them, with rows it made) are not offered
    assert "workflows.execute" not in valid and not any(t.startswith("webhooks.") for t in valid)
    assert "workers_test.internal" not in valid
    for internal in ("workflows.execute", "webhooks.deliver", "workers_test.internal"):
        await api.error("POST", "/api/v1/workflows/execute", {"workflow_type": internal,
                                                              "input_data": {"execution_id": "x"}}, field="workflow_type")
    # another organization's workflow is unknown here
    await api.error("POST", "/api/v1/workflows/execute",
                    {"workflow_type": "00000000-0000-4000-8000-000000000000"}, field="workflow_type")


async def test_another_organizations_workflow_is_not_found_by_name_or_id(api, other_api):
    created = await other_api.post("/api/workflows", workflow("Globex only", [node("start", "webhook-trigger")]))
    for name in ("Globex only", created["id"]):
        error = await api.error("POST", "/api/v1/workflows/execute", {"workflow_type": name}, field="workflow_type")
        assert "Globex only" not in error["details"]["valid_types"]


@pytest.mark.parametrize("body, field", [
    ({"workflow_type": "core.echo", "priority": 0}, "priority"),
    ({"workflow_type": "core.echo", "priority": 11}, "priority"),
    ({"workflow_type": "core.echo", "priority": -3}, "priority"),
    ({"workflow_type": "core.echo", "priority": "5"}, "priority"),
    ({"workflow_type": "core.echo", "priority": 5.5}, "priority"),
    ({"workflow_type": "core.echo", "priority": True}, "priority"),
    ({"workflow_type": "core.echo", "input_data": [1, 2]}, "input_data"),
    ({"workflow_type": "core.echo", "input_data": "text"}, "input_data"),
    ({"workflow_type": ""}, "workflow_type"),
    ({"workflow_type": "x" * 101}, "workflow_type"),
    ({"input_data": {}}, "workflow_type"),
    ({"workflow_type": "core.echo", "job_id": 7}, "job_id"),
])
async def test_bad_input_is_a_400_naming_the_field(api, body, field):
    error = await api.error("POST", "/api/v1/workflows/execute", body)
    assert error["details"]["field"].split(".")[0] == field, error


async def test_unknown_and_malformed_ids_are_404(api):
    for job_id in ("00000000-0000-4000-8000-000000000000", "not-a-uuid", "1"):
        await api.error("GET", f"/api/v1/workflows/{job_id}", status=404, code="NOT_FOUND")
        await api.error("DELETE", f"/api/v1/workflows/{job_id}", status=404, code="NOT_FOUND")


async def test_another_organizations_job_is_404_for_read_and_cancel(api, other_api, assert_isolated):
    started = await execute(api, "workers_test.add", {"numbers": [1]})
    await wait_job(api, started["job_id"])
    await assert_isolated(api, other_api, f"/api/v1/workflows/{started['job_id']}", methods=("GET", "DELETE"))


# -- cancel -------------------------------------------------------------------------------------


async def test_a_running_job_stops_at_its_next_progress_point(api, events):
    started = await execute(api, "workers_test.loop")
    await wait_job(api, started["job_id"], ("running",), until=lambda j: j["progress"] >= 2)
    response, body = await api.request("DELETE", f"/api/v1/workflows/{started['job_id']}")
    assert response.status_code == 202, body  # asked to stop
    assert body["id"] == started["job_id"] and body["cancel_requested"] is True
    job = await wait_job(api, started["job_id"])
    assert job["status"] == "cancelled" and job["completed_at"] is not None
    # cancelling it again says so (200, idempotent); a completed job cannot be cancelled (409)
    again = await api.call("DELETE", f"/api/v1/workflows/{started['job_id']}")
    assert again["status"] == "cancelled"
    completed = await execute(api, "workers_test.add", {"numbers": [2]})
    await wait_job(api, completed["job_id"])
    error = await api.error("DELETE", f"/api/v1/workflows/{completed['job_id']}", status=409, code="CONFLICT")
    assert error["details"]["status"] == "completed"


async def test_a_pending_job_is_cancelled_at_once(api, hub, runtime):
    """Every worker thread held by a gate job: the next job stays pending until cancelled."""
    key = f"cancel-{time.monotonic_ns()}"
    GATES[key] = asyncio.Event()
    threads = runtime.worker.worker_threads
    try:
        holders = [await execute(api, "workers_test.gate", {"gate": key, "name": f"{key}-{i}"}, priority=10)
                   for i in range(threads)]
        await _all_started(api, holders)
        waiting = await execute(api, "workers_test.add", {"numbers": [5]}, priority=10)
        response, body = await api.request("DELETE", f"/api/v1/workflows/{waiting['job_id']}")
        assert response.status_code == 200, body
        assert body["status"] == "cancelled" and body["started_at"] is None
    finally:
        GATES[key].set()
    for holder in holders:
        assert (await wait_job(api, holder["job_id"]))["status"] == "completed"
    job = await api.get(f"/api/v1/workflows/{waiting['job_id']}")
    assert job["status"] == "cancelled" and job["output_data"] is None and job["started_at"] is None


async def _all_started(api, started, timeout=60.0):
    for item in started:
        await wait_job(api, item["job_id"], ("running",), timeout=timeout)


# -- metrics ------------------------------------------------------------------------------------


async def test_metrics_count_the_organizations_jobs_by_state(api, other_api):
    empty = await api.get("/api/v1/metrics")
    assert empty == {"total_jobs": 0, "pending_jobs": 0, "running_jobs": 0, "completed_jobs": 0,
                     "failed_jobs": 0, "avg_execution_time_seconds": 0.0}
    ids = [(await execute(api, "workers_test.add", {"numbers": [n]}))["job_id"] for n in range(3)]
    ids.append((await execute(api, "workers_test.refuse"))["job_id"])
    looping = (await execute(api, "workers_test.loop"))["job_id"]
    for job_id in ids:
        await wait_job(api, job_id)
    await wait_job(api, looping, ("running",))

    metrics = await api.get("/api/v1/metrics")
    assert metrics["total_jobs"] == 5 and metrics["completed_jobs"] == 3 and metrics["failed_jobs"] == 1
    assert metrics["running_jobs"] == 1 and metrics["pending_jobs"] == 0
    assert metrics["avg_execution_time_seconds"] >= 0
    completed = [await api.get(f"/api/v1/workflows/{job_id}") for job_id in ids[:3]]
    assert all(job["status"] == "completed" for job in completed)

    assert (await other_api.get("/api/v1/metrics"))["total_jobs"] == 0  # per organization
    await api.call("DELETE", f"/api/v1/workflows/{looping}", status=202)
    await wait_job(api, looping)
    after = await api.get("/api/v1/metrics")
    assert after["total_jobs"] == 5 and after["running_jobs"] == 0


async def test_average_execution_time_is_over_completed_jobs(api):
    started = await execute(api, "workers_test.add", {"numbers": [1]})
    job = await wait_job(api, started["job_id"])
    seconds = (datetime.fromisoformat(job["completed_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()
    assert (await api.get("/api/v1/metrics"))["avg_execution_time_seconds"] == pytest.approx(seconds, abs=0.002)


# -- permissions --------------------------------------------------------------------------------


async def test_viewers_read_but_do_not_run_or_cancel(api, api_of):
    started = await execute(api, "workers_test.loop")
    viewer = await api_of(role="viewer")
    await viewer.get(f"/api/v1/workflows/{started['job_id']}")
    await viewer.get("/api/v1/metrics")
    await viewer.error("POST", "/api/v1/workflows/execute", {"workflow_type": "core.echo"}, status=403,
                       code="FORBIDDEN")
    await viewer.error("DELETE", f"/api/v1/workflows/{started['job_id']}", status=403, code="FORBIDDEN")
    member = await api_of(role="member")
    await member.call("DELETE", f"/api/v1/workflows/{started['job_id']}", status=None)
    assert (await wait_job(api, started["job_id"]))["status"] == "cancelled"


async def test_api_keys_act_within_their_scopes(api, api_of):
    reader = await api_of(key=["read"])
    await reader.get("/api/v1/metrics")
    await reader.error("POST", "/api/v1/workflows/execute", {"workflow_type": "core.echo"}, status=403,
                       code="FORBIDDEN")
    # core.echo may be started by whoever may manage jobs (its start_permission): the key needs both
    only_workers = await api_of(key=["workers.*"])
    await only_workers.error("POST", "/api/v1/workflows/execute", {"workflow_type": "core.echo"}, field="workflow_type")
    runner = await api_of(key=["workers.*", "jobs.manage"])
    started = await execute(runner, "core.echo", {"from": "key"})
    assert (await wait_job(runner, started["job_id"]))["output_data"] == {"echo": {"from": "key"}}


async def test_every_route_needs_authentication(client):
    for method, path in (("POST", "/api/v1/workflows/execute"), ("GET", "/api/v1/workflows/x"),
                         ("DELETE", "/api/v1/workflows/x"), ("GET", "/api/v1/metrics")):
        response = await client.open(path, method=method, json={"workflow_type": "core.echo"})
        assert_error(response.status_code, await response.get_json(), 401, "AUTHENTICATION_FAILED")

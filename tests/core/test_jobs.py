"""Background jobs (core/jobs.py, /api/v1/jobs): rows first, dramatiq underneath.

The session app runs jobs in process (StubBroker + an in-process dramatiq Worker) on the
embedded defaults; with HUB_TEST_REDIS_URL its broker is Redis and, since servers then only
enqueue, this module starts the same in-process worker on it. The last tests run real
`python hub.py worker` processes against Redis (DB 3) and kill them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import types
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from core.jobs import api as jobs
from core.app import create_app
from core.jobs.api import JobFailed, backoff_delay
from core.kernel.times import utcnow
from core.jobs.models import Job
from core.kernel.plugins import PluginError
from core.kernel.settings import SettingsError, load_settings
from tests.cluster import gone
from tests.helpers import TEST_SECRET, add_member, assert_error, make_settings

ROOT = Path(__file__).resolve().parent.parent.parent
FINISHED = ("completed", "failed", "cancelled", "timeout")
RUNS: dict[str, int] = {}  # test.count_runs: executions per key


# -- a test plugin's job types ------------------------------------------------------------------


async def flaky(ctx, payload):
    if ctx.attempt < payload["succeed_on"]:
        raise RuntimeError(f"attempt {ctx.attempt} fails")
    return {"attempt": ctx.attempt}


async def permanent(ctx, payload):
    raise JobFailed("bad input", retry=payload.get("retry", False))


async def sleeper(ctx, payload):  # ignores ctx.cancelled on purpose
    await asyncio.sleep(payload["seconds"])
    return {"slept": payload["seconds"]}


async def count_runs(ctx, payload):
    RUNS[payload["key"]] = RUNS.get(payload["key"], 0) + 1
    await asyncio.sleep(0.05)
    return {"runs": RUNS[payload["key"]]}


async def spawn(ctx, payload):
    child = await jobs.enqueue(ctx.org_id, "core.echo", {"parent": ctx.job_id})  # no hub=: the job's app context
    return {"child": str(child.id)}


async def double(ctx, payload):
    await ctx.progress(50, "half way")
    return {"value": payload["value"] * 2, "job_id": ctx.job_id, "org_id": ctx.org_id}


def hub_jobs(register):
    register("jobs_test.flaky", flaky, max_attempts=3)
    register("jobs_test.permanent", permanent, max_attempts=3)
    register("jobs_test.sleep", sleeper, max_attempts=1)
    register("jobs_test.count_runs", count_runs)
    register("jobs_test.spawn", spawn)
    register("jobs_test.double", double, max_attempts=2, timeout_seconds=30)


def plugin_module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, function)
    return module


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def runtime(hub):
    return hub.extensions["jobs"]


@pytest.fixture(autouse=True)
async def _jobs_run_here(app, runtime):
    """Register this module's job types on the session app (as the hook does) and make sure
    it runs jobs (with Redis, the servers only enqueue)."""
    if "jobs_test.flaky" not in runtime.types:
        hub_jobs(runtime.registrar("jobs_test"))
    runtime.start_worker()
    yield


@pytest.fixture
def fast(monkeypatch, hub):
    """Short back-off and grace periods for this test (the session's settings object)."""
    monkeypatch.setattr(hub.settings.jobs, "retry_backoff_seconds", 0.05)
    monkeypatch.setattr(hub.settings.jobs, "retry_backoff_max_seconds", 0.2)
    monkeypatch.setattr(hub.settings.jobs, "cancel_grace_seconds", 0.2)
    return hub.settings.jobs


async def wait_for(job_id, statuses=FINISHED, *, timeout: float = 30.0, until=None, tick=None) -> Job:
    """Poll the row (bounded) until its status is one of `statuses` (and `until(job)` holds)."""
    deadline = time.monotonic() + timeout
    while True:
        job = await Job.get(id=job_id)
        if job.status in statuses and (until is None or until(job)):
            return job
        assert time.monotonic() < deadline, f"job {job_id} is still {job.status} ({job.progress}%, {job.error})"
        if tick is not None:
            await tick()
        await asyncio.sleep(0.02)


def events_for(events, job_id) -> list:
    return [e for e in events.events if e.data.get("job_id") == str(job_id)]


async def events_until(events, job_id, last_type: str, count: int = 1, timeout: float = 30.0) -> list:
    """The job's events (seen by the test kit's recorder) once `count` of type `last_type`
    arrived: a row is updated before its event is emitted."""
    deadline = time.monotonic() + timeout
    while sum(e.type == last_type for e in events_for(events, job_id)) < count:
        assert time.monotonic() < deadline, [e.type for e in events_for(events, job_id)]
        await asyncio.sleep(0.02)
    return events_for(events, job_id)


# -- the hook -----------------------------------------------------------------------------------


async def test_hook_hub_jobs_registers_job_types_stamped_with_their_plugin(tmp_path, hub, runtime, admin):
    async def triple(ctx, payload):
        return {"value": payload["value"] * 3}

    def hooks(register):
        register("jobs_plugin.triple", triple, max_attempts=2, timeout_seconds=5)

    module = plugin_module("jobs_plugin", hub_jobs=hooks)
    app = create_app(make_settings(tmp_path), plugins=[module])
    registry = app.extensions["hub"].extensions["jobs"].types
    assert registry["jobs_plugin.triple"].plugin == "jobs_plugin"
    assert registry["jobs_plugin.triple"].max_attempts == 2
    assert registry["jobs_plugin.triple"].timeout_seconds == 5
    assert registry["core.echo"].plugin == "core"
    from core.events.webhooks import JOB_TYPE as WEBHOOK_DELIVERY

    assert registry[WEBHOOK_DELIVERY].plugin == "core"  # core/builtin.py's hub_jobs

    # The example plugin (a third-party package, through its entry point) registered its own.
    assert runtime.types["example.slow_count"].plugin == "example"

    # The same hook, run against the session app: its job type runs.
    if "jobs_plugin.triple" not in runtime.types:
        module.hub_jobs(runtime.registrar("jobs_plugin"))
    job = await jobs.enqueue(admin.org_id, "jobs_plugin.triple", {"value": 14}, hub=hub)
    assert job.max_attempts == 2
    done = await wait_for(job.id)
    assert (done.status, done.result) == ("completed", {"value": 42})


@pytest.mark.parametrize(
    ("register_args", "reason"),
    [
        (("bad name!", flaky), "must match"),
        (("jobs_bad.sync", lambda ctx, payload: None), "async def"),
        (("jobs_bad.zero", flaky, 0), "max_attempts"),
        (("jobs_bad.timeout", flaky, 3, -1), "timeout_seconds"),
        (("core.echo", flaky), "already registered by plugin 'core'"),
    ],
)
async def test_hook_hub_jobs_rejects_bad_registrations_naming_the_plugin(tmp_path, register_args, reason):
    module = plugin_module("jobs_bad", hub_jobs=lambda register: register(*register_args))
    with pytest.raises(PluginError, match=rf"plugin 'jobs_bad', hook hub_jobs: .*{reason}"):
        create_app(make_settings(tmp_path), plugins=[module])


# -- running -----------------------------------------------------------------------------------


async def test_a_job_runs_reports_progress_as_events_and_keeps_its_result(client, hub, admin, events):
    job = await jobs.enqueue(admin.org_id, "example.slow_count", {"count": 4, "delay": 0.01},
                             user_id=admin.user_id, hub=hub)
    assert job.status == "pending" and job.attempts == 0
    done = await wait_for(job.id)
    assert done.status == "completed", done.error
    assert (done.progress, done.attempts, done.error) == (100, 1, None)
    assert done.result["counted"] == 4 and done.result["attempt"] == 1
    assert done.started_at and done.finished_at and done.finished_at >= done.started_at

    seen = await events_until(events, job.id, "job.completed")
    assert [e.type for e in seen] == ["job.started"] + ["job.progressed"] * 4 + ["job.completed"]
    assert [e.data["progress"] for e in seen if e.type == "job.progressed"] == [25, 50, 75, 100]
    assert seen[1].data["message"] == "counted 1 of 4"
    assert all(e.org_id == admin.org_id and e.data["job_type"] == "example.slow_count" for e in seen)

    response = await client.get(f"/api/v1/jobs/{job.id}", headers=admin.headers)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["id"] == str(job.id) and body["organization_id"] == admin.org_id
    assert body["user_id"] == admin.user_id
    assert (body["job_type"], body["status"], body["progress"]) == ("example.slow_count", "completed", 100)
    assert body["input_data"] == {"count": 4, "delay": 0.01}
    assert body["output_data"]["counted"] == 4
    assert body["completed_at"] and body["started_at"] and body["created_at"]


async def test_a_job_sees_its_context_and_can_enqueue_jobs(hub, admin):
    job = await jobs.enqueue(admin.org_id, "jobs_test.double", {"value": 21}, hub=hub)
    done = await wait_for(job.id)
    assert done.result == {"value": 42, "job_id": str(job.id), "org_id": admin.org_id}

    parent = await jobs.enqueue(admin.org_id, "jobs_test.spawn", {}, hub=hub)
    child_id = (await wait_for(parent.id)).result["child"]
    child = await wait_for(child_id)
    assert (child.status, str(child.org_id), child.result) == ("completed", admin.org_id, {"echo": {"parent": str(parent.id)}})


async def test_enqueue_outside_an_app_context_uses_the_running_hub(admin):
    job = await jobs.enqueue(admin.org_id, "core.echo", {"n": 1})
    assert (await wait_for(job.id)).result == {"echo": {"n": 1}}


async def test_enqueue_refuses_unknown_types_and_bad_arguments(hub, admin):
    with pytest.raises(ValueError, match="unknown job type 'nope.nothing'"):
        await jobs.enqueue(admin.org_id, "nope.nothing", {}, hub=hub)
    with pytest.raises(TypeError):
        await jobs.enqueue(admin.org_id, "core.echo", [1, 2], hub=hub)
    with pytest.raises(TypeError):
        await jobs.enqueue(admin.org_id, "core.echo", {"when": object()}, hub=hub)
    with pytest.raises(ValueError, match="delay_seconds"):
        await jobs.enqueue(admin.org_id, "core.echo", {}, delay_seconds=-1, hub=hub)
    with pytest.raises(ValueError, match="max_attempts"):
        await jobs.enqueue(admin.org_id, "core.echo", {}, max_attempts=0, hub=hub)
    assert not await Job.filter(org_id=admin.org_id, type="nope.nothing").exists()


async def test_priorities_are_validated_stored_and_pick_a_queue_band(client, hub, runtime, admin):
    from core.jobs.runtime import band_of, queue_names

    for bad in (0, 11, -1, True, "5", 5.0):
        with pytest.raises(ValueError, match="priority must be an integer from 1 to 10"):
            await jobs.enqueue(admin.org_id, "core.echo", {}, priority=bad, hub=hub)
    default = await jobs.enqueue(admin.org_id, "core.echo", {}, hub=hub)
    urgent = await jobs.enqueue(admin.org_id, "core.echo", {}, priority=9, hub=hub)
    with jobs.default_priority(2):  # a scope's default, for jobs enqueued without their own
        scoped = await jobs.enqueue(admin.org_id, "core.echo", {}, hub=hub)
        own = await jobs.enqueue(admin.org_id, "core.echo", {}, priority=7, hub=hub)
    assert [(await wait_for(j.id)).priority for j in (default, urgent, scoped, own)] == [5, 9, 2, 7]
    response = await client.get(f"/api/v1/jobs/{urgent.id}", headers=admin.headers)
    assert (await response.get_json())["priority"] == 9
    assert [band_of(p) for p in range(1, 11)] == ["low"] * 3 + ["default"] * 4 + ["high"] * 3
    queues = queue_names(hub.settings.jobs.queue)
    assert queues["default"] == hub.settings.jobs.queue  # messages sent before bands existed still run
    # one actor per band, its queue consumed by this process's worker, the high band first
    assert {a.queue_name for a in runtime.actors.values()} == set(queues.values()) == set(runtime.worker.consumer_whitelist)
    assert runtime.actors["high"].priority < runtime.actors["default"].priority < runtime.actors["low"].priority


async def test_jobs_on_prometheus_metrics(client, hub, admin, fast):
    jobs_done = [await jobs.enqueue(admin.org_id, "core.echo", {"n": n}, hub=hub) for n in range(3)]
    retried = await jobs.enqueue(admin.org_id, "jobs_test.flaky", {"succeed_on": 2}, hub=hub)
    failed = await jobs.enqueue(admin.org_id, "jobs_test.permanent", {}, hub=hub)
    for job in [*jobs_done, retried, failed]:
        await wait_for(job.id)
    body = (await (await client.get("/metrics")).get_data()).decode()

    def value(line_start: str) -> float:
        lines = [line for line in body.splitlines() if line.startswith(line_start)]
        assert lines, line_start
        return float(lines[0].rsplit(" ", 1)[1])

    service = hub.settings.observability.service_name
    assert value(f'hub_jobs_finished_total{{service="{service}",status="completed",type="core.echo"}}') >= 3
    assert value(f'hub_jobs_finished_total{{service="{service}",status="failed",type="jobs_test.permanent"}}') >= 1
    assert value(f'hub_job_retries_total{{service="{service}",type="jobs_test.flaky"}}') >= 1
    assert value(f'hub_job_duration_seconds_count{{service="{service}",type="core.echo"}}') >= 3
    assert value(f'hub_job_duration_seconds_bucket{{le="+Inf",service="{service}",type="core.echo"}}') >= 3
    # queue depth per registered type, from the job table
    assert f'hub_jobs_queued{{service="{service}",type="core.echo"}}' in body
    assert f'hub_jobs_running{{service="{service}",type="jobs_test.sleep"}}' in body


async def test_health_says_degraded_when_no_process_runs_jobs(client, hub, runtime, monkeypatch):
    body = await (await client.get("/health")).get_json()
    assert body["checks"]["workers"] == "healthy"  # this process runs jobs
    assert await runtime.live_workers() >= 1
    if hub.redis is None:
        return  # in process: the server itself runs them whenever it serves
    # with Redis, workers announce themselves per namespace: a namespace no worker consumes
    monkeypatch.setattr(hub.settings.jobs, "namespace", f"hubtest-idle-{uuid.uuid4().hex[:8]}")
    body = await (await client.get("/health")).get_json()
    assert body["checks"]["workers"] == "degraded" and body["status"] != "unhealthy"
    await runtime.announce()  # what the heartbeat does: now a live worker there
    body = await (await client.get("/health")).get_json()
    assert body["checks"]["workers"] == "healthy"
    await hub.redis.delete(runtime.workers_key)


async def test_failed_attempts_are_retried_with_backoff_until_max_attempts(hub, admin, fast, events):
    job = await jobs.enqueue(admin.org_id, "jobs_test.flaky", {"succeed_on": 3}, hub=hub)
    done = await wait_for(job.id)
    assert (done.status, done.attempts, done.result, done.error) == ("completed", 3, {"attempt": 3}, None)
    await events_until(events, job.id, "job.completed")
    retrying = [e for e in await events_until(events, job.id, "job.retry_scheduled", 2) if e.type == "job.retry_scheduled"]
    assert [e.data["attempt"] for e in retrying] == [1, 2]
    assert retrying[0].data["error"] == "RuntimeError: attempt 1 fails"
    assert retrying[0].data["next_attempt_at"]

    job = await jobs.enqueue(admin.org_id, "jobs_test.flaky", {"succeed_on": 9}, max_attempts=2, hub=hub)
    done = await wait_for(job.id)
    assert (done.status, done.attempts, done.error) == ("failed", 2, "RuntimeError: attempt 2 fails")
    assert done.result is None and done.finished_at is not None
    failed = [e for e in await events_until(events, job.id, "job.failed") if e.type == "job.failed"]
    assert len(failed) == 1 and failed[0].data["error"] == "RuntimeError: attempt 2 fails"


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    for attempt in range(1, 12):
        full = min(60.0, 2.0 * 2 ** (attempt - 1))
        for _ in range(20):
            assert full / 2 <= backoff_delay(attempt, 2.0, 60.0) <= full
    assert backoff_delay(30, 2.0, 60.0) <= 60.0


async def test_job_failed_is_final_unless_it_asks_for_a_retry(hub, admin, fast):
    job = await jobs.enqueue(admin.org_id, "jobs_test.permanent", {}, hub=hub)
    done = await wait_for(job.id)
    assert (done.status, done.attempts, done.error) == ("failed", 1, "JobFailed: bad input")

    job = await jobs.enqueue(admin.org_id, "jobs_test.permanent", {"retry": True}, max_attempts=2, hub=hub)
    done = await wait_for(job.id)
    assert (done.status, done.attempts) == ("failed", 2)


async def test_an_attempt_that_runs_too_long_times_out(hub, admin, fast, events):
    job = await jobs.enqueue(admin.org_id, "jobs_test.sleep", {"seconds": 30}, timeout_seconds=1, hub=hub)
    done = await wait_for(job.id)
    assert (done.status, done.attempts) == ("timeout", 1)
    assert done.error == "timed out after 1 s (attempt 1 of 1)"
    assert [e.type for e in await events_until(events, job.id, "job.timed_out")][-1] == "job.timed_out"

    job = await jobs.enqueue(admin.org_id, "jobs_test.sleep", {"seconds": 30}, timeout_seconds=1,
                             max_attempts=2, hub=hub)
    done = await wait_for(job.id)
    assert (done.status, done.attempts) == ("timeout", 2)


async def test_duplicate_messages_run_a_job_once(hub, runtime, admin):
    # A row whose message was delivered five times at once (a re-send racing the original).
    job = await Job.create(org_id=admin.org_id, type="jobs_test.count_runs", payload={"key": "dup"},
                           heartbeat_at=utcnow())
    await asyncio.gather(*(runtime.execute(job.id) for _ in range(5)))
    done = await Job.get(id=job.id)
    assert (done.status, done.attempts, done.result) == ("completed", 1, {"runs": 1})
    await runtime.execute(job.id)  # a late duplicate of a finished job
    assert RUNS["dup"] == 1
    assert (await Job.get(id=job.id)).attempts == 1


# -- cancelling -------------------------------------------------------------------------------


async def test_cancelling_a_pending_job_cancels_it_at_once(client, hub, admin, events):
    job = await jobs.enqueue(admin.org_id, "core.echo", {}, delay_seconds=3600, hub=hub)
    response = await client.delete(f"/api/v1/jobs/{job.id}", headers=admin.headers)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert (body["status"], body["cancel_requested"]) == ("cancelled", True)
    assert body["completed_at"] is not None
    assert [e.type for e in await events_until(events, job.id, "job.cancelled")] == ["job.cancelled"]
    again = await client.delete(f"/api/v1/jobs/{job.id}", headers=admin.headers)
    assert again.status_code == 200  # idempotent
    await runtime_execute_is_a_no_op(hub, job.id)


async def runtime_execute_is_a_no_op(hub, job_id):
    await hub.extensions["jobs"].execute(job_id)
    job = await Job.get(id=job_id)
    assert (job.status, job.attempts) == ("cancelled", 0)


async def test_cancelling_a_running_job_asks_it_to_stop(client, hub, admin, events):
    job = await jobs.enqueue(admin.org_id, "example.slow_count", {"count": 1000, "delay": 0.02}, hub=hub)
    await wait_for(job.id, ("running",), until=lambda j: j.progress >= 1)
    response = await client.delete(f"/api/v1/jobs/{job.id}", headers=admin.headers)
    body = await response.get_json()
    assert response.status_code == 202, body
    assert (body["status"], body["cancel_requested"]) == ("running", True)
    done = await wait_for(job.id)
    assert done.status == "cancelled"
    assert 0 < done.result["counted"] < 1000  # it stopped early, and kept what it had
    types_seen = [e.type for e in await events_until(events, job.id, "job.cancelled")]
    assert "job.cancel_requested" in types_seen and types_seen[-1] == "job.cancelled"


async def test_a_job_that_ignores_a_cancel_is_cancelled_by_force(client, hub, runtime, admin, fast):
    job = await jobs.enqueue(admin.org_id, "jobs_test.sleep", {"seconds": 60}, hub=hub)
    await wait_for(job.id, ("running",))
    response = await client.delete(f"/api/v1/jobs/{job.id}", headers=admin.headers)
    assert response.status_code == 202
    done = await wait_for(job.id, tick=runtime.beat)  # the heartbeat enforces cancel_grace_seconds
    assert (done.status, done.error) == ("cancelled", "cancelled while running")


async def test_a_finished_job_cannot_be_cancelled(client, hub, admin):
    job = await jobs.enqueue(admin.org_id, "core.echo", {}, hub=hub)
    await wait_for(job.id)
    response = await client.delete(f"/api/v1/jobs/{job.id}", headers=admin.headers)
    body = await response.get_json()
    assert_error(response.status_code, body, 409, "CONFLICT")
    assert body["error"]["details"]["status"] == "completed"


# -- the API -----------------------------------------------------------------------------------


async def test_jobs_are_listed_filtered_and_paginated_per_organization(client, hub, admin, other_admin):
    ids = []
    for n in range(3):
        ids.append(str((await jobs.enqueue(admin.org_id, "core.echo", {"n": n}, hub=hub)).id))
    pending = await jobs.enqueue(admin.org_id, "jobs_test.flaky", {"succeed_on": 1}, delay_seconds=3600, hub=hub)
    theirs = await jobs.enqueue(other_admin.org_id, "core.echo", {}, hub=hub)
    for job_id in ids:
        await wait_for(job_id)

    response = await client.get("/api/v1/jobs", headers=admin.headers)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["total"] == 4 and response.headers["X-Total-Count"] == "4"
    assert [j["id"] for j in body["jobs"]] == [str(pending.id), *reversed(ids)]  # newest first
    assert str(theirs.id) not in {j["id"] for j in body["jobs"]}

    page = await (await client.get("/api/v1/jobs?limit=2&offset=1", headers=admin.headers)).get_json()
    assert [j["id"] for j in page["jobs"]] == [ids[2], ids[1]]
    assert page["pagination"] == {"limit": 2, "offset": 1, "has_more": True}

    done = await (await client.get("/api/v1/jobs?status=completed", headers=admin.headers)).get_json()
    assert {j["id"] for j in done["jobs"]} == set(ids)
    both = await (await client.get("/api/v1/jobs?status=completed,pending", headers=admin.headers)).get_json()
    assert both["total"] == 4
    typed = await (await client.get("/api/v1/jobs?type=jobs_test.flaky", headers=admin.headers)).get_json()
    assert [j["id"] for j in typed["jobs"]] == [str(pending.id)]

    bad = await client.get("/api/v1/jobs?status=sleeping", headers=admin.headers)
    body = await bad.get_json()
    assert_error(bad.status_code, body, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == "status"

    for method in (client.get, client.delete):
        other = await method(f"/api/v1/jobs/{ids[0]}", headers=other_admin.headers)
        assert_error(other.status_code, await other.get_json(), 404, "NOT_FOUND")
    malformed = await client.get("/api/v1/jobs/not-a-uuid", headers=admin.headers)
    assert_error(malformed.status_code, await malformed.get_json(), 404, "NOT_FOUND")
    await client.delete(f"/api/v1/jobs/{pending.id}", headers=admin.headers)


async def test_viewers_see_jobs_but_only_writers_cancel_them(client, hub, admin):
    viewer = await add_member(client, admin, "viewer")
    developer = await add_member(client, admin, "developer")
    job = await jobs.enqueue(admin.org_id, "core.echo", {}, delay_seconds=3600, hub=hub)
    seen = await client.get(f"/api/v1/jobs/{job.id}", headers=viewer.headers)
    assert seen.status_code == 200
    denied = await client.delete(f"/api/v1/jobs/{job.id}", headers=viewer.headers)
    assert_error(denied.status_code, await denied.get_json(), 403, "FORBIDDEN")
    allowed = await client.delete(f"/api/v1/jobs/{job.id}", headers=developer.headers)
    assert allowed.status_code == 200
    anonymous = await client.get("/api/v1/jobs")
    assert_error(anonymous.status_code, await anonymous.get_json(), 401, "AUTHENTICATION_FAILED")


# -- recovery ---------------------------------------------------------------------------------


async def test_unfinished_jobs_are_resent_at_start(hub, runtime, admin):
    # A row whose process died before sending it, and one whose worker died while running it.
    never_sent = await Job.create(org_id=admin.org_id, type="core.echo", payload={"lost": True})
    orphan = await Job.create(
        org_id=admin.org_id, type="core.echo", payload={"orphan": True}, status="running", attempts=1,
        worker="gone:1:abc", started_at=utcnow() - timedelta(hours=1), heartbeat_at=utcnow() - timedelta(hours=1),
    )
    exhausted = await Job.create(
        org_id=admin.org_id, type="core.echo", payload={}, status="running", attempts=3, max_attempts=3,
        worker="gone:1:abc", heartbeat_at=utcnow() - timedelta(hours=1),
    )
    abandoned = await Job.create(
        org_id=admin.org_id, type="core.echo", payload={}, status="running", attempts=1, cancel_requested=True,
        worker="gone:1:abc", heartbeat_at=utcnow() - timedelta(hours=1),
    )
    # What a process does when it starts (the periodic sweep may get to some of them first).
    counts = await runtime.recover(full=True)
    assert set(counts) == {"resent", "stale", "failed", "cancelled"}

    assert (await wait_for(never_sent.id)).result == {"echo": {"lost": True}}
    rerun = await wait_for(orphan.id)
    assert (rerun.status, rerun.attempts, rerun.result, rerun.error) == ("completed", 2, {"echo": {"orphan": True}}, None)
    failed = await Job.get(id=exhausted.id)
    assert failed.status == "failed" and "gone:1:abc stopped responding during attempt 3" in failed.error
    assert (await Job.get(id=abandoned.id)).status == "cancelled"


async def test_a_running_job_keeps_its_heartbeat_and_is_not_taken_over(hub, runtime, admin, monkeypatch):
    monkeypatch.setattr(hub.settings.jobs, "stale_after_seconds", 1.0)
    job = await jobs.enqueue(admin.org_id, "example.slow_count", {"count": 150, "delay": 0.02}, hub=hub)
    running = await wait_for(job.id, ("running",))
    # Alive and beating: a sweep (as any process runs) leaves it alone however long it runs.
    deadline = time.monotonic() + 30
    while (current := await Job.get(id=job.id)).status == "running":
        await runtime.beat()
        await runtime.recover()
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert (current.status, current.attempts, current.worker) == ("completed", 1, running.worker)


# -- settings ---------------------------------------------------------------------------------


def test_jobs_settings_are_validated(tmp_path):
    with pytest.raises(SettingsError, match=r"jobs.*stale_after_seconds must be at least twice heartbeat_seconds"):
        load_settings(data_dir=tmp_path, secret_key=TEST_SECRET, jobs={"heartbeat_seconds": 5, "stale_after_seconds": 6})
    with pytest.raises(SettingsError, match=r"jobs\.prefetch"):
        load_settings(data_dir=tmp_path, secret_key=TEST_SECRET, jobs={"prefetch": 0})


def test_hub_worker_needs_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_DATA_DIR=str(tmp_path), HUB_SECRET_KEY=TEST_SECRET, HUB_DATABASE_URL=f"sqlite://{tmp_path}/x.sqlite3")
    result = subprocess.run([sys.executable, str(ROOT / "hub.py"), "worker"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert "hub worker needs redis_url (HUB_REDIS_URL)" in result.stderr


# -- real worker processes: SIGKILL and SIGTERM (tests/cluster.py) ----------------------------------


async def test_a_job_whose_worker_is_killed_mid_run_completes_once_on_another_worker(cluster):
    first = cluster.start_worker("first")
    job_id = cluster.enqueue("example.slow_count", {"count": 40, "delay": 0.1})
    running = await cluster.wait(job_id, lambda r: r["status"] == "running" and r["progress"] >= 10)
    killed_pid = int(running["worker"].split(":")[1])
    assert os.getpgid(killed_pid) == first.pid  # the job runs in the first worker's child process

    os.killpg(first.pid, signal.SIGKILL)  # master and child, mid-run, no chance to clean up
    first.wait(timeout=30)
    deadline = time.monotonic() + 30
    while not gone(killed_pid):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    stuck = await cluster.read(job_id)
    assert stuck["status"] == "running" and stuck["progress"] < 100 and stuck["worker"] == running["worker"]

    cluster.start_worker("second")
    done = await cluster.wait(job_id, lambda r: r["status"] in FINISHED)
    assert done["status"] == "completed", done
    assert done["attempts"] == 2 and done["progress"] == 100 and done["error"] is None
    assert done["worker"] != running["worker"]
    assert done["result"]["counted"] == 40 and done["result"]["attempt"] == 2
    assert done["result"]["pid"] != killed_pid  # one result, from the second worker


async def test_a_worker_stopped_with_sigterm_hands_its_job_back(cluster):
    first = cluster.start_worker("first")
    job_id = cluster.enqueue("example.slow_count", {"count": 60, "delay": 0.1})
    await cluster.wait(job_id, lambda r: r["status"] == "running" and r["progress"] >= 5)
    first.send_signal(signal.SIGTERM)  # to the master only
    assert first.wait(timeout=60) == 0
    released = await cluster.read(job_id)
    assert (released["status"], released["attempts"], released["worker"]) == ("pending", 0, None)

    cluster.start_worker("second")
    done = await cluster.wait(job_id, lambda r: r["status"] in FINISHED)
    assert (done["status"], done["attempts"], done["result"]["counted"]) == ("completed", 1, 60)

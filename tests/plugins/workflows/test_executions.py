"""Executions: branches, joins, concurrency, retries, timeouts, continue-on-error, cancel,
re-run from a failed step, the error workflow, hub functions as steps, HTTP steps, quotas."""

from __future__ import annotations

import asyncio
import time
import types

import pytest
from pydantic import BaseModel, ConfigDict

from core.kernel.contributions import WorkflowNode
from tests.plugins.workflows.support import edge, node, scoring_workflow, steps_by_node, transform, workflow

CALLS = "tests.workflow_calls"
GATES = "tests.workflow_gates"


class SleepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = ""  # the node's id (set by step())
    seconds: float = 0.0
    fail_times: int = 0  # fail the first calls of this label in the test, then succeed
    gate: str | None = None  # wait until the test opens this gate


@pytest.fixture
def test_nodes(hub):
    """`tests.step`: records each call (node, start, end), sleeps, fails its first `fail_times`
    calls, or waits for a gate the test opens (`gates[name].set()`)."""
    calls: list[dict] = []
    gates: dict[str, asyncio.Event] = {}
    hub.extensions[CALLS], hub.extensions[GATES] = calls, gates

    async def step(ctx, config: SleepConfig, inputs: dict) -> dict:
        record = {"label": config.label, "execution": ctx.execution_id, "input": inputs.get("main"),
                  "start": time.monotonic()}
        calls.append(record)
        earlier = [c for c in calls if c["label"] == config.label]  # this one included
        if config.gate:
            await gates.setdefault(config.gate, asyncio.Event()).wait()
        await asyncio.sleep(config.seconds)
        record["end"] = time.monotonic()
        if len(earlier) <= config.fail_times:
            raise RuntimeError(f"failure {len(earlier)} of {config.fail_times}")
        return {"main": {"ok": True, "input": inputs.get("main")}}

    hub.workflow_nodes["tests.step"] = WorkflowNode("tests.step", "a test step", SleepConfig, step, ("main",), ("main",),
                                                    "tests")
    yield types.SimpleNamespace(calls=calls, gates=gates)
    hub.workflow_nodes.pop("tests.step", None)


def step(node_id: str, **config) -> dict:
    settings = config.pop("settings", None)
    return node(node_id, "tests.step", {"label": node_id, **config}, **({"settings": settings} if settings else {}))


async def test_a_branch_is_chosen_and_the_other_skipped(api, events):
    created = await api.create_workflow(scoring_workflow())
    hot = await api.run(created["id"], {"amount": "60", "name": "Ada"})
    assert hot["status"] == "completed" and hot["progress"] == 100 and hot["workflow_version"] == 1
    assert hot["output_data"] == {"format": {"text": "Ada is hot"}}
    steps = steps_by_node(hot)
    assert {n: s["status"] for n, s in steps.items()} == {
        "start": "completed", "score": "completed", "decide": "completed", "hot": "completed", "cold": "skipped",
        "format": "completed"}
    assert steps["score"]["output_data"] == {"main": {"value": 120, "name": "Ada"}}
    assert steps["decide"]["output_data"] == {"true": {"value": 120, "name": "Ada"}}
    assert steps["hot"]["attempt"] == 1 and steps["hot"]["duration_ms"] >= 0
    cold = await api.run(created["id"], {"amount": 10, "name": "Bob"})
    assert cold["output_data"] == {"format": {"text": "Bob is cold"}}
    assert set(hot["metrics"]) == {"total_duration_ms", "ai_processing_time_ms", "api_calls_count", "tokens_used",
                                   "cost_estimate"}
    kinds = [e.type for e in events.of(api.org_id) if e.type.startswith("workflow.execution.")
             and e.data["execution_id"] == hot["id"]]
    assert kinds[0] == "workflow.execution.started" and kinds[-1] == "workflow.execution.completed"
    assert kinds.count("workflow.execution.step_started") == 5  # the skipped branch never starts
    listed = await api.get(f"/api/workflows/{created['id']}/executions")
    assert [e["id"] for e in listed["executions"]] == [cold["id"], hot["id"]]
    assert [e["id"] for e in (await api.get(f"/api/workflows/{created['id']}/executions?status=failed"))["executions"]] == []


async def test_independent_branches_run_at_once_and_a_join_waits_for_both(api, test_nodes):
    created = await api.create_workflow(workflow("Fan", [
        node("start", "webhook-trigger"), step("left", seconds=0.3), step("right", seconds=0.3),
        transform("join", {"both": "{{ input }}"}),
    ], [edge("start", "left"), edge("start", "right"), edge("left", "join"), edge("right", "join")]))
    execution = await api.run(created["id"], {"n": 1})
    assert execution["status"] == "completed", execution
    left, right = test_nodes.calls
    assert left["start"] < right["end"] and right["start"] < left["end"]  # they overlapped
    join = steps_by_node(execution)["join"]
    assert join["input_data"] == {"main": [{"ok": True, "input": {"n": 1}}] * 2}  # both inputs, in edge order


async def test_a_step_is_retried_then_succeeds(api, test_nodes):
    created = await api.create_workflow(workflow("Retry", [
        step("flaky", fail_times=2, settings={"retries": 2, "retry_backoff_seconds": 0.01})]))
    execution = await api.run(created["id"])
    assert execution["status"] == "completed"
    assert steps_by_node(execution)["flaky"]["attempt"] == 3 and len(test_nodes.calls) == 3


async def test_a_step_out_of_retries_fails_the_execution_and_starts_the_error_workflow(api, test_nodes, events):
    handler = await api.create_workflow(workflow("On error", [transform("note", {"failed": "{{ inputs.execution_id }}"})]))
    created = await api.create_workflow(workflow("Fails", [
        step("flaky", fail_times=5, settings={"retries": 1, "retry_backoff_seconds": 0.01}), transform("after", {})],
        [edge("flaky", "after")], settings={"error_workflow_id": handler["id"]}))
    execution = await api.run(created["id"])
    assert execution["status"] == "failed" and "failure 2 of 5" in execution["error_message"]  # the last attempt's
    steps = steps_by_node(execution)
    assert steps["flaky"]["status"] == "failed" and steps["flaky"]["attempt"] == 2 and "after" not in steps
    started = (await api.get(f"/api/workflows/{handler['id']}/executions"))["executions"]
    assert len(started) == 1
    handled = await api.wait_for_execution(started[0]["id"])
    assert handled["status"] == "completed" and handled["input_data"]["execution_id"] == execution["id"]
    assert handled["input_data"]["failed_steps"] == ["flaky"]


async def test_a_step_past_its_timeout_fails(api, test_nodes):
    created = await api.create_workflow(workflow("Slow", [step("slow", seconds=10, settings={"timeout_seconds": 0.2})]))
    execution = await api.run(created["id"])
    assert execution["status"] == "failed" and "timed out after 0.2 s" in execution["error_message"]


async def test_continue_on_error_passes_the_error_down(api, test_nodes):
    created = await api.create_workflow(workflow("Carry on", [
        step("broken", fail_times=9, settings={"continue_on_error": True}),
        transform("after", {"saw": "{{ input.error }}"})], [edge("broken", "after")]))
    execution = await api.run(created["id"])
    assert execution["status"] == "completed"
    steps = steps_by_node(execution)
    assert steps["broken"]["status"] == "failed" and steps["after"]["output_data"]["main"]["saw"] == "failure 1 of 9"


async def test_the_workflow_timeout_stops_the_execution(api, test_nodes):
    created = await api.create_workflow(workflow("Too long", [step("slow", seconds=30)], settings={"timeout_seconds": 1}))
    execution = await api.run(created["id"])
    assert execution["status"] == "timeout" and steps_by_node(execution)["slow"]["status"] == "timeout"


async def test_cancel_during_a_running_step(api, test_nodes, events):
    created = await api.create_workflow(workflow("Cancel me", [step("wait", gate="never"), transform("after", {})],
                                                 [edge("wait", "after")]))
    started = await api.call("POST", f"/api/workflows/{created['id']}/execute", {}, status=202)
    await api.wait_for_execution(started["execution_id"], statuses=("running",))
    while not test_nodes.calls:
        await asyncio.sleep(0.02)
    await api.call("POST", f"/api/executions/{started['execution_id']}/cancel", status=202)
    execution = await api.wait_for_execution(started["execution_id"])
    assert execution["status"] == "cancelled"
    assert steps_by_node(execution)["wait"]["status"] == "cancelled" and "after" not in steps_by_node(execution)
    await api.error("POST", f"/api/executions/{started['execution_id']}/cancel", status=409, code="CONFLICT")


async def test_rerun_from_the_failed_step_reuses_the_steps_before_it(api, test_nodes):
    created = await api.create_workflow(workflow("Rerun", [
        step("first"), step("second", fail_times=1), transform("third", {"done": True})],
        [edge("first", "second"), edge("second", "third")]))
    failed = await api.run(created["id"], {"order": 42})
    assert failed["status"] == "failed" and len(test_nodes.calls) == 2
    rerun = await api.call("POST", f"/api/executions/{failed['id']}/rerun", {}, status=202)
    again = await api.wait_for_execution(rerun["execution_id"])
    assert again["status"] == "completed" and again["rerun_of"] == failed["id"] and again["input_data"] == {"order": 42}
    steps = steps_by_node(again)
    assert steps["first"]["reused"] is True and steps["second"]["reused"] is False
    assert len(test_nodes.calls) == 3  # only the failed step ran again, not the one before it
    assert steps["second"]["input_data"] == {"main": {"ok": True, "input": {"order": 42}}}
    await api.error("POST", f"/api/executions/{again['id']}/rerun", {}, status=400, code="VALIDATION_ERROR")


async def test_an_execution_keeps_the_version_it_started_with(api, test_nodes):
    created = await api.create_workflow(workflow("Pinned", [step("wait", gate="pinned"), transform("out", {"v": 1})],
                                                 [edge("wait", "out")]))
    started = await api.call("POST", f"/api/workflows/{created['id']}/execute", {}, status=202)
    await api.wait_for_execution(started["execution_id"], statuses=("running",))
    await api.put(f"/api/workflows/{created['id']}", workflow("Pinned", [transform("out", {"v": 2})]))
    test_nodes.gates.setdefault("pinned", asyncio.Event()).set()
    execution = await api.wait_for_execution(started["execution_id"])
    assert execution["workflow_version"] == 1 and execution["output_data"] == {"out": {"v": 1}}


async def test_a_function_call_step_acts_with_the_rights_of_who_started_it(api, api_of):
    created = await api.create_workflow(workflow("Lead", [
        node("make", "function-call", {"function": "create_lead", "arguments": {"name": "{{ inputs.name }}"}})]))
    execution = await api.run(created["id"], {"name": "Grace"})
    assert execution["status"] == "completed", execution
    lead = execution["output_data"]["make"]
    assert (await api.get(f"/api/leads/{lead['id']}"))["name"] == "Grace"
    narrow = await api_of(key=["workflows.*"])  # may run workflows, may not write leads
    refused = await narrow.run(created["id"], {"name": "Mallory"})
    assert refused["status"] == "failed" and "Insufficient permissions" in refused["error_message"]


async def test_a_database_query_step_only_reads(api):
    created = await api.create_workflow(workflow("Read", [
        node("read", "database-query", {"function": "create_lead", "arguments": {"name": "x"}})]))
    execution = await api.run(created["id"])
    assert execution["status"] == "failed" and "changes data" in execution["error_message"]


async def test_an_http_step_goes_through_the_ssrf_guard(api):
    created = await api.create_workflow(workflow("HTTP", [
        node("call", "api-integration", {"url": "http://127.0.0.1:9/private", "method": "GET"})]))
    execution = await api.run(created["id"])
    assert execution["status"] == "failed" and "not allowed" in execution["error_message"]


async def test_the_quota_of_executions(api, plan_limits):
    created = await api.create_workflow(workflow("Quota"))
    await plan_limits(api.org_id, workflow_executions=1)
    await api.call("POST", f"/api/workflows/{created['id']}/execute", {}, status=202)
    await api.error("POST", f"/api/workflows/{created['id']}/execute", {}, status=429, code="QUOTA_EXCEEDED")


async def test_live_progress_on_the_execution_socket(api, admin, ws, test_nodes):
    created = await api.create_workflow(workflow("Live", [step("wait", gate="live"), transform("done", {})],
                                                 [edge("wait", "done")]))
    started = await api.call("POST", f"/api/workflows/{created['id']}/execute", {}, status=202)
    async with ws(admin, f"/ws/executions/{started['execution_id']}") as socket:
        test_nodes.gates.setdefault("live", asyncio.Event()).set()
        seen = []
        while not seen or seen[-1]["status"] not in ("completed", "failed"):
            message = await socket.receive()
            if message["type"] == "execution_status":
                seen.append(message)
    assert {m["execution_id"] for m in seen} == {started["execution_id"]}
    assert seen[-1]["status"] == "completed" and seen[-1]["progress"] == 100
    assert ("done", "completed") in [(m["current_step"], m["step_status"]) for m in seen]
    assert all(set(m) >= {"type", "execution_id", "status", "progress", "current_step", "timestamp"} for m in seen)


async def test_the_execution_socket_is_closed_to_other_organizations(api, other_admin, hub_client):
    created = await api.create_workflow(workflow("Private"))
    started = await api.call("POST", f"/api/workflows/{created['id']}/execute", {}, status=202)
    async with hub_client.websocket(f"/ws/executions/{started['execution_id']}", headers=other_admin.headers) as socket:
        message = await asyncio.wait_for(socket.receive_json(), 10)
        assert message["type"] == "error" and message["error"]["code"] == "NOT_FOUND"


async def test_execute_is_rate_limited_per_organization(api, api_of):
    """Seed 001: /api/workflows/*/execute, 60 a minute per organization with bursts of 10."""
    created = await api.create_workflow(workflow("Busy"))
    member = await api_of(role="member")  # another caller of the same organization shares the budget
    statuses = []
    for caller in [api, member] * 6:
        response, _ = await caller.request("POST", f"/api/workflows/{created['id']}/execute", {})
        statuses.append(response.status_code)
    assert statuses.count(202) == 10 and statuses[-2:] == [429, 429], statuses
    await api.error("POST", f"/api/workflows/{created['id']}/execute", {}, status=429, code="RATE_LIMIT_EXCEEDED")

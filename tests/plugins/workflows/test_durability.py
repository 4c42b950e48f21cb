"""A worker killed (SIGKILL) in the middle of an execution: another worker finishes it, no
finished step runs again, the step that was running runs again once (its attempt counted), and
the result is what a run without the kill gives. Real `hub worker` processes (tests/cluster.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

LABELS = ("s1", "s2", "s3", "s4")
START = """
import asyncio, json, sys, uuid
async def main():
    from core.app import create_app
    from core.tenancy.models import Organization
    from plugins.workflows import service
    from plugins.workflows.schemas import WorkflowCreateRequest
    app = create_app()
    await app.startup()
    try:
        async with app.app_context():
            hub = app.extensions["hub"]
            org = await Organization.create(id=uuid.UUID(sys.argv[1]), name="Durable")
            definition = WorkflowCreateRequest.model_validate_json(sys.argv[2]).model_dump(mode="json")
            workflow = await service.create_workflow(hub, org.id, None, definition)
            execution = await service.start_execution(hub, org.id, workflow["id"], None, inputs={"order": 7})
        print(execution.id, flush=True)
    finally:
        await app.shutdown()
asyncio.run(main())
"""


def chain(seconds: float) -> dict:
    nodes = [{"id": label, "type": "example.wait", "title": label, "config": {"label": label, "seconds": seconds}}
             for label in LABELS]
    edges = [{"id": f"{a}-{b}", "source_node_id": a, "target_node_id": b} for a, b in zip(LABELS, LABELS[1:])]
    return {"name": "Chain", "nodes": nodes, "edges": edges, "settings": {"timeout_seconds": 600}}


def expected_output() -> dict:
    """What the chain gives without any kill: each step wraps what reached it."""
    value: dict = {"order": 7}
    for label in LABELS:
        value = {"label": label, "input": value}
    return {"s4": value}


async def steps_of(cluster, execution_id: str) -> dict[str, tuple[str, int]]:
    rows = await cluster.rows("SELECT node_id, status, attempt FROM workflows_execution_step WHERE execution_id = ?",
                              cluster.uuid_value(execution_id))
    return {node_id: (status, attempt) for node_id, status, attempt in rows}


async def wait_for(cluster, condition, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} ({cluster.logs()})"
        await asyncio.sleep(0.1)


async def test_a_worker_killed_mid_execution_loses_and_repeats_no_finished_step(cluster):
    first = cluster.start_worker("first")
    execution_id = cluster.script(START, cluster.org_id, json.dumps({**chain(1.5)}))

    async def second_step_done_third_running():
        steps = await steps_of(cluster, execution_id)
        return steps.get("s2", ("",))[0] == "completed" and steps.get("s3", ("",))[0] == "running" and steps

    before = await wait_for(cluster, second_step_done_third_running, "s3 never started")
    os.killpg(first.pid, signal.SIGKILL)  # master and child, mid-step, no chance to clean up
    first.wait(timeout=30)
    assert before["s1"] == ("completed", 1) and before["s3"] == ("running", 1)

    cluster.start_worker("second")

    async def finished():
        (row,) = await cluster.rows("SELECT status, output_data FROM workflows_execution WHERE id = ?",
                                    cluster.uuid_value(execution_id))
        return row if row[0] in ("completed", "failed", "cancelled", "timeout") else None

    status, output = await wait_for(cluster, finished, "the execution did not finish after the kill", timeout=120)
    output = json.loads(output) if isinstance(output, str) else output
    assert status == "completed" and output == expected_output()
    steps = await steps_of(cluster, execution_id)
    assert steps == {"s1": ("completed", 1), "s2": ("completed", 1), "s3": ("completed", 2), "s4": ("completed", 1)}
    runs = await cluster.rows("SELECT text FROM example_note WHERE org_id = ?", cluster.uuid_value(cluster.org_id))
    counted = {label: sum(1 for (text,) in runs if text == f"step {label}") for label in LABELS}
    assert counted == {"s1": 1, "s2": 1, "s3": 2, "s4": 1}  # only the step cut off ran twice

"""Schedule triggers: saved with their next time, started once per due time however many
processes look, and checked when saved."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core import utcnow
from plugins.workflows import schedules
from plugins.workflows.models import Workflow
from tests.plugins.workflows.support import edge, node, transform, workflow


def scheduled(cron: str = "*/5 * * * *", timezone: str = "UTC", **extra) -> dict:
    return workflow("Nightly", [node("tick", "schedule-trigger", {"cron": cron, "timezone": timezone}),
                                transform("work", {"at": "{{ input.scheduled_at }}"})], [edge("tick", "work")], **extra)


async def test_a_schedule_sets_the_next_run_and_fires_once_per_due_time(api, hub):
    created = await api.create_workflow(scheduled())
    row = await Workflow.get(id=created["id"])
    now = utcnow()
    assert row.next_run_at is not None and now < row.next_run_at <= now + timedelta(minutes=5)
    assert row.next_run_at.minute % 5 == 0 and row.next_run_at.second == 0

    due = now - timedelta(seconds=1)
    await Workflow.filter(id=row.id).update(next_run_at=due)
    started = await asyncio.gather(*(schedules.run_due(hub) for _ in range(4)))  # four processes looking at once
    assert sum(started) == 1
    runs = (await api.get(f"/api/workflows/{created['id']}/executions"))["executions"]
    assert len(runs) == 1
    execution = await api.wait_for_execution(runs[0]["id"])
    assert execution["status"] == "completed" and execution["input_data"]["trigger"] == "schedule"
    assert execution["output_data"]["work"]["at"] == execution["input_data"]["scheduled_at"]
    assert (await Workflow.get(id=row.id)).next_run_at > utcnow()  # on to the next time, not the missed ones


async def test_time_zones_and_inactive_workflows(api):
    paris = await api.create_workflow(scheduled("0 3 * * *", "Europe/Paris"))
    at = (await Workflow.get(id=paris["id"])).next_run_at
    assert at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")).hour == 3
    off = await api.create_workflow(scheduled(is_active=False))
    assert (await Workflow.get(id=off["id"])).next_run_at is None
    plain = await api.create_workflow(workflow("No schedule", [transform("a", {})]))
    assert (await Workflow.get(id=plain["id"])).next_run_at is None


@pytest.mark.parametrize("cron, timezone, field", [
    ("every night", "UTC", "nodes[0].config.cron"),
    ("61 * * * *", "UTC", "nodes[0].config.cron"),
    ("0 3 * * *", "Mars/Olympus", "nodes[0].config.timezone"),
])
async def test_a_bad_schedule_is_refused_when_saved(api, cron, timezone, field):
    error = await api.error("POST", "/api/workflows", scheduled(cron, timezone), status=400, code="VALIDATION_ERROR")
    assert any(p["field"] == field for p in error["details"]["problems"]), error

"""Event triggers: a workflow with `{"type": "event", "config": {"event_type", "filter"}}` starts
when its organization emits that event, with the event's data as its input; checked when saved,
one execution per event however often it is delivered, never from this plugin's own events."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from core import emit
from plugins.workflows import service
from plugins.workflows.models import EventTrigger, Execution
from tests.plugins.workflows.support import edge, node, transform, workflow


def on_event(event_type: str, data_filter: dict | None = None, **extra) -> dict:
    config = {"event_type": event_type, **({"filter": data_filter} if data_filter is not None else {})}
    return workflow("On event", [node("start", "webhook-trigger"),
                                 transform("work", {"vin": "{{ input.vin }}", "make": "{{ input.make }}"})],
                    [edge("start", "work")], triggers=[{"type": "event", "config": config}], **extra)


async def executions(api, workflow_id: str) -> list[dict]:
    return (await api.get(f"/api/workflows/{workflow_id}/executions"))["executions"]


async def fire(hub, org_id: str, event_type: str, data: dict):
    event = await emit(org_id, event_type, data, hub=hub)
    await hub.bus.settle()
    return event


async def test_an_event_starts_the_workflow_with_its_data(api, hub, event_types):
    event_types("thing.shipped")
    created = await api.create_workflow(on_event("thing.shipped"))
    event = await fire(hub, api.account.org_id, "thing.shipped", {"vin": "V1", "make": "Volvo"})
    runs = await executions(api, created["id"])
    assert len(runs) == 1 and runs[0]["trigger"] == "event"
    execution = await api.wait_for_execution(runs[0]["id"])
    assert execution["status"] == "completed", execution
    assert execution["input_data"] == {"vin": "V1", "make": "Volvo"}
    assert execution["output_data"]["work"] == {"vin": "V1", "make": "Volvo"}
    assert execution["created_by"] == api.account.user_id  # run as the workflow's author
    row = await Execution.get(id=runs[0]["id"])
    assert row.trigger_event_id == event.id and row.context["event_type"] == "thing.shipped"


async def test_another_organizations_event_and_a_filter_that_does_not_match_start_nothing(api, other_api, hub,
                                                                                           event_types):
    event_types("thing.shipped")
    volvo = await api.create_workflow(on_event("thing.shipped", {"make": "Volvo", "owner.country": "SE"}))
    await fire(hub, other_api.account.org_id, "thing.shipped", {"make": "Volvo", "owner": {"country": "SE"}})
    await fire(hub, api.account.org_id, "thing.shipped", {"make": "Saab", "owner": {"country": "SE"}})
    await fire(hub, api.account.org_id, "thing.shipped", {"make": "Volvo", "owner": {"country": "NO"}})
    await fire(hub, api.account.org_id, "thing.shipped", {"make": "Volvo"})
    assert await executions(api, volvo["id"]) == []
    await fire(hub, api.account.org_id, "thing.shipped", {"make": "Volvo", "owner": {"country": "SE"}, "vin": "V9"})
    runs = await executions(api, volvo["id"])
    assert len(runs) == 1
    assert (await api.wait_for_execution(runs[0]["id"]))["input_data"]["vin"] == "V9"


async def test_an_event_delivered_twice_starts_one_execution(api, hub, event_types):
    event_types("thing.shipped")
    created = await api.create_workflow(on_event("thing.shipped"))
    event = await fire(hub, api.account.org_id, "thing.shipped", {"vin": "V2"})
    await hub.bus.deliver(event)  # at-least-once: the same event (same id) again
    await asyncio.gather(hub.bus.deliver(event), hub.bus.deliver(event))  # and in two processes at once
    runs = await executions(api, created["id"])
    assert len(runs) == 1
    await api.wait_for_execution(runs[0]["id"])
    await fire(hub, api.account.org_id, "thing.shipped", {"vin": "V3"})  # another event: another run
    assert len(await executions(api, created["id"])) == 2
    for run in await executions(api, created["id"]):
        await api.wait_for_execution(run["id"])


async def switch(app, org_id: str, workflow_id: str, active: bool) -> None:
    """On or off without a new version (what n8n's activate/deactivate and a hub function do)."""
    async with app.app_context():
        await service.set_active(org_id, workflow_id, active)


async def test_inactive_and_deleted_workflows_do_not_run(api, app, hub, event_types):
    event_types("thing.shipped")
    inactive = await api.create_workflow(on_event("thing.shipped", is_active=False))
    switched_off = await api.create_workflow(on_event("thing.shipped"))
    deleted = await api.create_workflow(on_event("thing.shipped"))
    await switch(app, api.account.org_id, switched_off["id"], False)
    await api.call("DELETE", f"/api/workflows/{deleted['id']}", status=204)
    assert await EventTrigger.filter(workflow_id__in=[inactive["id"], switched_off["id"], deleted["id"]]).count() == 0
    await fire(hub, api.account.org_id, "thing.shipped", {"vin": "V4"})
    assert await executions(api, inactive["id"]) == [] and await executions(api, switched_off["id"]) == []
    assert await Execution.filter(workflow_id=deleted["id"]).count() == 0

    await switch(app, api.account.org_id, switched_off["id"], True)  # on again: listens again
    await fire(hub, api.account.org_id, "thing.shipped", {"vin": "V5"})
    runs = await executions(api, switched_off["id"])
    assert len(runs) == 1
    await api.wait_for_execution(runs[0]["id"])

    # a new version without the trigger stops listening
    await api.call("PUT", f"/api/workflows/{switched_off['id']}", {**on_event("thing.shipped"), "triggers": []})
    await fire(hub, api.account.org_id, "thing.shipped", {"vin": "V6"})
    assert len(await executions(api, switched_off["id"])) == 1


@pytest.mark.parametrize("config, field", [
    ({"event_type": "no.such_thing_happened"}, "triggers[0].config.event_type"),
    ({}, "triggers[0].config.event_type"),
    ({"event_type": "workflow.execution.completed"}, "triggers[0].config.event_type"),  # no loops
    ({"event_type": "workflow.updated"}, "triggers[0].config.event_type"),
    ({"event_type": "job.completed"}, "triggers[0].config.event_type"),
    ({"event_type": "thing.shipped", "filter": ["make"]}, "triggers[0].config.filter"),
    ({"event_type": "thing.shipped", "when": "always"}, "triggers[0].config.when"),
])
async def test_a_bad_event_trigger_is_refused_when_saved(api, event_types, config, field):
    event_types("thing.shipped")
    body = {**on_event("thing.shipped"), "triggers": [{"type": "event", "config": config}]}
    error = await api.error("POST", "/api/workflows", body, status=400, code="VALIDATION_ERROR")
    assert any(p["field"] == field for p in error["details"]["problems"]), error


async def test_an_event_its_author_may_not_read_is_refused(api, api_of, event_types):
    event_types("secret.leaked", permission="billing.manage")
    viewer_editor = await api_of(role="developer")
    error = await viewer_editor.error("POST", "/api/workflows", on_event("secret.leaked"), status=400,
                                      code="VALIDATION_ERROR")
    assert error["details"]["field"] == "triggers[0].config.event_type" and "billing.manage" in error["details"]["reason"]
    assert (await api.create_workflow(on_event("secret.leaked")))["triggers"][0]["config"]["event_type"] == "secret.leaked"


async def test_the_dms_service_needed_event_starts_a_workflow(api, hub):
    """The real DMS event type, emitted as the DMS plugin emits it (without importing it)."""
    assert hub.bus.catalogue.types["dms.vehicle.service_needed"].plugin == "dms"
    created = await api.create_workflow(on_event("dms.vehicle.service_needed", {"make": "Volvo"}))
    due = {"connection_id": str(uuid.uuid4()), "vehicle_id": str(uuid.uuid4()), "dms_vehicle_id": "DV-1",
           "vin": "YV1AB12C3D4567890", "year": 2021, "make": "Volvo", "model": "XC60", "dms_customer_id": "C-7",
           "contact_id": None, "email": "owner@example.com", "last_service_date": "2025-12-20",
           "service_due_date": "2026-12-20"}
    await fire(hub, api.account.org_id, "dms.vehicle.service_needed", due)
    await fire(hub, api.account.org_id, "dms.vehicle.service_needed", {**due, "make": "Saab"})  # filtered out
    runs = await executions(api, created["id"])
    assert len(runs) == 1
    execution = await api.wait_for_execution(runs[0]["id"])
    assert execution["status"] == "completed" and execution["input_data"] == due
    assert execution["output_data"]["work"] == {"vin": "YV1AB12C3D4567890", "make": "Volvo"}

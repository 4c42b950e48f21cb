"""Support tickets (plugins/support): the seed 002 endpoints, status rules, internal comments,
who may do what, SLA breaches on a controllable clock, and tenancy."""

from __future__ import annotations


import uuid
from datetime import datetime, timedelta

import pytest

from core.testing import Api
from plugins.support.models import Ticket
from plugins.support.service import check_sla

TICKET = {"title": "Issue with workflow", "description": "Detailed description...", "priority": "high",
          "category": "technical"}


async def open_ticket(api, **fields) -> dict:
    return await api.post("/api/v1/tickets", {**TICKET, **fields})


async def test_a_ticket_is_created_in_the_seed_shape_with_its_due_times(api, hub, events):
    body = await open_ticket(api)
    assert {"id", "organization_id", "user_id", "title", "description", "status", "priority", "category",
            "created_at"} <= set(body)
    assert body["organization_id"] == api.org_id and body["user_id"] == api.account.user_id
    assert (body["title"], body["status"], body["priority"], body["category"]) == \
           ("Issue with workflow", "open", "high", "technical")
    created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    sla = hub.plugin_settings("support").sla["high"]
    assert datetime.fromisoformat(body["first_response_due_at"].replace("Z", "+00:00")) == \
           created + timedelta(minutes=sla.first_response_minutes)
    assert datetime.fromisoformat(body["resolution_due_at"].replace("Z", "+00:00")) == \
           created + timedelta(minutes=sla.resolution_minutes)
    assert body["sla_breached"] == []
    event = await events.wait_for(api.org_id, "ticket.created")
    assert event.data["id"] == body["id"] and event.data["title"] == "Issue with workflow"


async def test_bad_input_names_the_field(api):
    await api.error("POST", "/api/v1/tickets", {**TICKET, "priority": "asap"}, field="priority")
    await api.error("POST", "/api/v1/tickets", {**TICKET, "title": ""}, field="title")
    await api.error("POST", "/api/v1/tickets", {"title": "x"}, field="description")
    await api.error("POST", "/api/v1/tickets", {**TICKET, "owner": "me"})
    await api.error("POST", "/api/v1/tickets", {**TICKET, "title": "x" * 201}, field="title")
    ticket = await open_ticket(api)
    await api.error("PUT", f"/api/v1/tickets/{ticket['id']}", {"status": "done"}, field="status")
    await api.error("PUT", f"/api/v1/tickets/{ticket['id']}", {"assigned_to": "five"}, field="assigned_to")
    await api.error("POST", f"/api/v1/tickets/{ticket['id']}/comments", {"comment": ""}, field="comment")
    for query in ("status=pending", "priority=asap", "sort=secret", "order=up", "skip=-1", "limit=0", "page=2"):
        await api.error("GET", f"/api/v1/tickets?{query}")


async def test_the_list_filters_sorts_and_pages_as_a_bare_list(api, other_api):
    low = await open_ticket(api, title="a low one", priority="low")
    high = await open_ticket(api, title="b high one", priority="high")
    urgent = await open_ticket(api, title="c urgent one", priority="urgent")
    await open_ticket(other_api, title="someone else's")
    await api.put(f"/api/v1/tickets/{high['id']}", {"status": "in_progress"})

    response, body = await api.request("GET", "/api/v1/tickets")
    assert response.status_code == 200 and isinstance(body, list)
    assert [t["id"] for t in body] == [urgent["id"], high["id"], low["id"]]  # newest first
    assert response.headers["X-Total-Count"] == "3"
    assert [t["id"] for t in await api.get("/api/v1/tickets?status=in_progress")] == [high["id"]]
    assert [t["id"] for t in await api.get("/api/v1/tickets?priority=low")] == [low["id"]]
    assert [t["id"] for t in await api.get("/api/v1/tickets?status=open&priority=urgent")] == [urgent["id"]]
    assert [t["title"] for t in await api.get("/api/v1/tickets?sort=title&order=asc")] == \
           ["a low one", "b high one", "c urgent one"]
    medium = await open_ticket(api, title="d medium one", priority="medium")
    assert [t["priority"] for t in await api.get("/api/v1/tickets?sort=priority&order=desc")] == \
           ["urgent", "high", "medium", "low"]
    assert [t["id"] for t in await api.get("/api/v1/tickets?sort=priority&order=asc&limit=2")] == [low["id"], medium["id"]]
    await api.delete("/api/v1/tickets/" + medium["id"], status=405)
    response, body = await api.request("GET", "/api/v1/tickets?sort=created_at&order=asc&skip=1&limit=1")
    assert [t["id"] for t in body] == [high["id"]]
    assert (response.headers["X-Total-Count"], response.headers["X-Per-Page"], response.headers["X-Page"]) == \
           ("4", "1", "2")


async def test_status_rules_and_their_refusals(api, events):
    ticket = await open_ticket(api)
    path = f"/api/v1/tickets/{ticket['id']}"
    error = await api.error("PUT", path, {"status": "resolved"}, status=409, code="INVALID_STATUS_TRANSITION")
    assert error["details"]["allowed"] == ["in_progress", "closed"] and "in_progress" in error["message"]
    body = await api.put(path, {"status": "in_progress"})
    assert body["status"] == "in_progress"
    body = await api.put(path, {"status": "resolved"})
    assert body["status"] == "resolved" and body["resolved_at"] is not None
    body = await api.put(path, {"status": "closed"})
    assert body["status"] == "closed" and body["closed_at"] is not None
    error = await api.error("PUT", path, {"status": "open"}, status=409, code="INVALID_STATUS_TRANSITION")
    assert error["details"]["allowed"] == []
    assert (await api.put(path, {"status": "closed"}))["status"] == "closed"  # no change: no error
    await events.wait_for(api.org_id, "ticket.updated")
    updates = events.of(api.org_id, "ticket.updated")
    assert [(e.data["previous_status"], e.data["status"]) for e in updates] == \
           [("open", "in_progress"), ("in_progress", "resolved"), ("resolved", "closed")]


async def test_a_customer_comment_reopens_a_resolved_ticket_and_staff_answers_are_first_responses(
        api, member_of, hub_client, events):
    customer = Api.of(hub_client, await member_of(api.account, "viewer"))
    ticket = await open_ticket(customer)
    path = f"/api/v1/tickets/{ticket['id']}"
    await api.post(f"{path}/comments", {"comment": "looking into it", "is_internal": True})
    assert (await api.get(path))["first_responded_at"] is None  # an internal note answers nobody
    await api.post(f"{path}/comments", {"comment": "Working on this issue..."})
    assert (await api.get(path))["first_responded_at"] is not None
    await api.put(path, {"status": "in_progress"})
    await api.put(path, {"status": "resolved"})
    comment = await customer.post(f"{path}/comments", {"comment": "still broken"})
    assert comment["is_internal"] is False and comment["author_id"] == customer.account.user_id
    body = await api.get(path)
    assert body["status"] == "open" and body["resolved_at"] is None
    await api.put(path, {"status": "closed"})
    await customer.post(f"{path}/comments", {"comment": "again"})
    assert (await api.get(path))["status"] == "open"
    # staff's comments never reopen
    await api.put(path, {"status": "closed"})
    await api.post(f"{path}/comments", {"comment": "closing note"})
    assert (await api.get(path))["status"] == "closed"
    await events.wait_for(api.org_id, "ticket.commented")
    reopened = [e.data for e in events.of(api.org_id, "ticket.commented") if e.data["reopened"]]
    assert len(reopened) == 2 and all(e["author_id"] == customer.account.user_id for e in reopened)
    assert all("comment" not in e.data for e in events.of(api.org_id, "ticket.commented"))


async def test_internal_comments_are_hidden_from_a_viewer(api, member_of, hub_client):
    viewer = Api.of(hub_client, await member_of(api.account, "viewer"))
    ticket = await open_ticket(api)
    path = f"/api/v1/tickets/{ticket['id']}"
    await api.post(f"{path}/comments", {"comment": "public answer"})
    await api.post(f"{path}/comments", {"comment": "the customer is difficult", "is_internal": True})
    assert [c["comment"] for c in (await api.get(path))["comments"]] == ["public answer", "the customer is difficult"]
    assert [c["comment"] for c in await api.get(f"{path}/comments")] == ["public answer", "the customer is difficult"]
    assert [c["comment"] for c in (await viewer.get(path))["comments"]] == ["public answer"]
    assert [c["comment"] for c in await viewer.get(f"{path}/comments")] == ["public answer"]
    error = await viewer.error("POST", f"{path}/comments", {"comment": "sneaky", "is_internal": True},
                               status=403, code="FORBIDDEN")
    assert error["details"]["field"] == "is_internal"


async def test_a_viewer_cannot_update_a_ticket_and_a_member_is_staff(api, member_of, hub_client):
    viewer = Api.of(hub_client, await member_of(api.account, "viewer"))
    member = Api.of(hub_client, await member_of(api.account, "member"))
    ticket = await open_ticket(viewer)
    path = f"/api/v1/tickets/{ticket['id']}"
    await viewer.error("PUT", path, {"status": "in_progress"}, status=403, code="FORBIDDEN")
    await viewer.error("PUT", path, {"priority": "low"}, status=403, code="FORBIDDEN")
    assert (await api.get(path))["status"] == "open"
    assert (await member.put(path, {"status": "in_progress"}))["status"] == "in_progress"


async def test_assignment_takes_a_member_of_the_organization_only(api, other_api, member_of, hub_client, events):
    member = await member_of(api.account, "member")
    ticket = await open_ticket(api)
    path = f"/api/v1/tickets/{ticket['id']}"
    await api.error("PUT", path, {"assigned_to": other_api.account.user_id}, field="assigned_to")
    await api.error("PUT", path, {"assigned_to": str(uuid.uuid4())}, field="assigned_to")
    body = await api.put(path, {"assigned_to": member.user_id, "priority": "urgent"})
    assert body["assigned_to"] == member.user_id and body["priority"] == "urgent"
    created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(body["first_response_due_at"].replace("Z", "+00:00")) == created + timedelta(minutes=60)
    await events.wait_for(api.org_id, "ticket.updated")
    update = events.of(api.org_id, "ticket.updated")[0].data
    assert update["assigned_to"] == member.user_id and set(update["changed"]) == {"assigned_to", "priority"}
    assert (await api.put(path, {"assigned_to": None}))["assigned_to"] is None


async def test_every_id_of_another_organization_is_404(api, other_api):
    ticket = await open_ticket(api)
    path = f"/api/v1/tickets/{ticket['id']}"
    for method, suffix, body in (("GET", "", None), ("PUT", "", {"status": "in_progress"}),
                                 ("GET", "/comments", None), ("POST", "/comments", {"comment": "hi"}),
                                 ("GET", "/attachments", None)):
        await other_api.error(method, path + suffix, body, status=404, code="NOT_FOUND")
        await api.error(method, f"/api/v1/tickets/{uuid.uuid4()}{suffix}", body, status=404, code="NOT_FOUND")
        await api.error(method, f"/api/v1/tickets/not-an-id{suffix}", body, status=404, code="NOT_FOUND")
    assert await other_api.get("/api/v1/tickets") == []
    assert (await api.get(path))["status"] == "open" and (await api.get(path))["comments"] == []


async def test_sla_breaches_are_announced_once_when_due(api, hub, events):
    ticket = await open_ticket(api, priority="urgent")  # 60 min first response, 240 min resolution
    answered = await open_ticket(api, priority="urgent")
    await api.post(f"/api/v1/tickets/{answered['id']}/comments", {"comment": "on it"})
    created = (await Ticket.get(id=ticket["id"])).created_at

    def at(minutes: float) -> datetime:
        return created + timedelta(minutes=minutes)

    assert await check_sla(hub, at(59), api.org_id) == 0
    assert await check_sla(hub, at(61), api.org_id) == 1  # the unanswered ticket's first response
    assert await check_sla(hub, at(62), api.org_id) == 0  # announced once
    body = await api.get(f"/api/v1/tickets/{ticket['id']}")
    assert body["sla_breached"] == ["first_response"]
    assert await check_sla(hub, at(241), api.org_id) == 2  # both tickets' resolution
    assert await check_sla(hub, at(500), api.org_id) == 0
    await events.wait_for(api.org_id, "ticket.sla_breached", count=3)
    breaches = sorted((e.data["id"], e.data["sla"]) for e in events.of(api.org_id, "ticket.sla_breached"))
    assert breaches == sorted([(ticket["id"], "first_response"), (ticket["id"], "resolution"),
                               (answered["id"], "resolution")])
    # resolved (even unanswered) before its due times: nothing to announce later
    late = await open_ticket(api, priority="urgent")
    path = f"/api/v1/tickets/{late['id']}"
    await api.put(path, {"status": "in_progress"})
    await api.put(path, {"status": "resolved"})
    late_created = (await Ticket.get(id=late["id"])).created_at
    assert await check_sla(hub, late_created + timedelta(minutes=1000), api.org_id) == 0
    assert (await api.get(path))["sla_breached"] == []


async def test_a_priority_without_an_sla_has_no_due_times(api, hub, monkeypatch):
    settings = hub.plugin_settings("support")
    monkeypatch.setattr(settings, "sla", {k: v for k, v in settings.sla.items() if k != "low"})
    body = await open_ticket(api, priority="low")
    assert body["first_response_due_at"] is None and body["resolution_due_at"] is None


async def test_the_hub_functions_act_with_the_callers_rights(api, other_api, member_of, hub_client, hub, app):
    from core import HubError, call_function
    from core.tenancy.principals import principal_from_credential

    viewer = Api.of(hub_client, await member_of(api.account, "viewer"))
    ticket = await open_ticket(api)
    await api.post(f"/api/v1/tickets/{ticket['id']}/comments", {"comment": "staff only", "is_internal": True})
    async with app.app_context():
        as_viewer = await principal_from_credential(viewer.account.access_token)
        intruder = await principal_from_credential(other_api.account.access_token)
        opened = await call_function(hub, as_viewer, "create_support_ticket",
                                     {"title": "From a model", "description": "it broke", "priority": "low"})
        assert opened["user_id"] == viewer.account.user_id and opened["status"] == "open"
        seen = await call_function(hub, as_viewer, "get_support_ticket", {"ticket_id": ticket["id"]})
        assert seen["comments"] == []  # the internal note is not the viewer's to read
        listed = await call_function(hub, as_viewer, "list_support_tickets", {"priority": "low"})
        assert [t["id"] for t in listed] == [opened["id"]]
        with pytest.raises(HubError) as refused:
            await call_function(hub, intruder, "get_support_ticket", {"ticket_id": ticket["id"]})
        assert refused.value.code == "NOT_FOUND"

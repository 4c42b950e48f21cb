"""Conversations and messages (seed 004 "Messages API"): sending, unread counts, reading
marks read, lastContactDate of the lead's contacts, shapes and bad input."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from plugins.crm.models import Conversation, Message
from tests.plugins.crm.support import (
    SEED_CONVERSATION,
    SEED_MESSAGE,
    SEED_SEND_MESSAGE,
    assert_same_types,
    parse_time,
    utcnow,
)


async def conversation_of(api, lead_id: str) -> dict:
    rows = [c for c in (await api.get("/api/conversations"))["conversations"] if c["leadId"] == lead_id]
    assert len(rows) == 1, rows
    return rows[0]


async def test_seed_send_request_and_shapes(api):
    lead = await api.lead(name="John Smith")
    sent = await api.post("/api/messages", {**SEED_SEND_MESSAGE, "leadId": lead["id"]})
    assert_same_types(sent, SEED_MESSAGE)
    assert sent["leadId"] == lead["id"] and sent["sender"] == "lead" and sent["status"] == "delivered"
    assert sent["content"] == SEED_SEND_MESSAGE["content"]
    assert abs(parse_time(sent["timestamp"]) - utcnow()) < timedelta(minutes=1)

    body = await api.get("/api/conversations")
    assert set(body) == {"conversations", "total", "pagination"}
    conversation = body["conversations"][0]
    assert_same_types(conversation, SEED_CONVERSATION)
    assert conversation["leadName"] == "John Smith" and conversation["unreadCount"] == 1
    assert conversation["lastMessage"] == {"content": sent["content"], "timestamp": sent["timestamp"], "sender": "lead"}
    assert conversation["status"] == "active"

    messages = await api.get(f"/api/messages/{lead['id']}")
    assert set(messages) == {"messages", "total", "pagination"}
    assert [set(m) for m in messages["messages"]] == [set(SEED_MESSAGE)]
    assert messages["messages"][0]["id"] == sent["id"]


async def test_messages_from_the_lead_are_unread_until_the_thread_is_read(api):
    lead = await api.lead()
    await api.message(lead["id"], "Hi, I'm interested", sender="lead")
    await api.message(lead["id"], "Thanks! Let me schedule a demo.", sender="agent")
    await api.message(lead["id"], "Great, Tuesday?", sender="lead")
    await api.message(lead["id"], "a note from the user", sender="user")
    assert (await conversation_of(api, lead["id"]))["unreadCount"] == 2  # only the lead's messages count
    await api.message(lead["id"], "Or Wednesday", sender="lead")
    conversation = await conversation_of(api, lead["id"])
    assert conversation["unreadCount"] == 3
    assert conversation["lastMessage"]["content"] == "Or Wednesday"

    first = await api.get(f"/api/messages/{lead['id']}?limit=2")  # reading a page reads the thread
    assert [m["content"] for m in first["messages"]] == ["Hi, I'm interested", "Thanks! Let me schedule a demo."]
    assert first["total"] == 5 and first["pagination"] == {"limit": 2, "offset": 0, "hasMore": True}
    assert (await conversation_of(api, lead["id"]))["unreadCount"] == 0
    assert await Message.filter(lead_id=lead["id"], sender="lead", read_at=None).count() == 0

    again = await api.get(f"/api/messages/{lead['id']}")
    assert [m["content"] for m in again["messages"]] == [
        "Hi, I'm interested", "Thanks! Let me schedule a demo.", "Great, Tuesday?", "a note from the user",
        "Or Wednesday"]  # oldest first
    assert {m["sender"]: m["status"] for m in again["messages"]} == {"lead": "read", "agent": "delivered",
                                                                      "user": "delivered"}
    await api.message(lead["id"], "Hello again", sender="lead")
    assert (await conversation_of(api, lead["id"]))["unreadCount"] == 1

    past = await api.get(f"/api/messages/{lead['id']}?offset=100")
    assert past["messages"] == [] and past["total"] == 6
    assert (await conversation_of(api, lead["id"]))["unreadCount"] == 0


async def test_conversations_are_most_recent_first(api):
    quiet, busy = await api.lead(name="Quiet"), await api.lead(name="Busy")
    await api.message(busy["id"], "1")
    await api.message(quiet["id"], "2", sender="lead")
    await api.message(busy["id"], "3", sender="lead")
    body = await api.get("/api/conversations")
    assert [c["leadName"] for c in body["conversations"]] == ["Busy", "Quiet"]
    assert body["total"] == 2
    assert [c["leadName"] for c in (await api.get("/api/conversations?limit=1&offset=1"))["conversations"]] == ["Quiet"]
    assert (await api.get("/api/conversations?status=active"))["total"] == 2
    assert (await api.get("/api/conversations?status=closed"))["total"] == 0
    await api.error("GET", "/api/conversations?status=archived", field="status")
    await api.error("GET", "/api/conversations?limit=-5", field="limit")


async def test_a_lead_without_messages_has_no_conversation(api):
    lead = await api.lead()
    assert (await api.get("/api/conversations"))["total"] == 0
    body = await api.get(f"/api/messages/{lead['id']}")
    assert body["messages"] == [] and body["total"] == 0


async def test_messages_update_last_contact_date_of_the_leads_contacts(api, other_api):
    lead = await api.lead(email="jane@example.com")
    same_email = await api.contact(name="Jane", email="jane@example.com")
    unrelated = await api.contact(name="Someone", email="someone@example.com")
    elsewhere = await other_api.contact(name="Jane elsewhere", email="jane@example.com")
    no_email_lead = await api.lead()

    before = utcnow()
    await api.message(no_email_lead["id"], "no contact to update")
    assert (await api.get(f"/api/contacts/{same_email['id']}"))["lastContactDate"] is None

    sent = await api.message(lead["id"], "We spoke today", sender="agent")
    touched = parse_time((await api.get(f"/api/contacts/{same_email['id']}"))["lastContactDate"])
    assert before - timedelta(seconds=5) <= touched <= utcnow() + timedelta(seconds=5)
    assert abs(touched - parse_time(sent["timestamp"])) < timedelta(seconds=5)
    assert (await api.get(f"/api/contacts/{unrelated['id']}"))["lastContactDate"] is None
    assert (await other_api.get(f"/api/contacts/{elsewhere['id']}"))["lastContactDate"] is None

    await api.message(lead["id"], "and an answer", sender="lead")  # incoming messages count too
    later = parse_time((await api.get(f"/api/contacts/{same_email['id']}"))["lastContactDate"])
    assert later >= touched


@pytest.mark.parametrize("body, field", [
    ({"content": "hi"}, "leadId"),
    ({"leadId": "LEAD", "content": ""}, "content"),
    ({"leadId": "LEAD", "content": "c" * 10_001}, "content"),
    ({"leadId": "LEAD", "content": "hi", "sender": "robot"}, "sender"),
    ({"leadId": "LEAD", "content": "hi", "status": "read"}, "status"),
    ({"leadId": "LEAD"}, "content"),
])
async def test_bad_message_input_is_400_naming_the_field(module_api, body, field):
    api = module_api
    lead = await api.lead()
    body = {k: (lead["id"] if v == "LEAD" else v) for k, v in body.items()}
    await api.error("POST", "/api/messages", body, field=field)
    assert (await api.get(f"/api/messages/{lead['id']}"))["total"] == 0


async def test_messages_to_unknown_or_deleted_leads_are_404(api):
    for lead_id in ("nope", str(uuid.uuid4())):
        await api.error("POST", "/api/messages", {"leadId": lead_id, "content": "hi"}, status=404, code="NOT_FOUND")
        await api.error("GET", f"/api/messages/{lead_id}", status=404, code="NOT_FOUND")
    lead = await api.lead()
    await api.message(lead["id"], "soon gone", sender="lead")
    await api.delete(f"/api/leads/{lead['id']}")
    await api.error("GET", f"/api/messages/{lead['id']}", status=404, code="NOT_FOUND")
    assert (await api.get("/api/conversations"))["total"] == 0
    assert not await Message.filter(lead_id=lead["id"]).exists()
    assert not await Conversation.filter(lead_id=lead["id"]).exists()

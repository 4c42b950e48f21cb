"""Seed 002's and seed 004's notification APIs over one store: sending to a member, each member
seeing only their own inbox (another member's or organization's id is 404), read state, counts,
the live push on /ws/notifications to the recipient only, who may send, and bad input."""

from __future__ import annotations

import uuid

NOTIFICATIONS = "/api/v1/notifications"


def note(user_id: str | None = None, **fields) -> dict:
    body = {"title": "New lead", "message": "Ada Lovelace is ready for follow-up", "type": "lead", **fields}
    return {**body, "user_id": user_id} if user_id else body


async def test_a_notification_reaches_its_member_in_both_apis_with_counts_and_read_state(api, member):
    sent = await api.post(NOTIFICATIONS, note(member.account.user_id, metadata={"lead_id": "L-1", "score": 9}))
    assert sent["user_id"] == member.account.user_id and sent["channel"] == "in_app"
    assert sent["delivery"] == "delivered" and sent["is_read"] is False and sent["metadata"] == {"lead_id": "L-1", "score": 9}
    await api.post(NOTIFICATIONS, note(member.account.user_id, title="Second", type="system"))

    response, listed = await member.request("GET", f"{NOTIFICATIONS}?limit=1")
    assert response.status_code == 200 and response.headers["X-Total-Count"] == "2"
    assert isinstance(listed, list) and [n["title"] for n in listed] == ["Second"]  # newest first, a bare list
    second_page = await member.get(f"{NOTIFICATIONS}?limit=1&skip=1")
    assert [n["id"] for n in second_page] == [sent["id"]]
    assert await api.get(NOTIFICATIONS) == []  # the sender's inbox is its own
    assert await member.get(f"{NOTIFICATIONS}/unread-count") == {"unread": 2, "total": 2}

    camel = await member.get("/api/notifications?type=lead")
    assert camel["unreadCount"] == 2
    [lead] = camel["notifications"]
    assert lead["id"] == sent["id"] and lead["status"] == "unread" and lead["data"] == {"lead_id": "L-1", "score": 9}
    assert set(lead) == {"id", "type", "title", "message", "data", "status", "channel", "createdAt", "readAt"}

    read = await member.put(f"/api/notifications/{sent['id']}/read", None)
    assert read["status"] == "read" and read["readAt"]
    again = await member.put(f"{NOTIFICATIONS}/{sent['id']}/read", None)
    assert again["is_read"] is True and again["read_at"]
    assert [n["id"] for n in await member.get(f"{NOTIFICATIONS}?is_read=true")] == [sent["id"]]
    assert [n["title"] for n in await member.get(f"{NOTIFICATIONS}?is_read=false")] == ["Second"]
    assert [n["id"] for n in (await member.get("/api/notifications?status=read"))["notifications"]] == [sent["id"]]
    assert len((await member.get("/api/notifications?status=all"))["notifications"]) == 2

    unread = await member.put(f"{NOTIFICATIONS}/{sent['id']}/read", {"is_read": False})
    assert unread["is_read"] is False and unread["read_at"] is None
    assert await member.post(f"{NOTIFICATIONS}/read-all", {"type": "system"}, status=200) == {"updated": 1}
    assert (await member.get(f"{NOTIFICATIONS}/unread-count"))["unread"] == 1  # the lead is still unread
    assert await member.post(f"{NOTIFICATIONS}/read-all", None, status=200) == {"updated": 1}
    assert await member.get(f"{NOTIFICATIONS}/unread-count") == {"unread": 0, "total": 2}
    assert (await member.get("/api/notifications?status=unread"))["notifications"] == []


async def test_seed_004_limit_defaults_to_20(api):
    for index in range(21):
        await api.post(NOTIFICATIONS, note(title=f"n{index}"))
    assert len((await api.get("/api/notifications"))["notifications"]) == 20
    assert len((await api.get("/api/notifications?limit=21"))["notifications"]) == 21


async def test_another_members_or_organizations_notification_is_404(api, member, member_of, other_api):
    mine = await api.post(NOTIFICATIONS, note(member.account.user_id))
    colleague = type(api).of(api.client, await member_of(api.account, "member"))
    for intruder in (api, colleague, other_api):  # the sender, a colleague, another organization
        for path in (f"{NOTIFICATIONS}/{mine['id']}/read", f"/api/notifications/{mine['id']}/read"):
            await intruder.error("PUT", path, status=404, code="NOT_FOUND")
    for unknown in (str(uuid.uuid4()), "not-a-uuid"):
        await member.error("PUT", f"{NOTIFICATIONS}/{unknown}/read", status=404, code="NOT_FOUND")
        await member.error("PUT", f"/api/notifications/{unknown}/read", status=404, code="NOT_FOUND")
    assert (await member.get(f"{NOTIFICATIONS}/unread-count"))["unread"] == 1  # nobody else read it
    await other_api.post(f"{NOTIFICATIONS}/read-all", None, status=200)
    assert (await member.get(f"{NOTIFICATIONS}/unread-count"))["unread"] == 1
    # sending to another organization's member, or to nobody, is 404 too
    await other_api.error("POST", NOTIFICATIONS, note(member.account.user_id), status=404, code="NOT_FOUND")
    await api.error("POST", NOTIFICATIONS, note(str(uuid.uuid4())), status=404, code="NOT_FOUND")
    assert await other_api.get(NOTIFICATIONS) == []


async def test_the_push_reaches_only_the_recipients_socket(api, member, member_of, ws):
    colleague = await member_of(api.account, "member")
    async with ws(member.account, "/ws/notifications") as recipient, ws(colleague, "/ws/notifications") as bystander, \
            ws(api.account, "/ws") as sender:
        sent = await api.post(NOTIFICATIONS, note(member.account.user_id))
        message = await recipient.event("notification")  # seed 001's message name on /ws/notifications
        assert message["event"] == "notification.sent" and message["timestamp"]
        assert message["data"]["id"] == sent["id"] and message["data"]["title"] == "New lead"
        assert message["data"]["user_id"] == member.account.user_id
        # then one for the colleague: the first notification their socket gets is theirs, so the
        # member's (published before it, in order) never reached them; nor the sender's /ws
        theirs = await api.post(NOTIFICATIONS, note(colleague.user_id, title="For the colleague"))
        first = await bystander.event("notification")
        assert first["data"]["id"] == theirs["id"]
        own = await api.post(NOTIFICATIONS, note(title="For the sender"))
        seen = await sender.event("notification.sent")  # /ws: every event by its own type
        assert seen["data"]["id"] == own["id"] and "event" not in seen


async def test_who_may_send_viewers_read_their_own_and_slack_needs_slack_connected(api, member_of):
    viewer = type(api).of(api.client, await member_of(api.account, "viewer"))
    await viewer.error("POST", NOTIFICATIONS, note(api.account.user_id), status=403, code="FORBIDDEN")
    member = type(api).of(api.client, await member_of(api.account, "member"))
    await member.post(NOTIFICATIONS, note(viewer.account.user_id))  # members send to anyone of the organization
    assert len(await viewer.get(NOTIFICATIONS)) == 1
    assert (await viewer.post(f"{NOTIFICATIONS}/read-all", None, status=200))["updated"] == 1
    refused = await api.error("POST", NOTIFICATIONS, note(channel="slack"), status=409, code="CHANNEL_NOT_AVAILABLE")
    assert "/api/integrations/slack" in refused["message"]
    assert await api.get(NOTIFICATIONS) == []  # nothing stored


async def test_bad_input_is_refused_naming_the_field(api):
    cases = [
        (note(unknown="x"), "unknown"),
        (note(title=""), "title"),
        (note(title="x" * 201), "title"),
        (note(message="x" * 5001), "message"),
        (note(channel="pigeon"), "channel"),
        (note(type="Has Spaces"), "type"),
        (note(priority="high"), "priority"),
        (note(metadata={"nested": {"a": 1}}), "metadata.nested"),
        (note(metadata={f"k{i}": i for i in range(51)}), "metadata"),
        (note(user_id="not-a-uuid"), "user_id"),
    ]
    for body, field in cases:
        error = await api.error("POST", NOTIFICATIONS, body, status=400)
        assert error["details"]["field"].startswith(field), (body, error)
    await api.error("PUT", f"{NOTIFICATIONS}/{uuid.uuid4()}/read", {"is_read": "perhaps"}, status=400)
    await api.error("POST", f"{NOTIFICATIONS}/read-all", {"everything": True}, status=400)
    for query in ("is_read=maybe", "skip=-1", "limit=0", "page=2"):
        await api.error("GET", f"{NOTIFICATIONS}?{query}", status=400)
    for query in ("status=new", "type=A", "offset=3"):
        await api.error("GET", f"/api/notifications?{query}", status=400)

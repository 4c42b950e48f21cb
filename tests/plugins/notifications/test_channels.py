"""Delivery by channel through the messaging plugin (a real SMTP server and a Twilio fake on the
loopback), the member's preferences per channel and per type, the email digest (its job invoked
directly), and notifications other plugins ask for: the `notification.requested` event, the
`notify_user` hub function, the CRM's achievements and billing's failed payments."""

from __future__ import annotations

import asyncio
import uuid

from core import Principal, call_function, emit
from plugins.notifications.jobs import digest_tick

NOTIFICATIONS = "/api/v1/notifications"
PREFERENCES = "/api/v1/preferences"


def note(user_id: str, **fields) -> dict:
    return {"user_id": user_id, "title": "Quote ready", "message": "Your quote is attached", **fields}


async def delivered(api, row: dict) -> dict:
    """The messaging plugin's message behind a notification, once its send job has finished."""
    message = await api.get(f"/api/v1/messages/{row['message_id']}")
    await api.wait_for_job(message["job_id"])
    return await api.get(f"/api/v1/messages/{row['message_id']}")


async def delivery_becomes(member, notification: dict, expected: str) -> dict:
    """The member's notification once the messaging plugin's events have moved it to `expected`
    (they are handled after the send job commits)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        [row] = [n for n in await member.get(NOTIFICATIONS) if n["id"] == notification["id"]]
        if row["delivery"] == expected or asyncio.get_running_loop().time() > deadline:
            assert row["delivery"] == expected, row
            return row
        await asyncio.sleep(0.05)


async def test_preferences_have_seed_defaults_and_change_field_by_field(member):
    assert await member.get(PREFERENCES) == {"email_enabled": True, "in_app_enabled": True, "sms_enabled": False,
                                             "phone": None, "slack_enabled": True, "slack_channel": None,
                                             "digest": False, "types": {}}
    changed = await member.put(PREFERENCES, {"sms_enabled": True, "phone": "+1 (415) 555-0100",
                                             "types": {"lead": {"email": False}}})
    assert changed == {"email_enabled": True, "in_app_enabled": True, "sms_enabled": True, "phone": "+14155550100",
                       "slack_enabled": True, "slack_channel": None, "digest": False, "types": {"lead": {"email": False}}}
    assert (await member.put(PREFERENCES, {"digest": True}))["phone"] == "+14155550100"
    assert (await member.put(PREFERENCES, {"phone": None}))["phone"] is None
    for body, field in (({"phone": "12345"}, "phone"), ({"email": True}, "email"),
                        ({"types": {"lead": {"pigeon": False}}}, "types.lead.pigeon"),
                        ({"types": {f"t{i}": {} for i in range(51)}}, "types")):
        error = await member.error("PUT", PREFERENCES, body, status=400)
        assert error["details"]["field"].startswith(field), error


async def test_email_and_sms_go_through_the_messaging_plugin(connected, member, smtp_sink, fake_twilio):
    api = connected
    emailed = await api.post(NOTIFICATIONS, note(member.account.user_id, channel="email"))
    assert emailed["delivery"] == "queued" and emailed["message_id"]
    assert (await delivered(api, emailed))["status"] == "sent"
    await delivery_becomes(member, emailed, "sent")  # the messaging plugin's event moved it on
    [mail] = smtp_sink.to(member.account.email)
    assert mail.message["Subject"] == "Quote ready"
    assert mail.message.get_body(("plain",)).get_content().strip() == "Your quote is attached"
    assert [n["id"] for n in await member.get(NOTIFICATIONS)] == [emailed["id"]]  # in the inbox too

    # no phone number yet: the SMS fails, saying why
    await member.put(PREFERENCES, {"sms_enabled": True})
    failed = await api.post(NOTIFICATIONS, note(member.account.user_id, channel="sms"))
    assert failed["delivery"] == "failed" and "phone number" in failed["error"]
    await member.put(PREFERENCES, {"phone": "+14155550123"})
    texted = await api.post(NOTIFICATIONS, note(member.account.user_id, channel="sms"))
    assert (await delivered(api, texted))["status"] == "sent"
    [sms] = fake_twilio.to("+14155550123")
    assert sms["Body"] == "Quote ready\nYour quote is attached"


async def test_a_channel_turned_off_is_not_used(connected, member, smtp_sink, ws):
    api = connected
    await member.put(PREFERENCES, {"email_enabled": False})
    suppressed = await api.post(NOTIFICATIONS, note(member.account.user_id, channel="email"))
    assert suppressed["delivery"] == "suppressed" and suppressed["message_id"] is None
    # sms is off by default (seed 002)
    assert (await api.post(NOTIFICATIONS, note(member.account.user_id, channel="sms")))["delivery"] == "suppressed"

    # in_app off for one type only: that type is neither stored in the inbox nor pushed
    await member.put(PREFERENCES, {"email_enabled": True, "types": {"lead": {"in_app": False, "email": False}}})
    async with ws(member.account, "/ws/notifications") as socket:
        hidden = await api.post(NOTIFICATIONS, note(member.account.user_id, type="lead"))
        assert hidden["delivery"] == "suppressed"
        shown = await api.post(NOTIFICATIONS, note(member.account.user_id, type="system"))
        assert (await socket.event("notification"))["data"]["id"] == shown["id"]  # the first one it gets
    emailed_lead = await api.post(NOTIFICATIONS, note(member.account.user_id, type="lead", channel="email"))
    assert emailed_lead["delivery"] == "suppressed"
    inbox = [n["id"] for n in await member.get(NOTIFICATIONS)]
    assert hidden["id"] not in inbox and shown["id"] in inbox and suppressed["id"] in inbox
    await member.error("PUT", f"{NOTIFICATIONS}/{hidden['id']}/read", status=404, code="NOT_FOUND")
    # the email went nowhere, all the while: only the one sent after turning email back on, of another type
    emailed = await api.post(NOTIFICATIONS, note(member.account.user_id, channel="email", type="system"))
    await delivered(api, emailed)
    assert len(smtp_sink.to(member.account.email)) == 1


async def test_the_digest_batches_non_urgent_emails_into_one(connected, member, smtp_sink, hub, hub_app):
    api = connected
    await member.put(PREFERENCES, {"digest": True})
    first = await api.post(NOTIFICATIONS, note(member.account.user_id, channel="email", title="First"))
    second = await api.post(NOTIFICATIONS, note(member.account.user_id, channel="email", title="Second"))
    assert first["delivery"] == second["delivery"] == "digest" and first["message_id"] is None
    urgent = await api.post(NOTIFICATIONS, note(member.account.user_id, channel="email", title="Now",
                                                priority="urgent"))
    await delivered(api, urgent)  # urgent ones do not wait
    assert [mail.message["Subject"] for mail in smtp_sink.to(member.account.email)] == ["Now"]

    async with hub_app.app_context():
        assert await digest_tick(hub) == 1  # one member waits: one email
        assert await digest_tick(hub) == 0  # nothing waits any more
    rows = {n["id"]: n for n in await member.get(NOTIFICATIONS)}
    assert rows[first["id"]]["delivery"] == rows[second["id"]]["delivery"] == "digested"
    assert rows[first["id"]]["message_id"] == rows[second["id"]]["message_id"]
    await delivered(api, rows[first["id"]])
    digest = smtp_sink.to(member.account.email)[-1].message
    assert digest["Subject"] == "Your digest: 2 notifications"
    text = digest.get_body(("plain",)).get_content()
    assert "First: Your quote is attached" in text and "Second: Your quote is attached" in text
    async with hub_app.app_context():
        await digest_tick(hub)
    assert len(smtp_sink.to(member.account.email)) == 2  # sent once


async def test_other_plugins_notify_by_event_and_hub_function(api, member, hub, hub_app, ws):
    org = uuid.UUID(api.org_id)
    async with ws(member.account, "/ws/notifications") as socket:
        async with hub_app.app_context():
            await emit(org, "notification.requested", {
                "user_id": member.account.user_id, "title": "Import done", "message": "42 leads imported",
                "type": "system", "metadata": {"count": 42}})
        await hub.bus.settle()
        pushed = await socket.event("notification")
        assert pushed["data"]["title"] == "Import done" and pushed["data"]["metadata"] == {"count": 42}

        principal = Principal("user", uuid.UUID(api.account.user_id), org, "admin", api.account.email,
                              frozenset({"notifications.send"}))
        async with hub_app.app_context():
            body = await call_function(hub, principal, "notify_user", {
                "user_id": member.account.user_id, "title": "From a workflow", "message": "done"})
        assert body["user_id"] == member.account.user_id and body["delivery"] == "delivered"
        assert (await socket.event("notification"))["data"]["id"] == body["id"]
    assert [n["title"] for n in await member.get(NOTIFICATIONS)] == ["From a workflow", "Import done"]


async def test_an_unlocked_achievement_becomes_a_notification(api):
    # the CRM's "first_lead" achievement unlocks on the member's first lead
    await api.call("POST", "/api/leads", {"name": "Ada Lovelace", "email": "ada@example.com", "source": "website"},
                   status=201)
    [notification] = await api.get(NOTIFICATIONS)
    assert notification["type"] == "achievement" and notification["title"].startswith("Achievement unlocked")
    assert notification["channel"] == "in_app" and notification["metadata"]["code"]


async def test_a_failed_payment_notifies_the_admins_once(connected, member, smtp_sink, hub, hub_app):
    api = connected
    event = {"id": str(uuid.uuid4()), "stripe_invoice_id": "in_123", "status": "open", "amount_due": 4900,
             "amount_paid": 0, "currency": "usd", "hosted_invoice_url": "https://invoice.stripe.com/i/1"}
    async with hub_app.app_context():
        await emit(uuid.UUID(api.org_id), "billing.invoice.payment_failed", event)
    await hub.bus.settle()
    [notification] = await api.get(NOTIFICATIONS)
    assert notification["type"] == "billing" and notification["priority"] == "urgent"
    assert "in_123" in notification["message"] and "49.00 USD" in notification["message"]
    assert notification["metadata"]["hosted_invoice_url"] == "https://invoice.stripe.com/i/1"
    await delivered(api, notification)
    [mail] = smtp_sink.to(api.account.email)
    assert mail.message["Subject"] == "A payment failed"
    assert await member.get(NOTIFICATIONS) == []  # members are not told


async def test_an_event_delivered_twice_makes_one_notification(api, member, hub, hub_app):
    from core import Event

    event = Event("notification.requested", api.org_id, {
        "user_id": member.account.user_id, "title": "Once", "message": "only once"})
    from plugins.notifications.service import on_event

    async with hub_app.app_context():
        await on_event(hub, event)
        await on_event(hub, event)  # at-least-once delivery: the same event again
    assert [n["title"] for n in await member.get(NOTIFICATIONS)] == ["Once"]

"""The `slack` channel: posted through the Slack plugin's hub function `slack_post_message` (the
fake Slack of the Slack tests on the loopback) when the organization connected Slack; the
member's preferences apply (Slack off, off for a type, their own channel); 409 otherwise."""

from __future__ import annotations

from tests.plugins.slack.conftest import (  # noqa: F401 (fixtures, used by name)
    bot_connection,
    fake_slack,
    posted,
    slack_settings,
)
from tests.plugins.notifications.test_channels import delivery_becomes

NOTIFICATIONS = "/api/v1/notifications"
PREFERENCES = "/api/v1/preferences"


def note(user_id: str, **fields) -> dict:
    return {"user_id": user_id, "title": "Deal <won>", "message": "ACME & co signed", "channel": "slack", **fields}


async def test_a_slack_notification_is_posted_when_slack_is_connected(api, member, fake_slack):
    refused = await api.error("POST", NOTIFICATIONS, note(member.account.user_id), status=409,
                              code="CHANNEL_NOT_AVAILABLE")
    assert refused["details"]["field"] == "channel"
    await api.call("POST", "/api/integrations/slack/connect", bot_connection("#general"))
    sent = await api.post(NOTIFICATIONS, note(member.account.user_id))
    assert sent["delivery"] == "queued" and sent["channel"] == "slack" and sent["message_id"]
    post = await posted(api, await api.get(f"/api/v1/slack/messages/{sent['message_id']}"))
    assert post["status"] == "sent" and post["source"] == "function"
    await delivery_becomes(member, sent, "delivered")
    # title in bold, both escaped: what a member wrote cannot mention the channel or link
    assert fake_slack.texts("C0GENERAL") == ["*Deal &lt;won&gt;*\nACME &amp; co signed"]
    assert [n["id"] for n in await member.get(NOTIFICATIONS)] == [sent["id"]]  # in the member's inbox too


async def test_preferences_apply_to_slack(api, member, fake_slack):
    await api.call("POST", "/api/integrations/slack/connect", bot_connection("#general"))
    await member.put(PREFERENCES, {"slack_channel": "@U0ADA"})  # a direct message from the bot
    sent = await api.post(NOTIFICATIONS, note(member.account.user_id, title="For Ada"))
    await posted(api, await api.get(f"/api/v1/slack/messages/{sent['message_id']}"))
    assert fake_slack.texts("D0ADA") == ["*For Ada*\nACME &amp; co signed"]

    await member.put(PREFERENCES, {"types": {"lead": {"slack": False}}})
    off_for_leads = await api.post(NOTIFICATIONS, note(member.account.user_id, type="lead"))
    await member.put(PREFERENCES, {"slack_enabled": False, "types": {}})
    off = await api.post(NOTIFICATIONS, note(member.account.user_id))
    assert off_for_leads["delivery"] == off["delivery"] == "suppressed"
    assert off["message_id"] is None and len(fake_slack.posts) == 1
    assert (await member.get(PREFERENCES))["slack_channel"] == "@U0ADA"
    assert (await member.put(PREFERENCES, {"slack_channel": None}))["slack_channel"] is None
    await member.error("PUT", PREFERENCES, {"slack_channel": "#two words"}, field="slack_channel")


async def test_a_failing_slack_post_fails_its_notification_too(api, member, fake_slack):
    """The notification is handed to Slack's queue (`queued`); Slack refusing it later fails the
    post, and its `slack.message.failed` event fails the notification with Slack's reason."""
    await api.call("POST", "/api/integrations/slack/connect", bot_connection("#general"))
    await member.put(PREFERENCES, {"slack_channel": "#nowhere"})
    sent = await api.post(NOTIFICATIONS, note(member.account.user_id))
    post = await posted(api, await api.get(f"/api/v1/slack/messages/{sent['message_id']}"))
    assert sent["delivery"] == "queued" and post["status"] == "failed" and "channel_not_found" in post["error"]
    failed = await delivery_becomes(member, sent, "failed")  # and the notification says so too
    assert "channel_not_found" in failed["error"]

"""Connecting Slack through the integrations API: a bot token tested with auth.test, a webhook
tested without posting, secrets masked and never stored in plain text, the SSRF guard on
webhook URLs (private addresses, names of the loopback, redirects), and a connection that stops
working marked `error` with `integration.error` and the last error in the list."""

from __future__ import annotations

from core.tenancy.models import StoredCredential
from tests.plugins.slack.conftest import BOT_TOKEN, WEBHOOK_PATH, bot_connection, posted, webhook_connection

CONNECT, SLACK = "/api/integrations/slack/connect", "/api/integrations/slack"


async def test_a_bot_token_is_tested_with_auth_test_and_kept_masked(api, fake_slack, hub_app):
    listed = {i["id"]: i for i in (await api.get("/api/integrations"))["integrations"]}
    assert listed["slack"]["status"] == "disconnected" and listed["slack"]["type"] == "chat"
    refused = await api.error("POST", CONNECT, bot_connection(token="xoxb-wrong-token-000"), status=400,
                              code="INTEGRATION_CONNECTION_FAILED")
    assert "invalid_auth" in refused["message"]
    assert (await api.get(SLACK))["status"] == "disconnected"  # a failed test stores nothing

    body = await api.call("POST", CONNECT, bot_connection("#sales"))
    assert body["status"] == "connected" and body["config"]["defaultChannel"] == "#sales"
    assert BOT_TOKEN not in str(body) and body["credentials"]["botToken"].startswith("\u2022")
    assert fake_slack.posts == []
    # the token is encrypted at rest
    async with hub_app.app_context():
        row = await StoredCredential.get(org_id=api.org_id, owner="slack", name="slack")
    assert BOT_TOKEN not in row.ciphertext


async def test_either_a_webhook_or_a_token_not_both(api, fake_slack):
    both = {"credentials": {"botToken": BOT_TOKEN, "webhookUrl": fake_slack.webhook_url}, "config": {}}
    await api.error("POST", CONNECT, both, field="credentials")
    await api.error("POST", CONNECT, {"credentials": {}, "config": {}}, field="credentials")
    await api.error("POST", CONNECT, {"credentials": {"webhookUrl": "ftp://example.com/x"}, "config": {}},
                    field="credentials")
    await api.error("POST", CONNECT, bot_connection("#not a channel!"), field="config")


async def test_a_webhook_is_tested_without_posting_anything(api, fake_slack):
    wrong = fake_slack.url + "/services/T0HUB/B0HUB/not-the-secret"
    refused = await api.error("POST", CONNECT, webhook_connection(wrong), code="INTEGRATION_CONNECTION_FAILED")
    assert "403 invalid_token" in refused["message"]
    assert "not-the-secret" not in str(refused)  # the URL is a secret too: never echoed
    gone = fake_slack.url + "/services/T0OLD/B0OLD/whatever"
    assert "404 no_service" in (await api.error("POST", CONNECT, webhook_connection(gone),
                                                code="INTEGRATION_CONNECTION_FAILED"))["message"]
    body = await api.call("POST", CONNECT, webhook_connection(fake_slack.webhook_url))
    assert body["status"] == "connected" and WEBHOOK_PATH not in str(body)
    assert fake_slack.posts == []


async def test_webhook_urls_to_private_addresses_are_refused(api, fake_slack, hub, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("slack"), "webhook_allowlist", [])
    probe = "/services/T0HUB/B0HUB/ssrf-probe"
    for url in (fake_slack.url + probe,                                   # loopback
                f"http://localhost:{fake_slack.port}{probe}",             # a name of the loopback
                f"http://2130706433:{fake_slack.port}{probe}",            # 127.0.0.1 as a number
                "http://169.254.169.254/latest/meta-data/",               # cloud metadata
                "http://10.0.0.7/services/T/B/x", "http://[::1]/services/T/B/x"):
        body = await api.error("POST", CONNECT, webhook_connection(url), code="INTEGRATION_CONNECTION_FAILED")
        assert "not allowed" in body["message"] or "not a canonical" in body["message"], url
    assert probe not in fake_slack.paths  # none of them reached the fake
    # a host name the operator allowlisted connects, to the addresses the guard checked
    monkeypatch.setattr(hub.plugin_settings("slack"), "webhook_allowlist", ["localhost"])
    named = await api.call("POST", CONNECT, webhook_connection(f"http://localhost:{fake_slack.port}{WEBHOOK_PATH}"))
    assert named["status"] == "connected"
    # allowed on the loopback, a redirect elsewhere is not followed
    monkeypatch.setattr(hub.plugin_settings("slack"), "webhook_allowlist", ["127.0.0.1"])
    body = await api.error("POST", CONNECT, webhook_connection(fake_slack.url + "/redirect"),
                           code="INTEGRATION_CONNECTION_FAILED")
    assert "redirect" in body["message"]


async def test_a_revoked_token_marks_the_integration_error_with_the_event(bot_api, fake_slack, events):
    fake_slack.token = "xoxb-the-new-one"  # the workspace revoked ours
    post = await bot_api.call("POST", "/api/v1/slack/messages", {"text": "hello"}, status=202)
    done = await posted(bot_api, post)
    assert done["status"] == "failed" and "invalid_auth" in done["error"] and done["attempts"] == 1
    slack = await bot_api.get(SLACK)
    assert slack["status"] == "error" and "invalid_auth" in slack["lastError"] and slack["lastErrorAt"]
    listed = {i["id"]: i for i in (await bot_api.get("/api/integrations"))["integrations"]}
    assert listed["slack"]["status"] == "error" and "invalid_auth" in listed["slack"]["lastError"]
    error = await events.wait_for(bot_api.org_id, "integration.error")
    assert error.data["integration"] == "slack" and "invalid_auth" in error.data["error"]
    assert (await events.wait_for(bot_api.org_id, "slack.message.failed")).data["id"] == post["id"]
    # connected again with a working token: back to connected, posts go out
    fake_slack.token = BOT_TOKEN
    tested = await bot_api.call("POST", "/api/integrations/slack/test")
    assert tested["status"] == "connected" and tested["lastError"] is None


async def test_slack_unreachable_after_every_try_marks_the_integration_error(webhook_api, fake_slack, hub,
                                                                            monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("slack"), "post_attempts", 2)
    fake_slack.failures.extend([500, 500])
    post = await webhook_api.call("POST", "/api/v1/slack/messages", {"text": "hello"}, status=202)
    done = await posted(webhook_api, post)
    assert done["status"] == "failed" and done["attempts"] == 2 and "500" in done["error"]
    assert (await webhook_api.get(SLACK))["status"] == "error"


async def test_a_webhook_moved_to_a_private_address_is_refused_when_posting(webhook_api, fake_slack, hub,
                                                                           monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("slack"), "webhook_allowlist", [])
    post = await webhook_api.call("POST", "/api/v1/slack/messages", {"text": "hello"}, status=202)
    done = await posted(webhook_api, post)
    assert done["status"] == "failed" and "not allowed" in done["error"] and fake_slack.posts == []
    assert (await webhook_api.get(SLACK))["status"] == "error"

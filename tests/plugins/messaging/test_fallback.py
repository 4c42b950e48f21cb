"""SendGrid as an email provider (its v3 API against a loopback fake), and a configured
fallback provider taking a message over once the primary has failed for its own reasons."""

from __future__ import annotations

import base64

from tests.plugins.messaging.conftest import SENDGRID_CONNECTION, SMTP_PASSWORD, SMTP_USER, sent, smtp_connection

EMAIL = "/api/v1/messages/email"


def email(**fields) -> dict:
    return {"to": ["ada@example.com"], "subject": "Hello", "content": {"text": "Hi", "html": "<p>Hi</p>"}, **fields}


async def test_sendgrid_connects_with_a_valid_key_and_sends(api, fake_sendgrid):
    await api.error("POST", "/api/integrations/sendgrid/connect",
                    {**SENDGRID_CONNECTION, "credentials": {"apiKey": "SG.wrong-key-123"}},
                    status=400, code="INTEGRATION_CONNECTION_FAILED")
    await api.call("POST", "/api/integrations/sendgrid/connect", SENDGRID_CONNECTION)
    accepted = await api.call("POST", EMAIL, email(
        provider="sendgrid", to=["sg@example.com"], cc=["cc@example.com"], bcc=["bcc@example.com"],
        attachments=[{"filename": "a.txt", "content": base64.b64encode(b"hello").decode(), "content_type": "text/plain"}]),
        status=202)
    message = await sent(api, accepted)
    assert message["status"] == "sent" and message["provider"] == "sendgrid"
    [body] = fake_sendgrid.to("sg@example.com")
    assert message["provider_message_id"] == f"sg-{fake_sendgrid.sent.index(body) + 1}"
    assert body["personalizations"] == [{"to": [{"email": "sg@example.com"}], "cc": [{"email": "cc@example.com"}],
                                         "bcc": [{"email": "bcc@example.com"}]}]
    assert body["from"] == {"email": "hub@example.com"} and body["subject"] == "Hello"
    assert body["content"] == [{"type": "text/plain", "value": "Hi"}, {"type": "text/html", "value": "<p>Hi</p>"}]
    assert body["attachments"] == [{"content": "aGVsbG8=", "filename": "a.txt", "type": "text/plain",
                                    "disposition": "attachment"}]


async def test_an_unreachable_smtp_server_falls_back_to_sendgrid(api, smtp_sink, fake_sendgrid, hub, hub_app,
                                                                 monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("messaging"), "fallback_providers", {"smtp": "sendgrid"})
    monkeypatch.setattr(hub.plugin_settings("messaging"), "send_attempts", 2)
    await api.call("POST", "/api/integrations/smtp/connect", smtp_connection(smtp_sink))
    await api.call("POST", "/api/integrations/sendgrid/connect", SENDGRID_CONNECTION)
    async with hub_app.app_context():  # the SMTP server is gone since it was connected
        from core import save_credentials
        from core.tenancy.models import IntegrationConnection

        await IntegrationConnection.filter(org_id=api.org_id, integration="smtp").update(
            config={**smtp_connection(smtp_sink)["config"], "port": 9, "syncFrequency": "manual", "dataTypes": []})
        await save_credentials(api.org_id, "messaging", "smtp", {"username": SMTP_USER, "password": SMTP_PASSWORD})

    accepted = await api.call("POST", EMAIL, email(to=["fallback@example.com"]), status=202)
    handed_over = await sent(api, accepted)
    assert handed_over["provider"] == "sendgrid" and handed_over["job_id"] != accepted["job_id"]
    message = await sent(api, handed_over)
    assert message["status"] == "sent" and message["provider"] == "sendgrid" and fake_sendgrid.to("fallback@example.com")
    statuses = [entry["status"] for entry in message["history"]]
    assert statuses == ["queued", "sending", "queued", "sending", "queued", "sending", "sent"]
    assert "falling back to sendgrid" in message["history"][4]["detail"]

    # a refused address is the message's fault, not the provider's: no fallback from SendGrid to SMTP either
    monkeypatch.setattr(hub.plugin_settings("messaging"), "fallback_providers", {"sendgrid": "smtp"})
    refused = await sent(api, await api.call("POST", EMAIL, email(provider="sendgrid", to=["bounce-me@example.com"]),
                                             status=202))
    assert refused["status"] == "failed" and refused["provider"] == "sendgrid" and "400" in refused["error"]


async def test_without_the_fallback_connected_the_message_fails(api, hub, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("messaging"), "fallback_providers", {"smtp": "sendgrid"})
    message = await sent(api, await api.call("POST", EMAIL, email(), status=202))
    assert message["status"] == "failed" and message["provider"] == "smtp" and "not connected" in message["error"]

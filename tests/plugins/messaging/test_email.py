"""Email through the organization's SMTP server (an aiosmtpd server with AUTH on the
loopback): the connection test logs in for real, a send is queued (202) and delivered by a job
with the right headers, recipients, parts and attachments, failures are retried or not by
their SMTP code, and every message has its status history."""

from __future__ import annotations

import base64

from core.tenancy.models import StoredCredential
from tests.plugins.messaging.conftest import SMTP_PASSWORD, SMTP_USER, sent, smtp_connection

EMAIL = "/api/v1/messages/email"


def email(**fields) -> dict:
    return {"to": ["ada@example.com"], "subject": "Hello", "content": {"text": "Hi Ada"}, **fields}


async def test_connecting_smtp_logs_in_and_a_wrong_password_is_refused(api, smtp_sink, hub_app):
    refused = await api.error("POST", "/api/integrations/smtp/connect", smtp_connection(smtp_sink, "wrong-password"),
                              status=400, code="INTEGRATION_CONNECTION_FAILED")
    assert "535" in refused["message"] and "wrong-password" not in str(refused)
    body = await api.call("POST", "/api/integrations/smtp/connect", smtp_connection(smtp_sink))
    assert body["status"] == "connected" and body["config"]["fromAddress"] == "hub@example.com"
    assert SMTP_PASSWORD not in str(body) and body["credentials"]["password"].startswith("\u2022")
    async with hub_app.app_context():
        row = await StoredCredential.get(org_id=api.org_id, owner="messaging", name="smtp")
    assert SMTP_PASSWORD not in row.ciphertext
    # nothing listens on port 9: the test says it could not connect
    closed = {**smtp_connection(smtp_sink), "config": {**smtp_connection(smtp_sink)["config"], "port": 9}}
    await api.error("POST", "/api/integrations/smtp/test", closed, status=400, code="INTEGRATION_CONNECTION_FAILED")


async def test_smtp_hosts_on_private_addresses_are_refused_unless_allowlisted(api, smtp_sink, hub, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("messaging"), "smtp_allowlist", [])
    for host in ("127.0.0.1", "localhost", "169.254.169.254", "10.0.0.8", "0x7f.1"):
        body = {**smtp_connection(smtp_sink), "config": {**smtp_connection(smtp_sink)["config"], "host": host}}
        refused = await api.error("POST", "/api/integrations/smtp/connect", body, status=400,
                                  code="INTEGRATION_CONNECTION_FAILED")
        assert "is not allowed" in refused["message"], refused
    assert (await api.get("/api/integrations/smtp"))["status"] == "disconnected"


async def test_an_email_arrives_with_headers_recipients_parts_and_attachment(smtp_api, smtp_sink, events):
    pdf = b"%PDF-1.4 a tiny file\x00\x01"
    accepted = await smtp_api.call("POST", EMAIL, email(
        to=["ada@example.com", "bob@example.com"], cc=["carol@example.com"], bcc=["dave@example.com"],
        subject="Quarterly report", reply_to="sales@example.com", **{"from": "reports@example.com"},
        content={"text": "See attached.", "html": "<p>See <b>attached</b>.</p>"},
        attachments=[{"filename": "report.pdf", "content": base64.b64encode(pdf).decode(),
                      "content_type": "application/pdf"}]), status=202)
    assert accepted["status"] == "queued" and accepted["message_id"] == accepted["id"] and accepted["channel"] == "email"

    message = await sent(smtp_api, accepted)
    assert message["status"] == "sent" and message["error"] is None and message["attempts"] == 1
    assert [entry["status"] for entry in message["history"]] == ["queued", "sending", "sent"]
    assert message["to"] == ["ada@example.com", "bob@example.com"] and message["bcc"] == ["dave@example.com"]
    assert message["from"] == "reports@example.com" and message["subject"] == "Quarterly report"

    [mail] = smtp_sink.to("dave@example.com")
    assert mail.login == SMTP_USER and mail.mail_from == "reports@example.com"
    assert sorted(mail.rcpt_tos) == ["ada@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]
    headers = mail.message
    assert headers["Subject"] == "Quarterly report" and headers["From"] == "reports@example.com"
    assert headers["To"] == "ada@example.com, bob@example.com" and headers["Cc"] == "carol@example.com"
    assert headers["Bcc"] is None and headers["Reply-To"] == "sales@example.com"
    assert headers["Message-ID"] == message["provider_message_id"]
    assert headers.get_body(("plain",)).get_content().strip() == "See attached."
    assert headers.get_body(("html",)).get_content().strip() == "<p>See <b>attached</b>.</p>"
    [attachment] = list(headers.iter_attachments())
    assert attachment.get_filename() == "report.pdf" and attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf
    event = await events.wait_for(smtp_api.org_id, "messaging.sent")
    assert event.data["id"] == accepted["id"] and event.data["provider_message_id"] == message["provider_message_id"]
    connection = await smtp_api.get("/api/integrations/smtp")
    assert connection["status"] == "connected" and connection["lastSync"]


async def test_html_only_gets_a_text_part_made_from_it(smtp_api, smtp_sink):
    accepted = await smtp_api.call("POST", EMAIL, email(to=["html-only@example.com"], content={
        "html": "<h1>Welcome</h1><p>Visit <a href='https://example.com/start'>the start page</a>.</p>"}), status=202)
    message = await sent(smtp_api, accepted)
    assert message["status"] == "sent" and message["from"] is None  # the integration's fromAddress
    [mail] = smtp_sink.to("html-only@example.com")
    assert mail.mail_from == "hub@example.com" and mail.message["From"] == "hub@example.com"
    text = mail.message.get_body(("plain",)).get_content()
    assert "Welcome" in text and "the start page (https://example.com/start)" in text and "<" not in text


async def test_a_busy_mailbox_451_is_retried_with_back_off_until_it_is_sent(smtp_api, smtp_sink):
    smtp_sink.busy["busy@example.com"] = 2
    accepted = await smtp_api.call("POST", EMAIL, email(to=["busy@example.com"]), status=202)
    message = await sent(smtp_api, accepted)
    assert message["status"] == "sent" and message["attempts"] == 3
    statuses = [entry["status"] for entry in message["history"]]
    assert statuses == ["queued", "sending", "queued", "sending", "queued", "sending", "sent"]
    assert "451" in message["history"][2]["detail"] and "will retry" in message["history"][2]["detail"]
    assert len(smtp_sink.to("busy@example.com")) == 1


async def test_a_refused_mailbox_550_fails_at_once_without_retry(smtp_api, smtp_sink, events):
    accepted = await smtp_api.call("POST", EMAIL, email(to=["nobody@example.com"]), status=202)
    message = await sent(smtp_api, accepted)
    assert message["status"] == "failed" and message["attempts"] == 1 and "550" in message["error"]
    assert [entry["status"] for entry in message["history"]] == ["queued", "sending", "failed"]
    assert (await events.wait_for(smtp_api.org_id, "messaging.failed")).data["id"] == accepted["id"]
    assert (await smtp_api.get("/api/integrations/smtp"))["status"] == "connected"  # the address's fault


async def test_an_unreachable_server_is_retried_then_fails_and_marks_the_integration(api, smtp_sink, hub, hub_app,
                                                                                      monkeypatch):
    await api.call("POST", "/api/integrations/smtp/connect", smtp_connection(smtp_sink))
    monkeypatch.setattr(hub.plugin_settings("messaging"), "send_attempts", 2)
    async with hub_app.app_context():  # the server moved after the connection was made
        from core import save_credentials
        from core.tenancy.models import IntegrationConnection

        await IntegrationConnection.filter(org_id=api.org_id, integration="smtp").update(
            config={**smtp_connection(smtp_sink)["config"], "port": 9, "syncFrequency": "manual", "dataTypes": []})
        await save_credentials(api.org_id, "messaging", "smtp", {"username": SMTP_USER, "password": SMTP_PASSWORD})
    accepted = await api.call("POST", EMAIL, email(), status=202)
    message = await sent(api, accepted)
    assert message["status"] == "failed" and message["attempts"] == 2
    assert "could not reach the SMTP server" in message["error"]


async def test_a_wrong_stored_password_fails_the_send_and_the_integration(api, smtp_sink, hub_app, events):
    await api.call("POST", "/api/integrations/smtp/connect", smtp_connection(smtp_sink))
    async with hub_app.app_context():  # the password was changed on the server since
        from core import save_credentials

        await save_credentials(api.org_id, "messaging", "smtp", {"username": SMTP_USER, "password": "rotated-elsewhere"})
    message = await sent(api, await api.call("POST", EMAIL, email(), status=202))
    assert message["status"] == "failed" and message["attempts"] == 1 and "535" in message["error"]
    connection = await api.get("/api/integrations/smtp")
    assert connection["status"] == "error" and "535" in connection["lastError"]
    assert (await events.wait_for(api.org_id, "integration.error")).data["integration"] == "smtp"


async def test_without_a_connected_smtp_the_message_fails_saying_so(api):
    message = await sent(api, await api.call("POST", EMAIL, email(), status=202))
    assert message["status"] == "failed" and "smtp is not connected" in message["error"]

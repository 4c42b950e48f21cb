"""Amazon SES and SNS (boto3 against moto in server mode, its IAM checking the key), Mailgun and
MessageBird (httpx against loopback fakes of their APIs): connecting tests the credentials,
a send reaches the provider in its own shape, 5xx and timeouts are retried, 4xx is not, a
failed provider falls back, and no secret is stored or shown in plain text."""

from __future__ import annotations

import base64
from email import message_from_string, policy

from core.tenancy.models import StoredCredential
from tests.plugins.messaging.conftest import (
    FLAKY_NUMBER,
    INVALID_NUMBER,
    MAILGUN_CONNECTION,
    MAILGUN_KEY,
    MAILGUN_SIGNING_KEY,
    MESSAGEBIRD_CONNECTION,
    MESSAGEBIRD_KEY,
    aws_connection,
    sent,
)

EMAIL, SMS = "/api/v1/messages/email", "/api/v1/messages/sms"


def email(**fields) -> dict:
    return {"to": ["ada@example.com"], "subject": "Hello", "content": {"text": "Hi Ada", "html": "<p>Hi Ada</p>"},
            **fields}


async def stored(hub_app, org_id, name: str) -> str:
    async with hub_app.app_context():
        return (await StoredCredential.get(org_id=org_id, owner="messaging", name=name)).ciphertext


# -- Amazon SES and SNS -----------------------------------------------------------------------------


async def test_aws_credentials_are_checked_by_moto_and_kept_encrypted(api, moto_server, hub, hub_app, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("messaging"), "aws_endpoint_url", moto_server.url)
    wrong = aws_connection(moto_server, fromAddress="hub@example.com")
    wrong["credentials"]["secretAccessKey"] = "not-the-secret-0123456789"
    refused = await api.error("POST", "/api/integrations/aws_ses/connect", wrong, status=400,
                              code="INTEGRATION_CONNECTION_FAILED")
    assert "SignatureDoesNotMatch" in refused["message"] and "not-the-secret" not in str(refused)
    unknown = aws_connection(moto_server)
    unknown["credentials"]["accessKeyId"] = "AKIAUNKNOWNKEY000000"
    refused = await api.error("POST", "/api/integrations/aws_sns/connect", unknown, status=400,
                              code="INTEGRATION_CONNECTION_FAILED")
    assert "InvalidClientTokenId" in refused["message"]

    body = await api.call("POST", "/api/integrations/aws_ses/connect",
                          aws_connection(moto_server, fromAddress="hub@example.com"))
    assert body["status"] == "connected" and moto_server.secret_access_key not in str(body)
    assert body["credentials"]["secretAccessKey"].startswith("\u2022")
    assert moto_server.secret_access_key not in await stored(hub_app, api.org_id, "aws_ses")


async def test_an_email_goes_through_ses_as_a_mime_message(aws_api, moto_server):
    accepted = await aws_api.call("POST", EMAIL, email(
        provider="aws_ses", to=["ses@example.com"], cc=["cc@example.com"], bcc=["hidden@example.com"],
        attachments=[{"filename": "a.txt", "content": base64.b64encode(b"hello").decode(), "content_type": "text/plain"}]),
        status=202)
    message = await sent(aws_api, accepted)
    assert message["status"] == "sent" and message["provider"] == "aws_ses"
    [raw] = [raw for raw in moto_server.raw_emails() if raw["id"] == message["provider_message_id"]]
    assert raw["source"] == "hub@example.com"
    assert {"ses@example.com", "cc@example.com", "hidden@example.com"} <= set(raw["destinations"])
    mime = message_from_string(raw["raw_data"], policy=policy.default)
    assert mime["To"] == "ses@example.com" and mime["Cc"] == "cc@example.com" and mime["Bcc"] is None
    assert [part.get_filename() for part in mime.iter_attachments()] == ["a.txt"]


async def test_ses_refusing_an_unverified_sender_is_not_retried(aws_api):
    message = await sent(aws_api, await aws_api.call("POST", EMAIL, email(provider="aws_ses", **{
        "from": "stranger@example.com"}), status=202))
    assert message["status"] == "failed" and message["attempts"] == 1
    assert "400 MessageRejected" in message["error"]
    assert (await aws_api.get("/api/integrations/aws_ses"))["status"] == "connected"  # the address's fault


async def test_an_sms_goes_through_sns(aws_api):
    message = await sent(aws_api, await aws_api.call("POST", SMS, {"provider": "aws_sns", "to": "+14155550123",
                                                                   "message": "Your code is 42"}, status=202))
    assert message["status"] == "sent" and message["provider"] == "aws_sns" and message["provider_message_id"]
    await aws_api.error("POST", SMS, {"provider": "aws_sns", "to": "+14155550123", "message": "a picture",
                                      "media_urls": ["https://example.com/a.png"]}, status=400, code="VALIDATION_ERROR")


async def test_a_key_revoked_after_connecting_fails_the_send_and_marks_the_integration(aws_api, moto_server, hub_app):
    async with hub_app.app_context():
        from core import save_credentials

        await save_credentials(aws_api.org_id, "messaging", "aws_sns",
                               {"access_key_id": moto_server.access_key_id, "secret_access_key": "revoked-0123456789"})
    message = await sent(aws_api, await aws_api.call("POST", SMS, {"provider": "aws_sns", "to": "+14155550124",
                                                                   "message": "hi"}, status=202))
    assert message["status"] == "failed" and "SignatureDoesNotMatch" in message["error"]
    assert (await aws_api.get("/api/integrations/aws_sns"))["status"] == "error"


# -- Mailgun ----------------------------------------------------------------------------------------


async def test_mailgun_checks_the_domain_with_the_key(api, fake_mailgun, hub, hub_app, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("messaging"), "mailgun_base_url", fake_mailgun.url)
    wrong = {**MAILGUN_CONNECTION, "credentials": {"apiKey": "key-wrong-0123456789"}}
    refused = await api.error("POST", "/api/integrations/mailgun/connect", wrong, status=400,
                              code="INTEGRATION_CONNECTION_FAILED")
    assert "401" in refused["message"]
    other_domain = {**MAILGUN_CONNECTION, "config": {**MAILGUN_CONNECTION["config"], "domain": "other.example.com"}}
    assert "404" in (await api.error("POST", "/api/integrations/mailgun/connect", other_domain, status=400,
                                     code="INTEGRATION_CONNECTION_FAILED"))["message"]
    body = await api.call("POST", "/api/integrations/mailgun/connect", MAILGUN_CONNECTION)
    assert body["status"] == "connected" and MAILGUN_KEY not in str(body) and MAILGUN_SIGNING_KEY not in str(body)
    ciphertext = await stored(hub_app, api.org_id, "mailgun")
    assert MAILGUN_KEY not in ciphertext and MAILGUN_SIGNING_KEY not in ciphertext


async def test_an_email_goes_to_mailgun_as_its_form(mailgun_api, fake_mailgun):
    accepted = await mailgun_api.call("POST", EMAIL, email(
        provider="mailgun", to=["mg@example.com", "mg2@example.com"], bcc=["hidden@example.com"],
        reply_to="replies@example.com",
        attachments=[{"filename": "a.txt", "content": base64.b64encode(b"hello").decode(), "content_type": "text/plain"}]),
        status=202)
    message = await sent(mailgun_api, accepted)
    assert message["status"] == "sent" and message["provider"] == "mailgun"
    [form] = fake_mailgun.to("mg@example.com")
    assert message["provider_message_id"] == form["id"] and not message["provider_message_id"].startswith("<")
    assert form["to"] == ["mg@example.com", "mg2@example.com"] and form["bcc"] == ["hidden@example.com"]
    assert form["from"] == ["hub@example.com"] and form["subject"] == ["Hello"] and form["html"] == ["<p>Hi Ada</p>"]
    assert form["h:Reply-To"] == ["replies@example.com"] and form["v:hub_message_id"] == [accepted["id"]]
    assert form["attachment"] == [("a.txt", b"hello", "text/plain")]


async def test_mailgun_5xx_and_timeouts_are_retried_and_4xx_is_not(mailgun_api, fake_mailgun, hub, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("messaging"), "mailgun_timeout_seconds", 0.3)
    fake_mailgun.misbehave.flaky["flaky@example.com"] = 2
    fake_mailgun.misbehave.slow["slow@example.com"] = 1
    fake_mailgun.misbehave.delay = 1.0
    flaky = await sent(mailgun_api, await mailgun_api.call("POST", EMAIL, email(provider="mailgun", to=["flaky@example.com"]),
                                                           status=202))
    assert flaky["status"] == "sent" and flaky["attempts"] == 3 and "503" in flaky["history"][2]["detail"]
    slow = await sent(mailgun_api, await mailgun_api.call("POST", EMAIL, email(provider="mailgun", to=["slow@example.com"]),
                                                          status=202))
    assert slow["status"] == "sent" and slow["attempts"] == 2 and "did not answer in time" in slow["history"][2]["detail"]
    invalid = await sent(mailgun_api, await mailgun_api.call(
        "POST", EMAIL, email(provider="mailgun", to=["invalid@example.com"]), status=202))
    assert invalid["status"] == "failed" and invalid["attempts"] == 1 and "400" in invalid["error"]
    assert "not a valid address" in invalid["error"]


async def test_mailgun_failing_for_good_falls_back_to_ses(mailgun_api, fake_mailgun, moto_server, hub, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("messaging"), "aws_endpoint_url", moto_server.url)
    monkeypatch.setattr(hub.plugin_settings("messaging"), "fallback_providers", {"mailgun": "aws_ses"})
    monkeypatch.setattr(hub.plugin_settings("messaging"), "send_attempts", 2)
    await mailgun_api.call("POST", "/api/integrations/aws_ses/connect",
                           aws_connection(moto_server, fromAddress="hub@example.com"))
    fake_mailgun.misbehave.flaky["down@example.com"] = 5
    handed_over = await sent(mailgun_api, await mailgun_api.call(
        "POST", EMAIL, email(provider="mailgun", to=["down@example.com"]), status=202))
    assert handed_over["provider"] == "aws_ses"
    message = await sent(mailgun_api, handed_over)
    assert message["status"] == "sent" and message["provider"] == "aws_ses"
    assert "falling back to aws_ses" in message["history"][4]["detail"]
    assert any(raw["id"] == message["provider_message_id"] for raw in moto_server.raw_emails())


# -- MessageBird ------------------------------------------------------------------------------------


async def test_messagebird_checks_the_key_and_sends(api, fake_messagebird, hub, hub_app, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("messaging"), "messagebird_base_url", fake_messagebird.url)
    refused = await api.error("POST", "/api/integrations/messagebird/connect",
                              {**MESSAGEBIRD_CONNECTION, "credentials": {"accessKey": "live_wrong_key_0"}},
                              status=400, code="INTEGRATION_CONNECTION_FAILED")
    assert "401" in refused["message"] and "incorrect access_key" in refused["message"]
    await api.call("POST", "/api/integrations/messagebird/connect", MESSAGEBIRD_CONNECTION)
    assert MESSAGEBIRD_KEY not in await stored(hub_app, api.org_id, "messagebird")

    accepted = await api.call("POST", SMS, {"provider": "messagebird", "to": "+31 612 345 678", "message": "Hoi"},
                              status=202)
    message = await sent(api, accepted)
    assert message["status"] == "sent" and message["provider"] == "messagebird"
    [posted] = fake_messagebird.to("+31612345678")
    assert posted == {"originator": "HubTests", "recipients": ["31612345678"], "body": "Hoi",
                      "reference": accepted["id"], "id": message["provider_message_id"], "path": "/messages"}
    mms = await sent(api, await api.call("POST", SMS, {"provider": "messagebird", "to": "+14155550142", "message": "pic",
                                                       "media_urls": ["https://example.com/a.png"]}, status=202))
    [posted] = fake_messagebird.to("+14155550142")
    assert mms["status"] == "sent" and posted["path"] == "/mms" and posted["mediaUrls"] == ["https://example.com/a.png"]


async def test_messagebird_5xx_is_retried_and_422_is_not(messagebird_api, fake_messagebird):
    fake_messagebird.misbehave.flaky[FLAKY_NUMBER[1:]] = 1
    flaky = await sent(messagebird_api, await messagebird_api.call(
        "POST", SMS, {"provider": "messagebird", "to": FLAKY_NUMBER, "message": "hi"}, status=202))
    assert flaky["status"] == "sent" and flaky["attempts"] == 2 and "500" in flaky["history"][2]["detail"]
    invalid = await sent(messagebird_api, await messagebird_api.call(
        "POST", SMS, {"provider": "messagebird", "to": INVALID_NUMBER, "message": "hi"}, status=202))
    assert invalid["status"] == "failed" and invalid["attempts"] == 1
    assert "422" in invalid["error"] and "no (correct) recipients found" in invalid["error"]


async def test_another_organization_sees_none_of_it(mailgun_api, other_api):
    accepted = await mailgun_api.call("POST", EMAIL, email(provider="mailgun"), status=202)
    await other_api.error("GET", f"/api/v1/messages/{accepted['id']}", status=404, code="NOT_FOUND")
    assert (await other_api.get("/api/integrations/mailgun"))["status"] == "disconnected"

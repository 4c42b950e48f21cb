"""SMS through Twilio's official SDK against a fake of Twilio's REST API on the loopback: the
connection test fetches the account, a send posts Messages.json with basic auth, a 500 is
retried and a 400 is not."""

from __future__ import annotations

from tests.plugins.messaging.conftest import (
    FLAKY_NUMBER,
    FROM_NUMBER,
    INVALID_NUMBER,
    TWILIO_CONNECTION,
    TWILIO_SID,
    TWILIO_TOKEN,
    sent,
)

SMS = "/api/v1/messages/sms"


async def test_connecting_twilio_fetches_the_account_and_a_wrong_token_is_refused(api, fake_twilio):
    wrong = {**TWILIO_CONNECTION, "credentials": {"accountSid": TWILIO_SID, "authToken": "not-the-token"}}
    refused = await api.error("POST", "/api/integrations/twilio/connect", wrong, status=400,
                              code="INTEGRATION_CONNECTION_FAILED")
    assert "401" in refused["message"] and "not-the-token" not in str(refused)
    body = await api.call("POST", "/api/integrations/twilio/connect", TWILIO_CONNECTION)
    assert body["status"] == "connected" and body["config"]["fromNumber"] == FROM_NUMBER
    assert TWILIO_TOKEN not in str(body)


async def test_an_sms_is_posted_to_twilio_and_recorded_sent(twilio_api, fake_twilio):
    accepted = await twilio_api.call("POST", SMS, {"to": "+1 (415) 555-0100", "message": "Your code is 1234",
                                                   "media_urls": ["https://example.com/a.png"]}, status=202)
    assert accepted["status"] == "queued" and accepted["channel"] == "sms" and accepted["provider"] == "twilio"
    message = await sent(twilio_api, accepted)
    assert message["status"] == "sent" and message["to"] == ["+14155550100"]
    [posted] = fake_twilio.to("+14155550100")
    assert posted["From"] == FROM_NUMBER and posted["Body"] == "Your code is 1234"
    assert posted["MediaUrl"] == "https://example.com/a.png"
    assert message["provider_message_id"] == posted["sid"]
    assert [entry["status"] for entry in message["history"]] == ["queued", "sending", "sent"]


async def test_a_twilio_500_is_retried_and_a_400_is_not(twilio_api, fake_twilio):
    fake_twilio.failures[FLAKY_NUMBER] = 2
    flaky = await sent(twilio_api, await twilio_api.call("POST", SMS, {"to": FLAKY_NUMBER, "message": "hi"}, status=202))
    assert flaky["status"] == "sent" and flaky["attempts"] == 3
    assert "500" in flaky["history"][2]["detail"]

    invalid = await sent(twilio_api, await twilio_api.call("POST", SMS, {"to": INVALID_NUMBER, "message": "hi"},
                                                           status=202))
    assert invalid["status"] == "failed" and invalid["attempts"] == 1
    assert "400" in invalid["error"] and "not a valid phone number" in invalid["error"]
    assert (await twilio_api.get("/api/integrations/twilio"))["status"] == "connected"


async def test_phone_numbers_must_be_e164(twilio_api):
    for number in ("0415 555 0100", "+0123456789", "+1 555", "tel:+14155550100"):
        await twilio_api.error("POST", SMS, {"to": number, "message": "hi"}, status=400, code="VALIDATION_ERROR")
    await twilio_api.error("POST", SMS, {"to": "+14155550100"}, status=400, code="VALIDATION_ERROR")  # no message
    await twilio_api.error("POST", SMS, {"to": "+14155550100", "message": "x" * 1601}, status=400,
                           code="VALIDATION_ERROR")


CALLBACK = "/api/v1/messages/callbacks/twilio"
PUBLIC_URL = "https://hub.example.com"


async def report(client, form: dict, token: str = TWILIO_TOKEN, signature: str | None = None):
    """Twilio's delivery report, signed as Twilio signs it (the URL it called and every field)."""
    from twilio.request_validator import RequestValidator

    signature = signature or RequestValidator(token).compute_signature(PUBLIC_URL + CALLBACK, form)
    response = await client.post(CALLBACK, form=form, headers={"X-Twilio-Signature": signature})
    return response.status_code, await response.get_json()


async def test_twilio_delivery_reports_are_verified_and_move_the_message_once(twilio_api, fake_twilio, hub,
                                                                             hub_client, monkeypatch, events):
    monkeypatch.setattr(hub.plugin_settings("messaging"), "public_url", PUBLIC_URL)
    delivered = await sent(twilio_api, await twilio_api.call("POST", SMS, {"to": "+14155550177", "message": "a"},
                                                             status=202))
    [posted] = fake_twilio.to("+14155550177")
    assert posted["StatusCallback"] == PUBLIC_URL + CALLBACK
    form = {"MessageSid": posted["sid"], "AccountSid": TWILIO_SID, "MessageStatus": "delivered", "To": "+14155550177",
            "ApiVersion": "2010-04-01"}

    for bad in ({"token": "another-accounts-token"}, {"signature": "bm90IGEgc2lnbmF0dXJl"}):
        status, body = await report(hub_client, form, **bad)
        assert status == 400 and body["error"]["code"] == "INVALID_SIGNATURE"
    status, body = await report(hub_client, {**form, "MessageSid": "SM" + "f" * 32})  # not a message of the Hub
    assert status == 400 and body["error"]["code"] == "INVALID_SIGNATURE"
    assert (await twilio_api.get(f"/api/v1/messages/{delivered['id']}"))["status"] == "sent"

    assert await report(hub_client, {**form, "MessageStatus": "sent"}) == (200, {"received": True, "status": "sent"})
    assert await report(hub_client, form) == (200, {"received": True, "status": "delivered"})
    assert await report(hub_client, {**form, "MessageStatus": "failed"}) == (200, {"received": True,
                                                                                   "status": "delivered"})
    message = await twilio_api.get(f"/api/v1/messages/{delivered['id']}")
    assert message["status"] == "delivered"
    assert [entry["status"] for entry in message["history"]] == ["queued", "sending", "sent", "delivered"]
    assert (await events.wait_for(twilio_api.org_id, "messaging.delivered")).data["id"] == delivered["id"]

    lost = await sent(twilio_api, await twilio_api.call("POST", SMS, {"to": "+14155550188", "message": "b"}, status=202))
    [posted] = fake_twilio.to("+14155550188")
    undelivered = {**form, "MessageSid": posted["sid"], "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert (await report(hub_client, undelivered))[0] == 200
    message = await twilio_api.get(f"/api/v1/messages/{lost['id']}")
    assert message["status"] == "failed" and message["error"] == "twilio: undelivered (error 30003)"


async def test_without_a_public_url_no_callback_is_asked_for_or_accepted(twilio_api, fake_twilio, hub_client):
    await sent(twilio_api, await twilio_api.call("POST", SMS, {"to": "+14155550199", "message": "c"}, status=202))
    [posted] = fake_twilio.to("+14155550199")
    assert "StatusCallback" not in posted
    status, _ = await report(hub_client, {"MessageSid": posted["sid"], "AccountSid": TWILIO_SID,
                                          "MessageStatus": "delivered"})
    assert status == 400

"""The providers' event webhooks and the suppression list: SendGrid's Event Webhook (ECDSA),
Mailgun's webhooks (HMAC-SHA256) and SES notifications through SNS (an RSA signature checked
with the certificate at SigningCertURL, served here from the loopback) move messages to
delivered / bounced / failed once; a bad signature changes nothing; a bounced, complained or
unsubscribed address is suppressed for later sends."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from tests.loopback import FakeRequest, LoopbackServer
from tests.plugins.messaging.conftest import MAILGUN_SIGNING_KEY, SENDGRID_CONNECTION, sent

EMAIL, SMS = "/api/v1/messages/email", "/api/v1/messages/sms"
SUPPRESSIONS = "/api/v1/messages/suppressions"


def email(to: str, provider: str) -> dict:
    return {"provider": provider, "to": [to], "subject": "Hello", "content": {"text": "Hi"}}


async def post_raw(client, path: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    response = await client.post(path, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    return response.status_code, await response.get_json()


# -- SendGrid ---------------------------------------------------------------------------------------


def ec_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key pair; the public half as SendGrid shows its verification key (base64 DER)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(der).decode()


def sendgrid_signed(private: ec.EllipticCurvePrivateKey, events: list[dict]) -> tuple[bytes, dict]:
    body, timestamp = json.dumps(events).encode(), str(int(time.time()))
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                  "X-Twilio-Email-Event-Webhook-Timestamp": timestamp}


async def test_sendgrid_events_are_verified_and_a_bounce_suppresses_the_address(api, fake_sendgrid, hub_client, events):
    private, public = ec_key()
    await api.error("POST", "/api/integrations/sendgrid/connect",
                    {**SENDGRID_CONNECTION, "config": {**SENDGRID_CONNECTION["config"], "eventWebhookPublicKey": "bm9wZQ=="}},
                    status=400, code="VALIDATION_ERROR")
    await api.call("POST", "/api/integrations/sendgrid/connect",
                   {**SENDGRID_CONNECTION, "config": {**SENDGRID_CONNECTION["config"], "eventWebhookPublicKey": public}})
    delivered = await sent(api, await api.call("POST", EMAIL, email("ok@example.com", "sendgrid"), status=202))
    bounced = await sent(api, await api.call("POST", EMAIL, email("gone@example.com", "sendgrid"), status=202))
    [body] = fake_sendgrid.to("gone@example.com")
    assert body["custom_args"] == {"hub_message_id": bounced["id"]}
    batch = [
        {"email": "ok@example.com", "event": "delivered", "timestamp": 1, "hub_message_id": delivered["id"],
         "sg_message_id": f"{delivered['provider_message_id']}.filterdrecv-1", "sg_event_id": "e1"},
        {"email": "gone@example.com", "event": "bounce", "type": "bounce", "reason": "550 5.1.1 unknown user",
         "timestamp": 1, "sg_message_id": f"{bounced['provider_message_id']}.filterdrecv-2", "sg_event_id": "e2"},
        {"email": "ok@example.com", "event": "open", "timestamp": 2, "hub_message_id": delivered["id"]},
    ]
    for key in (ec_key()[0], private):  # another key, then the right key over another body
        body, headers = sendgrid_signed(key, batch)
        if key is private:
            body = body.replace(b"bounce", b"bounced")
        status, answer = await post_raw(hub_client, "/api/v1/messages/callbacks/sendgrid", body, headers)
        assert status == 400 and answer["error"]["code"] == "INVALID_SIGNATURE"
    body, headers = sendgrid_signed(private, batch)
    status, _ = await post_raw(hub_client, "/api/v1/messages/callbacks/sendgrid", body,
                               {"X-Twilio-Email-Event-Webhook-Timestamp": headers["X-Twilio-Email-Event-Webhook-Timestamp"]})
    assert status == 400  # unsigned
    assert (await api.get(f"/api/v1/messages/{bounced['id']}"))["status"] == "sent"

    assert await post_raw(hub_client, "/api/v1/messages/callbacks/sendgrid", body, headers) == (
        200, {"received": True, "applied": 2})
    assert (await api.get(f"/api/v1/messages/{delivered['id']}"))["status"] == "delivered"
    message = await api.get(f"/api/v1/messages/{bounced['id']}")
    assert message["status"] == "bounced" and "550 5.1.1" in message["error"]
    assert [entry["status"] for entry in message["history"]] == ["queued", "sending", "sent", "bounced"]
    assert (await events.wait_for(api.org_id, "messaging.bounced")).data["id"] == bounced["id"]

    [suppression] = (await api.get(f"{SUPPRESSIONS}?address=GONE@example.com"))["suppressions"]
    assert suppression["reason"] == "bounce" and suppression["provider"] == "sendgrid"
    assert suppression["message_id"] == bounced["id"]
    # a later email to the bounced address is not sent; to others, it is sent without it
    alone = await api.call("POST", EMAIL, email("Gone@Example.com", "sendgrid"), status=202)
    assert alone["status"] == "suppressed" and alone["job_id"] is None
    assert (await api.get(f"/api/v1/messages/{alone['id']}"))["history"][0]["detail"].endswith("gone@example.com")
    mixed = await sent(api, await api.call("POST", EMAIL, {**email("ok@example.com", "sendgrid"),
                                                           "cc": ["gone@example.com"]}, status=202))
    assert mixed["status"] == "sent" and mixed["cc"] == [] and len(fake_sendgrid.to("gone@example.com")) == 1
    # lifted, it is sent again
    await api.delete(f"{SUPPRESSIONS}/{suppression['id']}")
    again = await sent(api, await api.call("POST", EMAIL, email("gone@example.com", "sendgrid"), status=202))
    assert again["status"] == "sent" and len(fake_sendgrid.to("gone@example.com")) == 2


# -- Mailgun ----------------------------------------------------------------------------------------


def mailgun_body(event_data: dict, key: str = MAILGUN_SIGNING_KEY, timestamp: int | None = None) -> dict:
    timestamp = str(timestamp or int(time.time()))
    token = uuid.uuid4().hex + uuid.uuid4().hex[:18]
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event_data}


async def test_mailgun_webhooks_are_verified_and_move_the_message(mailgun_api, hub_client):
    message = await sent(mailgun_api, await mailgun_api.call("POST", EMAIL, email("mg-bounce@example.com", "mailgun"),
                                                             status=202))
    failed = {"event": "failed", "severity": "permanent", "reason": "bounce", "recipient": "mg-bounce@example.com",
              "message": {"headers": {"message-id": message["provider_message_id"]}},
              "delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist"},
              "id": "evt-1", "timestamp": time.time()}
    temporary = {**failed, "severity": "temporary", "reason": "generic"}
    hook = "/api/v1/messages/callbacks/mailgun"
    for bad in (mailgun_body(failed, key="another-signing-key"), mailgun_body(failed, timestamp=int(time.time()) - 3600),
                {"event-data": failed}, mailgun_body({**failed, "message": {"headers": {"message-id": "nope@x"}}})):
        status, answer = await post_raw(hub_client, hook, json.dumps(bad).encode())
        assert status == 400 and answer["error"]["code"] == "INVALID_SIGNATURE"
    assert await post_raw(hub_client, hook, json.dumps(mailgun_body(temporary)).encode()) == (
        200, {"received": True, "applied": 0})
    assert (await mailgun_api.get(f"/api/v1/messages/{message['id']}"))["status"] == "sent"
    assert await post_raw(hub_client, hook, json.dumps(mailgun_body(failed)).encode()) == (
        200, {"received": True, "applied": 1})
    bounced = await mailgun_api.get(f"/api/v1/messages/{message['id']}")
    assert bounced["status"] == "bounced" and "does not exist" in bounced["error"]
    # a later "delivered" does not undo it; a complaint suppresses its address, by the user variable
    other = await sent(mailgun_api, await mailgun_api.call("POST", EMAIL, email("mg-annoyed@example.com", "mailgun"),
                                                           status=202))
    for event in ({**failed, "event": "delivered", "severity": None},
                  {"event": "delivered", "recipient": "mg-annoyed@example.com",
                   "user-variables": {"hub_message_id": other["id"]}},
                  {"event": "complained", "recipient": "mg-annoyed@example.com",
                   "user-variables": {"hub_message_id": other["id"]}}):
        assert (await post_raw(hub_client, hook, json.dumps(mailgun_body(event)).encode()))[0] == 200
    assert (await mailgun_api.get(f"/api/v1/messages/{message['id']}"))["status"] == "bounced"
    assert (await mailgun_api.get(f"/api/v1/messages/{other['id']}"))["status"] == "delivered"
    listed = {row["address"]: row["reason"] for row in (await mailgun_api.get(SUPPRESSIONS))["suppressions"]}
    assert listed == {"mg-bounce@example.com": "bounce", "mg-annoyed@example.com": "complaint"}


# -- SES through SNS --------------------------------------------------------------------------------

TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"


class SnsSigner:
    """Signs SNS messages as AWS does (SignatureVersion 1: SHA1withRSA over the canonical
    string) with a key whose self-signed certificate this loopback server serves; it also
    answers SubscribeURL visits."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = dt.datetime.now(dt.timezone.utc)
        self.pem = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(
            self.key.public_key()).serial_number(x509.random_serial_number()).not_valid_before(
            now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30)).sign(
            self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
        self.confirmed: list[str] = []
        self.server = LoopbackServer(self.answer)
        self.cert_url = f"{self.server.url}/SimpleNotificationService-test.pem"

    def answer(self, request: FakeRequest) -> tuple:
        if request.path.endswith(".pem"):
            return 200, self.pem
        if request.query.get("Action") == ["ConfirmSubscription"]:
            self.confirmed.append(request.query["Token"][0])
            return 200, "<ConfirmSubscriptionResponse/>"
        return 404, "not found"

    def sign(self, message: dict, version: str = "1", key=None) -> dict:
        fields = (("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type") if message["Type"] == "Notification"
                  else ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"))
        text = "".join(f"{name}\n{message[name]}\n" for name in fields if name in message)
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = (key or self.key).sign(text.encode(), padding.PKCS1v15(), algorithm)
        return {**message, "SignatureVersion": version, "Signature": base64.b64encode(signature).decode(),
                "SigningCertURL": message.get("SigningCertURL", self.cert_url)}

    def notification(self, ses: dict, **changes) -> dict:
        return {"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": TOPIC, "Message": json.dumps(ses),
                "Timestamp": "2026-12-07T20:00:00.000Z", "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?x",
                **changes}


@pytest.fixture
def sns_signer(hub, monkeypatch):
    signer = SnsSigner()
    monkeypatch.setattr(hub.plugin_settings("messaging"), "sns_cert_hosts", [signer.server.url])
    monkeypatch.setattr(hub.plugin_settings("messaging"), "sns_topic_arns", [TOPIC])
    yield signer
    signer.server.close()


async def post_sns(client, message: dict) -> tuple[int, dict]:
    response = await client.post("/api/v1/messages/callbacks/sns", data=json.dumps(message).encode(),
                                 headers={"Content-Type": "text/plain; charset=UTF-8",
                                          "x-amz-sns-message-type": message["Type"]})
    return response.status_code, await response.get_json()


async def test_ses_notifications_through_sns_are_verified_and_bounce_the_message(aws_api, sns_signer, hub_client, hub,
                                                                               monkeypatch):
    confirmation = {"Type": "SubscriptionConfirmation", "MessageId": str(uuid.uuid4()), "Token": "tok-123",
                    "TopicArn": TOPIC, "Message": "You have chosen to subscribe...",
                    "SubscribeURL": f"{sns_signer.server.url}/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=tok-123",
                    "Timestamp": "2026-12-07T20:00:00.000Z"}
    stranger = {**confirmation, "TopicArn": "arn:aws:sns:us-east-1:999999999999:someone-elses", "Token": "tok-9"}
    assert (await post_sns(hub_client, sns_signer.sign(stranger)))[0] == 400  # signed, but not a topic of ours
    assert await post_sns(hub_client, sns_signer.sign(confirmation, version="2")) == (
        200, {"received": True, "type": "SubscriptionConfirmation", "applied": 0})
    assert sns_signer.confirmed == ["tok-123"]

    message = await sent(aws_api, await aws_api.call("POST", EMAIL, email("ses-bounce@example.com", "aws_ses"),
                                                     status=202))
    bounce = {"notificationType": "Bounce", "mail": {"messageId": message["provider_message_id"],
                                                     "destination": ["ses-bounce@example.com"]},
              "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                         "bouncedRecipients": [{"emailAddress": "ses-bounce@example.com", "status": "5.1.1",
                                                "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]}}
    signed = sns_signer.sign(sns_signer.notification(bounce))
    tampered = {**signed, "Message": signed["Message"].replace("Permanent", "Transient")}
    foreign = sns_signer.sign(sns_signer.notification(bounce), key=rsa.generate_private_key(65537, 2048))
    elsewhere = sns_signer.sign(sns_signer.notification(bounce, SigningCertURL="http://127.0.0.1:9/cert.pem"))
    other_topic = sns_signer.sign(sns_signer.notification(bounce, TopicArn=TOPIC + "-other"))
    for bad in (tampered, foreign, elsewhere, other_topic, {**signed, "Signature": "!!"}):
        status, answer = await post_sns(hub_client, bad)
        assert status == 400 and answer["error"]["code"] == "INVALID_SIGNATURE", answer
    assert (await aws_api.get(f"/api/v1/messages/{message['id']}"))["status"] == "sent"

    assert await post_sns(hub_client, signed) == (200, {"received": True, "type": "Notification", "applied": 1})
    bounced = await aws_api.get(f"/api/v1/messages/{message['id']}")
    assert bounced["status"] == "bounced" and "550 5.1.1 user unknown" in bounced["error"]
    [row] = (await aws_api.get(f"{SUPPRESSIONS}?reason=bounce"))["suppressions"]
    assert row["address"] == "ses-bounce@example.com" and row["provider"] == "aws_ses"
    assert (await aws_api.call("POST", EMAIL, email("ses-bounce@example.com", "aws_ses"), status=202))["status"] == \
        "suppressed"

    # the default: certificates only from sns.<region>.amazonaws.com over https
    monkeypatch.setattr(hub.plugin_settings("messaging"), "sns_cert_hosts", [])
    assert (await post_sns(hub_client, signed))[0] == 400


async def test_the_suppression_list_by_hand(api, other_api, twilio_api, fake_twilio):
    row = await api.post(SUPPRESSIONS, {"address": " Someone@Example.com ", "detail": "asked by phone"})
    assert row["address"] == "someone@example.com" and row["reason"] == "manual" and row["message_id"] is None
    await api.error("POST", SUPPRESSIONS, {"address": "someone@example.com"}, status=409, code="CONFLICT")
    await api.error("POST", SUPPRESSIONS, {"address": "not an address"}, status=400, code="VALIDATION_ERROR")
    texted = await api.post(SUPPRESSIONS, {"address": "+1 415 555 0166"})
    assert texted["address"] == "+14155550166"
    sms = await api.call("POST", SMS, {"to": "+14155550166", "message": "hi"}, status=202)
    assert sms["status"] == "suppressed" and not fake_twilio.to("+14155550166")

    assert (await other_api.get(SUPPRESSIONS))["suppressions"] == []
    await other_api.error("DELETE", f"{SUPPRESSIONS}/{row['id']}", status=404, code="NOT_FOUND")
    listed = await api.get(f"{SUPPRESSIONS}?reason=manual&limit=1")
    assert listed["total"] == 2 and len(listed["suppressions"]) == 1
    await api.delete(f"{SUPPRESSIONS}/{row['id']}")
    assert [item["address"] for item in (await api.get(SUPPRESSIONS))["suppressions"]] == ["+14155550166"]

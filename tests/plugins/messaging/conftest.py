"""The messaging tests' providers on the loopback: an `aiosmtpd` SMTP server that requires AUTH
and keeps what it receives (some recipients answer 451 a few times, or 550), and a small fake
of Twilio's REST API (basic auth; the account fetch and Messages.json, form-encoded), with the
session app's messaging settings pointed at it and the job back-off made short."""

from __future__ import annotations

import base64
import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.loopback import FakeRequest, LoopbackServer

SMTP_USER, SMTP_PASSWORD = "hub-mailer", "smtp-secret-0123456789"
TWILIO_SID, TWILIO_TOKEN = "AC" + "0123456789abcdef" * 2, "twilio-token-0123456789"
FROM_NUMBER = "+15005550006"
# Twilio's magic numbers: this one is invalid (a 400, code 21211); the other fails with 500 twice
INVALID_NUMBER, FLAKY_NUMBER = "+15005550001", "+15005550500"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    login: str | None
    message: object  # email.message.EmailMessage


@dataclass
class SmtpSink:
    """What the server received; `busy` addresses answer 451 this many more times."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    busy: dict[str, int] = field(default_factory=dict)

    def to(self, address: str) -> list[Received]:
        return [mail for mail in self.received if address in mail.rcpt_tos]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if address.startswith("nobody"):
            return "550 5.1.1 no such mailbox"
        if self.busy.get(address, 0) > 0:
            self.busy[address] -= 1
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        login = session.auth_data.login.decode() if session.auth_data else None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), login,
                                      message_from_bytes(envelope.original_content, policy=policy.default)))
        return "250 Message accepted"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login.decode() == SMTP_USER and auth_data.password.decode() == SMTP_PASSWORD
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, authenticator=_authenticate,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    yield sink
    controller.stop()


class FakeTwilio:
    """Twilio's REST API as the SDK calls it, for one account: basic auth with its SID and
    token, `GET /2010-04-01/Accounts/{sid}.json`, `POST .../Messages.json` (form-encoded)."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.failures = {FLAKY_NUMBER: 0}
        self.server = LoopbackServer(self.answer)
        self.url = self.server.url

    def answer(self, request: FakeRequest) -> tuple:
        expected = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        not_found = 404, {"code": 20404, "message": "not found", "status": 404}
        if request.method == "GET":
            if request.path == f"/2010-04-01/Accounts/{TWILIO_SID}.json":
                return 200, {"sid": TWILIO_SID, "friendly_name": "Hub tests", "status": "active"}
            return not_found
        form = request.form()
        if request.path != f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json":
            return not_found
        if form.get("To") == INVALID_NUMBER:
            return 400, {"code": 21211, "message": f"The 'To' number {INVALID_NUMBER} is not a valid phone number.",
                         "status": 400}
        if form.get("To") == FLAKY_NUMBER and self.failures[FLAKY_NUMBER] > 0:
            self.failures[FLAKY_NUMBER] -= 1
            return 500, {"code": 20500, "message": "Internal Server Error", "status": 500}
        sid = f"SM{len(self.sent):032x}"
        self.sent.append({**form, "sid": sid})
        return 201, {"sid": sid, "account_sid": TWILIO_SID, "to": form["To"], "from": form["From"],
                     "body": form["Body"], "status": "queued", "num_segments": "1", "price": None,
                     "price_unit": "USD", "direction": "outbound-api"}

    def to(self, number: str) -> list[dict]:
        return [sent for sent in self.sent if sent["To"] == number]


@pytest.fixture(scope="session")
def fake_twilio():
    fake = FakeTwilio()
    yield fake
    fake.server.close()


SENDGRID_KEY = "SG.hub-tests.0123456789abcdef"


class FakeSendGrid:
    """SendGrid's v3 API as the Hub calls it: Bearer keys, `GET /v3/scopes`, and
    `POST /v3/mail/send` answering 202 with X-Message-Id (400 for a `bounce-me@` recipient)."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.server = LoopbackServer(self.answer)
        self.url = self.server.url

    def answer(self, request: FakeRequest) -> tuple:
        if request.headers.get("authorization") != f"Bearer {SENDGRID_KEY}":
            return 401, {"errors": [{"message": "The provided authorization grant is invalid"}]}
        if request.method == "GET":
            return 200, {"scopes": ["mail.send", "user.profile.read"]}
        body = request.json()
        recipients = [to["email"] for to in body["personalizations"][0]["to"]]
        if any(address.startswith("bounce-me") for address in recipients):
            return 400, {"errors": [{"message": "Does not contain a valid address.",
                                     "field": "personalizations.0.to.0.email"}]}
        self.sent.append(body)
        return 202, None, {"X-Message-Id": f"sg-{len(self.sent)}"}

    def to(self, address: str) -> list[dict]:
        return [body for body in self.sent if address in [to["email"] for to in body["personalizations"][0]["to"]]]


@pytest.fixture(scope="session")
def fake_sendgrid():
    fake = FakeSendGrid()
    yield fake
    fake.server.close()


SENDGRID_CONNECTION = {"credentials": {"apiKey": SENDGRID_KEY}, "config": {"fromAddress": "hub@example.com"}}


@pytest.fixture(autouse=True)
def messaging_settings(hub, fake_twilio, fake_sendgrid, monkeypatch):
    """Twilio at the fake, SMTP allowed on the loopback (the SSRF guard refuses it otherwise);
    retries after hundredths of a second instead of seconds."""
    monkeypatch.setattr(hub.plugin_settings("messaging"), "twilio_base_url", fake_twilio.url)
    monkeypatch.setattr(hub.plugin_settings("messaging"), "smtp_allowlist", ["127.0.0.1"])
    monkeypatch.setattr(hub.plugin_settings("messaging"), "sendgrid_base_url", fake_sendgrid.url)
    monkeypatch.setattr(hub.settings.jobs, "retry_backoff_seconds", 0.01)
    monkeypatch.setattr(hub.settings.jobs, "retry_backoff_max_seconds", 0.05)


def smtp_connection(sink: SmtpSink, password: str = SMTP_PASSWORD) -> dict:
    return {"credentials": {"username": SMTP_USER, "password": password},
            "config": {"host": "127.0.0.1", "port": sink.port, "security": "none", "fromAddress": "hub@example.com"}}


TWILIO_CONNECTION = {"credentials": {"accountSid": TWILIO_SID, "authToken": TWILIO_TOKEN},
                     "config": {"fromNumber": FROM_NUMBER}}


@pytest.fixture
async def smtp_api(api, smtp_sink):
    """The admin of an organization whose SMTP integration is connected to the sink."""
    await api.call("POST", "/api/integrations/smtp/connect", smtp_connection(smtp_sink))
    return api


@pytest.fixture
async def twilio_api(api, fake_twilio):
    await api.call("POST", "/api/integrations/twilio/connect", TWILIO_CONNECTION)
    return api


async def sent(api, accepted: dict) -> dict:
    """The message once its send job has finished."""
    await api.wait_for_job(accepted["job_id"])
    return await api.get(f"/api/v1/messages/{accepted['id']}")


# -- Mailgun and MessageBird: fakes of their HTTP APIs ----------------------------------------------

MAILGUN_KEY, MAILGUN_SIGNING_KEY, MAILGUN_DOMAIN = "key-hubtests0123456789", "mg-signing-0123456789", "mg.example.com"
MESSAGEBIRD_KEY = "live_hubtests0123456789"


class Misbehaviour:
    """Recipients a fake answers badly: `flaky` a 5xx this many more times, `slow` late (after
    `delay` seconds) this many more times; `invalid` always a 4xx."""

    def __init__(self) -> None:
        self.flaky: dict[str, int] = {}
        self.slow: dict[str, int] = {}
        self.delay = 1.0

    def fault(self, recipient: str) -> str | None:
        import time

        if self.slow.get(recipient, 0) > 0:
            self.slow[recipient] -= 1
            time.sleep(self.delay)
        if self.flaky.get(recipient, 0) > 0:
            self.flaky[recipient] -= 1
            return "flaky"
        return "invalid" if recipient.startswith("invalid") or recipient.lstrip("+") == INVALID_NUMBER[1:] else None


class FakeMailgun:
    """Mailgun's API as documented: basic auth `api:<key>`, `GET /v3/domains/{domain}`,
    `POST /v3/{domain}/messages` (form-encoded or multipart) answering `{id, message}`."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.misbehave = Misbehaviour()
        self.server = LoopbackServer(self.answer)
        self.url = self.server.url

    def answer(self, request: FakeRequest) -> tuple:
        expected = base64.b64encode(f"api:{MAILGUN_KEY}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return 401, "Forbidden"
        if request.method == "GET":
            if request.path == f"/v3/domains/{MAILGUN_DOMAIN}":
                return 200, {"domain": {"name": MAILGUN_DOMAIN, "state": "active"}, "receiving_dns_records": [],
                             "sending_dns_records": []}
            return 404, {"message": "Domain not found"}
        if request.path != f"/v3/{MAILGUN_DOMAIN}/messages":
            return 404, {"message": "Domain not found"}
        form = request.form_lists()
        fault = self.misbehave.fault(form["to"][0])
        if fault == "flaky":
            return 503, {"message": "Service Unavailable"}
        if fault == "invalid":
            return 400, {"message": "'to' parameter is not a valid address. please check documentation"}
        message_id = f"<20261207.{len(self.sent)}.hub@{MAILGUN_DOMAIN}>"
        self.sent.append({**form, "id": message_id.strip("<>")})
        return 200, {"id": message_id, "message": "Queued. Thank you."}

    def to(self, address: str) -> list[dict]:
        return [sent for sent in self.sent if address in sent["to"]]


class FakeMessageBird:
    """MessageBird's REST API as its SDK calls it: `Authorization: AccessKey <key>`, `GET /balance`,
    `POST /messages` and `/mms` (JSON) answering the message object, errors as `{errors: [...]}`."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.misbehave = Misbehaviour()
        self.server = LoopbackServer(self.answer)
        self.url = self.server.url

    def answer(self, request: FakeRequest) -> tuple:
        if request.headers.get("authorization") != f"AccessKey {MESSAGEBIRD_KEY}":
            return 401, {"errors": [{"code": 2, "description": "Request not allowed (incorrect access_key)",
                                     "parameter": "access_key"}]}
        if request.method == "GET" and request.path == "/balance":
            return 200, {"payment": "prepaid", "type": "euros", "amount": 9.5}
        if request.method != "POST" or request.path not in ("/messages", "/mms"):
            return 404, {"errors": [{"code": 20, "description": "not found", "parameter": None}]}
        body = request.json()
        recipient = str(body["recipients"][0])
        fault = self.misbehave.fault(recipient)
        if fault == "flaky":
            return 500, {"errors": [{"code": 99, "description": "Internal error", "parameter": None}]}
        if fault == "invalid" or not recipient.isdigit():
            return 422, {"errors": [{"code": 9, "description": "no (correct) recipients found",
                                     "parameter": "recipients"}]}
        message_id = f"{len(self.sent):032x}"
        self.sent.append({**body, "id": message_id, "path": request.path})
        return 201, {"id": message_id, "href": f"{self.url}/messages/{message_id}", "direction": "mt", "type": "sms",
                     "originator": body["originator"], "body": body["body"], "reference": body.get("reference"),
                     "createdDatetime": "2026-12-07T20:00:00+00:00",
                     "recipients": {"totalCount": 1, "totalSentCount": 1, "totalDeliveredCount": 0,
                                    "totalDeliveryFailedCount": 0,
                                    "items": [{"recipient": int(recipient), "status": "sent",
                                               "statusDatetime": "2026-12-07T20:00:00+00:00"}]}}

    def to(self, number: str) -> list[dict]:
        return [sent for sent in self.sent if number.lstrip("+") in [str(r) for r in sent["recipients"]]]


@pytest.fixture(scope="session")
def fake_mailgun():
    fake = FakeMailgun()
    yield fake
    fake.server.close()


@pytest.fixture(scope="session")
def fake_messagebird():
    fake = FakeMessageBird()
    yield fake
    fake.server.close()


MAILGUN_CONNECTION = {"credentials": {"apiKey": MAILGUN_KEY, "webhookSigningKey": MAILGUN_SIGNING_KEY},
                      "config": {"domain": MAILGUN_DOMAIN, "fromAddress": "hub@example.com"}}
MESSAGEBIRD_CONNECTION = {"credentials": {"accessKey": MESSAGEBIRD_KEY}, "config": {"originator": "HubTests"}}


@pytest.fixture
async def mailgun_api(api, fake_mailgun, hub, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("messaging"), "mailgun_base_url", fake_mailgun.url)
    await api.call("POST", "/api/integrations/mailgun/connect", MAILGUN_CONNECTION)
    return api


@pytest.fixture
async def messagebird_api(api, fake_messagebird, hub, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("messaging"), "messagebird_base_url", fake_messagebird.url)
    await api.call("POST", "/api/integrations/messagebird/connect", MESSAGEBIRD_CONNECTION)
    return api


# -- AWS: moto in server mode, its IAM enforcing the credentials ------------------------------------


@dataclass
class MotoServer:
    url: str
    access_key_id: str
    secret_access_key: str

    def raw_emails(self) -> list[dict]:
        """What SES received (moto's model data): [{source, destinations, raw_data, id}]."""
        import json
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=10) as response:
            return json.load(response).get("ses", {}).get("RawMessage", [])


@pytest.fixture(scope="session")
def moto_server():
    """`python -m moto.server` (a process of its own: its auth switch is process-wide), an IAM
    user whose key may use SES and SNS, `hub@example.com` a verified SES identity; then moto
    checks every request's signature against IAM (a wrong key is InvalidClientTokenId)."""
    import json
    import subprocess
    import sys
    import time
    import urllib.request

    import boto3

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "moto did not start"
            time.sleep(0.1)
    setup = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "setup",
             "aws_secret_access_key": "setup"}
    iam = boto3.client("iam", **setup)
    iam.create_user(UserName="hub")
    key = iam.create_access_key(UserName="hub")["AccessKey"]
    iam.put_user_policy(UserName="hub", PolicyName="messaging", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ses:*", "sns:*"], "Resource": "*"}]}))
    boto3.client("ses", **setup).verify_email_identity(EmailAddress="hub@example.com")
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset-auth", data=b"0", method="POST",
                                                  headers={"Content-Type": "text/plain"}), timeout=10).close()
    yield MotoServer(url, key["AccessKeyId"], key["SecretAccessKey"])
    process.terminate()
    process.wait(10)


def aws_connection(moto: MotoServer, **config) -> dict:
    return {"credentials": {"accessKeyId": moto.access_key_id, "secretAccessKey": moto.secret_access_key},
            "config": {"region": "us-east-1", **config}}


@pytest.fixture
async def aws_api(api, moto_server, hub, monkeypatch):
    """An organization with SES (from hub@example.com) and SNS connected to moto."""
    monkeypatch.setattr(hub.plugin_settings("messaging"), "aws_endpoint_url", moto_server.url)
    await api.call("POST", "/api/integrations/aws_ses/connect", aws_connection(moto_server, fromAddress="hub@example.com"))
    await api.call("POST", "/api/integrations/aws_sns/connect", aws_connection(moto_server, senderId="HubTests"))
    return api


"""The messaging tests' providers on the loopback: an `aiosmtpd` SMTP server that requires AUTH
and keeps what it receives (some recipients answer 451 a few times, or 550), and a small fake
of Twilio's REST API (basic auth; the account fetch and Messages.json, form-encoded), with the
session app's messaging settings pointed at it and the job back-off made short."""

from __future__ import annotations

import base64
import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

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
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _authorized(self) -> bool:
                expected = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
                if self.headers.get("Authorization") == f"Basic {expected}":
                    return True
                self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                return False

            def do_GET(self):  # noqa: N802 (http.server's name)
                if not self._authorized():
                    return
                if self.path.split("?")[0] == f"/2010-04-01/Accounts/{TWILIO_SID}.json":
                    self._answer(200, {"sid": TWILIO_SID, "friendly_name": "Hub tests", "status": "active"})
                else:
                    self._answer(404, {"code": 20404, "message": "not found", "status": 404})

            def do_POST(self):  # noqa: N802
                if not self._authorized():
                    return
                form = dict(parse_qsl(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()))
                if self.path != f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json":
                    return self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                if form.get("To") == INVALID_NUMBER:
                    return self._answer(400, {"code": 21211, "message": f"The 'To' number {INVALID_NUMBER} is "
                                                                        "not a valid phone number.", "status": 400})
                if form.get("To") == FLAKY_NUMBER and fake.failures[FLAKY_NUMBER] > 0:
                    fake.failures[FLAKY_NUMBER] -= 1
                    return self._answer(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
                sid = f"SM{len(fake.sent):032x}"
                fake.sent.append({**form, "sid": sid})
                self._answer(201, {"sid": sid, "account_sid": TWILIO_SID, "to": form["To"], "from": form["From"],
                                   "body": form["Body"], "status": "queued", "num_segments": "1",
                                   "price": None, "price_unit": "USD", "direction": "outbound-api"})

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, number: str) -> list[dict]:
        return [sent for sent in self.sent if sent["To"] == number]


@pytest.fixture(scope="session")
def fake_twilio():
    fake = FakeTwilio()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


SENDGRID_KEY = "SG.hub-tests.0123456789abcdef"


class FakeSendGrid:
    """SendGrid's v3 API as the Hub calls it: Bearer keys, `GET /v3/scopes`, and
    `POST /v3/mail/send` answering 202 with X-Message-Id (400 for a `bounce-me@` recipient)."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self._authorized():
                    self._answer(200, {"scopes": ["mail.send", "user.profile.read"]})

            def do_POST(self):  # noqa: N802
                if not self._authorized():
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                recipients = [to["email"] for to in body["personalizations"][0]["to"]]
                if any(address.startswith("bounce-me") for address in recipients):
                    return self._answer(400, {"errors": [{"message": "Does not contain a valid address.",
                                                          "field": "personalizations.0.to.0.email"}]})
                fake.sent.append(body)
                self._answer(202, None, {"X-Message-Id": f"sg-{len(fake.sent)}"})

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {SENDGRID_KEY}":
                    return True
                self._answer(401, {"errors": [{"message": "The provided authorization grant is invalid"}]})
                return False

            def _answer(self, status: int, body: dict | None, headers: dict | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, address: str) -> list[dict]:
        return [body for body in self.sent if address in [to["email"] for to in body["personalizations"][0]["to"]]]


@pytest.fixture(scope="session")
def fake_sendgrid():
    fake = FakeSendGrid()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


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

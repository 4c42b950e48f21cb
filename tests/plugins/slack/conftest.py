"""A fake Slack on the loopback that speaks what the official SDK sends: the Web API's
`auth.test` and `chat.postMessage` (Bearer token checked; JSON or form bodies; Slack's
`{"ok": false, "error": ...}` answers) under /api/, and incoming webhooks under
/services/T.../B.../<secret> (200 "ok", 400 "no_text", 403 "invalid_token", 404 "no_service").
The session's Slack settings point at it and allow the loopback past the SSRF guard."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest

BOT_TOKEN = "xoxb-1111-2222-hubtestsecret"
WEBHOOK_PATH = "/services/T0HUB/B0HUB/webhook-secret-0123456789"
CHANNELS = {"#sales": "C0SALES", "sales": "C0SALES", "#general": "C0GENERAL", "C0SALES": "C0SALES",
            "#alerts": "C0ALERTS", "@U0ADA": "D0ADA"}


class FakeSlack:
    def __init__(self) -> None:
        self.posts: list[dict] = []  # {"via": "api"|"webhook", "channel", "text"}
        self.token = BOT_TOKEN
        self.failures: list[int] = []  # statuses the next requests answer (500, 429), first first
        self.requests = 0
        self.paths: list[str] = []  # every path asked for, in order
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _body(self) -> dict:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if "json" in self.headers.get("Content-Type", ""):
                    return json.loads(raw or "{}")
                return dict(parse_qsl(raw))

            def do_POST(self):  # noqa: N802 (http.server's name)
                fake.requests += 1
                fake.paths.append(self.path)
                body = self._body()
                if fake.failures:
                    status = fake.failures.pop(0)
                    if self.path.startswith("/api/"):
                        error = "ratelimited" if status == 429 else "internal_error"
                        return self._json(status, {"ok": False, "error": error}, {"Retry-After": "0"})
                    return self._text(status, "rollup_error" if status >= 500 else "rate_limited")
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if self.path.startswith("/services/"):
                    return self._webhook(body)
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._json(200, {"ok": False, "error": "invalid_auth"})
                if self.path == "/api/auth.test":
                    return self._json(200, {"ok": True, "url": "https://hub-tests.slack.com/", "team": "Hub tests",
                                            "user": "hubbot", "team_id": "T0HUB", "user_id": "U0BOT"})
                if self.path == "/api/chat.postMessage":
                    channel = CHANNELS.get(body.get("channel", ""))
                    if channel is None:
                        return self._json(200, {"ok": False, "error": "channel_not_found"})
                    if not body.get("text"):
                        return self._json(200, {"ok": False, "error": "no_text"})
                    ts = f"1700000000.{len(fake.posts):06d}"
                    fake.posts.append({"via": "api", "channel": channel, "text": body["text"], "ts": ts})
                    return self._json(200, {"ok": True, "channel": channel, "ts": ts,
                                            "message": {"type": "message", "text": body["text"], "ts": ts}})
                return self._json(404, {"ok": False, "error": "unknown_method"})

            def _webhook(self, body):
                if not isinstance(body, dict):
                    return self._text(400, "invalid_payload")
                if not self.path.startswith("/services/T0HUB/B0HUB/"):
                    return self._text(404, "no_service")
                if self.path != WEBHOOK_PATH:
                    return self._text(403, "invalid_token")
                if not (body.get("text") or body.get("blocks") or body.get("attachments")):
                    return self._text(400, "no_text")
                fake.posts.append({"via": "webhook", "channel": None, "text": body["text"]})
                return self._text(200, "ok")

            def _json(self, status: int, body: dict, headers: dict | None = None):
                self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

            def _text(self, status: int, text: str):
                self._send(status, text.encode(), "text/html", None)

            def _send(self, status: int, data: bytes, content_type: str, headers: dict | None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def webhook_url(self) -> str:
        return self.url + WEBHOOK_PATH

    def texts(self, channel: str | None = None) -> list[str]:
        return [post["text"] for post in self.posts if channel is None or post["channel"] == channel]


@pytest.fixture(scope="session")
def fake_slack():
    fake = FakeSlack()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture(autouse=True)
def slack_settings(hub, fake_slack, monkeypatch):
    """Slack's API at the fake, its webhooks allowed on the loopback (the SSRF guard refuses them
    otherwise); retries after hundredths of a second; the fake reset."""
    monkeypatch.setattr(hub.plugin_settings("slack"), "api_base_url", fake_slack.url + "/api/")
    monkeypatch.setattr(hub.plugin_settings("slack"), "webhook_allowlist", ["127.0.0.1"])
    monkeypatch.setattr(hub.settings.jobs, "retry_backoff_seconds", 0.01)
    monkeypatch.setattr(hub.settings.jobs, "retry_backoff_max_seconds", 0.05)
    fake_slack.posts.clear()
    fake_slack.failures.clear()
    fake_slack.token = BOT_TOKEN


def bot_connection(channel: str | None = "#general", token: str = BOT_TOKEN) -> dict:
    config = {"defaultChannel": channel} if channel else {}
    return {"credentials": {"botToken": token}, "config": config}


def webhook_connection(url: str) -> dict:
    return {"credentials": {"webhookUrl": url}, "config": {}}


@pytest.fixture
async def bot_api(api, fake_slack):
    """The admin of an organization whose Slack is connected with the fake's bot token."""
    await api.call("POST", "/api/integrations/slack/connect", bot_connection())
    return api


@pytest.fixture
async def webhook_api(api, fake_slack):
    await api.call("POST", "/api/integrations/slack/connect", webhook_connection(fake_slack.webhook_url))
    return api


async def posted(api, post: dict) -> dict:
    """The post once its job has finished (a post that failed before being queued has none)."""
    if post["job_id"]:
        await api.wait_for_job(post["job_id"])
    return await api.get(f"/api/v1/slack/messages/{post['id']}")

"""Outbound webhooks: CRUD for admins, signed deliveries to a real HTTP server on
127.0.0.1, event filtering, tenant isolation, retries with back-off, the delivery log and
the SSRF guard at creation and at delivery time."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.events.bus import emit
from core.kernel.settings import WebhookSettings
from core.events.webhooks import body_bytes, event_matches, make_payload, sign, verify_signature
from tests.helpers import add_member, assert_error

# -- a receiving server -----------------------------------------------------------------------


class Receiver:
    """Records every request; answers from a per-path script of (status, body, delay)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.scripts: dict[str, list[tuple[int, str, float]]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers.items()), "body": raw, "at": time.monotonic()}
                    )
                    script = receiver.scripts.get(self.path) or []
                    status, text, delay = script.pop(0) if script else (200, "ok", 0.0)
                if delay:
                    time.sleep(delay)
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def script(self, path: str, *answers: tuple[int, str, float]) -> None:
        self.scripts[path] = list(answers)

    def at(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _jobs_run_here(hub):
    """Deliveries are jobs; with Redis the servers only enqueue, so run them here."""
    runtime = hub.extensions.get("jobs")
    if runtime is not None and hasattr(runtime, "start_worker"):
        runtime.start_worker()


@pytest.fixture(autouse=True)
def webhook_settings(hub, monkeypatch):
    """Tests allowlist 127.0.0.1 and use a tiny back-off."""
    settings = WebhookSettings(
        allowlist=["127.0.0.1"], timeout_seconds=5, max_attempts=4,
        backoff_base_seconds=0.1, backoff_max_seconds=1.0, max_response_chars=100,
    )
    monkeypatch.setattr(hub.settings, "webhooks", settings)
    return settings


_paths = iter(range(10**9))


def new_path() -> str:
    return f"/hook-{next(_paths)}"


async def create_hook(client, account, url: str, events=("*",), **extra) -> dict:
    response = await client.post(
        "/api/v1/webhooks", headers=account.headers, json={"url": url, "events": list(events), **extra}
    )
    body = await response.get_json()
    assert response.status_code == 201, body
    return body


@pytest.fixture(autouse=True)
def deal_events(event_types):
    """The event types these tests emit (open payloads), registered like a plugin's."""
    event_types("deal.created", "deal.updated", "dealership.changed")


async def emit_in(app, org_id: str, event_type: str, data: dict) -> None:
    async with app.app_context():
        await emit(org_id, event_type, data)


async def wait_until(condition, timeout: float = 15.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = await condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time: {getattr(condition, 'last', None)}")
        await asyncio.sleep(interval)


async def deliveries(client, account, hook_id: str, **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = await client.get(f"/api/v1/webhooks/{hook_id}/deliveries?{query}", headers=account.headers)
    body = await response.get_json()
    assert response.status_code == 200, body
    return body


async def wait_for_final(client, account, hook_id: str, count: int = 1, timeout: float = 15.0) -> list[dict]:
    async def done():
        rows = (await deliveries(client, account, hook_id))["deliveries"]
        done.last = rows
        return rows if len(rows) >= count and all(d["status"] != "pending" for d in rows) else None

    return await wait_until(done, timeout)


def verify_webhook(payload: bytes, signature: str, secret: str) -> bool:
    """Seed 004's verifyWebhook, line for line."""
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    return signature == f"sha256={expected}"


# -- pure functions -----------------------------------------------------------------------------


def test_event_patterns():
    assert event_matches(["lead.created"], "lead.created")
    assert not event_matches(["lead.created"], "lead.updated")
    assert event_matches(["*"], "anything.at.all")
    assert event_matches(["lead.*"], "lead.updated") and event_matches(["lead.*"], "lead.status.changed")
    assert not event_matches(["lead.*"], "leadership.created") and not event_matches(["lead.*"], "lead")
    assert not event_matches([], "lead.created")


def test_signature_is_seed_004s_hmac_of_the_exact_body():
    payload = make_payload("lead.created", {"id": "lead_123", "name": "Jane Doe"}, "2024-01-15T16:50:00Z", "e1")
    body = body_bytes(payload)
    assert json.loads(body) == {"event": "lead.created", "data": {"id": "lead_123", "name": "Jane Doe"},
                                "timestamp": "2024-01-15T16:50:00Z", "id": "e1"}
    assert list(json.loads(body)) == ["event", "data", "timestamp", "id"]
    signature = sign("s3cret-s3cret-s3cret", body)
    assert verify_webhook(body, signature, "s3cret-s3cret-s3cret")
    assert verify_signature("s3cret-s3cret-s3cret", body, signature)
    assert not verify_webhook(body + b" ", signature, "s3cret-s3cret-s3cret")
    assert not verify_webhook(body, signature, "another-secret-value")


# -- CRUD ---------------------------------------------------------------------------------------


async def test_create_shows_the_generated_secret_once(client, admin, receiver):
    created = await create_hook(client, admin, receiver.url(), ["lead.*", "message.received"], description="CRM sync")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["url"] == receiver.url() and created["events"] == ["lead.*", "message.received"]
    assert created["is_active"] is True and created["organization_id"] == admin.org_id
    fetched = await (await client.get(f"/api/v1/webhooks/{created['id']}", headers=admin.headers)).get_json()
    assert "secret" not in fetched and fetched["secret_hint"].startswith("whsec_")
    assert created["secret"] not in json.dumps(fetched)
    listed = await client.get("/api/v1/webhooks", headers=admin.headers)
    body = await listed.get_json()
    assert listed.headers["X-Total-Count"] == str(body["total"]) == "1"
    assert [h["id"] for h in body["webhooks"]] == [created["id"]]
    assert "secret" not in body["webhooks"][0] and body["pagination"] == {"limit": 50, "offset": 0, "has_more": False}


async def test_create_with_own_secret_and_list_pagination(client, admin, receiver):
    given = await create_hook(client, admin, receiver.url(), secret="my-own-secret-of-16+")
    assert given["secret"] == "my-own-secret-of-16+"
    for _ in range(2):
        await create_hook(client, admin, receiver.url())
    response = await client.get("/api/v1/webhooks?limit=2&offset=0", headers=admin.headers)
    body = await response.get_json()
    assert len(body["webhooks"]) == 2 and body["total"] == 3 and body["pagination"]["has_more"] is True
    assert response.headers["X-Total-Count"] == "3"
    rest = await (await client.get("/api/v1/webhooks?limit=2&offset=2", headers=admin.headers)).get_json()
    assert len(rest["webhooks"]) == 1 and rest["webhooks"][0]["id"] == given["id"]  # newest first


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "not a url", "events": ["*"]}, "url"),
        ({"url": "ftp://127.0.0.1/x", "events": ["*"]}, "url"),
        ({"url": "http://user:pass@127.0.0.1/x", "events": ["*"]}, "url"),
        ({"url": "http:///nohost", "events": ["*"]}, "url"),
        ({"events": ["*"]}, "url"),
        ({"url": "http://127.0.0.1/x", "events": []}, "events"),
        ({"url": "http://127.0.0.1/x"}, "events"),
        ({"url": "http://127.0.0.1/x", "events": ["lead.**"]}, "events"),
        ({"url": "http://127.0.0.1/x", "events": ["lead created"]}, "events"),
        ({"url": "http://127.0.0.1/x", "events": ["*"], "secret": "short"}, "secret"),
        ({"url": "http://127.0.0.1/x", "events": ["*"], "colour": "red"}, "colour"),
    ],
)
async def test_create_validation(client, admin, body, field):
    response = await client.post("/api/v1/webhooks", headers=admin.headers, json=body)
    payload = await response.get_json()
    assert_error(response.status_code, payload, 400, "VALIDATION_ERROR")
    assert payload["error"]["details"]["field"].startswith(field), payload


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x", "http://localhost/x", "http://2130706433/", "http://0x7f.1/", "http://127.1/",
        "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/", "http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.0.1/",
        "http://100.64.0.1/", "http://[fc00::1]/", "http://[fe80::1]/", "http://224.0.0.1/",
    ],
)
async def test_private_urls_are_refused_without_an_allowlist(client, admin, hub, monkeypatch, url):
    monkeypatch.setattr(hub.settings, "webhooks", WebhookSettings(allowlist=[]))
    response = await client.post("/api/v1/webhooks", headers=admin.headers, json={"url": url, "events": ["*"]})
    body = await response.get_json()
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == "url" and "not allowed" in body["error"]["details"]["reason"], body


async def test_metadata_address_stays_refused_under_a_broad_allowlist(client, admin, hub, monkeypatch):
    monkeypatch.setattr(hub.settings, "webhooks", WebhookSettings(allowlist=["169.254.0.0/16", "10.0.0.0/8"]))
    refused = await client.post(
        "/api/v1/webhooks", headers=admin.headers, json={"url": "http://169.254.169.254/", "events": ["*"]}
    )
    assert refused.status_code == 400
    allowed = await client.post(
        "/api/v1/webhooks", headers=admin.headers, json={"url": "http://10.1.2.3:8080/in", "events": ["*"]}
    )
    assert allowed.status_code == 201, await allowed.get_json()


async def test_only_admins_manage_webhooks(client, admin, receiver):
    hook = await create_hook(client, admin, receiver.url())
    for role in ("developer", "member", "viewer"):
        member = await add_member(client, admin, role)
        for method, path, body in [
            ("POST", "/api/v1/webhooks", {"url": receiver.url(), "events": ["*"]}),
            ("GET", "/api/v1/webhooks", None),
            ("GET", f"/api/v1/webhooks/{hook['id']}", None),
            ("PUT", f"/api/v1/webhooks/{hook['id']}", {"is_active": False}),
            ("DELETE", f"/api/v1/webhooks/{hook['id']}", None),
            ("GET", f"/api/v1/webhooks/{hook['id']}/deliveries", None),
            ("POST", f"/api/v1/webhooks/{hook['id']}/test", None),
        ]:
            response = await client.open(path, method=method, headers=member.headers, json=body)
            assert_error(response.status_code, await response.get_json(), 403, "FORBIDDEN")
    anonymous = await client.get("/api/v1/webhooks")
    assert anonymous.status_code == 401


async def test_another_organizations_webhook_is_not_found(client, admin, other_admin, receiver):
    hook = await create_hook(client, admin, receiver.url())
    for method, path, body in [
        ("GET", f"/api/v1/webhooks/{hook['id']}", None),
        ("PUT", f"/api/v1/webhooks/{hook['id']}", {"is_active": False}),
        ("PATCH", f"/api/v1/webhooks/{hook['id']}", {"is_active": False}),
        ("DELETE", f"/api/v1/webhooks/{hook['id']}", None),
        ("GET", f"/api/v1/webhooks/{hook['id']}/deliveries", None),
        ("POST", f"/api/v1/webhooks/{hook['id']}/test", None),
        ("POST", f"/api/v1/webhooks/{hook['id']}/secret", None),
        ("GET", "/api/v1/webhooks/not-a-uuid", None),
    ]:
        response = await client.open(path, method=method, headers=other_admin.headers, json=body)
        assert_error(response.status_code, await response.get_json(), 404, "NOT_FOUND")
    listed = await (await client.get("/api/v1/webhooks", headers=other_admin.headers)).get_json()
    assert listed["webhooks"] == []
    still = await (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin.headers)).get_json()
    assert still["is_active"] is True


async def test_update_rotate_and_delete(client, admin, hub, receiver):
    hook = await create_hook(client, admin, receiver.url(), ["deal.created"])
    path = f"/api/v1/webhooks/{hook['id']}"
    updated = await client.put(path, headers=admin.headers, json={"events": ["deal.*", "deal.*"], "description": "d"})
    body = await updated.get_json()
    assert updated.status_code == 200 and body["events"] == ["deal.*"] and body["description"] == "d"
    patched = await (await client.patch(path, headers=admin.headers, json={"is_active": False})).get_json()
    assert patched["is_active"] is False and patched["events"] == ["deal.*"]
    bad = await client.put(path, headers=admin.headers, json={"url": "http://10.0.0.1/"})
    assert_error(bad.status_code, await bad.get_json(), 400, "VALIDATION_ERROR")
    assert (await (await client.get(path, headers=admin.headers)).get_json())["url"] == receiver.url()
    rotated = await (await client.post(f"{path}/secret", headers=admin.headers)).get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]
    chosen = await (await client.post(f"{path}/secret", headers=admin.headers,
                                      json={"secret": "chosen-secret-value"})).get_json()
    assert chosen["secret"] == "chosen-secret-value"
    short = await client.post(f"{path}/secret", headers=admin.headers, json={"secret": "short"})
    assert_error(short.status_code, await short.get_json(), 400, "VALIDATION_ERROR")
    deleted = await client.delete(path, headers=admin.headers)
    assert deleted.status_code == 204
    gone = await client.get(path, headers=admin.headers)
    assert_error(gone.status_code, await gone.get_json(), 404, "NOT_FOUND")


# -- deliveries ---------------------------------------------------------------------------------


async def test_delivery_is_signed_as_seed_004_verifies_it(app, client, admin, receiver):
    path = new_path()
    hook = await create_hook(client, admin, receiver.url(path), ["deal.*"])
    await emit_in(app, admin.org_id, "deal.created", {"id": "lead_123", "name": "Jane Doe", "note": "café ✓"})
    rows = await wait_for_final(client, admin, hook["id"])
    [request] = receiver.at(path)
    raw, headers = request["body"], {k.lower(): v for k, v in request["headers"].items()}
    assert verify_webhook(raw, headers["x-signature"], hook["secret"])
    payload = json.loads(raw)
    assert payload["event"] == "deal.created"
    assert payload["data"] == {"id": "lead_123", "name": "Jane Doe", "note": "café ✓"}
    assert payload["timestamp"].endswith("Z") and payload["id"]
    assert headers["content-type"] == "application/json"
    assert headers["x-hub-event"] == "deal.created"
    [delivery] = rows
    assert headers["x-hub-delivery"] == delivery["id"]
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 1 and delivery["response_status"] == 200
    assert delivery["event"] == "deal.created" and delivery["event_id"] == payload["id"]
    assert delivery["delivered_at"] and delivery["error"] is None
    assert [a["status_code"] for a in delivery["attempt_log"]] == [200]


async def test_example_plugin_events_reach_only_their_organizations_webhooks(client, admin, other_admin, receiver):
    mine, theirs = new_path(), new_path()
    my_hook = await create_hook(client, admin, receiver.url(mine), ["example.*"])
    await create_hook(client, other_admin, receiver.url(theirs), ["*"])
    created = await client.post("/api/example/notes", headers=admin.headers, json={"text": "for my hook"})
    assert created.status_code == 201
    [delivery] = await wait_for_final(client, admin, my_hook["id"])
    assert delivery["event"] == "example.note_created" and delivery["status"] == "succeeded"
    [request] = receiver.at(mine)
    assert json.loads(request["body"])["data"]["text"] == "for my hook"
    await asyncio.sleep(0.3)
    assert receiver.at(theirs) == []  # the other organization's "*" webhook got nothing


async def test_events_of_another_organization_are_not_delivered(app, client, admin, other_admin, receiver):
    path = new_path()
    hook = await create_hook(client, admin, receiver.url(path), ["*"])
    await emit_in(app, other_admin.org_id, "deal.created", {"id": "theirs"})
    await emit_in(app, admin.org_id, "deal.created", {"id": "mine"})
    [delivery] = await wait_for_final(client, admin, hook["id"])
    await asyncio.sleep(0.3)
    assert [json.loads(r["body"])["data"]["id"] for r in receiver.at(path)] == ["mine"]
    assert delivery["status"] == "succeeded"


async def test_event_patterns_and_inactive_webhooks(app, client, admin, receiver):
    paths = {name: new_path() for name in ("exact", "star", "prefix", "other", "inactive")}
    hooks = {
        "exact": await create_hook(client, admin, receiver.url(paths["exact"]), ["deal.updated"]),
        "star": await create_hook(client, admin, receiver.url(paths["star"]), ["*"]),
        "prefix": await create_hook(client, admin, receiver.url(paths["prefix"]), ["deal.*"]),
        "other": await create_hook(client, admin, receiver.url(paths["other"]), ["message.received"]),
        "inactive": await create_hook(client, admin, receiver.url(paths["inactive"]), ["*"], is_active=False),
    }
    await emit_in(app, admin.org_id, "deal.updated", {"n": 1})
    await emit_in(app, admin.org_id, "dealership.changed", {"n": 2})
    for name in ("exact", "star", "prefix"):
        await wait_for_final(client, admin, hooks[name]["id"], count=1 if name != "star" else 2)
    await asyncio.sleep(0.3)

    def events(name):
        return sorted(json.loads(r["body"])["event"] for r in receiver.at(paths[name]))

    assert events("exact") == ["deal.updated"]
    assert events("prefix") == ["deal.updated"]
    assert events("star") == ["deal.updated", "dealership.changed"]
    assert events("other") == [] and events("inactive") == []
    assert (await deliveries(client, admin, hooks["inactive"]["id"]))["total"] == 0

    # switched on, it receives the next event
    await client.patch(f"/api/v1/webhooks/{hooks['inactive']['id']}", headers=admin.headers, json={"is_active": True})
    await emit_in(app, admin.org_id, "deal.updated", {"n": 3})
    await wait_for_final(client, admin, hooks["inactive"]["id"])
    assert events("inactive") == ["deal.updated"]


async def test_failed_attempts_are_retried_with_exponential_backoff(app, client, admin, receiver, webhook_settings):
    path = new_path()
    receiver.script(path, (500, "boom", 0), (500, "x" * 5000, 0), (200, "finally", 0))
    hook = await create_hook(client, admin, receiver.url(path), ["deal.created"])
    await emit_in(app, admin.org_id, "deal.created", {"id": "retry-me"})
    [delivery] = await wait_for_final(client, admin, hook["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 3
    log = delivery["attempt_log"]
    assert [a["attempt"] for a in log] == [1, 2, 3]
    assert [a["status_code"] for a in log] == [500, 500, 200]
    assert log[0]["response_body"] == "boom" and "500" in log[0]["error"]
    assert len(log[1]["response_body"]) == webhook_settings.max_response_chars  # truncated
    assert log[2]["error"] is None and delivery["response_body"] == "finally"
    arrivals = [r["at"] for r in receiver.at(path)]
    assert len(arrivals) == 3
    base = webhook_settings.backoff_base_seconds
    assert arrivals[1] - arrivals[0] >= base * 0.9  # 0.1 s
    assert arrivals[2] - arrivals[1] >= 2 * base * 0.9  # then 0.2 s
    bodies = {r["body"] for r in receiver.at(path)}
    assert len(bodies) == 1  # every attempt sends the same signed body
    ids = {r["headers"].get("X-Hub-Delivery") for r in receiver.at(path)}
    assert ids == {delivery["id"]}


async def test_delivery_fails_after_max_attempts(app, client, admin, hub, receiver, monkeypatch):
    monkeypatch.setattr(hub.settings.webhooks, "max_attempts", 2)
    path = new_path()
    receiver.script(path, *[(503, "down", 0)] * 5)
    hook = await create_hook(client, admin, receiver.url(path), ["*"])
    await emit_in(app, admin.org_id, "deal.created", {})
    [delivery] = await wait_for_final(client, admin, hook["id"])
    assert delivery["status"] == "failed" and delivery["attempts"] == 2
    assert delivery["response_status"] == 503 and "503" in delivery["error"]
    assert delivery["next_attempt_at"] is None and delivery["delivered_at"] is None
    await asyncio.sleep(0.4)
    assert len(receiver.at(path)) == 2


async def test_410_gone_stops_retrying(app, client, admin, receiver):
    path = new_path()
    receiver.script(path, (410, "gone", 0))
    hook = await create_hook(client, admin, receiver.url(path), ["*"])
    await emit_in(app, admin.org_id, "deal.created", {})
    [delivery] = await wait_for_final(client, admin, hook["id"])
    assert delivery["status"] == "failed" and delivery["attempts"] == 1 and delivery["response_status"] == 410


async def test_a_slow_receiver_times_out(app, client, admin, hub, receiver, monkeypatch):
    monkeypatch.setattr(hub.settings.webhooks, "timeout_seconds", 0.3)
    monkeypatch.setattr(hub.settings.webhooks, "max_attempts", 1)
    path = new_path()
    receiver.script(path, (200, "late", 1.0))
    hook = await create_hook(client, admin, receiver.url(path), ["*"])
    await emit_in(app, admin.org_id, "deal.created", {})
    [delivery] = await wait_for_final(client, admin, hook["id"])
    assert delivery["status"] == "failed" and "timed out" in delivery["error"]


async def test_unreachable_receiver_is_a_failed_attempt(app, client, admin, hub, monkeypatch):
    import socket

    monkeypatch.setattr(hub.settings.webhooks, "max_attempts", 1)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = await create_hook(client, admin, f"http://127.0.0.1:{port}/", ["*"])
    await emit_in(app, admin.org_id, "deal.created", {})
    [delivery] = await wait_for_final(client, admin, hook["id"])
    assert delivery["status"] == "failed" and delivery["response_status"] is None and delivery["error"]


async def test_ssrf_guard_is_applied_again_at_delivery_time(app, client, admin, hub, receiver, monkeypatch):
    """A URL that passed at creation but is refused when sending (the allowlist changed,
    or DNS now answers with a private address) is not contacted."""
    path = new_path()
    hook = await create_hook(client, admin, receiver.url(path), ["*"])
    monkeypatch.setattr(hub.settings.webhooks, "allowlist", [])
    monkeypatch.setattr(hub.settings.webhooks, "max_attempts", 1)
    await emit_in(app, admin.org_id, "deal.created", {})
    [delivery] = await wait_for_final(client, admin, hook["id"])
    assert delivery["status"] == "failed" and "SSRF" in delivery["error"] and "loopback" in delivery["error"]
    assert receiver.at(path) == []


async def test_test_endpoint_sends_one_signed_ping(client, admin, receiver):
    path = new_path()
    hook = await create_hook(client, admin, receiver.url(path), ["deal.created"])
    response = await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=admin.headers)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "succeeded" and body["event"] == "webhook.test" and body["response_status"] == 200
    [request] = receiver.at(path)
    assert verify_webhook(request["body"], request["headers"]["X-Signature"], hook["secret"])
    assert json.loads(request["body"])["event"] == "webhook.test"

    custom = await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=admin.headers,
                               json={"event": "deal.created", "data": {"id": "lead_sample"}})
    body = await custom.get_json()
    assert custom.status_code == 200 and body["event"] == "deal.created", body
    assert json.loads(receiver.at(path)[-1]["body"])["data"] == {"id": "lead_sample"}
    bad = await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=admin.headers, json={"event": "no spaces"})
    assert_error(bad.status_code, await bad.get_json(), 400, "VALIDATION_ERROR")

    failing = new_path()
    receiver.script(failing, (500, "no", 0))
    hook2 = await create_hook(client, admin, receiver.url(failing), ["*"])
    body = await (await client.post(f"/api/v1/webhooks/{hook2['id']}/test", headers=admin.headers)).get_json()
    assert body["status"] == "failed" and body["attempts"] == 1 and body["response_status"] == 500


async def test_delivery_log_is_paginated_newest_first_and_filterable(app, client, admin, other_admin, receiver):
    path = new_path()
    receiver.script(path, (200, "ok", 0), (400, "bad", 0), (200, "ok", 0), (400, "bad", 0))
    hook = await create_hook(client, admin, receiver.url(path), ["deal.created"])
    for n in range(3):
        await emit_in(app, admin.org_id, "deal.created", {"n": n})
        await wait_for_final(client, admin, hook["id"], count=n + 1)
    page = await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries?limit=2", headers=admin.headers)
    body = await page.get_json()
    assert page.headers["X-Total-Count"] == "3" and body["total"] == 3
    assert body["pagination"] == {"limit": 2, "offset": 0, "has_more": True}
    detail_ns = []
    for delivery in body["deliveries"]:
        detail = await (await client.get(
            f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}", headers=admin.headers
        )).get_json()
        detail_ns.append(detail["payload"]["data"]["n"])
    assert detail_ns == [2, 1]
    rest = await deliveries(client, admin, hook["id"], limit=2, offset=2)
    assert len(rest["deliveries"]) == 1 and rest["pagination"]["has_more"] is False
    statuses = {d["status"] for d in (await deliveries(client, admin, hook["id"], limit=10))["deliveries"]}
    assert statuses == {"succeeded"}  # the 400 was retried
    bad = await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries?status=weird", headers=admin.headers)
    assert_error(bad.status_code, await bad.get_json(), 400, "VALIDATION_ERROR")
    first = body["deliveries"][0]["id"]
    other = await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{first}", headers=other_admin.headers)
    assert_error(other.status_code, await other.get_json(), 404, "NOT_FOUND")


async def test_a_delivery_is_only_reachable_under_its_own_webhook(app, client, admin, receiver):
    hook = await create_hook(client, admin, receiver.url(new_path()), ["*"])
    sibling = await create_hook(client, admin, receiver.url(new_path()), ["message.received"])
    await emit_in(app, admin.org_id, "deal.created", {})
    [delivery] = await wait_for_final(client, admin, hook["id"])
    wrong = await client.get(f"/api/v1/webhooks/{sibling['id']}/deliveries/{delivery['id']}", headers=admin.headers)
    assert_error(wrong.status_code, await wrong.get_json(), 404, "NOT_FOUND")


async def test_redeliver_sends_the_same_payload_again(app, client, admin, other_admin, hub, receiver, monkeypatch):
    path = new_path()
    hook = await create_hook(client, admin, receiver.url(path), ["*"])
    await emit_in(app, admin.org_id, "deal.created", {"x": 1})
    [original] = await wait_for_final(client, admin, hook["id"])
    url = f"/api/v1/webhooks/{hook['id']}/redeliver"
    response = await client.post(url, headers=admin.headers, json={"delivery_ids": [original["id"]]})
    body = await response.get_json()
    assert response.status_code == 202, body
    assert body["redelivered"] == 1 and body["deliveries"][0] != original["id"]
    rows = await wait_for_final(client, admin, hook["id"], count=2)
    assert {r["status"] for r in rows} == {"succeeded"} and {r["event_id"] for r in rows} == {original["event_id"]}
    first, second = receiver.at(path)
    assert first["body"] == second["body"]
    assert first["headers"]["X-Hub-Delivery"] != second["headers"]["X-Hub-Delivery"]

    # every failed one, after an outage
    monkeypatch.setattr(hub.settings.webhooks, "max_attempts", 1)
    receiver.script(path, (503, "down", 0), (503, "down", 0))
    for n in range(2):
        await emit_in(app, admin.org_id, "deal.updated", {"n": n})
    rows = await wait_for_final(client, admin, hook["id"], count=4)
    assert sorted(r["status"] for r in rows) == ["failed", "failed", "succeeded", "succeeded"]
    again = await (await client.post(url, headers=admin.headers, json={"all_failed": True})).get_json()
    assert again["redelivered"] == 2
    rows = await wait_for_final(client, admin, hook["id"], count=6)
    assert sum(r["status"] == "succeeded" for r in rows) == 4

    for bad in ({}, {"all_failed": True, "delivery_ids": [original["id"]]}, {"delivery_ids": ["nope"]}):
        response = await client.post(url, headers=admin.headers, json=bad)
        assert_error(response.status_code, await response.get_json(), 400, "VALIDATION_ERROR")
    unknown = await client.post(url, headers=admin.headers, json={"delivery_ids": [hook["id"]]})
    assert_error(unknown.status_code, await unknown.get_json(), 404, "NOT_FOUND")
    theirs = await client.post(url, headers=other_admin.headers, json={"all_failed": True})
    assert_error(theirs.status_code, await theirs.get_json(), 404, "NOT_FOUND")


async def test_deleting_a_webhook_deletes_its_log_and_stops_retries(app, client, admin, hub, receiver, monkeypatch):
    monkeypatch.setattr(hub.settings.webhooks, "backoff_base_seconds", 0.5)
    path = new_path()
    receiver.script(path, *[(500, "no", 0)] * 5)
    hook = await create_hook(client, admin, receiver.url(path), ["*"])
    await emit_in(app, admin.org_id, "deal.created", {})
    await wait_until(lambda: asyncio.sleep(0, result=len(receiver.at(path)) >= 1))
    assert (await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=admin.headers)).status_code == 204
    await asyncio.sleep(1.0)
    assert len(receiver.at(path)) == 1
    from core.events.models import WebhookDelivery

    assert await WebhookDelivery.filter(webhook_id=hook["id"]).count() == 0


async def test_deliveries_run_as_jobs_and_their_job_events_are_not_delivered(app, client, admin, hub, receiver):
    path = new_path()
    hook = await create_hook(client, admin, receiver.url(path), ["*"])
    await emit_in(app, admin.org_id, "deal.created", {"id": 1})
    [delivery] = await wait_for_final(client, admin, hook["id"])
    if hub.extensions.get("jobs") is not None:
        assert delivery["job_id"]
        job = await (await client.get(f"/api/v1/jobs/{delivery['job_id']}", headers=admin.headers)).get_json()
        assert job["job_type"] == "webhooks.deliver", job
    await asyncio.sleep(0.5)
    # the delivery job's own job.started / job.completed events did not become deliveries
    assert [json.loads(r["body"])["event"] for r in receiver.at(path)] == ["deal.created"]
    assert (await deliveries(client, admin, hook["id"]))["total"] == 1


async def test_an_attempt_is_made_once_even_if_run_twice(app, client, admin, hub, receiver):
    from core.events import webhooks
    from core.events.models import Webhook

    path = new_path()
    created = await create_hook(client, admin, receiver.url(path), ["deal.created"])
    async with app.app_context():
        hook = await Webhook.get(id=created["id"])
        delivery = await webhooks.create_delivery(hub, hook, "deal.created", {"twice": True}, schedule_it=False)
        results = await asyncio.gather(*(webhooks.deliver(delivery.id, 1, hub=hub) for _ in range(3)))
        assert results.count(True) == 1
        assert await webhooks.deliver(delivery.id, 1, hub=hub) is True  # already done: no new request
    assert len(receiver.at(path)) == 1


async def test_without_a_job_system_deliveries_run_on_tasks_and_resume(app, client, admin, hub, receiver, monkeypatch):
    from core.events import webhooks
    from core.events.models import Webhook, WebhookDelivery

    monkeypatch.setattr(webhooks, "_jobs_available", lambda hub=None: False)
    path = new_path()
    receiver.script(path, (500, "again", 0), (200, "ok", 0))
    created = await create_hook(client, admin, receiver.url(path), ["deal.created"])
    await emit_in(app, admin.org_id, "deal.created", {"on": "task"})
    [delivery] = await wait_for_final(client, admin, created["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 2 and delivery["job_id"] is None

    # a delivery left pending by a stopped process is picked up at start
    async with app.app_context():
        hook = await Webhook.get(id=created["id"])
        left = await webhooks.create_delivery(hub, hook, "deal.created", {"left": "behind"}, schedule_it=False)
        assert await webhooks.resume_pending(hub) >= 1
    await wait_until(lambda: WebhookDelivery.filter(id=left.id, status="succeeded").exists())
    assert json.loads(receiver.at(path)[-1]["body"])["data"] == {"left": "behind"}


async def test_an_event_dispatched_twice_is_delivered_once(app, client, hub, admin, receiver):
    """At-least-once events (an outbox row taken over after its process died may be dispatched
    again): the webhook sends one delivery per event id and endpoint."""
    from core.events.bus import Event
    from core.events.webhooks import dispatch_event

    path = new_path()
    hook = await create_hook(client, admin, receiver.url(path), ["deal.*"])
    event = Event("deal.created", admin.org_id, {"id": "once"})
    async with app.app_context():
        first = await dispatch_event(hub, event)
        again = await dispatch_event(hub, event)
    assert len(first) == 1 and again == []
    [delivery] = await wait_for_final(client, admin, hook["id"])
    await asyncio.sleep(0.3)
    assert delivery["status"] == "succeeded"
    assert [json.loads(r["body"])["id"] for r in receiver.at(path)] == [event.id]


async def test_a_new_webhook_hears_the_next_event_despite_the_subscription_cache(app, client, admin, receiver):
    """Active webhooks are cached per organization; creating, pausing or deleting one through
    the API is announced, so the next event already sees the change."""
    first, second = new_path(), new_path()
    hook = await create_hook(client, admin, receiver.url(first), ["deal.*"])
    await emit_in(app, admin.org_id, "deal.created", {"n": 1})  # caches the organization's webhooks
    await wait_for_final(client, admin, hook["id"])
    other = await create_hook(client, admin, receiver.url(second), ["deal.*"])
    paused = await client.patch(f"/api/v1/webhooks/{hook['id']}", headers=admin.headers, json={"is_active": False})
    assert paused.status_code == 200, await paused.get_json()
    await emit_in(app, admin.org_id, "deal.created", {"n": 2})
    await wait_for_final(client, admin, other["id"])
    await asyncio.sleep(0.3)
    assert [json.loads(r["body"])["data"]["n"] for r in receiver.at(first)] == [1]
    assert [json.loads(r["body"])["data"]["n"] for r in receiver.at(second)] == [2]


async def test_a_delivery_left_without_its_job_by_a_crash_is_sent_when_the_event_comes_back(
        app, client, admin, hub, receiver):
    """A process killed after recording a delivery and before enqueueing its job: the event is
    still in its outbox, comes back to another dispatcher, and the delivery goes out then."""
    from core.events.bus import Event
    from core.events.models import WebhookDelivery
    from core.events.webhooks import dispatch_event, make_payload

    path = new_path()
    hook = await create_hook(client, admin, receiver.url(path), ["deal.*"])
    event = Event("deal.created", admin.org_id, {"id": "orphan"})
    async with app.app_context():
        orphan = await WebhookDelivery.create(  # what the crash left: pending, no job, never tried
            org_id=admin.org_id, webhook_id=hook["id"], event=event.type, event_id=event.id,
            payload=make_payload(event.type, event.data, event.timestamp, event.id), status="pending")
        await dispatch_event(hub, event)  # the outbox dispatches the event again
    [row] = await wait_for_final(client, admin, hook["id"])
    assert row["id"] == str(orphan.id) and row["status"] == "succeeded"
    assert [json.loads(r["body"])["id"] for r in receiver.at(path)] == [event.id]  # once, the same event id

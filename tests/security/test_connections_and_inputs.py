"""What a careless client or a prober sends (hardening issue, items 2, 3, 4 and 7):

* an error answered before the body was read must leave the keep-alive connection usable (or
  say `Connection: close`), tested with a raw socket against a real server;
* NUL characters are refused with a 400 naming the field, on SQLite and PostgreSQL alike;
* `/metrics` is not public by default and lists no organization ids;
* list settings from the environment take JSON or comma lists, and a bad entry stops start-up
  naming the setting.
"""

from __future__ import annotations

import socket
import time

import pytest

from core.kernel.settings import SettingsError, load_settings
from core.testing import assert_error
from tests.live_server import live_hub

# -- keep-alive after an early error ----------------------------------------------------------------


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data, b""
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head, rest


def _headers_pause_body_then_again(port: int, headers: str, body: bytes) -> tuple[bytes, bytes | None]:
    """Send a request's headers, pause, send its body; then a second request on the socket.
    (first response head, second response's status line or None when the server hung up)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST /api/leads HTTP/1.1\r\nHost: hub\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode())
        time.sleep(0.3)  # the server answers before the body arrives
        sock.sendall(body)
        first, _ = _read_response(sock)
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
            second, _ = _read_response(sock)
        except OSError:
            return first, None
        return first, (second.split(b"\r\n", 1)[0] if second else None)


@pytest.fixture(scope="module", params=["hypercorn", "uvicorn"])
def server(tmp_path_factory, request):
    """The same guarantees whichever ASGI server `hub serve` runs on."""
    with live_hub(tmp_path_factory.mktemp("keepalive"), env={"HUB_HTTP__MAX_BODY_BYTES": "200000"},
                  server=request.param) as hub:
        yield hub


@pytest.mark.parametrize("headers, status", [
    ("Content-Type: text/plain\r\n", b"415"),                   # answered before the body is read
    ("Content-Type: application/json\r\n", b"401"),             # no credentials
    ("Content-Type: application/json\r\nAuthorization: Bearer nope\r\n", b"401"),
])
def test_an_early_error_leaves_the_connection_usable(server, headers, status):
    first, second = _headers_pause_body_then_again(server.port, headers, b'{"name": "Keep Alive"}')
    assert first.split(b"\r\n", 1)[0].split(b" ")[1] == status, first
    assert second is not None and second.startswith(b"HTTP/1.1 200 "), (first, second)


def test_a_large_unread_body_gets_connection_close_so_the_client_knows(server):
    first, second = _headers_pause_body_then_again(
        server.port, "Content-Type: application/json\r\n", b'{"name": "' + b"x" * 150_000 + b'"}')
    assert b" 401 " in first.split(b"\r\n", 1)[0] + b" "
    assert b"connection: close" in first.lower()
    assert second is None  # and the server did close it


def test_a_body_over_the_limit_is_413_with_connection_close(server):
    import httpx

    from core.testing import PASSWORD, unique_email

    email = unique_email("big")
    registered = httpx.post(f"{server.url}/api/auth/register", json={
        "email": email, "password": PASSWORD, "first_name": "Big", "last_name": "Body"})
    assert registered.status_code == 201, registered.text
    token = httpx.post(f"{server.url}/api/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
    first, second = _headers_pause_body_then_again(
        server.port, f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n",
        b'{"name": "' + b"x" * 250_000 + b'"}')
    assert first.split(b"\r\n", 1)[0].split(b" ")[1] == b"413", first
    assert b"connection: close" in first.lower() and second is None


# -- NUL characters -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, body, field", [
    ("/api/leads", {"name": "Nul\u0000Lead"}, "name"),
    ("/api/companies", {"name": "ok", "industry": "x\u0000"}, "industry"),
    ("/api/contacts", {"name": "ok", "tags": ["fine", "bad\u0000"]}, "tags.1"),
    ("/api/v1/items", {"items": [{"item_id": "a", "title": "t", "description": "d\u0000"}]}, "items.0.description"),
])
async def test_nul_characters_in_a_body_are_refused_naming_the_field(api, path, body, field):
    error = await api.error("POST", path, body, status=400, code="VALIDATION_ERROR")
    assert error["details"]["field"] == field and "NUL" in error["details"]["reason"]


async def test_nul_characters_in_the_url_are_refused(api):
    error = await api.error("GET", "/api/contacts?search=a%00b", status=400, code="VALIDATION_ERROR")
    assert error["details"]["field"] == "url"


async def test_a_nul_free_body_with_the_same_text_is_stored(api):
    lead = await api.post("/api/leads", {"name": "Nul Lead \\u0000 as text"})
    assert lead["name"] == "Nul Lead \\u0000 as text"


# -- /metrics -------------------------------------------------------------------------------------------


async def test_metrics_answer_only_the_local_machine_without_a_token(client, admin):
    local = await client.get("/metrics")  # the test client is in process: local
    assert local.status_code == 200
    remote = await client.get("/metrics", scope_base={"client": ("203.0.113.9", 50000)})
    error = await remote.get_json()
    assert_error(remote.status_code, error, 403, "FORBIDDEN")
    assert "metrics_token" in error["error"]["message"]
    loopback = await client.get("/metrics", scope_base={"client": ("127.0.0.1", 50000)})
    assert loopback.status_code == 200


async def test_metrics_list_no_organization_ids(client, api):
    await api.post("/api/leads", {"name": "Metric Lead"})
    text = (await (await client.get("/metrics")).get_data()).decode()
    assert api.org_id not in text and "http_requests_total" in text


async def test_a_public_metrics_setting_opens_it_up(tmp_path):
    from core.app import create_app
    from tests.helpers import make_settings

    app = create_app(make_settings(tmp_path, observability={"metrics_public": True}))
    response = await app.test_client().get("/metrics", scope_base={"client": ("203.0.113.9", 50000)})
    assert response.status_code == 200


# -- list settings from the environment ---------------------------------------------------------------


@pytest.mark.parametrize("value", ['["127.0.0.1", "hooks.internal"]', "127.0.0.1,hooks.internal",
                                   ' [ "127.0.0.1" , "hooks.internal" ] '])
def test_allowlists_take_json_or_comma_lists(monkeypatch, value):
    monkeypatch.setenv("HUB_WEBHOOKS__ALLOWLIST", value)
    assert load_settings().webhooks.allowlist == ["127.0.0.1", "hooks.internal"]


@pytest.mark.parametrize("variable, value", [
    ("HUB_WEBHOOKS__ALLOWLIST", '["127.0.0.1"'),         # broken JSON
    ("HUB_WEBHOOKS__ALLOWLIST", "'127.0.0.1'"),          # quotes that would become part of the entry
    ("HUB_WEBHOOKS__ALLOWLIST", "hooks internal"),
    ("HUB_RATE_LIMITS__TRUSTED_PROXIES", "10.0.0.0/33"),
    ("HUB_RATE_LIMITS__TRUSTED_PROXIES", "proxy.local"),  # a proxy is an address, not a name
])
def test_a_bad_list_entry_stops_start_up_naming_the_setting(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    setting = variable.removeprefix("HUB_").lower().replace("__", ".")
    with pytest.raises(SettingsError, match=rf"invalid setting {setting}"):
        load_settings()


# -- a bound on every request (item 8) ------------------------------------------------------------------


async def test_a_view_that_takes_too_long_is_cut_off_with_504(tmp_path):
    import asyncio

    from quart import Blueprint

    from core.app import create_app
    from core.http.auth import public
    from core.testing import plugin_module
    from tests.helpers import make_settings

    blueprint = Blueprint("slowpoke", __name__)
    finished = []

    @blueprint.get("/slow")
    @public
    async def slow():
        await asyncio.sleep(5)
        finished.append(True)
        return {"done": True}

    app = create_app(make_settings(tmp_path, http={"request_timeout_seconds": 0.2}),
                     plugins=[plugin_module("slowpoke", hub_routes=lambda: blueprint)])
    response = await app.test_client().get("/slow")
    body = await response.get_json()
    assert_error(response.status_code, body, 504, "REQUEST_TIMEOUT")
    assert body["error"]["details"]["timeout_seconds"] == 0.2 and not finished

"""The WebSocket gateway (core/websocket.py): authentication, the delivery rule, topics,
keep-alive, per-plan connection limits, and fan-out across two hypercorn workers via Redis.

In-process tests use the Quart test client against the session app (memory, or Redis when
HUB_TEST_REDIS_URL is set). The "real server" tests start `python hub.py serve --workers 2`
with Redis database 2 and talk to it with the `websockets` client library.

Absence is never checked by waiting: after the event that must NOT arrive, a second
"barrier" event is emitted that must arrive, and it has to be the next message (events of
an organization reach a socket in the order they were published).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import types
import uuid

import httpx
import pytest
from pydantic import BaseModel
import websockets
from quart import Blueprint
from quart.testing.connections import WebsocketDisconnectError

from core.app import create_app
from core.http.auth import public
from core.events.bus import emit
from core.tenancy.models import Organization
from core.events.websocket.sockets import serve_topic
from tests.helpers import PASSWORD, add_member, create_key, login, register_and_login, unique_email
from tests.live_server import live_hub

TIMEOUT = 20  # a guard against hanging, never an assertion about speed


# -- in-process helpers --------------------------------------------------------------------


async def receive(ws, timeout: float = TIMEOUT) -> dict:
    """The next message that is not a server ping."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.receive(), timeout))
        if message.get("type") != "ping":
            return message


async def closed_with(ws) -> tuple[int, list[dict]]:
    """Read until the server closes; the close code and the messages before it."""
    seen = []
    try:
        while True:
            seen.append(await receive(ws))
    except WebsocketDisconnectError as closed:
        return closed.args[0], seen


async def opened(ws) -> dict:
    message = await receive(ws)
    assert message["type"] == "connected", message
    return message


def assert_refused(code: int, seen: list[dict], expected_code: int, error_code: str) -> dict:
    assert code == expected_code, (code, seen)
    assert seen and seen[-1]["type"] == "error", seen
    error = seen[-1]["error"]
    assert error["code"] == error_code, error
    assert {"code", "message", "details", "request_id", "timestamp"} <= set(error)
    return error


def plugin_module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, function)
    return module


# -- in-process: authentication ------------------------------------------------------------


async def test_socket_authenticates_with_the_authorization_header_and_answers_ping(client, admin):
    async with client.websocket("/ws", headers=admin.headers) as ws:
        hello = await opened(ws)
        assert hello["data"]["user_id"] == admin.user_id
        assert hello["data"]["org_id"] == admin.org_id
        assert hello["data"]["events"] == ["*"]
        assert set(hello) == {"type", "data", "timestamp"}
        await ws.send(json.dumps({"type": "ping"}))
        pong = await receive(ws)
        assert pong["type"] == "pong" and pong["timestamp"].endswith("Z")


async def test_socket_authenticates_with_a_token_query_parameter(client, admin):
    async with client.websocket("/ws", query_string={"token": admin.access_token}) as ws:
        assert (await opened(ws))["data"]["user_id"] == admin.user_id


async def test_socket_authenticates_with_a_first_auth_message(client, admin):
    async with client.websocket("/ws") as ws:
        await ws.send(json.dumps({"type": "auth", "token": admin.access_token}))
        assert (await opened(ws))["data"]["user_id"] == admin.user_id


async def test_socket_authenticates_with_an_api_key(client, admin):
    key = await create_key(client, admin, ["read"])
    async with client.websocket("/ws", headers={"X-API-Key": key["key"]}) as ws:
        assert (await opened(ws))["data"]["user_id"] == admin.user_id
    async with client.websocket("/ws", query_string={"token": key["key"]}) as ws:
        await opened(ws)


@pytest.mark.parametrize("how", ["header", "query", "message", "api_key"])
async def test_bad_credentials_get_an_error_envelope_then_4401(client, how):
    kwargs = {
        "header": {"headers": {"Authorization": "Bearer not-a-jwt"}},
        "query": {"query_string": {"token": "not-a-jwt"}},
        "api_key": {"headers": {"X-API-Key": "hub_not_a_real_key"}},
        "message": {},
    }[how]
    async with client.websocket("/ws", **kwargs) as ws:
        if how == "message":
            await ws.send(json.dumps({"type": "auth", "token": "not-a-jwt"}))
        code, seen = await closed_with(ws)
    assert_refused(code, seen, 4401, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("first", ['{"type": "subscribe"}', "not json", '{"type": "auth"}', '{"type": "auth", "token": 5}'])
async def test_a_first_message_that_is_not_auth_is_refused(client, first):
    async with client.websocket("/ws") as ws:
        await ws.send(first)
        code, seen = await closed_with(ws)
    assert_refused(code, seen, 4401, "AUTHENTICATION_FAILED")


async def test_a_key_without_events_read_is_refused_with_4403(client, admin):
    key = await create_key(client, admin, ["example.notes.read"])
    async with client.websocket("/ws", headers={"X-API-Key": key["key"]}) as ws:
        code, seen = await closed_with(ws)
    error = assert_refused(code, seen, 4403, "FORBIDDEN")
    assert error["details"]["permission"] == "events.read"


async def test_a_revoked_key_is_refused(client, admin):
    key = await create_key(client, admin, ["read"])
    deleted = await client.delete(f"/api/v1/keys/{key['id']}", headers=admin.headers)
    assert deleted.status_code in (200, 204)
    async with client.websocket("/ws", headers={"X-API-Key": key["key"]}) as ws:
        code, seen = await closed_with(ws)
    assert_refused(code, seen, 4401, "AUTHENTICATION_FAILED")


async def test_a_plain_http_request_to_a_socket_gets_the_error_envelope(client):
    response = await client.get("/ws")
    body = await response.get_json()
    assert response.status_code == 400 and body["error"]["code"] == "BAD_REQUEST", body


def test_websocket_settings_come_from_the_file_and_the_environment(tmp_path, monkeypatch):
    import tomllib

    from core.kernel.settings import DEFAULT_CONFIG_FILE, SettingsError
    from tests.helpers import make_settings

    with open(DEFAULT_CONFIG_FILE, "rb") as handle:
        table = tomllib.load(handle)["websocket"]
    settings = make_settings(tmp_path).websocket
    assert settings.connection_limits == table["connection_limits"] == {"free": 5, "starter": 5, "pro": 25, "enterprise": 100}
    assert settings.ping_interval_seconds == table["ping_interval_seconds"]
    monkeypatch.setenv("HUB_WEBSOCKET__CONNECTION_LIMITS__PRO", "50")
    monkeypatch.setenv("HUB_WEBSOCKET__PING_INTERVAL_SECONDS", "10")
    changed = make_settings(tmp_path).websocket
    assert changed.connection_limits["pro"] == 50 and changed.connection_limits["free"] == 5
    assert changed.ping_interval_seconds == 10
    monkeypatch.setenv("HUB_WEBSOCKET__CONNECTION_LIMITS__PRO", "-1")
    with pytest.raises(SettingsError, match=r"websocket\.connection_limits\.pro"):
        make_settings(tmp_path)


# -- in-process: who gets what ---------------------------------------------------------------


async def test_events_reach_the_organization_and_not_another_one(app, client, admin, other_admin, event_types):
    event_types("thing.created")
    async with client.websocket("/ws", headers=admin.headers) as mine, \
            client.websocket("/ws", headers=other_admin.headers) as theirs:
        await opened(mine)
        await opened(theirs)
        async with app.app_context():
            await emit(admin.org_id, "thing.created", {"id": "lead_1", "name": "Jane"})
            await emit(other_admin.org_id, "thing.created", {"id": "barrier"})
        got = await receive(mine)
        assert got["type"] == "thing.created" and got["data"] == {"id": "lead_1", "name": "Jane"}
        assert set(got) == {"type", "data", "timestamp"}
        assert (await receive(theirs))["data"] == {"id": "barrier"}  # and not lead_1 before it


async def test_an_event_with_user_id_reaches_only_that_user(app, client, admin, event_types):
    event_types("thing.created", "notification.posted")
    member = await add_member(client, admin, "developer")
    async with client.websocket("/ws", headers=admin.headers) as admins, \
            client.websocket("/ws", headers=member.headers) as members:
        await opened(admins)
        await opened(members)
        async with app.app_context():
            await emit(admin.org_id, "notification.posted", {"user_id": member.user_id, "title": "for you"})
            await emit(admin.org_id, "thing.created", {"id": "barrier"})
        assert (await receive(members))["data"]["title"] == "for you"
        assert (await receive(members))["data"] == {"id": "barrier"}
        assert (await receive(admins))["data"] == {"id": "barrier"}


async def test_viewers_receive_events(app, client, admin, event_types):
    event_types("thing.counted")
    viewer = await add_member(client, admin, "viewer")
    async with client.websocket("/ws", headers=viewer.headers) as ws:
        await opened(ws)
        async with app.app_context():
            await emit(admin.org_id, "thing.counted", {"metric": "leads_today", "value": 25})
        assert (await receive(ws))["type"] == "thing.counted"


async def test_restricted_event_types_need_their_permission(app, hub, client, admin, event_types):
    from core.events.websocket.gateway import gateway_of, restrict_events

    event_types("audit.member_removed", "thing.created")
    event_types("audit.key_revoked", permission="members.manage")  # the catalogue's own rule
    viewer = await add_member(client, admin, "viewer")
    restrict_events(app, "audit.*", "members.manage")
    try:
        async with client.websocket("/ws", headers=viewer.headers) as viewers, \
                client.websocket("/ws", headers=admin.headers) as admins:
            await opened(viewers)
            await opened(admins)
            async with app.app_context():
                await emit(admin.org_id, "audit.member_removed", {"id": "x"})
                await emit(admin.org_id, "audit.key_revoked", {"id": "y"})
                await emit(admin.org_id, "thing.created", {"id": "barrier"})
            assert (await receive(admins))["type"] == "audit.member_removed"
            assert (await receive(admins))["type"] == "audit.key_revoked"
            assert (await receive(viewers))["data"] == {"id": "barrier"}
        with pytest.raises(ValueError, match="unknown permission"):
            restrict_events(app, "x.*", "no.such.permission")
    finally:
        gateway_of(hub).restrictions.remove(("audit.*", "members.manage"))


async def test_notifications_socket_gets_only_notifications(app, client, admin, event_types):
    event_types("thing.created", "notification.posted", "notification.asked.requested", "announcement.published")
    async with client.websocket("/ws/notifications", headers=admin.headers) as ws:
        hello = await opened(ws)
        assert hello["data"]["topic"] == "notifications"
        async with app.app_context():
            await emit(admin.org_id, "thing.created", {"id": "not a notification"})
            await emit(admin.org_id, "notification.asked.requested", {"title": "a request, not a notification"})
            await emit(admin.org_id, "notification.posted", {"title": "Welcome", "user_id": admin.user_id})
            await emit(admin.org_id, "announcement.published", {"title": "Maintenance at 22:00"})
        # seed 001 names the message `notification`; the event's own type is kept in `event`
        notification = await receive(ws)
        assert notification["type"] == "notification" and notification["event"] == "notification.posted"
        assert notification["data"]["title"] == "Welcome" and notification["timestamp"]
        announcement = await receive(ws)
        assert announcement["type"] == "announcement.published"
        assert announcement["data"]["title"] == "Maintenance at 22:00"


async def test_a_client_can_narrow_its_events_with_subscribe(app, client, admin, event_types):
    event_types("agent.started", "message.posted", "thing.updated")
    async with client.websocket("/ws", headers=admin.headers) as ws:
        await opened(ws)
        await ws.send(json.dumps({"type": "subscribe", "events": ["thing.*", "message.posted"]}))
        assert (await receive(ws)) | {"timestamp": None} == {
            "type": "subscribed", "data": {"events": ["thing.*", "message.posted"]}, "timestamp": None
        }
        async with app.app_context():
            await emit(admin.org_id, "agent.started", {"agentId": "agent_1"})
            await emit(admin.org_id, "message.posted", {"id": "msg_1"})
            await emit(admin.org_id, "thing.updated", {"id": "lead_1"})
        assert (await receive(ws))["type"] == "message.posted"
        assert (await receive(ws))["type"] == "thing.updated"
        await ws.send(json.dumps({"type": "subscribe", "events": []}))
        error = await receive(ws)
        assert error["type"] == "error" and error["error"]["details"]["field"] == "events"


async def test_event_data_is_sent_as_json_whatever_its_python_types(app, client, admin, event_types):
    event_types("thing.created")
    ident = uuid.uuid4()
    when = dt.datetime(2024, 1, 15, 16, 30, tzinfo=dt.timezone.utc)
    async with client.websocket("/ws", headers=admin.headers) as ws:
        await opened(ws)
        async with app.app_context():
            await emit(admin.org_id, "thing.created", {"id": ident, "at": when, "tags": {"a"}})
        assert (await receive(ws))["data"] == {"id": str(ident), "at": when.isoformat(), "tags": ["a"]}


# -- in-process: the protocol ----------------------------------------------------------------


async def test_bad_messages_get_errors_and_the_socket_stays_open(client, admin):
    async with client.websocket("/ws", headers=admin.headers) as ws:
        await opened(ws)
        for bad in ("not json", "[1, 2]", '{"type": "dance"}', '{"no": "type"}'):
            await ws.send(bad)
            error = await receive(ws)
            assert error["type"] == "error" and error["error"]["code"] == "VALIDATION_ERROR", error
        await ws.send(json.dumps({"type": "pong"}))  # answers to pings are accepted silently
        await ws.send(json.dumps({"type": "ping"}))
        assert (await receive(ws))["type"] == "pong"


async def test_an_oversized_message_closes_with_1009(client, admin, hub):
    async with client.websocket("/ws", headers=admin.headers) as ws:
        await opened(ws)
        await ws.send(json.dumps({"type": "ping", "pad": "x" * hub.settings.websocket.max_message_bytes}))
        code, seen = await closed_with(ws)
    assert_refused(code, seen, 1009, "PAYLOAD_TOO_LARGE")


async def test_a_socket_renews_its_token_for_the_same_user_only(client, admin, other_admin):
    async with client.websocket("/ws", headers=admin.headers) as ws:
        await opened(ws)
        fresh = await login(client, admin.email)
        await ws.send(json.dumps({"type": "auth", "token": fresh.access_token}))
        renewed = await receive(ws)
        assert renewed["type"] == "authenticated" and renewed["data"]["user_id"] == admin.user_id
        await ws.send(json.dumps({"type": "auth", "token": "not-a-jwt"}))  # reported, not fatal
        refused = await receive(ws)
        assert refused["type"] == "error" and refused["error"]["code"] == "AUTHENTICATION_FAILED"
        await ws.send(json.dumps({"type": "ping"}))
        assert (await receive(ws))["type"] == "pong"
        await ws.send(json.dumps({"type": "auth", "token": other_admin.access_token}))
        code, seen = await closed_with(ws)
    assert_refused(code, seen, 4403, "FORBIDDEN")


# -- in-process: connection limits -------------------------------------------------------------


async def test_connections_are_limited_by_the_organization_plan(client, admin, hub):
    limit = hub.settings.websocket.connection_limits["starter"]
    assert limit == 5  # seed 004: free/starter 5
    assert (await Organization.get(id=admin.org_id)).plan == "starter"
    sockets = [client.websocket("/ws", headers=admin.headers) for _ in range(limit)]
    entered = [await s.__aenter__() for s in sockets]
    try:
        for ws in entered:
            await opened(ws)
        async with client.websocket("/ws", headers=admin.headers) as extra:
            code, seen = await closed_with(extra)
        error = assert_refused(code, seen, 4429, "CONNECTION_LIMIT_EXCEEDED")
        assert error["details"] == {"limit": limit, "plan": "starter", "open": limit}
        # another organization has its own allowance
        other = await register_and_login(client, organization_name="Initech")
        async with client.websocket("/ws", headers=other.headers) as ws:
            await opened(ws)
        # closing one frees a place (the release is asynchronous: retry a bounded number of times)
        await sockets.pop().__aexit__(None, None, None)
        entered.pop()
        for _ in range(100):
            async with client.websocket("/ws", headers=admin.headers) as again:
                first = await receive(again)
                if first["type"] == "connected":
                    break
            await asyncio.sleep(0.05)
        assert first["type"] == "connected", first
    finally:
        for s in sockets:
            await s.__aexit__(None, None, None)


@pytest.mark.parametrize("plan,limit", [("pro", 25), ("enterprise", 100), ("free", 5), ("unheard-of", 5)])
async def test_plan_limits_follow_seed_004(hub, client, admin, plan, limit):
    from core.events.websocket.gateway import gateway_of

    await Organization.filter(id=admin.org_id).update(plan=plan)
    await hub.tenants.invalidate(admin.org_id)
    assert await gateway_of(hub).connection_limit(admin.org_id) == (plan, limit)


async def test_hook_hub_plan_limits_can_set_the_websocket_connection_limit(hub, client, admin):
    def hub_plan_limits(plan):
        return {"websocket_connections": 1} if plan == "ws-solo" else None

    solo = plugin_module("ws_solo_plan", hub_plan_limits=hub_plan_limits)
    hub.manager.register(solo, name="ws_solo_plan")
    try:
        await Organization.filter(id=admin.org_id).update(plan="ws-solo")
        await hub.tenants.invalidate(admin.org_id)
        async with client.websocket("/ws", headers=admin.headers) as first:
            await opened(first)
            async with client.websocket("/ws", headers=admin.headers) as second:
                code, seen = await closed_with(second)
        error = assert_refused(code, seen, 4429, "CONNECTION_LIMIT_EXCEEDED")
        assert error["details"]["limit"] == 1 and error["details"]["plan"] == "ws-solo"
    finally:
        hub.manager.unregister(solo)


# -- in-process: topic sockets for plugins -------------------------------------------------------


def topic_plugin():
    """A plugin offering /ws/things/<id> the way seed 001's /ws/executions/{id} will."""
    blueprint = Blueprint("ws_things", __name__)

    @blueprint.websocket("/ws/things/<thing_id>")
    @public
    async def thing_socket(thing_id):
        async def authorize(principal):  # stands for "does this thing exist in the caller's org"
            return thing_id.startswith("mine")

        await serve_topic({"thing_id": thing_id}, types=["thing.*"], authorize=authorize, name="thing")

    class ThingEvent(BaseModel):
        thing_id: str | None = None
        n: int

    def hub_event_types(register):
        register("thing.updated", ThingEvent, "A thing changed")
        register("other.updated", ThingEvent, "Another kind of thing changed")

    return plugin_module("wsthings", hub_routes=lambda: blueprint, hub_event_types=hub_event_types)


@pytest.fixture(scope="module")
def things_app(settings):
    """A second app on the session's database with one more plugin (its start-up hooks are
    not run: the session app owns the database connection)."""
    import hub_example_plugin

    return create_app(settings, plugins=[hub_example_plugin, topic_plugin()])


async def test_a_plugin_topic_socket_streams_only_matching_events(things_app, admin):
    client = things_app.test_client()
    async with client.websocket("/ws/things/mine-1", headers=admin.headers) as ws:
        hello = await opened(ws)
        assert hello["data"]["topic"] == "thing"
        async with things_app.app_context():
            await emit(admin.org_id, "thing.updated", {"thing_id": "mine-2", "n": 1})
            await emit(admin.org_id, "other.updated", {"thing_id": "mine-1", "n": 2})
            await emit(admin.org_id, "thing.updated", {"n": 3})
            await emit(admin.org_id, "thing.updated", {"thing_id": "mine-1", "n": 4})
        got = await receive(ws)
        assert got["type"] == "thing.updated" and got["data"] == {"thing_id": "mine-1", "n": 4}


async def test_a_plugin_topic_socket_refuses_what_authorize_refuses(things_app, admin):
    client = things_app.test_client()
    async with client.websocket("/ws/things/yours-1", headers=admin.headers) as ws:
        code, seen = await closed_with(ws)
    assert_refused(code, seen, 4404, "NOT_FOUND")
    async with client.websocket("/ws/things/mine-1", headers={"Authorization": "Bearer nope"}) as ws:
        code, seen = await closed_with(ws)
    assert_refused(code, seen, 4401, "AUTHENTICATION_FAILED")


async def test_a_plugin_topic_socket_is_gone_where_the_plugin_is_off(things_app, admin):
    client = things_app.test_client()
    off = await client.put("/api/v1/plugins/wsthings", headers=admin.headers, json={"enabled": False})
    assert off.status_code == 200, await off.get_json()
    async with client.websocket("/ws/things/mine-1", headers=admin.headers) as ws:
        code, seen = await closed_with(ws)
    assert_refused(code, seen, 4404, "NOT_FOUND")
    async with client.websocket("/ws", headers=admin.headers) as ws:  # the core socket stays
        await opened(ws)


# -- a real server: two hypercorn workers and Redis ----------------------------------------------

SERVER_REDIS = "redis://127.0.0.1:6379/2"
SERVER_LIMIT = 8  # starter plan, so that one organization's sockets can span both workers


def _redis_available() -> bool:
    import redis

    try:
        client = redis.Redis.from_url(SERVER_REDIS, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@pytest.fixture(scope="module", params=["hypercorn", "uvicorn"])
def server(tmp_path_factory, request):
    """Two workers of a real `hub serve`, on either ASGI server it offers."""
    if not _redis_available():
        pytest.skip(f"needs Redis at {SERVER_REDIS}")
    env = {
        "HUB_REDIS_URL": SERVER_REDIS,
        "HUB_WEBSOCKET__PING_INTERVAL_SECONDS": "0.5",
        "HUB_WEBSOCKET__PONG_TIMEOUT_SECONDS": "4",  # generous: a loaded CI machine answers late
        "HUB_WEBSOCKET__AUTH_TIMEOUT_SECONDS": "1",
        "HUB_WEBSOCKET__CONNECTION_LIMITS__STARTER": str(SERVER_LIMIT),
        "HUB_RATE_LIMITS__ENABLED": "false",  # these tests register many users from one address
    }
    with live_hub(tmp_path_factory.mktemp("ws_server"), workers=2, env=env, server=request.param) as hub:
        yield hub.host


class Peer:
    """A `websockets` client that answers the server's pings (unless told not to) and queues
    every other message."""

    CLOSED = object()

    def __init__(self, ws, answer_pings: bool = True) -> None:
        self.ws = ws
        self.answer_pings = answer_pings
        self.pings = 0
        self.messages: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message.get("type") == "ping":
                    self.pings += 1
                    if self.answer_pings:
                        await self.ws.send('{"type": "pong"}')
                    continue
                await self.messages.put(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            await self.messages.put(self.CLOSED)

    async def next(self) -> dict:
        message = await asyncio.wait_for(self.messages.get(), TIMEOUT)
        assert message is not self.CLOSED, f"closed with {self.ws.close_code}"
        return message

    async def closed(self) -> tuple[int | None, list[dict]]:
        seen = []
        while (message := await asyncio.wait_for(self.messages.get(), TIMEOUT)) is not self.CLOSED:
            seen.append(message)
        return self.ws.close_code, seen

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


async def connect(base: str, token: str | None, how: str = "header", path: str = "/ws", answer_pings: bool = True) -> Peer:
    uri, headers = f"ws://{base}{path}", {}
    if how == "header":
        headers["Authorization"] = f"Bearer {token}"
    elif how == "api_key":
        headers["X-API-Key"] = token
    elif how == "query":
        uri += f"?token={token}"
    ws = await websockets.connect(uri, additional_headers=headers, open_timeout=TIMEOUT)
    if how == "message":
        await ws.send(json.dumps({"type": "auth", "token": token}))
    return Peer(ws, answer_pings)


async def user(http: httpx.AsyncClient, organization: str = "Acme") -> dict:
    email = unique_email("ws")
    registered = await http.post("/api/auth/register", json={
        "email": email, "password": PASSWORD, "first_name": "Web", "last_name": "Socket",
        "organization_name": organization,
    })
    assert registered.status_code == 201, registered.text
    logged_in = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert logged_in.status_code == 200, logged_in.text
    body = logged_in.json()
    return {"token": body["access_token"], "headers": {"Authorization": f"Bearer {body['access_token']}"},
            "org_id": body["user"]["tenant_id"]}


async def add_note(http: httpx.AsyncClient, account: dict, text: str) -> None:
    created = await http.post("/api/example/notes", headers=account["headers"], json={"text": text})
    assert created.status_code == 201, created.text


async def test_real_server_fans_events_out_across_two_workers_to_one_organization_only(server):
    async with httpx.AsyncClient(base_url=f"http://{server}", timeout=TIMEOUT) as http:
        acme, globex = await user(http), await user(http, "Globex")
        key = await http.post("/api/v1/keys", headers=acme["headers"], json={"name": "ws", "scopes": ["read"]})
        assert key.status_code == 201, key.text
        ways = [("header", acme["token"]), ("query", acme["token"]), ("message", acme["token"]),
                ("api_key", key.json()["key"])]
        mine, nodes = [], set()
        # The kernel picks the worker that accepts each connection: when the organization's
        # limit is reached on one worker only, free a slot and try again (bounded).
        for attempt in range(60):
            if len(mine) >= len(ways) and len(nodes) >= 2:
                break
            if len(mine) == SERVER_LIMIT:
                await mine.pop(0).close()
                await asyncio.sleep(0.2)
            how, token = ways[attempt % len(ways)]
            peer = await connect(server, token, how)
            hello = await peer.next()
            assert hello["type"] == "connected" and hello["data"]["org_id"] == acme["org_id"], hello
            nodes.add(hello["data"]["node"])
            mine.append(peer)
        assert len(nodes) == 2, "the sockets should have landed on both workers"
        theirs = [await connect(server, globex["token"]) for _ in range(2)]
        for peer in theirs:
            assert (await peer.next())["type"] == "connected"
        try:
            marker = f"acme-{uuid.uuid4().hex}"
            await add_note(http, acme, marker)  # handled by either worker
            for peer in mine:
                event = await peer.next()
                assert event["type"] == "example.note_created" and event["data"]["text"] == marker, event
                assert set(event) == {"type", "data", "timestamp"}
            barrier = f"globex-{uuid.uuid4().hex}"
            await add_note(http, globex, barrier)
            for peer in theirs:
                assert (await peer.next())["data"]["text"] == barrier  # Acme's note never came first
            # and a second round, so that both workers have emitted at least once (likely)
            for n in range(4):
                await add_note(http, acme, f"{marker}-{n}")
            for peer in mine:
                assert [(await peer.next())["data"]["text"] for _ in range(4)] == [f"{marker}-{n}" for n in range(4)]
        finally:
            for peer in mine + theirs:
                await peer.close()


@pytest.mark.parametrize("how", ["header", "query", "message", "api_key"])
async def test_real_server_refuses_bad_credentials_with_4401(server, how):
    peer = await connect(server, "hub_bad" if how == "api_key" else "bad.token.here", how)
    code, seen = await peer.closed()
    assert code == 4401, (code, seen)
    assert seen[-1]["type"] == "error" and seen[-1]["error"]["code"] == "AUTHENTICATION_FAILED"


async def test_real_server_closes_a_socket_that_never_authenticates(server):
    peer = await connect(server, None, how="none")
    code, seen = await peer.closed()
    assert code == 4401 and seen[-1]["error"]["code"] == "AUTHENTICATION_FAILED", (code, seen)


async def test_real_server_counts_the_connection_limit_across_both_workers(server):
    async with httpx.AsyncClient(base_url=f"http://{server}", timeout=TIMEOUT) as http:
        account = await user(http)
    peers, nodes = [], set()
    try:
        for _ in range(SERVER_LIMIT):
            peers.append(await connect(server, account["token"]))
            nodes.add((await peers[-1].next())["data"]["node"])
        # The kernel picks the worker that accepts each connection, and a burst can land on one
        # worker only (seen on CI): swap sockets, bounded, until both workers hold some.
        for _ in range(60):
            if len(nodes) == 2:
                break
            await peers.pop(0).close()
            await asyncio.sleep(0.1)  # the slot is freed asynchronously
            again = await connect(server, account["token"])
            first = await asyncio.wait_for(again.messages.get(), TIMEOUT)
            if first is Peer.CLOSED or first["type"] != "connected":
                await again.close()
                continue
            peers.append(again)
            nodes.add(first["data"]["node"])
        assert len(nodes) == 2, "the limit must hold for sockets on both workers"
        for _ in range(100):  # a refused swap left a place free: fill it again
            if len(peers) == SERVER_LIMIT:
                break
            again = await connect(server, account["token"])
            first = await asyncio.wait_for(again.messages.get(), TIMEOUT)
            if first is not Peer.CLOSED and first["type"] == "connected":
                peers.append(again)
            else:
                await again.close()
                await asyncio.sleep(0.05)
        assert len(peers) == SERVER_LIMIT
        extra = await connect(server, account["token"])
        code, seen = await extra.closed()
        assert code == 4429, (code, seen)
        assert seen[-1]["error"]["code"] == "CONNECTION_LIMIT_EXCEEDED"
        assert seen[-1]["error"]["details"]["limit"] == SERVER_LIMIT
        await peers.pop(0).close()
        for _ in range(100):  # the slot is freed asynchronously, on whichever worker held it
            again = await connect(server, account["token"])
            first = await asyncio.wait_for(again.messages.get(), TIMEOUT)
            if first is not Peer.CLOSED and first["type"] == "connected":
                peers.append(again)
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("a closed socket never freed its place")
    finally:
        for peer in peers:
            await peer.close()


async def test_real_server_keeps_answering_clients_alive_and_drops_silent_ones(server):
    async with httpx.AsyncClient(base_url=f"http://{server}", timeout=TIMEOUT) as http:
        account = await user(http)
    lively = await connect(server, account["token"])
    silent = await connect(server, account["token"], answer_pings=False)
    try:
        assert (await lively.next())["type"] == "connected"
        assert (await silent.next())["type"] == "connected"
        code, seen = await silent.closed()
        assert code == 4408, (code, seen)
        assert seen[-1]["error"]["code"] == "KEEPALIVE_TIMEOUT"
        assert silent.pings >= 1
        for _ in range(200):  # bounded: wait until the lively client has answered 3 pings
            if lively.pings >= 3:
                break
            await asyncio.sleep(0.1)
        assert lively.pings >= 3
        await lively.ws.send(json.dumps({"type": "ping"}))
        assert (await lively.next())["type"] == "pong"  # still open, and answering
    finally:
        await lively.close()
        await silent.close()


async def test_real_server_closes_the_socket_of_a_logged_out_token(server):
    async with httpx.AsyncClient(base_url=f"http://{server}", timeout=TIMEOUT) as http:
        account = await user(http)
        peer = await connect(server, account["token"])
        assert (await peer.next())["type"] == "connected"
        out = await http.post("/api/auth/logout", headers=account["headers"])
        assert out.status_code == 204, out.text
    code, seen = await peer.closed()
    assert code == 4401 and seen[-1]["error"]["code"] == "TOKEN_REVOKED", (code, seen)


async def test_real_server_resubscribes_when_its_redis_connection_is_killed(server):
    import redis.asyncio as aioredis

    async with httpx.AsyncClient(base_url=f"http://{server}", timeout=TIMEOUT) as http:
        account = await user(http)
        peers, nodes = [], set()
        for _ in range(4 * SERVER_LIMIT):  # the kernel may hand a burst of connections to one worker
            if len(nodes) == 2:
                break
            if len(peers) == SERVER_LIMIT:  # all on one worker so far: free a slot, try again
                await peers.pop().close()
                await asyncio.sleep(0.2)
            peers.append(await connect(server, account["token"]))
            nodes.add((await peers[-1].next())["data"]["node"])
        assert len(nodes) == 2
        admin = aioredis.from_url(SERVER_REDIS)
        try:
            ours = [c for c in await admin.client_list() if c.get("name", "").removeprefix("hub-ws-") in nodes]
            assert {c["name"] for c in ours} == {f"hub-ws-{node}" for node in nodes}
            for client in ours:
                await admin.client_kill_filter(_id=client["id"])
        finally:
            await admin.aclose()
        try:
            # Events published while a subscriber reconnects are lost to it (no replay), so
            # emit until every socket has had one, a bounded number of times.
            waiting = set(range(len(peers)))
            for n in range(150):
                await add_note(http, account, f"after-kill-{n}")
                await asyncio.sleep(0.1)
                for index in list(waiting):
                    while not peers[index].messages.empty():
                        message = peers[index].messages.get_nowait()
                        assert message is not Peer.CLOSED, "the socket was closed"
                        if message["type"] == "example.note_created":
                            waiting.discard(index)
                if not waiting:
                    break
            assert not waiting, f"{len(waiting)} sockets got no event after Redis came back"
        finally:
            for peer in peers:
                await peer.close()


async def test_redis_connection_slots_expire_with_their_lease():
    """A process that dies without releasing its sockets stops counting once its leases
    lapse (LEASE_SECONDS); the lease is simply set in the past here instead of waiting."""
    if not _redis_available():
        pytest.skip(f"needs Redis at {SERVER_REDIS}")
    import redis.asyncio as aioredis

    from core.events.websocket.slots import SLOTS_KEY, RedisSlots

    client = aioredis.from_url(SERVER_REDIS)
    org_id = str(uuid.uuid4())
    key = SLOTS_KEY.format(org_id=org_id)
    try:
        slots = RedisSlots(client)
        assert await slots.acquire(org_id, "ghost", 1) == (True, 1)
        assert await slots.acquire(org_id, "alive", 1) == (False, 1)
        assert await client.pttl(key) > 0  # the whole hash expires too
        await client.hset(key, "ghost", 0)  # the dead process's lease ran out
        assert await slots.count(org_id) == 0
        assert await slots.acquire(org_id, "alive", 1) == (True, 1)
        await slots.renew({org_id: ["alive"]})
        assert await slots.count(org_id) == 1
        await slots.release(org_id, "alive")
        assert await slots.count(org_id) == 0
    finally:
        await client.delete(key)
        await client.aclose()

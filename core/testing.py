"""The Hub's test kit: a pytest plugin shipped with the Hub for plugin authors.

It is registered under the `pytest11` entry point (`hub = core.testing`), so installing the
Hub makes these fixtures available in any project's tests, with nothing to import:

    async def test_notes(api, api_of, other_api, events, assert_isolated):
        note = await api.post("/api/notes", {"text": "hi"})               # 201 expected
        assert events.of(api.org_id, "note.created")
        viewer = await api_of(role="viewer")
        await viewer.error("POST", "/api/notes", {"text": "x"}, status=403, code="FORBIDDEN")
        await assert_isolated(api, other_api, f"/api/notes/{note['id']}")

The Hub under test runs in process for the whole session (tortoise keeps process-wide state),
on SQLite in a temporary directory, or on PostgreSQL and Redis when `HUB_TEST_DATABASE_URL`
and `HUB_TEST_REDIS_URL` are set (the PostgreSQL database's `public` schema is dropped at
start). Tests keep apart by registering organizations of their own (every `admin` is a new
organization). Your project's pytest configuration needs:

    [tool.pytest.ini_options]
    asyncio_mode = "auto"
    asyncio_default_fixture_loop_scope = "session"
    asyncio_default_test_loop_scope = "session"

Fixtures
    hub_settings_overrides  (session) override to give your plugin its settings: a dict of
                            `load_settings` keyword arguments, e.g. {"plugins": {"notes": {...}}}
    hub_settings            (session) the Settings of the Hub under test
    hub_plugins             (session) override to choose the plugins of the Hub under test: None (the
                            default) loads every installed one (built-in and `hub.plugins` entry
                            points); a list of modules or (name, module) pairs loads the core and
                            exactly those, e.g. [("notes", hub_notes)], installed or not
    hub_app                 (session) the app, serving (migrated) for the whole session
    hub                     its Hub: `hub.plugin_settings(...)`, `hub.bus.catalogue`, ...
    hub_client              Quart's test client of it
    admin, other_admin      logged-in admins of two new, unrelated organizations (Account)
    member_of               `await member_of(admin, "viewer")`: a new member of that organization
    key_for                 `await key_for(account, ["read"])`: a new API key (the creation body)
    hub_api_class           override with an Api subclass carrying your plugin's shortcuts
    api, other_api          an Api (of hub_api_class) as `admin` / `other_admin`
    api_of                  `await api_of(role="viewer")`, `await api_of(account)`, `await api_of(key=["read"])`
    events                  every event emitted during the test (`events.of(org_id, type)`)
    event_types             `event_types("thing.updated")`: throw-away event types for one test
    plan_limits             `await plan_limits(org_id, api_calls=10)`: the organization moves to a plan
                            of its own with these monthly limits (through `hub_plan_limits`)
    ws                      `async with ws(account) as socket: await socket.event("note.created")`
    assert_isolated         another organization's caller gets 404 for every method on a path,
                            and the row is unchanged afterwards

Helpers (importable): Account, Api, EventRecorder, WebSocketClient, assert_error, plugin_module,
register_and_login, login, add_member, create_key, unique_email, test_settings, PASSWORD.
"""

from __future__ import annotations

import asyncio
import json
import os
import types
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest
from quart.testing import QuartClient, TestApp
from pydantic import BaseModel, ConfigDict

PASSWORD = "correct horse battery"
TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"
DATABASE_URL_VARIABLE = "HUB_TEST_DATABASE_URL"
REDIS_URL_VARIABLE = "HUB_TEST_REDIS_URL"
WAIT_SECONDS = 30.0  # a bound against hanging, never an assertion about speed
STARTUP_SECONDS = 60  # the test app's start and stop: a bound against hanging
# argon2id at its lowest cost: the same code path, without a third of a second of CPU for every
# registration and login (as Django's test runner swaps in a fast hasher). Never in production.
FAST_PASSWORD_HASHING = {"password_time_cost": 1, "password_memory_kib": 1024, "password_parallelism": 1}


def pytest_configure(config: pytest.Config) -> None:
    # The machine's HUB_* settings must not leak into the Hub under test.
    for name in list(os.environ):
        if name.startswith("HUB_") and not name.startswith("HUB_TEST_"):
            del os.environ[name]


# -- settings and the app ---------------------------------------------------------------------------


def test_settings(data_dir: Path, **overrides: Any):
    """Settings for a Hub under test: its data in `data_dir`, the test database and Redis from the
    environment, jobs run in process (in a Redis namespace of their own, so no other process on
    the same Redis takes them), fast password hashing (FAST_PASSWORD_HASHING, kept under an
    `auth` override), and `overrides` on top."""
    from core.kernel.settings import load_settings

    database_url = os.environ.get(DATABASE_URL_VARIABLE)
    values: dict[str, Any] = dict(
        env="test",
        data_dir=data_dir,
        database_url=database_url or f"sqlite://{Path(data_dir) / 'hub.sqlite3'}",
        redis_url=os.environ.get(REDIS_URL_VARIABLE),
        secret_key=TEST_SECRET,
        jobs={"run_in_server": True, "namespace": f"hubtest-{uuid.uuid4().hex[:8]}"},
        auth=FAST_PASSWORD_HASHING,
    )
    if "auth" in overrides:
        overrides = {**overrides, "auth": {**FAST_PASSWORD_HASHING, **overrides["auth"]}}
    values.update(overrides)
    return load_settings(**values)


test_settings.__test__ = False  # a helper, not a test


async def reset_postgres(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def hub_settings_overrides() -> dict[str, Any]:
    """Override in your conftest.py to give the Hub under test settings of your own."""
    return {}


@pytest.fixture(scope="session")
def hub_settings(tmp_path_factory, hub_settings_overrides):
    return test_settings(tmp_path_factory.mktemp("hub"), **hub_settings_overrides)


class SettlingTestClient(QuartClient):
    """Quart's test client, which also waits, after each request, until the events the request
    emitted are delivered (they are dispatched after the response; core/events/outbox.py): a
    test reads what handlers, sockets and webhooks did without waiting itself."""

    async def open(self, *args: Any, **kwargs: Any) -> Any:
        response = await super().open(*args, **kwargs)
        await self.app.extensions["hub"].bus.settle()
        return response


@pytest.fixture(scope="session")
def hub_plugins() -> list | None:
    """Override in your conftest.py to load only these plugin modules (or (name, module) pairs)
    next to the core; None loads every installed plugin."""
    return None


@pytest.fixture(scope="session")
async def hub_app(hub_settings, hub_plugins):
    from core.app import create_app

    database_url = os.environ.get(DATABASE_URL_VARIABLE)
    if database_url:
        await reset_postgres(database_url)
    application = create_app(hub_settings, hub_plugins)
    application.test_client_class = SettlingTestClient
    # Quart allows 6 s to start; migrating a fresh database on a busy 2-core machine (CI runs two
    # suites side by side) can take longer, and a slow start is not what any test checks.
    async with TestApp(application, startup_timeout=STARTUP_SECONDS, shutdown_timeout=STARTUP_SECONDS):
        yield application


@pytest.fixture
def hub(hub_app):
    return hub_app.extensions["hub"]


@pytest.fixture
def hub_client(hub_app):
    return hub_app.test_client()


# -- callers ----------------------------------------------------------------------------------------


@dataclass
class Account:
    """A registered user with a logged-in session."""

    email: str
    user_id: str
    org_id: str
    access_token: str
    refresh_token: str
    role: str = "admin"
    extra: dict = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


async def register_and_login(client, email: str | None = None, organization_name: str = "Acme") -> Account:
    """A new organization and its admin, logged in."""
    email = email or unique_email("admin")
    response = await client.post(
        "/api/auth/register",
        json={"email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "Admin",
              "organization_name": organization_name},
    )
    assert response.status_code == 201, await response.get_json()
    return await login(client, email)


async def login(client, email: str, password: str = PASSWORD) -> Account:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    body = await response.get_json()
    assert response.status_code == 200, body
    return Account(email, body["user"]["id"], body["user"]["tenant_id"], body["access_token"],
                   body["refresh_token"], body["user"]["role"])


async def add_member(client, admin: Account, role: str) -> Account:
    """A member of `admin`'s organization with `role`, logged in."""
    email = unique_email(role)
    response = await client.post(
        "/api/v1/tenant/members", headers=admin.headers,
        json={"email": email, "first_name": "Mem", "last_name": "Ber", "role": role, "password": PASSWORD},
    )
    assert response.status_code == 201, await response.get_json()
    return await login(client, email)


async def create_key(client, account: Account, scopes: list[str] | None = None, **extra) -> dict:
    """A new API key of `account` (the creation body: the key itself is `["key"]`)."""
    response = await client.post(
        "/api/v1/keys", headers=account.headers, json={"name": "test key", "scopes": scopes or ["read"], **extra}
    )
    body = await response.get_json()
    assert response.status_code == 201, body
    return body


def assert_error(response_status: int, body: dict, status: int, code: str) -> None:
    """`body` is the Hub's error envelope with this status and code."""
    assert response_status == status, body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code, body
    assert {"code", "message", "details", "request_id", "timestamp"} <= set(error), body


class Api:
    """Requests as one caller (a user's JWT or an API key) through the test client.

        body = await api.get("/api/leads")                        # asserts 200, returns the JSON
        body = await api.call("POST", "/api/things", {...}, status=202)
        response, body = await api.request("GET", "/api/things")  # no assertion
        error = await api.error("PUT", path, {...}, status=404, code="NOT_FOUND")
    """

    def __init__(self, client, headers: dict[str, str], account: Account | None = None) -> None:
        self.client = client
        self.headers = headers
        self.account = account

    @classmethod
    def of(cls, client, account: Account) -> "Api":
        return cls(client, account.headers, account)

    @classmethod
    def with_key(cls, client, key: str, account: Account | None = None, header: str = "X-API-Key") -> "Api":
        # "Authorization": as a bearer token; any other header (X-API-Key, n8n's X-N8N-API-KEY): as is
        headers = {"Authorization": f"Bearer {key}"} if header == "Authorization" else {header: key}
        return cls(client, headers, account)

    @property
    def org_id(self) -> str:
        return self.account.org_id

    async def request(self, method: str, path: str, json: Any = None, **kwargs) -> tuple[Any, Any]:
        kwargs.setdefault("headers", self.headers)
        if json is not None:
            kwargs["json"] = json
        response = await self.client.open(path, method=method.upper(), **kwargs)
        body = await response.get_json() if response.status_code != 204 else None
        return response, body

    async def call(self, method: str, path: str, json: Any = None, *, status: int | None = 200, **kwargs) -> Any:
        response, body = await self.request(method, path, json, **kwargs)
        if status is not None:
            assert response.status_code == status, (method, path, response.status_code, body)
        return body

    async def get(self, path: str, status: int = 200, **kwargs) -> Any:
        return await self.call("GET", path, status=status, **kwargs)

    async def post(self, path: str, json: Any, status: int = 201, **kwargs) -> Any:
        return await self.call("POST", path, json, status=status, **kwargs)

    async def put(self, path: str, json: Any, status: int = 200, **kwargs) -> Any:
        return await self.call("PUT", path, json, status=status, **kwargs)

    async def patch(self, path: str, json: Any, status: int = 200, **kwargs) -> Any:
        return await self.call("PATCH", path, json, status=status, **kwargs)

    async def delete(self, path: str, status: int = 204, **kwargs) -> Any:
        return await self.call("DELETE", path, status=status, **kwargs)

    async def error(self, method: str, path: str, json: Any = None, status: int = 400,
                    code: str = "VALIDATION_ERROR", field: str | None = None) -> dict:
        """The request fails with the envelope, `status` and `code` (and names `field`)."""
        response, body = await self.request(method, path, json)
        assert_error(response.status_code, body, status, code)
        if field is not None:
            assert body["error"]["details"].get("field") == field, body
        return body["error"]

    async def wait_for_job(self, job_id: str, timeout: float = 60.0) -> dict:
        """Poll `GET /api/v1/jobs/{id}` until the job has finished; the job."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            job = await self.get(f"/api/v1/jobs/{job_id}")
            if job["status"] in ("completed", "failed", "cancelled", "timeout"):
                return job
            assert asyncio.get_running_loop().time() < deadline, f"job {job_id} did not finish: {job}"
            await asyncio.sleep(0.05)


@pytest.fixture
async def admin(hub_client) -> Account:
    """The admin of a new organization."""
    return await register_and_login(hub_client)


@pytest.fixture
async def other_admin(hub_client) -> Account:
    """The admin of a second, unrelated organization."""
    return await register_and_login(hub_client, organization_name="Globex")


@pytest.fixture
def member_of(hub_client) -> Callable:
    """`await member_of(admin, "viewer")`: a new, logged-in member of admin's organization."""

    async def make(admin: Account, role: str) -> Account:
        return await add_member(hub_client, admin, role)

    return make


@pytest.fixture
def key_for(hub_client) -> Callable:
    """`await key_for(account, ["read"])`: a new API key of `account` (its creation body)."""

    async def make(account: Account, scopes: list[str] | None = None, **extra) -> dict:
        return await create_key(hub_client, account, scopes, **extra)

    return make


@pytest.fixture
def hub_api_class() -> type[Api]:
    """The class of the `api` fixtures: override it with a subclass that adds your plugin's
    shortcuts (`async def note(self, **fields)` posting a note, ...)."""
    return Api


@pytest.fixture
def api(hub_client, admin, hub_api_class) -> Api:
    """The admin of a new organization, as an Api."""
    return hub_api_class.of(hub_client, admin)


@pytest.fixture
def other_api(hub_client, other_admin, hub_api_class) -> Api:
    """The admin of a second, unrelated organization, as an Api."""
    return hub_api_class.of(hub_client, other_admin)


@pytest.fixture
def api_of(hub_client, admin, hub_api_class) -> Callable:
    """`await api_of(account)`; a new member of admin's organization: `await api_of(role="viewer")`;
    an API key of admin (or of `account`, or of a new member): `await api_of(key=["read"])`."""

    async def make(account: Account | None = None, *, role: str | None = None, key: list[str] | None = None,
                   header: str = "X-API-Key") -> Api:
        owner = account or admin
        if role is not None:
            owner = await add_member(hub_client, owner, role)
        if key is None:
            return hub_api_class.of(hub_client, owner)
        created = await create_key(hub_client, owner, key)
        return hub_api_class.with_key(hub_client, created["key"], owner, header)

    return make


# -- events -------------------------------------------------------------------------------------------


def plugin_module(name: str, **hooks: Any) -> types.ModuleType:
    """A throw-away plugin made of the hook functions given (register it with hub.manager)."""
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, function)
    return module


@dataclass
class EventRecorder:
    """Events received by a real plugin's `hub_on_event`, registered for one test."""

    events: list = field(default_factory=list)

    def of(self, org_id: Any, event_type: str | None = None) -> list:
        return [e for e in self.events
                if e.org_id == str(org_id) and (event_type is None or e.type == event_type)]

    def types(self, org_id: Any) -> list[str]:
        return [e.type for e in self.of(org_id)]

    async def wait_for(self, org_id: Any, event_type: str, timeout: float = WAIT_SECONDS, count: int = 1) -> Any:
        """The first event of this type and organization, waiting until `count` of them have
        arrived if need be (events are delivered one by one after their commits)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(found := self.of(org_id, event_type)) < count:
            assert asyncio.get_running_loop().time() < deadline, \
                f"{len(found)} of {count} {event_type} events: {self.types(org_id)}"
            await asyncio.sleep(0.02)
        return found[0]


@pytest.fixture
def events(hub) -> EventRecorder:
    """Every event emitted while the test runs (for every organization where the recording
    plugin is enabled, which is every organization)."""
    recorder = EventRecorder()

    async def hub_on_event(event):
        recorder.events.append(event)

    module = plugin_module("test_event_recorder", hub_on_event=hub_on_event)
    hub.manager.register(module, name="test_event_recorder")
    try:
        yield recorder
    finally:
        hub.manager.unregister(module)


class AnyPayload(BaseModel):
    model_config = ConfigDict(extra="allow")


@pytest.fixture
def event_types(hub) -> Callable:
    """`event_types("thing.updated", permission=None)`: event types that exist for one test, with
    payloads of any shape (for tests of the event machinery rather than of a plugin)."""
    from core.events.catalogue import EventType

    added: list[str] = []

    def register(*names: str, permission: str | None = None) -> None:
        for name in names:
            hub.bus.catalogue.add(EventType(name, AnyPayload, f"test event {name}", "tests", permission))
            added.append(name)

    yield register
    for name in added:
        hub.bus.catalogue.types.pop(name, None)


# -- WebSockets ---------------------------------------------------------------------------------------


@pytest.fixture
def plan_limits(hub) -> Callable:
    """`await plan_limits(org_id, {"concurrent_jobs.x": 3}, ai_tokens=0)`: the organization gets a
    plan of its own whose limits (`hub_plan_limits`, as a plugin such as billing gives them) are
    these; later calls for the same organization add to them. Undone after the test."""
    from core.tenancy.models import Organization

    by_plan: dict[str, dict[str, int]] = {}
    module = types.ModuleType(f"test_plan_limits_{uuid.uuid4().hex[:8]}")
    module.hub_plan_limits = lambda plan: dict(by_plan[plan]) if plan in by_plan else None
    hub.manager.register(module, name=module.__name__)

    async def set_limits(org_id: Any, limits: dict[str, int] | None = None, **more: int) -> None:
        plan = f"test-{org_id}"[:32]
        by_plan.setdefault(plan, {}).update(limits or {}, **more)
        await Organization.filter(id=org_id).update(plan=plan)
        await hub.tenants.invalidate(org_id)

    yield set_limits
    hub.manager.unregister(module)


class WebSocketClient:
    """One socket of the test client: `await socket.event("note.created")` skips pings and
    other events until that one arrives (bounded by WAIT_SECONDS)."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.hello: dict | None = None

    async def receive(self, timeout: float = WAIT_SECONDS) -> dict:
        """The next message that is not a server ping."""
        while True:
            message = json.loads(await asyncio.wait_for(self.connection.receive(), timeout))
            if message.get("type") != "ping":
                return message

    async def send(self, message: dict) -> None:
        await self.connection.send(json.dumps(message))

    async def event(self, event_type: str, timeout: float = WAIT_SECONDS) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"no {event_type} message on the socket"
            message = await self.receive(remaining)
            if message.get("type") == event_type:
                return message


@pytest.fixture
def ws(hub_client) -> Callable:
    """`async with ws(account, "/ws") as socket:` an authenticated socket whose "connected"
    message has been read (`socket.hello`)."""

    @asynccontextmanager
    async def connect(account: Account, path: str = "/ws") -> AsyncIterator[WebSocketClient]:
        async with hub_client.websocket(path, headers=account.headers) as connection:
            socket = WebSocketClient(connection)
            socket.hello = await socket.receive()
            assert socket.hello["type"] == "connected", socket.hello
            yield socket

    return connect


# -- tenant isolation ---------------------------------------------------------------------------------


@pytest.fixture
def assert_isolated() -> Callable:
    """`await assert_isolated(owner, intruder, path, body=...)`: the intruder (another
    organization's Api) gets the 404 envelope for GET, PUT, PATCH and DELETE on the owner's
    resource (for the methods the route has), exactly as for an unknown id, and the owner still
    reads the resource unchanged."""

    async def check(owner: Api, intruder: Api, path: str, body: Any = None,
                    methods: tuple[str, ...] = ("GET", "PUT", "PATCH", "DELETE")) -> None:
        before = await owner.get(path)
        for method in methods:
            response, answer = await intruder.request(method, path, body if method in ("PUT", "PATCH") else None)
            if response.status_code == 405:
                continue  # the route has no such method
            assert_error(response.status_code, answer, 404, "NOT_FOUND")
        assert await owner.get(path) == before, "another organization's request changed the resource"

    return check

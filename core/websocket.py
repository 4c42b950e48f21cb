"""The WebSocket gateway: events pushed to browsers and services as they happen.

Sockets
    /ws                  every event of the caller's organization (seed 004 "WebSocket Events")
    /ws/notifications    notification and announcement events only (seed 001)
    plugin topic sockets a plugin's own websocket route calls `serve_topic(...)` (seed 001's
                         /ws/executions/{id}, collaboration sockets)

Authentication (one of, checked in this order)
    `Authorization: Bearer <JWT or API key>` or `X-API-Key: <key>` on the upgrade request;
    `?token=<JWT or API key>` in the URL (handy for browsers, but URLs end up in logs);
    a first message `{"type": "auth", "token": "..."}` within `websocket.auth_timeout_seconds`.
    The socket is accepted first, so every refusal is a message plus a close code that any
    client (including a browser) can read: `{"type": "error", "error": {code, message,
    details, request_id, timestamp}}` (the Hub's error envelope; request_id is the
    connection's id), then the close code below. On success the server sends
    `{"type": "connected", "data": {"connection_id", "user_id", "org_id", "node", "events"},
    "timestamp"}`; events emitted after that message are delivered.

Delivery rule (who gets an event)
    An event emitted with `core.events.emit(org_id, type, data)` reaches a socket only if
    1. the socket's principal belongs to `org_id`;
    2. the principal holds `events.read` (viewers do; an API key needs a scope that grants it),
       and every permission that `restrict_events(pattern, permission)` attached to the
       event's type (e.g. "lead.*" -> "crm.leads.read");
    3. if `data` carries a non-null `user_id`, the principal is that user (API keys act as
       their creator);
    4. the socket's topic accepts it: /ws takes every type, /ws/notifications the types
       NOTIFICATION_TYPES, a plugin topic its `types` and `match` (equal `data` fields); and
       the client's own filter, set with `{"type": "subscribe", "events": ["lead.*", ...]}`.
    The message is `event.to_message()`: `{"type", "data", "timestamp"}`.
    Credentials are re-checked at every keep-alive ping: a revoked token, a removed user or
    key, or an expired JWT closes the socket (4401); losing `events.read` closes it (4403).
    Send `{"type": "auth", "token": "<new JWT>"}` before expiry to renew: the answer is
    `{"type": "authenticated"}`, or an error message (the socket keeps its current token);
    a token of another user closes the socket (4403).

Keep-alive
    The client may send `{"type": "ping"}` at any time and gets `{"type": "pong", "timestamp"}`.
    Every `ping_interval_seconds` the server sends `{"type": "ping", "timestamp"}`; a client
    must then send something (normally `{"type": "pong"}`) within `pong_timeout_seconds`, or
    the socket is taken for dead and closed with 4408.

Close codes
    4401 authentication failed, expired or revoked     4403 not allowed (events.read, topic)
    4404 topic not found / plugin off for the org        4408 keep-alive timeout
    4429 connection limit of the organization's plan     1009 client message too large
    1013 client too slow (its send queue is full)        1011 server error
    A stopping server closes what is still open after hypercorn's graceful timeout (1011 or
    1001): clients should reconnect with back-off on any close they did not ask for.

Connection limits
    Open sockets per organization, by `Organization.plan`: `[websocket.connection_limits]`
    (seed 004: free/starter 5, pro 25, enterprise 100), or a plugin's `hub_plan_limits(plan)`
    entry `"websocket_connections"`, which wins. With Redis they are counted across every
    process in a hash per organization (one field per socket, holding a lease that each
    process renews every LEASE_RENEW_SECONDS, so a killed process's sockets free themselves
    within LEASE_SECONDS); without Redis, per process. If Redis fails during the check the
    socket is let in (fail open) and the failure is logged and counted.

Across processes
    With Redis, every event is published on one channel (CHANNEL, per Redis database number)
    and each process runs one subscriber (started before serving, stopped after) that
    delivers to its own sockets. All events take that path, so every socket sees the events
    of an organization in the order they were published, whichever process emitted them.
    If publishing fails the event still reaches the emitting process's sockets; events
    published while a subscriber reconnects to Redis are lost to its sockets (no replay).
    Without Redis events stay in the emitting process: run one process, or configure Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import decimal
import fnmatch
import inspect
import json
import logging
import time
import uuid
from typing import Any, Awaitable, Callable, Iterable

import redis.asyncio as redis
from quart import websocket

from core.errors import HubError, register_error_code, utcnow_iso

log = logging.getLogger("hub.websocket")

CHANNEL = "hub:ws:events:{db}"  # pub/sub ignores database numbers; the name keeps them apart
SLOTS_KEY = "hub:ws:conns:{org_id}"
LEASE_SECONDS = 30.0
LEASE_RENEW_SECONDS = 10.0
EVENTS_PERMISSION = "events.read"
NOTIFICATION_TYPES = ("notification", "notification.*", "announcement", "announcement.*")

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
CLOSE_TOO_SLOW = 1013
CLOSE_KEEPALIVE = 4408

register_error_code("CONNECTION_LIMIT_EXCEEDED", 429)
register_error_code("KEEPALIVE_TIMEOUT", 408)


def close_code_for(error: HubError) -> int:
    """4000 + the HTTP status of the error (4401, 4403, 4404, 4429, ...); 1009 for too large."""
    if error.status == 413:
        return CLOSE_TOO_BIG
    if 400 <= error.status < 500:
        return 4000 + error.status
    return CLOSE_SERVER_ERROR


def _json_default(value: Any) -> Any:
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def _message(kind: str, data: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"type": kind}
    if data is not None:
        body["data"] = data
    body["timestamp"] = utcnow_iso()
    return encode(body)


def error_message(error: HubError, request_id: str | None = None) -> str:
    return encode({
        "type": "error",
        "error": {
            "code": error.code,
            "message": error.message,
            "details": error.details,
            "request_id": request_id,
            "timestamp": utcnow_iso(),
        },
    })


# -- topics ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Topic:
    """What a socket is about: event types (fnmatch patterns) and `data` fields that must
    equal given values (compared as strings), e.g. Topic.of(["execution.*"], {"execution_id": id})."""

    types: tuple[str, ...] = ("*",)
    match: tuple[tuple[str, str], ...] = ()
    name: str = "events"

    @classmethod
    def of(cls, types: Iterable[str] = ("*",), match: dict[str, Any] | None = None, name: str = "topic") -> Topic:
        return cls(tuple(types), tuple((key, str(value)) for key, value in (match or {}).items()), name)

    def accepts(self, event_type: str, data: Any) -> bool:
        if not _matches_any(event_type, self.types):
            return False
        if self.match:
            if not isinstance(data, dict):
                return False
            for key, expected in self.match:
                if key not in data or data[key] is None or str(data[key]) != expected:
                    return False
        return True


EVENTS = Topic(("*",), (), "events")
NOTIFICATIONS = Topic(NOTIFICATION_TYPES, (), "notifications")


def _matches_any(event_type: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == event_type or fnmatch.fnmatchcase(event_type, pattern):
            return True
    return False


# -- one socket ------------------------------------------------------------------------------


class Connection:
    """One authenticated socket, registered with the gateway while it is open."""

    def __init__(
        self, gateway: Gateway, principal: Any, credential: str, topic: Topic, permission: str = EVENTS_PERMISSION
    ) -> None:
        self.id = uuid.uuid4().hex
        self.permission = permission  # needed to keep the socket (re-checked at each keep-alive)
        self.gateway = gateway
        self.principal = principal
        self.credential = credential
        self.org_id = str(principal.org_id)
        self.user_id = str(principal.user_id)
        self.topic = topic
        self.filters: tuple[str, ...] = ("*",)
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=gateway.settings.send_queue_size)
        self.seen = asyncio.Event()  # set by every client message (keep-alive)
        self.closing = asyncio.Event()
        self.close_code = CLOSE_NORMAL
        self.close_error: HubError | None = None
        self.delivered = 0

    def wants(self, event_type: str, data: Any) -> bool:
        if isinstance(data, dict):
            owner = data.get("user_id")
            if owner is not None and str(owner) != self.user_id:
                return False
        for pattern, permission in self.gateway.restrictions:
            if fnmatch.fnmatchcase(event_type, pattern) and not self.principal.can(permission):
                return False
        return self.topic.accepts(event_type, data) and _matches_any(event_type, self.filters)

    def push(self, text: str) -> None:
        if self.closing.is_set():
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.gateway.stats["slow_consumers_closed"] += 1
            self.close(CLOSE_TOO_SLOW)

    def close(self, code: int, error: HubError | None = None) -> None:
        if not self.closing.is_set():
            self.close_code, self.close_error = code, error
            self.closing.set()


# -- counting sockets per organization -----------------------------------------------------


class MemorySlots:
    """Sockets per organization in this process."""

    def __init__(self) -> None:
        self.by_org: dict[str, set[str]] = {}

    async def acquire(self, org_id: str, connection_id: str, limit: int) -> tuple[bool, int]:
        held = self.by_org.setdefault(org_id, set())
        if len(held) >= limit:
            return False, len(held)
        held.add(connection_id)
        return True, len(held)

    async def release(self, org_id: str, connection_id: str) -> None:
        held = self.by_org.get(org_id)
        if held is not None:
            held.discard(connection_id)
            if not held:
                del self.by_org[org_id]

    async def renew(self, held: dict[str, list[str]]) -> None:
        return None

    async def count(self, org_id: str) -> int:
        return len(self.by_org.get(org_id, ()))


_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entries = redis.call('HGETALL', KEYS[1])
local live = 0
for i = 1, #entries, 2 do
  if tonumber(entries[i + 1]) < now then
    redis.call('HDEL', KEYS[1], entries[i])
  elseif entries[i] ~= ARGV[1] then
    live = live + 1
  end
end
if live >= tonumber(ARGV[2]) then
  return {0, live}
end
redis.call('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return {1, live + 1}
"""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  redis.call('HSET', KEYS[1], ARGV[i], now + tonumber(ARGV[1]))
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return #ARGV - 1
"""

_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entries = redis.call('HGETALL', KEYS[1])
local live = 0
for i = 2, #entries, 2 do
  if tonumber(entries[i]) >= now then live = live + 1 end
end
return live
"""


class RedisSlots:
    """Sockets per organization across processes: a hash per organization whose fields are
    socket ids and values lease expiries (Redis server time, ms); expired leases are dropped
    when counting, so the sockets of a killed process stop counting after LEASE_SECONDS."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.acquire_script = client.register_script(_ACQUIRE)
        self.renew_script = client.register_script(_RENEW)
        self.count_script = client.register_script(_COUNT)
        self.lease_ms = int(LEASE_SECONDS * 1000)

    async def acquire(self, org_id: str, connection_id: str, limit: int) -> tuple[bool, int]:
        ok, count = await self.acquire_script(
            keys=[SLOTS_KEY.format(org_id=org_id)], args=[connection_id, limit, self.lease_ms]
        )
        return bool(ok), int(count)

    async def release(self, org_id: str, connection_id: str) -> None:
        await self.client.hdel(SLOTS_KEY.format(org_id=org_id), connection_id)

    async def renew(self, held: dict[str, list[str]]) -> None:
        if not held:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for org_id, connection_ids in held.items():
                await self.renew_script(
                    keys=[SLOTS_KEY.format(org_id=org_id)], args=[self.lease_ms, *connection_ids], client=pipe
                )
            await pipe.execute()

    async def count(self, org_id: str) -> int:
        return int(await self.count_script(keys=[SLOTS_KEY.format(org_id=org_id)]))


# -- the gateway -----------------------------------------------------------------------------


class Gateway:
    """One per app: the sockets of this process, the event sink, the Redis subscriber."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.settings = hub.settings.websocket
        self.node = uuid.uuid4().hex[:12]  # this process, as seen by clients and the channel
        self.by_org: dict[str, set[Connection]] = {}
        self.restrictions: list[tuple[str, str]] = []
        self.slots: MemorySlots | RedisSlots = MemorySlots()
        self.redis: Any = None
        self._pubsub: Any = None
        self.channel = CHANNEL.format(db=0)
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self.stats: dict[str, int] = {
            "accepted": 0, "rejected": 0, "closed": 0, "events": 0, "remote_events": 0,
            "messages_delivered": 0, "slow_consumers_closed": 0, "keepalive_closed": 0,
            "publish_failures": 0, "subscriber_errors": 0, "slot_failures": 0,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        url = self.hub.settings.redis_url
        if not url:
            return
        # The gateway keeps its own client: a subscriber holds one connection for good.
        self.redis = redis.from_url(
            url, socket_connect_timeout=2, health_check_interval=30, client_name=f"hub-ws-{self.node}"
        )
        self.channel = CHANNEL.format(db=self.redis.connection_pool.connection_kwargs.get("db", 0))
        self.slots = RedisSlots(self.redis)
        try:
            await self._subscribe()
        except Exception:  # Redis down at start: serve anyway; the subscriber keeps retrying
            self.stats["subscriber_errors"] += 1
            log.exception("WebSocket gateway cannot subscribe to Redis yet; events stay in this process until it can")
            self._pubsub = None
        self._tasks = [
            asyncio.create_task(self._listen(), name="hub-ws-subscriber"),
            asyncio.create_task(self._renew_leases(), name="hub-ws-leases"),
        ]

    async def stop(self) -> None:
        for connection in self.connections():
            connection.close(CLOSE_GOING_AWAY)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []
        if self._background:  # releases of sockets that just closed
            await asyncio.gather(*tuple(self._background), return_exceptions=True)
        if self.redis is not None:
            held = self._held()
            try:
                if held:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for org_id, ids in held.items():
                            pipe.hdel(SLOTS_KEY.format(org_id=org_id), *ids)
                        await pipe.execute()
            except Exception:
                log.warning("could not release %d WebSocket slots in Redis", sum(map(len, held.values())))
            if self._pubsub is not None:
                try:
                    await self._pubsub.aclose()
                except Exception:
                    pass
            await self.redis.aclose()
            self.redis = None
            self.slots = MemorySlots()

    async def _subscribe(self) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=False)
        try:
            await pubsub.subscribe(self.channel)
            # Wait for Redis to confirm, so events published from now on reach this process.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                message = await pubsub.get_message(timeout=1.0)
                if message is not None and message["type"] == "subscribe":
                    self._pubsub = pubsub
                    return
            raise RuntimeError(f"Redis did not confirm the subscription to {self.channel}")
        except BaseException:
            try:
                await pubsub.aclose()
            except Exception:
                pass
            raise

    async def _listen(self) -> None:
        backoff = 0.5
        while True:
            try:
                if self._pubsub is None:
                    await self._subscribe()
                    log.info("WebSocket event subscriber (re)subscribed to %s", self.channel)
                async for message in self._pubsub.listen():
                    backoff = 0.5
                    if message["type"] == "message":
                        self._on_published(message["data"])
                problem = "subscription ended"
            except asyncio.CancelledError:
                raise
            except Exception as error:
                problem = f"{type(error).__name__}: {error}"
            self.stats["subscriber_errors"] += 1
            log.warning("WebSocket event subscriber lost Redis (%s); resubscribing in %.1fs", problem, backoff)
            try:
                if self._pubsub is not None:
                    await self._pubsub.aclose()
            except Exception:
                pass
            self._pubsub = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(LEASE_RENEW_SECONDS)
            try:
                await self.slots.renew(self._held())
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats["slot_failures"] += 1
                log.warning("could not renew WebSocket connection leases in Redis", exc_info=True)

    def _held(self) -> dict[str, list[str]]:
        return {org_id: [c.id for c in conns] for org_id, conns in self.by_org.items() if conns}

    def connections(self) -> list[Connection]:
        return [c for conns in self.by_org.values() for c in conns]

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- events ------------------------------------------------------------------------------

    async def sink(self, event: Any) -> None:
        """`core.events.emit` calls this with every event (registered in hub.event_sinks)."""
        self.stats["events"] += 1
        text = encode(event.to_message())
        if self.redis is not None:
            try:
                await self.redis.publish(self.channel, f"{self.node}\n{event.org_id}\n{text}")
                if self._pubsub is not None:
                    return  # delivered to this process's sockets by the subscriber, in order
            except Exception as error:
                self.stats["publish_failures"] += 1
                log.warning("could not publish event %s to Redis (%s); delivering locally only", event.type, error)
        self.dispatch(event.org_id, event.type, event.data, text)

    def _on_published(self, payload: bytes | str) -> None:
        if isinstance(payload, bytes):
            payload = payload.decode("utf-8")
        try:
            origin, org_id, text = payload.split("\n", 2)
        except ValueError:
            return
        if origin != self.node:
            self.stats["remote_events"] += 1
        if org_id not in self.by_org:
            return  # no socket of that organization here: skip the parsing
        try:
            message = json.loads(text)
            self.dispatch(org_id, message["type"], message.get("data"), text)
        except Exception:
            log.exception("bad event on %s", self.channel)

    def dispatch(self, org_id: Any, event_type: str, data: Any, text: str) -> int:
        """Queue `text` on every socket of `org_id` that may and wants to see the event."""
        sent = 0
        for connection in tuple(self.by_org.get(str(org_id), ())):
            if connection.wants(event_type, data):
                connection.push(text)
                sent += 1
        return sent

    def restrict(self, pattern: str, permission: str) -> None:
        """Events whose type matches `pattern` only reach principals holding `permission`."""
        if permission not in self.hub.permissions.permissions:
            raise ValueError(f"unknown permission {permission!r}")
        self.restrictions.append((pattern, permission))

    # -- sockets -----------------------------------------------------------------------------

    async def connection_limit(self, org_id: Any) -> tuple[str, int]:
        from core.models import Organization
        from core.plugins import call_each

        plan = await Organization.filter(id=org_id).first().values_list("plan", flat=True) or ""
        limit = self.settings.connection_limits.get(plan, self.settings.default_connection_limit)
        for _, result in call_each(self.hub.manager, "hub_plan_limits", plan=plan):
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, dict) and result.get("websocket_connections") is not None:
                limit = int(result["websocket_connections"])
        return plan, limit

    async def open(self, connection: Connection) -> None:
        plan, limit = await self.connection_limit(connection.org_id)
        try:
            ok, count = await self.slots.acquire(connection.org_id, connection.id, limit)
        except Exception:
            self.stats["slot_failures"] += 1
            log.warning("could not count WebSocket connections in Redis; letting the socket in", exc_info=True)
            ok, count = True, 0
        if not ok:
            raise HubError(
                "CONNECTION_LIMIT_EXCEEDED",
                f"The organization already has {count} open WebSocket connections; its plan allows {limit}",
                {"limit": limit, "plan": plan, "open": count},
            )
        self.by_org.setdefault(connection.org_id, set()).add(connection)
        self.stats["accepted"] += 1

    def close(self, connection: Connection) -> None:
        conns = self.by_org.get(connection.org_id)
        if conns is not None and connection in conns:
            conns.discard(connection)
            if not conns:
                del self.by_org[connection.org_id]
            self.stats["closed"] += 1
            self._spawn(self._release(connection))

    async def _release(self, connection: Connection) -> None:
        try:
            await self.slots.release(connection.org_id, connection.id)
        except Exception:
            self.stats["slot_failures"] += 1
            log.warning("could not release a WebSocket slot (it expires in %ss)", LEASE_SECONDS)


def gateway_of(app_or_hub: Any) -> Gateway:
    hub = app_or_hub.extensions["hub"] if "hub" in getattr(app_or_hub, "extensions", {}) else app_or_hub
    return hub.extensions["websocket"]


def current_gateway() -> Gateway:
    from core.state import current_hub

    return current_hub().extensions["websocket"]


def restrict_events(app_or_hub: Any, pattern: str, permission: str) -> None:
    """Let only holders of `permission` receive events whose type matches `pattern`, e.g.
    from a plugin's `hub_startup(app)`: `restrict_events(app, "lead.*", "crm.leads.read")`."""
    gateway_of(app_or_hub).restrict(pattern, permission)


def install(app: Any, hub: Any) -> None:
    """Subscribe the gateway to events (hub.event_sinks) and start Redis pub/sub if configured."""
    gateway = Gateway(hub)
    hub.extensions["websocket"] = gateway
    hub.event_sinks.append(gateway.sink)

    @app.before_serving
    async def _start_websocket_gateway() -> None:
        await gateway.start()

    @app.after_serving
    async def _stop_websocket_gateway() -> None:
        await gateway.stop()


# -- serving one socket --------------------------------------------------------------------


async def serve_topic(
    match: dict[str, Any] | None = None,
    *,
    types: Iterable[str] = ("*",),
    authorize: Callable[[Any], Any] | None = None,
    permission: str = EVENTS_PERMISSION,
    name: str = "topic",
) -> None:
    """Serve the current websocket as a topic socket: after authentication, `authorize`,
    and the connection limit, stream the organization's events whose type matches `types`
    and whose `data` fields equal `match`. Use it from a plugin's websocket route:

        @bp.websocket("/ws/executions/<execution_id>")
        @public                                   # the socket authenticates itself
        async def execution_socket(execution_id):
            async def authorize(principal):       # False -> 4404; or raise HubError
                return await Execution.filter(org_id=principal.org_id, id=execution_id).exists()
            await serve_topic({"execution_id": execution_id}, types=["execution.*"], authorize=authorize)

    `authorize(principal)` may be sync or async; returning False closes with NOT_FOUND
    (4404, like a foreign id over HTTP); raising HubError closes with 4000 + its status.
    """
    await serve(Topic.of(types, match, name), authorize=authorize, permission=permission)


async def serve(
    topic: Topic = EVENTS,
    *,
    authorize: Callable[[Any], Any] | None = None,
    permission: str = EVENTS_PERMISSION,
) -> None:
    """Run the current websocket until it closes (see the module docstring for the protocol)."""
    gateway = current_gateway()
    socket = websocket._get_current_object()
    connection_id = uuid.uuid4().hex
    await socket.accept()
    try:
        principal, credential = await _authenticate(gateway, socket)
        if not principal.can(permission):
            raise HubError("FORBIDDEN", "Insufficient permissions", {"permission": permission, "role": principal.role})
        await _check_plugin_enabled(gateway, socket, principal)
        if authorize is not None:
            allowed = authorize(principal)
            if inspect.isawaitable(allowed):
                allowed = await allowed
            if allowed is False:
                raise HubError("NOT_FOUND", "Topic not found")
        connection = Connection(gateway, principal, credential, topic, permission)
        connection.id = connection_id
        await gateway.open(connection)
    except HubError as error:
        gateway.stats["rejected"] += 1
        await _refuse(socket, error, connection_id)
        return
    except Exception:
        gateway.stats["rejected"] += 1
        log.exception("WebSocket connection %s failed while opening", connection_id)
        await _refuse(socket, HubError("INTERNAL_ERROR", "Internal server error"), connection_id)
        return
    try:
        connection.push(_message("connected", {
            "connection_id": connection.id, "user_id": connection.user_id, "org_id": connection.org_id,
            "node": gateway.node, "topic": topic.name, "events": list(connection.filters),
        }))
        await _run(gateway, socket, connection)
    finally:  # also when the client goes away (Quart cancels the handler)
        gateway.close(connection)


async def _refuse(socket: Any, error: HubError, connection_id: str) -> None:
    try:
        await socket.send(error_message(error, connection_id))
        await socket.close(close_code_for(error), _reason(error.message))
    except asyncio.CancelledError:
        raise
    except Exception:
        pass


async def _authenticate(gateway: Gateway, socket: Any) -> tuple[Any, str]:
    from core.auth import credentials_from_headers, principal_from_credential

    credential = credentials_from_headers(socket.headers) or (socket.args.get("token") or "").strip() or None
    if credential is None:
        timeout = gateway.settings.auth_timeout_seconds
        try:
            raw = await asyncio.wait_for(socket.receive(), timeout)
        except asyncio.TimeoutError:
            raise HubError(
                "AUTHENTICATION_FAILED",
                f"Authentication required: send a token within {timeout:g} s",
                {"hint": 'Authorization header, ?token=, or {"type": "auth", "token": "..."}'},
            ) from None
        credential = _auth_token(raw, gateway.settings.max_message_bytes)
    return await principal_from_credential(credential), credential


def _auth_token(raw: str | bytes, max_bytes: int) -> str:
    try:
        message = _parse(raw, max_bytes)
    except HubError as error:
        if error.code != "VALIDATION_ERROR":
            raise
        message = None
    token = message.get("token") if isinstance(message, dict) else None
    if not isinstance(message, dict) or message.get("type") != "auth" or not isinstance(token, str) or not token.strip():
        raise HubError(
            "AUTHENTICATION_FAILED", "Authentication required",
            {"field": "token", "reason": 'the first message must be {"type": "auth", "token": "..."}'},
        )
    return token.strip()


def _parse(raw: str | bytes, max_bytes: int) -> Any:
    if len(raw) > max_bytes:
        raise HubError("PAYLOAD_TOO_LARGE", f"Messages are limited to {max_bytes} bytes", {"limit": max_bytes})
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise HubError("VALIDATION_ERROR", "Malformed JSON message", {"field": "message", "reason": str(error)}) from None


async def _check_plugin_enabled(gateway: Gateway, socket: Any, principal: Any) -> None:
    owner = gateway.hub.blueprint_owner.get(socket.blueprint or "")
    if owner and not await gateway.hub.plugin_enabled_for(principal.org_id, owner):
        raise HubError("NOT_FOUND", "The requested URL not found")


async def _run(gateway: Gateway, socket: Any, connection: Connection) -> None:
    tasks = [
        asyncio.create_task(_write(gateway, socket, connection)),
        asyncio.create_task(_read(gateway, socket, connection)),
        asyncio.create_task(_keep_alive(gateway, connection)),
    ]
    closing = asyncio.create_task(connection.closing.wait())
    try:
        done, _ = await asyncio.wait([*tasks, closing], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not closing and not task.cancelled() and task.exception() is not None:
                error = task.exception()
                if not isinstance(error, _Disconnected):
                    log.error("WebSocket connection %s failed", connection.id, exc_info=error)
                    connection.close(CLOSE_SERVER_ERROR, HubError("INTERNAL_ERROR", "Internal server error"))
                else:
                    connection.close(CLOSE_GOING_AWAY)
    finally:
        for task in (*tasks, closing):
            task.cancel()
        await asyncio.gather(*tasks, closing, return_exceptions=True)
    code, error = connection.close_code, connection.close_error
    try:
        if error is not None:
            await socket.send(error_message(error, connection.id))
        await socket.close(code, _reason(error.message if error else ""))
    except asyncio.CancelledError:
        raise
    except Exception:
        pass


class _Disconnected(Exception):
    pass


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    return text.encode("utf-8")[:120].decode("utf-8", "ignore")


async def _write(gateway: Gateway, socket: Any, connection: Connection) -> None:
    queue, stats = connection.queue, gateway.stats
    while True:
        text = await queue.get()
        try:
            await socket.send(text)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise _Disconnected() from error
        connection.delivered += 1
        stats["messages_delivered"] += 1


async def _read(gateway: Gateway, socket: Any, connection: Connection) -> None:
    settings = gateway.settings
    while True:
        raw = await socket.receive()
        connection.seen.set()
        try:
            message = _parse(raw, settings.max_message_bytes)
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                raise HubError("VALIDATION_ERROR", "A message is a JSON object with a string `type`", {"field": "type", "reason": "required"})
            kind = message["type"]
            if kind == "ping":
                connection.push(_message("pong"))
            elif kind == "pong":
                pass
            elif kind == "auth":
                try:
                    await _renew(connection, _auth_token(raw, settings.max_message_bytes))
                except HubError as error:
                    if error.status != 401:
                        raise
                    # a failed renewal is reported; the socket keeps its current credential
                    connection.push(error_message(error, connection.id))
            elif kind == "subscribe":
                connection.filters = _filters(message.get("events"))
                connection.push(_message("subscribed", {"events": list(connection.filters)}))
            else:
                raise HubError(
                    "VALIDATION_ERROR", f"Unknown message type {kind!r}",
                    {"field": "type", "reason": "expected ping, pong, auth or subscribe"},
                )
        except HubError as error:
            if error.code == "PAYLOAD_TOO_LARGE":
                connection.close(CLOSE_TOO_BIG, error)
                return
            if error.status in (401, 403):
                connection.close(close_code_for(error), error)
                return
            connection.push(error_message(error, connection.id))  # a bad message is not fatal


def _filters(events: Any) -> tuple[str, ...]:
    if isinstance(events, str):
        events = [events]
    if (
        not isinstance(events, list) or not events or len(events) > 100
        or not all(isinstance(e, str) and 0 < len(e) <= 200 for e in events)
    ):
        raise HubError(
            "VALIDATION_ERROR", "`events` must be a list of event types or patterns",
            {"field": "events", "reason": "a non-empty list of up to 100 strings such as \"lead.*\""},
        )
    return tuple(events)


async def _renew(connection: Connection, credential: str) -> None:
    from core.auth import principal_from_credential

    principal = await principal_from_credential(credential)
    if str(principal.user_id) != connection.user_id or str(principal.org_id) != connection.org_id:
        raise HubError("FORBIDDEN", "A socket cannot change its user", {"field": "token"})
    connection.principal, connection.credential = principal, credential
    connection.push(_message("authenticated", {"user_id": connection.user_id, "org_id": connection.org_id}))


async def _revalidate(connection: Connection) -> None:
    """At each keep-alive: the credential still valid, the principal still allowed."""
    from core.auth import principal_from_credential

    try:
        principal = await principal_from_credential(connection.credential)
    except HubError as error:
        connection.close(close_code_for(error), error)
        return
    except Exception:
        log.warning("could not re-check the credentials of WebSocket %s", connection.id, exc_info=True)
        return  # a database hiccup is not the client's fault
    if not principal.can(connection.permission):
        connection.close(4403, HubError("FORBIDDEN", "Insufficient permissions", {"permission": connection.permission}))
        return
    connection.principal = principal


async def _keep_alive(gateway: Gateway, connection: Connection) -> None:
    settings = gateway.settings
    while True:
        await asyncio.sleep(settings.ping_interval_seconds)
        await _revalidate(connection)
        if connection.closing.is_set():
            return
        connection.seen.clear()
        connection.push(_message("ping"))
        try:
            await asyncio.wait_for(connection.seen.wait(), settings.pong_timeout_seconds)
        except asyncio.TimeoutError:
            gateway.stats["keepalive_closed"] += 1
            connection.close(
                CLOSE_KEEPALIVE,
                HubError("KEEPALIVE_TIMEOUT", f"No answer to ping within {settings.pong_timeout_seconds:g} s"),
            )
            return


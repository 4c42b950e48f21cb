"""The gateway: the sockets of this process, the event sink, and the Redis subscriber that
brings other processes' events (protocol and delivery rule: core/events/websocket/__init__.py)."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import time
import uuid
from typing import Any, Awaitable, Callable

import redis.asyncio as redis

from core.events.websocket.protocol import CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_TOO_SLOW, EVENTS_PERMISSION, encode
from core.events.websocket.slots import LEASE_RENEW_SECONDS, LEASE_SECONDS, SLOTS_KEY, MemorySlots, RedisSlots
from core.events.websocket.topics import Topic, matches_any
from core.kernel.errors import HubError
from core.kernel.hub import current_hub

log = logging.getLogger("hub.websocket")

CHANNEL = "hub:ws:events:{db}"  # pub/sub ignores database numbers; the name keeps them apart

class Connection:
    """One authenticated socket, registered with the gateway while it is open."""

    def __init__(
        self, gateway: Gateway, principal: Any, credential: str, topic: Topic, permission: str = EVENTS_PERMISSION
    ) -> None:
        self.id = uuid.uuid4().hex
        # A topic socket's handler of the client's own messages (serve_topic's on_message)
        self.on_message: Callable[[Any, dict, Callable[[dict], None]], Awaitable[None]] | None = None
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
        registered = self.gateway.catalogue.types.get(event_type)
        if registered is not None and registered.permission and not self.principal.can(registered.permission):
            return False
        for pattern, permission in self.gateway.restrictions:
            if fnmatch.fnmatchcase(event_type, pattern) and not self.principal.can(permission):
                return False
        return self.topic.accepts(event_type, data) and matches_any(event_type, self.filters)

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


class Gateway:
    """One per app: the sockets of this process, the event sink, the Redis subscriber."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.settings = hub.settings.websocket
        self.node = uuid.uuid4().hex[:12]  # this process, as seen by clients and the channel
        self.by_org: dict[str, set[Connection]] = {}
        # Who may receive what: each type's permission in the catalogue, plus the (pattern,
        # permission) pairs that restrict_events() adds.
        self.catalogue = hub.bus.catalogue
        self.restrictions: list[tuple[str, str]] = []
        self.slots: MemorySlots | RedisSlots = MemorySlots()
        self.redis: Any = None
        self._pubsub: Any = None
        self.channel = CHANNEL.format(db=0)
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        # Events to publish, in order, with what to deliver here if publishing fails: one task
        # sends all that queued while it sent the last ones, in one pipeline (the dispatcher's
        # lanes do not wait for Redis between events).
        self._unpublished: list[tuple[str, tuple | None]] = []
        self._publisher: asyncio.Task | None = None
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
        if self.hub.extensions.get("process_role") == "worker":
            # `hub worker`: no sockets to serve, so no subscription (which would receive every
            # event of every process); its own events are published for the servers.
            self._tasks = [asyncio.create_task(self._renew_leases(), name="hub-ws-leases")]
            return
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
        if self._publisher is not None and not self._publisher.done():
            await asyncio.wait([self._publisher], timeout=5)
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
            local = (event.org_id, event.type, event.data, text)
            if self._pubsub is not None:
                # This process's sockets get it from the subscriber, in order (or from the
                # publisher, here, if publishing fails).
                self._publish(f"{self.node}\n{event.org_id}\n{text}", local)
                return
            self._publish(f"{self.node}\n{event.org_id}\n{text}", None)
        self.dispatch(event.org_id, event.type, event.data, text)

    def _publish(self, payload: str, local: tuple | None) -> None:
        self._unpublished.append((payload, local))
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.get_running_loop().create_task(self._publish_pending(), name="hub-ws-publisher")

    async def _publish_pending(self) -> None:
        await asyncio.sleep(0)  # let the sinks running now add theirs
        while self._unpublished and self.redis is not None:
            batch, self._unpublished = self._unpublished, []
            try:
                if len(batch) == 1:
                    await self.redis.publish(self.channel, batch[0][0])
                else:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for payload, _ in batch:
                            pipe.publish(self.channel, payload)
                        await pipe.execute()
            except Exception as error:
                self.stats["publish_failures"] += len(batch)
                log.warning("could not publish %d event(s) to Redis (%s); delivering locally only", len(batch), error)
                for _, local in batch:
                    if local is not None:
                        self.dispatch(*local)

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
        message = None
        for connection in tuple(self.by_org.get(str(org_id), ())):
            if connection.wants(event_type, data):
                render = connection.topic.render
                if render is None:
                    connection.push(text)
                else:
                    message = message or json.loads(text)
                    rendered = render(message, connection.principal)
                    if rendered is None:
                        continue
                    connection.push(encode(rendered))
                sent += 1
        return sent

    def restrict(self, pattern: str, permission: str) -> None:
        """Events whose type matches `pattern` only reach principals holding `permission`."""
        if permission not in self.hub.permissions.permissions:
            raise ValueError(f"unknown permission {permission!r}")
        self.restrictions.append((pattern, permission))

    # -- sockets -----------------------------------------------------------------------------

    async def connection_limit(self, org_id: Any) -> tuple[str, int]:
        plan = await self.hub.tenants.plan(org_id)
        limit = self.settings.connection_limits.get(plan, self.settings.default_connection_limit)
        for _, result in await self.hub.acall("hub_plan_limits", plan=plan):
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


async def open_connections(org_id: Any, *, hub: Any = None) -> int:
    """How many WebSocket connections the organization holds open now, in every process when
    Redis counts them (the number its plan's `websocket_connections` limit is checked against)."""
    gateway = (hub or current_hub()).extensions["websocket"]
    return await gateway.slots.count(str(org_id))


def current_gateway() -> Gateway:
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

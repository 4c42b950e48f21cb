"""One invalidation path that every process hears.

Caches of what requests need on the hot path (an organization's state, who a credential
belongs to) live in each process. When something they hold changes through the Hub, the code
that changed it announces it here, and every process drops what it cached:

    await hub.invalidations.publish("tenant", org_id)     # plan, status, plugin switches
    await hub.invalidations.publish("user", user_id)      # role changed, member removed
    await hub.invalidations.publish("key", key_id)        # API key revoked, rescoped, expired
    await hub.invalidations.publish("session", family)    # logout, a reused refresh token
    await hub.invalidations.publish("token", jti)         # one access token revoked

Handlers run in the announcing process at once, and in the others through Redis pub/sub when
the Hub has Redis (one subscriber per process). `publish` returns once every process that
heard the announcement has run its handlers (each acknowledges it; bounded by ACK_SECONDS), so
the request that made a change answers only when no process would still serve the old state:
the next request anywhere sees it. A process that loses its subscription clears
everything when it comes back (what changed meanwhile is unknown), so a missed message costs
a cache miss, never a stale answer for longer than the caches' own expiry. Without Redis
there is one process, and the local call is all there is.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from typing import Any, Callable

log = logging.getLogger("hub.tenancy")

CHANNEL = "hub:invalidate:{db}"
RESET = "*"  # the kind a handler registers for to hear "forget everything"
ACK_SECONDS = 1.0  # how long `publish` waits for the other processes (a stuck one: not longer)
ACK_POLL_SECONDS = 0.002
ACK_KEY_SECONDS = 30  # acknowledgements are counted under a key that expires by itself


class Invalidations:
    """One per Hub (`hub.invalidations`)."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self._handlers: dict[str, list[Callable[[str], None]]] = defaultdict(list)
        self._redis: Any = None
        self._listener: asyncio.Task | None = None
        self.channel = CHANNEL.format(db=0)
        self.stats = {"published": 0, "received": 0, "resets": 0, "unacknowledged": 0}
        # Bumped by every announcement: a cache that read the database before a change and
        # would store its answer after it compares generations and stores nothing.
        self.generation = 0

    def on(self, kind: str, handler: Callable[[str], None]) -> None:
        """Call `handler(value)` when `kind` is announced (RESET: `handler("")` on a reset)."""
        self._handlers[kind].append(handler)

    def _run(self, kind: str, value: str) -> None:
        self.generation += 1
        for handler in self._handlers.get(kind, ()):
            handler(value)

    def reset(self) -> None:
        self.stats["resets"] += 1
        self._run(RESET, "")

    async def publish(self, kind: str, value: Any) -> None:
        value = str(value)
        self.stats["published"] += 1
        self._run(kind, value)
        if self._redis is None:
            return
        announcement = uuid.uuid4().hex
        try:
            receivers = await self._redis.publish(self.channel, f"{announcement}|{kind}:{value}")
            await self._acknowledged(announcement, receivers)
        except Exception:  # the others fall back to their caches' expiry
            log.warning("could not announce a change (%s) over Redis; other processes see it when "
                        "their caches expire", kind, exc_info=True)

    def _ack_key(self, announcement: str) -> str:
        return f"{self.channel}:ack:{announcement}"

    async def _acknowledged(self, announcement: str, receivers: int) -> None:
        """Wait until the `receivers` subscribers (this process among them) have run their
        handlers, or ACK_SECONDS have passed."""
        deadline = asyncio.get_running_loop().time() + ACK_SECONDS
        key = self._ack_key(announcement)
        while int(await self._redis.get(key) or 0) < receivers:
            if asyncio.get_running_loop().time() >= deadline:
                self.stats["unacknowledged"] += 1
                log.warning("invalidations: %d of %d processes did not confirm a change within %.1fs; "
                            "they see it when they do, or when their caches expire",
                            receivers - int(await self._redis.get(key) or 0), receivers, ACK_SECONDS)
                return
            await asyncio.sleep(ACK_POLL_SECONDS)

    async def _received(self, message: str) -> None:
        announcement, separator, rest = message.partition("|")
        if not separator:  # from a process that does not ask for acknowledgements
            announcement, rest = "", message
        kind, _, value = rest.partition(":")
        self.stats["received"] += 1
        self._run(kind, value)
        if announcement:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(self._ack_key(announcement))
                pipe.expire(self._ack_key(announcement), ACK_KEY_SECONDS)
                await pipe.execute()

    # -- across processes --------------------------------------------------------------------------

    async def start(self) -> None:
        url = self.hub.settings.redis_url
        if not url:
            return
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_connect_timeout=2, health_check_interval=30)
        self.channel = CHANNEL.format(db=self._redis.connection_pool.connection_kwargs.get("db", 0))
        subscribed = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(subscribed), name="hub-invalidations")
        try:
            await asyncio.wait_for(subscribed.wait(), 5)
        except TimeoutError:
            log.warning("invalidations: not subscribed to Redis yet; retrying in the background")

    async def _listen(self, subscribed: asyncio.Event) -> None:
        backoff = 0.5
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        subscribed.set()
                        backoff = 0.5
                        self.reset()  # changes announced while we were away are unknown
                    elif message["type"] == "message":
                        data = message["data"]
                        await self._received(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("invalidations: lost Redis (%s); resubscribing in %.1fs", error, backoff)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:
                    pass
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


def install(app: Any, hub: Any) -> None:
    """Hear other processes' announcements while the server runs."""

    @app.before_serving
    async def _start_invalidations() -> None:
        await hub.invalidations.start()

    @app.after_serving
    async def _stop_invalidations() -> None:
        await hub.invalidations.stop()

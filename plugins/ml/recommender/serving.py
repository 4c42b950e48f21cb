"""What a server process keeps to answer recommendations fast: the loaded models of each
tenant, the pointer to each tenant's active model version, and the response cache.

Coherence between processes rests on small shared values, kept in Redis when the Hub has
one and in process memory otherwise (the embedded single-process mode):

* `active:<org>`   the active model version. The training job sets it after the database
                   flag flip; without Redis a process re-reads the flag every
                   `active_check_seconds`. A process that sees a version it has not loaded
                   loads it from disk; until then (and on any load error) it keeps serving the
                   version it had, so a switch never fails a request.
* `tenant:<org>`   a counter bumped by every item upload and settings change: part of the
                   cache key, and the signal for loaded models to take in new catalog items
                   (cold start without retraining).
* `user:<org>:<user>` a counter bumped by each new interaction of that user: part of the
                   cache key, so the user's next request is computed afresh.

A cached response is keyed by (org, model version, tenant counter, user counter, request),
so nothing is ever deleted to invalidate it: a changed counter or version simply misses.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core import Hub

log = logging.getLogger("hub.recommender.serving")

KEY_PREFIX = "hub:recommender"
ACTIVE_POINTER_TTL_SECONDS = 300  # the Redis pointer is refreshed from the database this often
NO_MODEL = ""  # the pointer's value when a tenant has no trained model yet


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class SharedValues:
    """Counters, pointers and cached responses: Redis when configured, else a dict with expiry."""

    def __init__(self, redis: Any, max_entries: int) -> None:
        self.redis = redis
        self.max_entries = max_entries
        self._local: OrderedDict[str, tuple[float | None, Any]] = OrderedDict()

    def _local_get(self, key: str) -> Any:
        found = self._local.get(key)
        if found is None:
            return None
        expires, value = found
        if expires is not None and expires < time.monotonic():
            self._local.pop(key, None)
            return None
        return value

    def _local_set(self, key: str, value: Any, ttl: float | None) -> None:
        self._local[key] = (time.monotonic() + ttl if ttl else None, value)
        self._local.move_to_end(key)
        while len(self._local) > self.max_entries:
            self._local.popitem(last=False)

    async def get_many(self, keys: list[str]) -> list[str | None]:
        if self.redis is not None:
            return [_text(v) for v in await self.redis.mget(keys)]
        return [None if (v := self._local_get(k)) is None else str(v) for k in keys]

    async def get(self, key: str) -> str | None:
        return (await self.get_many([key]))[0]

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        if self.redis is not None:
            await self.redis.set(key, value, ex=int(ttl) if ttl else None)
        else:
            self._local_set(key, value, ttl)

    async def incr(self, keys: list[str]) -> None:
        if not keys:
            return
        if self.redis is not None:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.incr(key)
                await pipe.execute()
            return
        for key in keys:
            # counters never expire locally: losing one would let a stale response match again
            self._local[key] = (None, int(self._local_get(key) or 0) + 1)


def active_key(org_id: Any) -> str:
    return f"{KEY_PREFIX}:active:{org_id}"


def tenant_key(org_id: Any) -> str:
    return f"{KEY_PREFIX}:tenant:{org_id}"


def user_key(org_id: Any, user_id: str) -> str:
    return f"{KEY_PREFIX}:user:{org_id}:{user_id}"


def response_key(org_id: Any, version: str, tenant_epoch: str | None, user_epoch: str | None, request: dict) -> str:
    digest = hashlib.blake2b(json.dumps(request, sort_keys=True).encode(), digest_size=12).hexdigest()
    return f"{KEY_PREFIX}:resp:{org_id}:{version}:{tenant_epoch or 0}:{user_epoch or 0}:{digest}"


@dataclass
class LoadedModel:
    version: str
    model: Any  # engine.RecommenderModel
    # Items uploaded at or after this moment may be unknown to the model (see `sync`).
    catalog_as_of: datetime
    tenant_epoch: str | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # ids of deleted catalog items, never recommended (None: not read yet)
    removed: frozenset[str] | None = None


class ServingState:
    """Per Hub (so per test app): loaded models (LRU), active pointers, shared values."""

    def __init__(self, hub: Hub, config: Any) -> None:
        self.hub = hub
        self.config = config
        self.shared = SharedValues(hub.redis, config.cache_max_entries)
        self.models: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
        self._loading: dict[tuple[str, str], asyncio.Lock] = {}
        # without Redis: org -> (re-check after, version or NO_MODEL)
        self._active_memo: dict[str, tuple[float, str]] = {}

    # -- the active version ---------------------------------------------------------------

    async def active_version(self, org_id: Any, *, from_shared: str | None = None) -> str | None:
        """The tenant's active version (None: no model yet). `from_shared` is the pointer if
        the caller already fetched it in a batch with other keys."""
        org = str(org_id)
        if self.shared.redis is not None:
            pointer = from_shared if from_shared is not None else await self.shared.get(active_key(org))
            if pointer is None:
                pointer = await self._active_from_database(org)
                await self.shared.set(active_key(org), pointer, ACTIVE_POINTER_TTL_SECONDS)
            return pointer or None
        memo = self._active_memo.get(org)
        if memo is None or memo[0] < time.monotonic():
            memo = (time.monotonic() + self.config.active_check_seconds, await self._active_from_database(org))
            self._active_memo[org] = memo
        return memo[1] or None

    async def _active_from_database(self, org: str) -> str:
        from plugins.ml.recommender.models import ModelVersion

        row = await ModelVersion.for_org(org).filter(is_active=True).first().values("version")
        return row["version"] if row else NO_MODEL

    async def publish_active(self, org_id: Any, version: str | None) -> None:
        """Called after the database says `version` is active: every process switches on
        its next request (Redis) or within `active_check_seconds` (no Redis)."""
        org = str(org_id)
        self._active_memo[org] = (time.monotonic() + self.config.active_check_seconds, version or NO_MODEL)
        await self.shared.set(active_key(org), version or NO_MODEL, ACTIVE_POINTER_TTL_SECONDS)

    # -- loaded models --------------------------------------------------------------------

    def remember(self, org_id: Any, loaded: LoadedModel) -> None:
        key = (str(org_id), loaded.version)
        self.models[key] = loaded
        self.models.move_to_end(key)
        while len(self.models) > self.config.loaded_models:
            self.models.popitem(last=False)

    async def model(self, org_id: Any, version: str, path: Path, catalog_as_of: datetime) -> LoadedModel:
        """The loaded model of this version, read from disk once per process."""
        from plugins.ml.recommender import engine

        key = (str(org_id), version)
        loaded = self.models.get(key)
        if loaded is not None:
            self.models.move_to_end(key)
            return loaded
        lock = self._loading.setdefault(key, asyncio.Lock())
        async with lock:
            loaded = self.models.get(key)
            if loaded is None:
                started = time.perf_counter()
                model = await asyncio.to_thread(engine.RecommenderModel.load, path)
                log.info("recommender: loaded model %s of %s in %.0f ms", version, org_id,
                         (time.perf_counter() - started) * 1000)
                # a fresh load has not seen newer catalog items: tenant_epoch None forces a sync
                loaded = LoadedModel(version, model, catalog_as_of, None)
                self.remember(org_id, loaded)
        self._loading.pop(key, None)
        return loaded


def serving_state(hub: Hub) -> ServingState:
    state = hub.extensions.get("recommender.serving")
    if state is None:
        state = ServingState(hub, hub.plugin_settings("recommender"))
        hub.extensions["recommender.serving"] = state
    return state

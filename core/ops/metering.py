"""Metering and quotas: per-organization counters per day, monthly limits per plan.

The core counts `api_calls` (every request that passes authentication, permission and rate
limits on a `require`d route) and their latency; plugins report their own units:

    await core.record_usage(org_id, "recommendations_served", 20)
    await core.check_quota(org_id, "ai_tokens", estimate)      # 429 QUOTA_EXCEEDED if over
    await core.consume_quota(org_id, "ai_tokens", used)        # check and record at once

Limits are monthly (UTC calendar month) per unit, from `[quotas]` in config for the
organization's plan (`Organization.plan`), overridden by the `hub_plan_limits(plan)` hook
(later plugins win). A unit without a limit is unlimited. Over a limit a request gets
429 `QUOTA_EXCEEDED` with `Retry-After` (seconds to the next month). Views marked
`@quota_exempt` (under `@require`) are neither counted nor refused: seeing one's usage, or
upgrading one's plan, must stay possible over quota.

Storage: counts are added up in memory and written to `UsageCounter` rows (org, day, unit)
every FLUSH_SECONDS, on shutdown and before usage is read, like core/key_usage.py. Quota
checks read the month's total from the database (cached for `totals_cache_seconds`) plus
what this process has not written yet, which is exact with one process and late by at most
that long with several. With Redis (`redis_url`), each unit also has a month counter in
Redis, changed atomically by a Lua script that checks the limit in the same step, so limits
hold exactly across processes; if Redis fails, the database path is used.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from quart import Quart, current_app, g, has_app_context, request
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.functions import Sum

from core.http.pipeline import Stage
from core.kernel.batching import PeriodicFlush
from core.kernel.errors import HubError
from core.ops.models import UsageCounter

log = logging.getLogger("hub.metering")

API_CALLS = "api_calls"
API_LATENCY = "api_latency_us"  # microseconds, summed: average = api_latency_us / api_calls
FLUSH_SECONDS = 1.0
EXEMPT_ATTRIBUTE = "_hub_quota_exempt"
_METRIC = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
CACHE_SIZE = 10_000

# KEYS[1] month counter (created with its expiry by the caller); ARGV: amount, limit (-1: none).
# Returns nil when the counter does not exist yet (the caller seeds it from the database),
# else {1, total} when added, {0, total} when the amount would exceed the limit.
_RESERVE = """
local current = redis.call('GET', KEYS[1])
if not current then return nil end
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local total = tonumber(current)
if limit >= 0 and amount > 0 and total + amount > limit then return {0, total} end
if amount ~= 0 then total = redis.call('INCRBY', KEYS[1], amount) end
return {1, total}
"""


def quota_exempt(view: Callable) -> Callable:
    """Mark a view (put it under `@require`) as neither counted nor refused by quotas."""
    setattr(view, EXEMPT_ATTRIBUTE, True)
    return view


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def month_bounds(day: date) -> tuple[date, date]:
    """First day of `day`'s month and first day of the next."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following


def _org(org_id: Any) -> uuid.UUID:
    return org_id if isinstance(org_id, uuid.UUID) else uuid.UUID(str(org_id))


def _check_metric(metric: str, amount: int) -> None:
    if not isinstance(metric, str) or not _METRIC.match(metric):
        raise ValueError(f"metric {metric!r} must be lower_snake_case, at most 64 characters")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ValueError(f"amount must be a non-negative integer, not {amount!r}")


def quota_exceeded(metric: str, limit: int, used: int, requested: int, today: date) -> HubError:
    _, next_month = month_bounds(today)
    resets_at = datetime(next_month.year, next_month.month, 1, tzinfo=timezone.utc)
    retry_after = max(1, int((resets_at - datetime.now(timezone.utc)).total_seconds()))
    return HubError(
        "QUOTA_EXCEEDED",
        f"Monthly quota for {metric} exceeded",
        {"metric": metric, "limit": limit, "used": used, "requested": requested,
         "period": today.strftime("%Y-%m"), "resets_at": resets_at.isoformat().replace("+00:00", "Z")},
        headers={"Retry-After": str(retry_after)},
    )


class Metering(PeriodicFlush):
    """Counters and quotas of one Hub (`hub.extensions["metering"]`)."""

    interval = FLUSH_SECONDS

    def __init__(self, hub) -> None:
        super().__init__()
        self.hub = hub
        self.settings = hub.settings.quotas
        # not yet written: (org, day, metric) -> amount, and the same summed per month
        self._pending: dict[tuple[uuid.UUID, date, str], int] = defaultdict(int)
        self._pending_month: dict[tuple[uuid.UUID, date, str], int] = defaultdict(int)
        self._inflight_month: dict[tuple[uuid.UUID, date, str], int] = defaultdict(int)
        # (org, month, metric) -> [expires (monotonic), total in the database when read]
        self._totals: dict[tuple[uuid.UUID, date, str], list] = {}
        self._limits: dict[str, tuple[float, tuple, dict[str, int]]] = {}
        self._lock: asyncio.Lock | None = None
        self._scripts: dict[int, Any] = {}
        self._redis_failed_at = 0.0

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    # -- limits ----------------------------------------------------------------------------------

    async def limits_for_plan(self, plan: str) -> dict[str, int]:
        """Config limits for `plan` (or `[quotas] default`), then each plugin's
        `hub_plan_limits(plan)` in registration order; a value of None removes a limit."""
        # the functions themselves, not their ids: a replaced plugin's id can be reused
        implementations = tuple(i.function for i in self.hub.manager.hook.hub_plan_limits.get_hookimpls())
        cached = self._limits.get(plan)
        if cached and cached[0] > time.monotonic() and cached[1] == implementations:
            return cached[2]
        configured = self.settings.plans.get(plan)
        limits: dict[str, int] = dict(self.settings.default if configured is None else configured)
        for plugin, result in await self.hub.acall("hub_plan_limits", plan=plan):
            if not result:
                continue
            if not isinstance(result, dict):
                raise TypeError(f"plugin {plugin!r}: hub_plan_limits must return a dict, not {type(result).__name__}")
            for metric, value in result.items():
                if value is None:
                    limits.pop(metric, None)
                elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    limits[metric] = value
                else:
                    raise ValueError(f"plugin {plugin!r}: hub_plan_limits: limit of {metric!r} must be an integer >= 0")
        if len(self._limits) >= CACHE_SIZE:
            self._limits.clear()
        self._limits[plan] = (time.monotonic() + self.hub.settings.tenancy.cache_seconds, implementations, limits)
        return limits

    async def limits_for(self, org_id: Any) -> dict[str, int]:
        return await self.limits_for_plan(await self.hub.tenants.plan(org_id))

    async def limit_for(self, org_id: Any, metric: str) -> int | None:
        return (await self.limits_for(org_id)).get(metric)

    # -- counting --------------------------------------------------------------------------------

    def _add_local(self, org_id: uuid.UUID, metric: str, amount: int, day: date) -> None:
        if amount:
            self._pending[(org_id, day, metric)] += amount
            self._pending_month[(org_id, day.replace(day=1), metric)] += amount

    async def record(self, org_id: Any, metric: str, amount: int = 1, *, day: date | None = None) -> None:
        """Add `amount` units of `metric` for the organization (today, UTC, unless `day`)."""
        _check_metric(metric, amount)
        org_id, today = _org(org_id), utc_today()
        day = day or today
        if day.replace(day=1) == today.replace(day=1) and self._redis() is not None:
            await self._redis_reserve(org_id, metric, amount, None, today)
        self._add_local(org_id, metric, amount, day)

    async def used(self, org_id: Any, metric: str) -> int:
        """Units of `metric` used this month (UTC), by every process."""
        org_id, today = _org(org_id), utc_today()
        if self._redis() is not None:
            result = await self._redis_reserve(org_id, metric, 0, None, today)
            if result is not None:
                return result[1]
        return await self._month_total(org_id, metric, today)

    async def check(self, org_id: Any, metric: str, amount: int = 1) -> None:
        """Raise 429 QUOTA_EXCEEDED if `amount` more units would exceed the monthly limit."""
        _check_metric(metric, amount)
        if not self.settings.enabled:
            return
        limit = await self.limit_for(org_id, metric)
        if limit is None:
            return
        used = await self.used(org_id, metric)
        if used + amount > limit:
            raise quota_exceeded(metric, limit, used, amount, utc_today())

    async def consume(self, org_id: Any, metric: str, amount: int = 1) -> None:
        """Check and record in one step (exact across processes with Redis)."""
        _check_metric(metric, amount)
        org_id, today = _org(org_id), utc_today()
        limit = await self.limit_for(org_id, metric) if self.settings.enabled else None
        if self._redis() is not None:
            result = await self._redis_reserve(org_id, metric, amount, limit, today)
            if result is not None:
                added, total = result
                if not added:
                    raise quota_exceeded(metric, limit, total, amount, today)
                self._add_local(org_id, metric, amount, today)
                return
        if limit is not None:
            used = await self._month_total(org_id, metric, today)  # then no await until added
            if used + amount > limit:
                raise quota_exceeded(metric, limit, used, amount, today)
        self._add_local(org_id, metric, amount, today)

    async def _month_total(self, org_id: uuid.UUID, metric: str, today: date) -> int:
        month = today.replace(day=1)
        key = (org_id, month, metric)
        entry = self._totals.get(key)
        if entry is None or entry[0] <= time.monotonic():
            async with self.lock:  # no flush is half-written while the database is read
                total = await _db_total(org_id, metric, month, month_bounds(month)[1] - timedelta(days=1))
                if len(self._totals) >= CACHE_SIZE:
                    self._totals.clear()
                entry = self._totals[key] = [time.monotonic() + self.settings.totals_cache_seconds, total]
        return entry[1] + self._pending_month.get(key, 0) + self._inflight_month.get(key, 0)

    # -- Redis -----------------------------------------------------------------------------------

    def _redis(self):
        redis = self.hub.redis
        if redis is None or time.monotonic() - self._redis_failed_at < 5.0:
            return None
        return redis

    def _redis_key(self, org_id: uuid.UUID, metric: str, today: date) -> str:
        return f"{self.settings.key_prefix}:{org_id}:{today:%Y-%m}:{metric}"

    async def _redis_reserve(self, org_id, metric, amount, limit, today) -> tuple[int, int] | None:
        """(added 1|0, month total) from Redis, or None when Redis failed (then the database
        path counts alone, for a few seconds)."""
        from redis.exceptions import RedisError

        redis = self._redis()
        if redis is None:
            return None
        script = self._scripts.get(id(redis))
        if script is None:
            script = self._scripts[id(redis)] = redis.register_script(_RESERVE)
        key = self._redis_key(org_id, metric, today)
        expires = int(datetime(*month_bounds(today)[1].timetuple()[:3], tzinfo=timezone.utc).timestamp()) + 7 * 86400
        arguments = [amount, -1 if limit is None else limit]
        try:
            result = await script(keys=[key], args=arguments)
            if result is None:  # first use this month, or Redis lost it: start from the database
                async with self.lock:
                    month = today.replace(day=1)
                    seed = await _db_total(org_id, metric, month, month_bounds(month)[1] - timedelta(days=1))
                    seed += self._pending_month.get((org_id, month, metric), 0)
                    seed += self._inflight_month.get((org_id, month, metric), 0)
                await redis.set(key, seed, nx=True, exat=expires)
                result = await script(keys=[key], args=arguments)
            return int(result[0]), int(result[1])
        except (RedisError, OSError, asyncio.TimeoutError):
            self._redis_failed_at = time.monotonic()
            log.warning("metering: Redis failed; counting in the database for a while", exc_info=True)
            return None

    # -- writing and reading ---------------------------------------------------------------------

    async def flush(self) -> None:
        async with self.lock:
            pending, self._pending = self._pending, defaultdict(int)
            months, self._pending_month = self._pending_month, defaultdict(int)
            for key, amount in months.items():
                self._inflight_month[key] += amount
            try:
                for (org_id, day, metric), amount in pending.items():
                    await _add(org_id, day, metric, amount)
            except BaseException:
                for key, amount in pending.items():  # try again next time
                    self._pending[key] += amount
                for key, amount in months.items():
                    self._pending_month[key] += amount
                    self._inflight_month[key] -= amount
                raise
            for key, amount in months.items():
                self._inflight_month[key] -= amount
                if not self._inflight_month[key]:
                    del self._inflight_month[key]
                entry = self._totals.get(key)
                if entry is not None:  # read before this flush (reads hold the lock)
                    entry[1] += amount

    async def usage(self, org_id: Any, start: date, end: date) -> dict[str, int]:
        """Every unit's total for the organization from `start` to `end` (inclusive), after
        writing this process's counts."""
        await self.flush()
        rows = (
            await UsageCounter.filter(org_id=_org(org_id), day__gte=start, day__lte=end)
            .annotate(total=Sum("value"))
            .group_by("metric")
            .values("metric", "total")
        )
        return {row["metric"]: int(row["total"] or 0) for row in rows}



async def _db_total(org_id: uuid.UUID, metric: str, start: date, end: date) -> int:
    rows = (
        await UsageCounter.filter(org_id=org_id, metric=metric, day__gte=start, day__lte=end)
        .annotate(total=Sum("value"))
        .values("total")
    )
    return int(rows[0]["total"] or 0) if rows else 0


async def _add(org_id: uuid.UUID, day: date, metric: str, amount: int) -> None:
    if await UsageCounter.filter(org_id=org_id, day=day, metric=metric).update(value=F("value") + amount):
        return
    try:
        await UsageCounter.create(org_id=org_id, day=day, metric=metric, value=amount)
    except IntegrityError:  # another process created the row first
        await UsageCounter.filter(org_id=org_id, day=day, metric=metric).update(value=F("value") + amount)


# -- the module API for plugins ------------------------------------------------------------------

_SERVING: Metering | None = None


def current_meter() -> Metering:
    """This app's metering (in a request), else the one serving in this process."""
    if has_app_context():
        metering = current_app.extensions["hub"].extensions.get("metering")
        if metering is not None:
            return metering
    if _SERVING is None:
        raise RuntimeError("metering is not running in this process")
    return _SERVING


def meter_of(hub: Any = None) -> Metering:
    return hub.extensions["metering"] if hub is not None else current_meter()


async def record_usage(org_id: Any, metric: str, amount: int = 1, *, day: date | None = None, hub: Any = None) -> None:
    """Add `amount` units of `metric` (lower_snake_case) for the organization, today (UTC)."""
    await meter_of(hub).record(org_id, metric, amount, day=day)


async def usage_totals(org_id: Any, start: date, end: date, *, hub: Any = None) -> dict[str, int]:
    """Every metered unit's total for the organization from `start` to `end` (UTC days,
    inclusive), read from the database after writing this process's counts (other processes'
    last second may still be on its way): `{"api_calls": 1500, "ai_tokens": 90000, ...}`."""
    return await meter_of(hub).usage(org_id, start, end)


async def check_quota(org_id: Any, metric: str, amount: int = 1, *, hub: Any = None) -> None:
    """429 QUOTA_EXCEEDED if `amount` more units would pass the organization's monthly limit."""
    await meter_of(hub).check(org_id, metric, amount)


async def consume_quota(org_id: Any, metric: str, amount: int = 1, *, hub: Any = None) -> None:
    """Check and record in one step (exact across processes with Redis)."""
    await meter_of(hub).consume(org_id, metric, amount)


def install(app: Quart, hub) -> Stage:
    """Quotas as a request guard (after authentication), latency as a pipeline stage."""
    metering = Metering(hub)
    hub.extensions["metering"] = metering

    async def api_call_quota(principal) -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        if getattr(view, EXEMPT_ATTRIBUTE, False):
            return
        await metering.consume(principal.org_id, API_CALLS, 1)
        g.metered_org = principal.org_id

    hub.request_guards.append(api_call_quota)

    async def _record_latency(response):
        org_id = getattr(g, "metered_org", None)
        started = getattr(g, "started", None)
        if org_id is not None and started is not None:
            elapsed_us = int((time.perf_counter() - started) * 1_000_000)
            metering._add_local(org_id, API_LATENCY, max(elapsed_us, 1), utc_today())
        return response

    @app.before_serving
    async def _start() -> None:
        global _SERVING
        metering.start()
        _SERVING = metering

    @app.after_serving
    async def _stop() -> None:
        global _SERVING
        if _SERVING is metering:
            _SERVING = None
        await metering.stop()  # before the core closes the database

    return Stage("metering", after=_record_latency)

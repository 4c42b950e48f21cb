"""Rate limiting: GCRA per endpoint pattern, in memory or in Redis (throttled-py).

Rules come from `[rate_limits.rules]` (pattern -> requests_per_minute, burst_size, scope);
the most specific fnmatch pattern matching the request path wins. Organizations' plans
override rules through the `hub_rate_limits(plan)` hook (later plugins win).

Where the check runs:
- routes marked `@require(...)`: a request guard, after authentication and the permission
  check, so the principal (user, API key, organization) is known;
- every other route (`@public` ones such as login, and unknown URLs): a `before_request`
  keyed by the client IP (`scope = global` stays global).

Scopes: `user` (a user, or an API key on its own), `organization`, `global`, `ip`. Without
a principal, `user` and `organization` fall back to the client IP.

Allowed requests get `X-RateLimit-Limit` (the burst: what `Remaining` counts down from),
`X-RateLimit-Remaining` and `X-RateLimit-Reset` (unix seconds when the bucket is full again);
refused ones get 429 RATE_LIMIT_EXCEEDED with `Retry-After`. With Redis configured, every
process shares the buckets (one Lua script call per check); when Redis cannot be reached
the configured policy applies (`on_redis_error`: "open" lets requests through, "closed"
answers 503), it is logged once per outage, and Redis is retried after
`redis_retry_seconds`.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from quart import Quart, current_app, g, has_request_context, request
from redis.exceptions import RedisError
from throttled.asyncio import MemoryStore, RedisStore, RedisStoreBackend, per_min
from throttled.asyncio.rate_limiter import GCRARateLimiter
from throttled.exceptions import StoreUnavailableError

from core.http.auth import ACCESS_ATTRIBUTE
from core.http.client import client_address
from core.http.pipeline import Stage
from core.kernel.errors import HubError
from core.kernel.hub import Hub
from core.kernel.settings import RateLimitRule, RateLimitSettings

log = logging.getLogger("hub.ratelimit")

EXTENSION = "rate_limiter"
PLAN_CACHE_SIZE = 10_000
_STORE_ERRORS = (StoreUnavailableError, RedisError, OSError, TimeoutError)


@dataclass(frozen=True)
class Rule:
    pattern: str
    requests_per_minute: int
    burst_size: int
    scope: str
    regex: re.Pattern

    @property
    def unlimited(self) -> bool:
        return self.requests_per_minute == 0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # unix seconds when the bucket is full again
    retry_after: int  # seconds; 0 when allowed


def specificity(pattern: str) -> tuple[int, int, int]:
    """Exact paths first, then more literal characters, then fewer wildcards."""
    wildcards = len(re.findall(r"\*|\?|\[[^\]]*\]", pattern))
    literal = len(re.sub(r"\*|\?|\[[^\]]*\]", "", pattern))
    return (0 if wildcards else 1, literal, -wildcards)


class RuleSet:
    """Rules sorted most specific first; `match(path)` gives the one that applies."""

    def __init__(self, rules: dict[str, RateLimitRule]) -> None:
        compiled = []
        for pattern, rule in rules.items():
            compiled.append(
                Rule(
                    pattern=pattern,
                    requests_per_minute=rule.requests_per_minute,
                    burst_size=rule.burst_size or max(rule.requests_per_minute, 1),
                    scope=rule.scope,
                    regex=re.compile(fnmatch.translate(pattern)),
                )
            )
        compiled.sort(key=lambda rule: specificity(rule.pattern), reverse=True)
        self.rules = compiled

    def match(self, path: str) -> Rule | None:
        for rule in self.rules:
            if rule.regex.match(path):
                return rule
        return None


def _redis_store(client: Any) -> RedisStore:
    """A throttled-py Redis store on our own client (short timeouts, no retries)."""

    class Backend(RedisStoreBackend):
        def get_client(self):
            return client

    class Store(RedisStore):
        _BACKEND_CLASS = Backend

    return Store()


class RateLimiter:
    """The Hub's limiter: rules, plans, one GCRA limiter per (rate, burst), one store."""

    def __init__(self, hub: Hub, settings: RateLimitSettings | None = None) -> None:
        self.hub = hub
        self.settings = settings or hub.settings.rate_limits
        redis_url = self.settings.redis_url or hub.settings.redis_url
        self.redis_url = redis_url if self.settings.backend == "auto" else None
        self.rules = RuleSet(self.settings.rules)
        self._redis = None
        if self.redis_url:
            import redis.asyncio as redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            timeout = self.settings.redis_timeout_seconds
            self._redis = redis.from_url(
                self.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
            )
            self.store = _redis_store(self._redis)
        else:
            self.store = MemoryStore(options={"MAX_SIZE": self.settings.memory_max_keys})
        self._limiters: dict[tuple[int, int], GCRARateLimiter] = {}
        self._plan_rules: dict[str, tuple[float, tuple, RuleSet]] = {}
        self._redis_down_until = 0.0
        self._plan_hooks: bool | None = None
        self._redis_down = False
        self.stats = {"checks": 0, "limited": 0, "store_errors": 0}

    @property
    def backend(self) -> str:
        return "redis" if self._redis is not None else "memory"

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    # -- rules and plans --------------------------------------------------------------------

    @property
    def plan_hooks(self) -> bool:
        """Whether any plugin overrides rules per plan (else no plan is looked up)."""
        if self._plan_hooks is None:
            self._plan_hooks = bool(self.hub.manager.hook.hub_rate_limits.get_hookimpls())
        return self._plan_hooks

    async def rules_for_plan(self, plan: str | None) -> RuleSet:
        if plan is None or not self.plan_hooks:
            return self.rules
        now = time.monotonic()
        # the functions themselves, not their ids: a replaced plugin's id can be reused
        implementations = tuple(i.function for i in self.hub.manager.hook.hub_rate_limits.get_hookimpls())
        cached = self._plan_rules.get(plan)
        if cached and cached[0] > now and cached[1] == implementations:
            return cached[2]
        rules = dict(self.settings.rules)

        def failed(plugin: str, error: Exception) -> None:
            log.error("plugin %s: hub_rate_limits(%r) failed; its rules are ignored", plugin, plan, exc_info=error)

        # registration order: later plugins win
        for plugin, result in await self.hub.acall("hub_rate_limits", plan=plan, on_error=failed):
            try:
                overrides = dict(result or {})
            except (TypeError, ValueError):
                log.error("plugin %s: hub_rate_limits(%r) must return a dict; its rules are ignored", plugin, plan)
                continue
            for pattern, override in overrides.items():
                try:
                    if not isinstance(pattern, str) or not pattern.startswith(("/", "*")):
                        raise ValueError(f"pattern {pattern!r} must start with / or *")
                    base = rules[pattern].model_dump(exclude_unset=True) if pattern in rules else {}
                    rules[pattern] = RateLimitRule.model_validate({**base, **dict(override)})
                except Exception as error:
                    log.error("plugin %s: hub_rate_limits(%r) rule %r ignored: %s", plugin, plan, pattern, error)
        ruleset = RuleSet(rules)
        self._plan_rules[plan] = (now + self.hub.settings.tenancy.cache_seconds, implementations, ruleset)
        return ruleset

    # -- checking ---------------------------------------------------------------------------

    def limiter(self, rule: Rule) -> GCRARateLimiter:
        key = (rule.requests_per_minute, rule.burst_size)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = GCRARateLimiter(
                per_min(rule.requests_per_minute, rule.burst_size), self.store, key_prefix=self.settings.key_prefix
            )
            self._limiters[key] = limiter
        return limiter

    async def hit(self, rule: Rule, identity: str) -> Decision | None:
        """Take one request from `identity`'s bucket for `rule`. None: the store is down
        and the policy is to let requests through."""
        self.stats["checks"] += 1
        if self._redis is not None and self._redis_down_until > time.monotonic():
            return self._store_unavailable(None)
        try:
            result = await self.limiter(rule).limit(f"{identity}|{rule.pattern}")
        except _STORE_ERRORS as error:
            return self._store_unavailable(error)
        if self._redis_down:
            self._redis_down = False
            log.warning("rate limiting: Redis is reachable again; limits apply across processes")
        state = result.state
        decision = Decision(
            allowed=not result.limited,
            limit=rule.burst_size,
            remaining=max(0, min(rule.burst_size, int(state.remaining))),
            reset_at=math.ceil(time.time() + max(0.0, state.reset_after)),
            retry_after=max(1, math.ceil(state.retry_after)) if result.limited else 0,
        )
        if result.limited:
            self.stats["limited"] += 1
        return decision

    def _store_unavailable(self, error: BaseException | None) -> None:
        policy = self.settings.on_redis_error
        if error is not None:
            self.stats["store_errors"] += 1
            self._redis_down_until = time.monotonic() + self.settings.redis_retry_seconds
            cause = error.__cause__ or error
            if not self._redis_down:
                self._redis_down = True
                log.error(
                    "rate limiting: Redis is unreachable (%s: %s); failing %s (%s) until it is back",
                    type(cause).__name__, cause, policy,
                    "requests pass unlimited" if policy == "open" else "requests get 503",
                )
            else:
                log.debug("rate limiting: Redis still unreachable: %s", cause)
        if policy == "open":
            return None
        retry = max(1, math.ceil(self.settings.redis_retry_seconds))
        raise HubError(
            "SERVICE_UNAVAILABLE",
            "Rate limiting is temporarily unavailable; try again shortly",
            {"reason": "rate_limit_store_unavailable", "retry_after": retry},
            headers={"Retry-After": str(retry)},
        )

    async def enforce(self, rule: Rule, identity: str) -> None:
        decision = await self.hit(rule, identity)
        if decision is None:
            return
        g.hub_rate_limit = decision
        if not decision.allowed:
            raise HubError(
                "RATE_LIMIT_EXCEEDED",
                f"Rate limit exceeded; try again in {decision.retry_after} s",
                {
                    "retry_after": decision.retry_after,
                    "limit": decision.limit,
                    "requests_per_minute": rule.requests_per_minute,
                    "scope": rule.scope,
                },
                headers={"Retry-After": str(decision.retry_after)},
            )

    # -- who is asking ----------------------------------------------------------------------

    def client_ip(self) -> str:
        return client_address(self.settings.trusted_proxies)

    def identity(self, rule: Rule, principal: Any | None) -> str:
        if rule.scope == "global":
            return "global"
        if principal is None or rule.scope == "ip":
            return f"ip:{self.client_ip()}"
        if rule.scope == "organization":
            return f"org:{principal.org_id}"
        if principal.api_key_id is not None:
            return f"key:{principal.api_key_id}"
        return f"user:{principal.user_id}"


def current_limiter(hub: Hub) -> RateLimiter:
    return hub.extensions[EXTENSION]


def install(app: Quart, hub: Hub) -> Stage | None:
    """Wire rate limiting into the app: a pipeline stage for routes without `require`, a
    request guard for those with it, and the X-RateLimit-* response headers."""
    limiter = RateLimiter(hub)
    hub.extensions[EXTENSION] = limiter

    @app.after_serving
    async def _close() -> None:
        await current_limiter(hub).aclose()

    if not limiter.settings.enabled:
        return None

    async def _limit_unauthenticated() -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        access = getattr(view, ACCESS_ATTRIBUTE, None)
        if access is not None and access[0] == "permission":
            return  # checked by the guard, once the principal is known
        limiter = current_limiter(hub)
        rule = limiter.rules.match(request.path)
        if rule is None or rule.unlimited:
            return
        await limiter.enforce(rule, limiter.identity(rule, None))

    async def _limit_principal(principal: Any) -> None:
        if not has_request_context():
            return
        limiter = current_limiter(hub)
        rules = limiter.rules
        if limiter.plan_hooks:
            rules = await limiter.rules_for_plan(await hub.tenants.plan(principal.org_id))
        rule = rules.match(request.path)
        if rule is None or rule.unlimited:
            return
        await limiter.enforce(rule, limiter.identity(rule, principal))

    hub.request_guards.append(_limit_principal)

    async def _rate_limit_headers(response):
        decision = getattr(g, "hub_rate_limit", None)
        if decision is not None:
            response.headers["X-RateLimit-Limit"] = str(decision.limit)
            response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
            response.headers["X-RateLimit-Reset"] = str(decision.reset_at)
        return response

    return Stage("rate_limit", before=_limit_unauthenticated, after=_rate_limit_headers)


async def rate_limit(key: str, requests_per_minute: int, burst_size: int | None = None, *,
                     hub: Hub | None = None) -> None:
    """Take one request from the bucket named `key` (e.g. "n8n-webhook:<workflow id>"), for
    limits that no endpoint pattern expresses (per workflow, per resource); 429 with
    Retry-After when it is empty. A no-op when rate limiting is off."""
    from core.kernel.hub import current_hub

    limiter = current_limiter(hub or current_hub())
    if not limiter.settings.enabled or requests_per_minute <= 0:
        return
    burst = burst_size or requests_per_minute
    rule = Rule(pattern=f"key:{key}", requests_per_minute=requests_per_minute, burst_size=burst, scope="key",
                regex=re.compile(re.escape(key)))
    await limiter.enforce(rule, "key")

"""Outbound calls to a DMS: authentication (API key, OAuth2 with refresh before expiry and on a
401, basic auth), the connection's rate limit (a token bucket: `requests_per_minute`, bursts of
`burst_size`), `retry_attempts` retries with exponential back-off on 5xx, timeouts and network
errors, `Retry-After` honoured on 429 and 503; every request through the SSRF-checked client.

The rate limit is kept per process (a sync of a connection runs in one job at a time:
`concurrency_per_org` and the running-sync check in service.start_sync), so the spacing is
exact without a round trip to Redis per call.
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import httpx

from core import is_unsafe_error, safe_client

RETRIED_STATUSES = {500, 502, 503, 504}


class DmsError(Exception):
    """A call failed: `retryable` False for a refusal (bad credentials, 4xx), True when the DMS
    was unavailable after every retry."""

    def __init__(self, message: str, *, retryable: bool = True, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class TokenBucket:
    """`rate` requests per second on average, at most `capacity` at once."""

    def __init__(self, requests_per_minute: int, burst: int) -> None:
        self.rate = requests_per_minute / 60.0
        self.capacity = max(1, burst)
        self.tokens = float(self.capacity)
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


_BUCKETS: dict[tuple, TokenBucket] = {}
_TOKENS: dict[str, tuple[str, float, str | None]] = {}  # connection id -> (access token, expires at, refresh)


def bucket_for(connection_id: str, requests_per_minute: int, burst: int) -> TokenBucket:
    key = (connection_id, requests_per_minute, burst)
    bucket = _BUCKETS.get(key)
    if bucket is None:
        bucket = _BUCKETS[key] = TokenBucket(requests_per_minute, burst)
    return bucket


def forget_token(connection_id: str) -> None:
    _TOKENS.pop(str(connection_id), None)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds (a number, or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


@dataclass
class Policy:
    retry_attempts: int
    timeout_seconds: float
    backoff: float
    backoff_max: float
    max_retry_after: float
    refresh_margin: float


class DmsClient:
    """`async with DmsClient(...) as client: body = await client.get(path, params)`."""

    def __init__(self, connection, secrets: dict[str, str], policy: Policy, allowlist: list[str],
                 headers: dict[str, str] | None = None, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.connection = connection
        self.id = str(connection.id)
        self.secrets = secrets
        self.policy = policy
        self.base_url = connection.base_url.rstrip("/") + "/"
        self.bucket = bucket_for(self.id, connection.requests_per_minute, connection.burst_size)
        self.extra_headers = {"Accept": "application/json", "Api-Version": connection.api_version,
                              **(headers or {})}
        self.http = safe_client(allowlist, timeout=policy.timeout_seconds) if transport is None else \
            httpx.AsyncClient(transport=transport, timeout=policy.timeout_seconds)
        self.requests = 0  # sent, retries and token requests included

    async def __aenter__(self) -> DmsClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.aclose()

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    # -- authentication ------------------------------------------------------------------------

    async def _auth_headers(self, force_refresh: bool = False) -> dict[str, str]:
        kind = self.connection.auth_type
        if kind == "api_key":
            return {self.connection.api_key_header or "X-API-Key": self.secrets.get("api_key", "")}
        if kind == "basic_auth":
            pair = f"{self.secrets.get('username', '')}:{self.secrets.get('password', '')}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        token = await self._token(force_refresh)
        return {"Authorization": f"Bearer {token}"}

    async def _token(self, force: bool) -> str:
        cached = _TOKENS.get(self.id)
        if cached and not force and cached[1] - self.policy.refresh_margin > time.time():
            return cached[0]
        refresh = cached[2] if cached else self.secrets.get("refresh_token")
        form = {"grant_type": "refresh_token", "refresh_token": refresh} if refresh else \
            {"grant_type": "client_credentials"}
        if self.secrets.get("scope"):
            form["scope"] = self.secrets["scope"]
        token_url = self.connection.token_url or "/oauth/token"
        body = await self._send("POST", self.url(token_url) if not token_url.startswith("http") else token_url,
                                data=form, auth=(self.secrets.get("client_id", ""),
                                                 self.secrets.get("client_secret", "")), authenticated=False)
        if not isinstance(body, dict) or not body.get("access_token"):
            raise DmsError("the token endpoint gave no access_token", retryable=False)
        expires = time.time() + float(body.get("expires_in") or 3600)
        _TOKENS[self.id] = (body["access_token"], expires, body.get("refresh_token") or refresh)
        return body["access_token"]

    # -- requests --------------------------------------------------------------------------------

    async def get(self, path: str, params: dict | None = None) -> Any:
        return await self._send("GET", self.url(path), params=params)

    async def _send(self, method: str, url: str, *, authenticated: bool = True, **kwargs) -> Any:
        attempt, refreshed = 0, False
        while True:
            headers = dict(self.extra_headers)
            if authenticated:
                headers.update(await self._auth_headers())
            await self.bucket.take()
            self.requests += 1
            try:
                response = await self.http.request(method, url, headers=headers, **kwargs)
            except httpx.HTTPError as error:  # refused, reset, timed out, or the SSRF guard
                if is_unsafe_error(error):
                    raise DmsError(f"refused by the SSRF guard: {is_unsafe_error(error)}", retryable=False) from None
                failure, wait = f"{type(error).__name__}: {error}"[:300], None
            else:
                if response.status_code == 401 and authenticated and self.connection.auth_type == "oauth2" \
                        and not refreshed:
                    refreshed = True  # the token expired early or was revoked: one new token
                    forget_token(self.id)
                    continue
                if response.status_code < 400:
                    try:
                        return response.json()
                    except ValueError:
                        raise DmsError(f"{method} {url}: the DMS answered something that is not JSON",
                                       retryable=False, status=response.status_code) from None
                failure = f"{method} {url} answered {response.status_code}"
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if response.status_code != 429 and response.status_code not in RETRIED_STATUSES:
                    raise DmsError(failure, retryable=False, status=response.status_code)
                if wait is not None and wait > self.policy.max_retry_after:
                    raise DmsError(f"{failure} with Retry-After {wait:.0f} s", status=response.status_code)
            if attempt >= self.policy.retry_attempts:
                raise DmsError(f"{failure} (after {attempt + 1} tries)")
            if wait is None:
                wait = min(self.policy.backoff_max, self.policy.backoff * 2 ** attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            await asyncio.sleep(wait)

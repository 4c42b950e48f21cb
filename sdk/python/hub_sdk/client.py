"""The clients: `HubClient` (sync) and `AsyncHubClient` (async), over httpx.

    from hub_sdk import HubClient

    client = HubClient(base_url="http://127.0.0.1:8000", api_key="hub_...")
    leads = client.leads.get_all(status="new", limit=10)          # a LeadList
    lead = client.leads.create({"name": "John Doe", "email": "john@example.com", "source": "api"})
    for lead in client.leads.iterate(status="new"):               # every page, one lead at a time
        ...
    result = client.agents.execute(agent_id, {"input": "Qualify this lead", "context": {"lead_id": lead.id}})

    async with AsyncHubClient(base_url=..., email=..., password=...) as client:
        leads = await client.leads.get_all(limit=10)
        async for lead in client.leads.iterate():
            ...

Authentication: `api_key=` (sent as X-API-Key), or a user's `access_token=`/`refresh_token=`, or
`email=`/`password=` (logged in on first use). With a refresh token, a 401 is answered by
refreshing the pair once and repeating the request; `on_tokens(access, refresh)` hears of every
new pair. Requests answered 429 or 503 are retried after their `Retry-After` (see RetryPolicy);
errors raise the classes of hub_sdk.errors.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable, Iterator, TypeVar

import httpx
from pydantic import BaseModel

from hub_sdk import resources
from hub_sdk._base import (
    AUTH_PATHS,
    USER_AGENT,
    Credentials,
    PageCursor,
    RetryPolicy,
    body_of,
    clean_params,
    result_of,
)
from hub_sdk.errors import APIConnectionError, AuthenticationError

M = TypeVar("M", bound=BaseModel)
DEFAULT_TIMEOUT = 30.0


IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def _may_resend(method: str, error: httpx.TransportError) -> bool:
    """A request that never reached the Hub may be sent again; one that may have (a read
    timeout, a dropped connection) only when repeating it changes nothing more."""
    return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)) or method.upper() in IDEMPOTENT


class _ClientBase:
    def __init__(self, base_url: str, *, api_key: str | None = None, api_key_header: str = "X-API-Key",
                 access_token: str | None = None, refresh_token: str | None = None,
                 email: str | None = None, password: str | None = None,
                 on_tokens: Callable[[str, str], None] | None = None,
                 retry: RetryPolicy | None = None, max_retries: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = Credentials(api_key, api_key_header, access_token, refresh_token, email, password,
                                       on_tokens)
        self.retry = retry or RetryPolicy()
        if max_retries is not None:
            self.retry.max_retries = max_retries
        self.timeout = timeout
        self.default_headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self.retries = 0  # how many times a request was repeated (after 429/503/connection errors)
        self.leads = resources.Leads(self)
        self.contacts = resources.Contacts(self)
        self.agents = resources.Agents(self)
        self.jobs = resources.Jobs(self)
        self.plugins = resources.Plugins(self)

    def _needs_login(self, path: str) -> bool:
        c = self.credentials
        return (not c.access_token and not c.api_key and bool(c.email and c.password)
                and path not in AUTH_PATHS)

    def _may_renew(self, response: httpx.Response, path: str, renewed: bool) -> bool:
        return (response.status_code == 401 and not renewed and path not in AUTH_PATHS
                and not self.credentials.api_key and self.credentials.can_renew())

    def _request_kwargs(self, method: str, path: str, params: dict[str, Any] | None, json: Any) -> dict[str, Any]:
        headers = {} if path in AUTH_PATHS else self.credentials.headers()  # those take no token
        kwargs: dict[str, Any] = {"params": clean_params(params), "headers": headers}
        if json is not None:
            kwargs["json"] = body_of(json)
        return kwargs


class HubClient(_ClientBase):
    """The synchronous client (see the module's docstring)."""

    def __init__(self, base_url: str, *, http: httpx.Client | None = None, **options: Any) -> None:
        super().__init__(base_url, **options)
        self._http = http or httpx.Client(base_url=self.base_url, timeout=self.timeout,
                                          headers=self.default_headers)

    def __enter__(self) -> "HubClient":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- authentication ------------------------------------------------------------------------

    def login(self, email: str | None = None, password: str | None = None) -> dict[str, Any]:
        """Log in as a user (POST /api/auth/login): the client then sends its access token."""
        c = self.credentials
        c.email, c.password = email or c.email, password or c.password
        body = self.request("POST", "/api/auth/login", json={"email": c.email, "password": c.password})
        c.store(body)
        return body

    def refresh(self) -> None:
        """A new token pair for the refresh token (or a new login, when the client knows the password)."""
        c = self.credentials
        if c.refresh_token:
            try:
                c.store(self.request("POST", "/api/auth/refresh", json={"refresh_token": c.refresh_token}))
                return
            except AuthenticationError:
                if not (c.email and c.password):
                    raise
        self.login()

    # -- requests ------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                model: type[M] | None = None) -> Any:
        """One API call: the body (a `model` when given), or an exception of hub_sdk.errors."""
        if self._needs_login(path):
            self.login()
        attempt, renewed = 0, False
        while True:
            attempt += 1
            try:
                response = self._http.request(method, path, **self._request_kwargs(method, path, params, json))
            except httpx.TransportError as error:
                wait = self.retry.delay(attempt, None) if _may_resend(method, error) else None
                if wait is None:
                    raise APIConnectionError(f"{method} {path}: {error}") from error
                self.retries += 1
                time.sleep(wait)
                continue
            if self._may_renew(response, path, renewed):
                renewed = True
                self.refresh()
                continue
            wait = self.retry.delay(attempt, response) if response.status_code >= 400 else None
            if wait is None:
                return result_of(response, model)
            self.retries += 1
            time.sleep(wait)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json=json)

    def put(self, path: str, json: Any = None) -> Any:
        return self.request("PUT", path, json=json)

    def patch(self, path: str, json: Any = None) -> Any:
        return self.request("PATCH", path, json=json)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def paginate(self, path: str, key: str, params: dict[str, Any] | None = None,
                 model: type[M] | None = None) -> Iterator[Any]:
        """Every row of a list endpoint, page after page (`limit` rows a page), as `model`s."""
        cursor = PageCursor(dict(params or {}))
        while not cursor.done:
            body = self.request("GET", path, params=cursor.params)
            rows = body.get(key) or []
            for row in rows:
                yield model.model_validate(row) if model is not None else row
            cursor.advance(body, len(rows))


class AsyncHubClient(_ClientBase):
    """The asynchronous client: the same resources and methods, awaited."""

    def __init__(self, base_url: str, *, http: httpx.AsyncClient | None = None, **options: Any) -> None:
        super().__init__(base_url, **options)
        self._http = http or httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout,
                                               headers=self.default_headers)
        self._renewing = asyncio.Lock()

    async def __aenter__(self) -> "AsyncHubClient":
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def login(self, email: str | None = None, password: str | None = None) -> dict[str, Any]:
        c = self.credentials
        c.email, c.password = email or c.email, password or c.password
        body = await self.request("POST", "/api/auth/login", json={"email": c.email, "password": c.password})
        c.store(body)
        return body

    async def refresh(self, stale_token: str | None = None) -> None:
        c = self.credentials
        async with self._renewing:  # concurrent 401s refresh once: a refresh token is used up
            if stale_token is not None and c.access_token != stale_token:
                return
            if c.refresh_token:
                try:
                    c.store(await self.request("POST", "/api/auth/refresh", json={"refresh_token": c.refresh_token}))
                    return
                except AuthenticationError:
                    if not (c.email and c.password):
                        raise
            await self.login()

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                      model: type[M] | None = None) -> Any:
        if self._needs_login(path):
            async with self._renewing:
                if not self.credentials.access_token:
                    await self.login()
        attempt, renewed = 0, False
        while True:
            attempt += 1
            sent_token = self.credentials.access_token
            try:
                response = await self._http.request(method, path, **self._request_kwargs(method, path, params, json))
            except httpx.TransportError as error:
                wait = self.retry.delay(attempt, None) if _may_resend(method, error) else None
                if wait is None:
                    raise APIConnectionError(f"{method} {path}: {error}") from error
                self.retries += 1
                await asyncio.sleep(wait)
                continue
            if self._may_renew(response, path, renewed):
                renewed = True
                await self.refresh(sent_token)
                continue
            wait = self.retry.delay(attempt, response) if response.status_code >= 400 else None
            if wait is None:
                return result_of(response, model)
            self.retries += 1
            await asyncio.sleep(wait)

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, json: Any = None) -> Any:
        return await self.request("POST", path, json=json)

    async def put(self, path: str, json: Any = None) -> Any:
        return await self.request("PUT", path, json=json)

    async def patch(self, path: str, json: Any = None) -> Any:
        return await self.request("PATCH", path, json=json)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path)

    async def paginate(self, path: str, key: str, params: dict[str, Any] | None = None,
                       model: type[M] | None = None) -> AsyncIterator[Any]:
        cursor = PageCursor(dict(params or {}))
        while not cursor.done:
            body = await self.request("GET", path, params=cursor.params)
            rows = body.get(key) or []
            for row in rows:
                yield model.model_validate(row) if model is not None else row
            cursor.advance(body, len(rows))

"""What the sync and the async client share: configuration, authentication headers, the retry
policy, and turning responses into models or exceptions. The two clients only differ in how
they send and sleep (client.py)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import httpx
from pydantic import BaseModel

from hub_sdk.errors import error_from_response, retry_after_seconds

M = TypeVar("M", bound=BaseModel)
RETRY_STATUSES = frozenset({429, 503})
AUTH_PATHS = ("/api/auth/login", "/api/auth/refresh", "/api/v1/auth/login", "/api/v1/auth/refresh")
USER_AGENT = "hub-sdk-python/0.1.0"


@dataclass
class RetryPolicy:
    """Retries of a request answered 429 or 503, or that could not be sent.

    The wait is the answer's `Retry-After` when it has one (a longer one than
    `max_retry_after` is not waited for: the error is raised at once), else an exponential
    back-off from `backoff` seconds, capped at `max_backoff`, with jitter."""

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retry number `attempt` (1-based), or None: do not retry."""
        if attempt > self.max_retries:
            return None
        if response is not None:
            if response.status_code not in RETRY_STATUSES:
                return None
            told = retry_after_seconds(response)
            if told is not None:
                return told if told <= self.max_retry_after else None
        wait = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return wait * (0.5 + random.random() / 2)


@dataclass
class Credentials:
    """How the client authenticates: an API key, or a user's JWT pair (refreshed on a 401 and
    re-obtained with email and password when those are known)."""

    api_key: str | None = None
    api_key_header: str = "X-API-Key"
    access_token: str | None = None
    refresh_token: str | None = None
    email: str | None = None
    password: str | None = field(default=None, repr=False)
    on_tokens: Callable[[str, str], None] | None = None  # called with (access, refresh) after each change

    def headers(self) -> dict[str, str]:
        if self.access_token:
            return {"Authorization": f"Bearer {self.access_token}"}
        if self.api_key:
            if self.api_key_header.lower() == "authorization":
                return {"Authorization": f"Bearer {self.api_key}"}
            return {self.api_key_header: self.api_key}
        return {}

    def can_renew(self) -> bool:
        return bool(self.refresh_token or (self.email and self.password))

    def store(self, body: dict[str, Any]) -> None:
        self.access_token = body["access_token"]
        self.refresh_token = body.get("refresh_token") or self.refresh_token
        if self.on_tokens:
            self.on_tokens(self.access_token, self.refresh_token)


def clean_params(params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Query parameters without the None ones; booleans as true/false, lists comma-separated."""
    if not params:
        return None
    result = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        result[name] = value
    return result


def body_of(data: Any) -> Any:
    """A request body: a dict as given, a pydantic model by its aliases (the API's names)."""
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return data


def result_of(response: httpx.Response, model: type[M] | None) -> Any:
    """The response's body (a `model` when given), or the exception of its error envelope."""
    if response.status_code >= 400:
        raise error_from_response(response)
    if response.status_code == 204 or not response.content:
        return None
    body = response.json()
    return model.model_validate(body) if model is not None else body


@dataclass
class PageCursor:
    """Where the next page of a list starts: the `offset` style (`pagination.has_more` /
    `hasMore`) or the cursor style (`pagination.nextCursor` / `next_cursor`)."""

    params: dict[str, Any]
    done: bool = False

    def advance(self, body: dict[str, Any], count: int) -> None:
        pagination = body.get("pagination") or {}
        cursor = pagination.get("nextCursor", pagination.get("next_cursor"))
        has_more = pagination.get("hasMore", pagination.get("has_more"))
        if cursor:
            self.params["cursor"] = cursor
        elif has_more and count:
            self.params["offset"] = int(self.params.get("offset") or 0) + count
        else:
            self.done = True

"""The Hub's error envelope as exceptions.

Every error the Hub answers is `{"error": {"code", "message", "details", "request_id",
"timestamp"}}`; the client raises the class of its family (one per HTTP status family, a few
codes with classes of their own), carrying all of it:

    try:
        client.leads.get(lead_id)
    except hub_sdk.NotFoundError as error:
        print(error.code, error.message, error.request_id)
"""

from __future__ import annotations

from typing import Any

import httpx


class HubError(Exception):
    """Base of every error the SDK raises."""


class APIConnectionError(HubError):
    """The Hub could not be reached (after the retries): connection refused, timeout, ..."""


class APIError(HubError):
    """The Hub answered with an error: `status`, `code`, `message`, `details`, `request_id`."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 request_id: str | None = None, response: httpx.Response | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.request_id = request_id
        self.response = response

    @property
    def field(self) -> str | None:
        """The request field a validation error names."""
        return self.details.get("field")


class BadRequestError(APIError):
    """400: the request is malformed or refused (`VALIDATION_ERROR`, `BAD_REQUEST`, ...)."""


class ValidationError(BadRequestError):
    """400 `VALIDATION_ERROR`: `field` and `details["reason"]` say what is wrong."""


class AuthenticationError(APIError):
    """401: no credentials, bad ones, or an expired or revoked token that could not be refreshed."""


class PermissionDeniedError(APIError):
    """403: the caller (its role, or its API key's scopes) may not do this."""


class NotFoundError(APIError):
    """404: no such route or row (another organization's ids are 404 too)."""


class ConflictError(APIError):
    """409: the change conflicts with the resource's state."""


class PayloadTooLargeError(APIError):
    """413: the body (or an uploaded file) is too large."""


class RateLimitError(APIError):
    """429: too many requests (`RATE_LIMIT_EXCEEDED`); `retry_after` seconds to wait."""

    @property
    def retry_after(self) -> float | None:
        return retry_after_seconds(self.response) if self.response is not None else None


class QuotaExceededError(RateLimitError):
    """429 `QUOTA_EXCEEDED`: the organization's monthly quota of a unit is used up."""


class ServerError(APIError):
    """5xx: the Hub failed (`INTERNAL_ERROR`, `REQUEST_TIMEOUT`, ...)."""


class ServiceUnavailableError(ServerError):
    """503: the Hub or one of its services is unavailable for now."""


STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
    409: ConflictError, 413: PayloadTooLargeError, 429: RateLimitError, 503: ServiceUnavailableError,
}
CODE_CLASSES: dict[str, type[APIError]] = {
    "VALIDATION_ERROR": ValidationError,
    "QUOTA_EXCEEDED": QuotaExceededError,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error response: its envelope, or what can be told without one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    envelope = body.get("error") if isinstance(body, dict) else None
    if isinstance(envelope, dict) and isinstance(envelope.get("code"), str):
        code, message = envelope["code"], str(envelope.get("message", ""))
        details = envelope.get("details") if isinstance(envelope.get("details"), dict) else {}
        request_id = envelope.get("request_id") or response.headers.get("X-Request-ID")
    else:  # not the Hub's envelope (a proxy in between, ...)
        code, message, details = f"HTTP_{response.status_code}", response.text[:500] or response.reason_phrase, {}
        request_id = response.headers.get("X-Request-ID")
    status = response.status_code
    cls = CODE_CLASSES.get(code) or STATUS_CLASSES.get(status) or (ServerError if status >= 500 else APIError)
    return cls(status, code, message, details, request_id, response)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The response's `Retry-After` in seconds (a number of seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    from datetime import datetime, timezone

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())

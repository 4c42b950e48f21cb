"""Errors: `raise HubError(code, message, details)` anywhere; the HTTP layer turns it into the
one envelope `{"error": {"code", "message", "details", "request_id", "timestamp"}}`.

Codes are symbolic names with a default HTTP status. The core's own are below; a plugin
declares its codes through the `hub_error_codes(register)` hook, which fills the registry of
its Hub (`hub.error_codes`, served in the API docs). `HubError` refuses a code that no Hub of
this process has registered, so a typo fails where it is raised, not in a client's parser.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any, Iterator

from pydantic import ValidationError

# code -> default HTTP status
CORE_ERROR_CODES = MappingProxyType({
    "VALIDATION_ERROR": 400,
    "BAD_REQUEST": 400,
    "INTEGRATION_CONNECTION_FAILED": 400,  # an integration's own test refused the credentials
    "AUTHENTICATION_FAILED": 401,
    "INVALID_CREDENTIALS": 401,
    "TOKEN_EXPIRED": 401,
    "TOKEN_REVOKED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "KEEPALIVE_TIMEOUT": 408,
    "CONFLICT": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "RATE_LIMIT_EXCEEDED": 429,
    "QUOTA_EXCEEDED": 429,
    "CONNECTION_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
    "REQUEST_TIMEOUT": 504,
    "AI_SERVICE_UNAVAILABLE": 503,
})
CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")

# Every code registered by any Hub of this process (hooks run when an app is created, never at
# import): what HubError checks against. Two Hubs may not give one code two statuses.
_KNOWN: dict[str, int] = dict(CORE_ERROR_CODES)


class ErrorCodes:
    """The error codes of one Hub: the core's, then each plugin's (`hub_error_codes`)."""

    def __init__(self) -> None:
        self._codes: dict[str, tuple[int, str, str]] = {
            code: (status, "core", "") for code, status in CORE_ERROR_CODES.items()
        }

    def register(self, plugin: str, code: str, status: int, description: str = "") -> None:
        if not isinstance(code, str) or not CODE_PATTERN.match(code):
            raise ValueError(f"error code {code!r} must be UPPER_SNAKE_CASE")
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"error code {code}: status must be an HTTP error status (400-599), not {status!r}")
        known = self._codes.get(code)
        if known is not None and known[0] != status:
            raise ValueError(f"error code {code} is already registered by {known[1]!r} with status {known[0]}")
        if _KNOWN.get(code, status) != status:
            raise ValueError(f"error code {code} has status {_KNOWN[code]} in another Hub of this process")
        if known is None:
            self._codes[code] = (status, plugin, description)
        _KNOWN[code] = status

    def status(self, code: str) -> int | None:
        entry = self._codes.get(code)
        return entry[0] if entry else None

    def __contains__(self, code: str) -> bool:
        return code in self._codes

    def __iter__(self) -> Iterator[tuple[str, int, str, str]]:
        """(code, status, plugin, description), sorted by code."""
        for code in sorted(self._codes):
            status, plugin, description = self._codes[code]
            yield code, status, plugin, description


class HubError(Exception):
    """Raise anywhere in a request (or a job, or a socket) to answer with the error envelope."""

    def __init__(
        self,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code not in _KNOWN:
            raise ValueError(f"unregistered error code {code} (declare it in the plugin's hub_error_codes hook)")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or _KNOWN[code]
        self.headers = headers or {}


def not_found(what: str = "Resource") -> HubError:
    return HubError("NOT_FOUND", f"{what} not found")


def validation_error(field: str, reason: str, message: str = "Invalid input data") -> HubError:
    return HubError("VALIDATION_ERROR", message, {"field": field, "reason": reason})


def conflict(message: str, **details: Any) -> HubError:
    return HubError("CONFLICT", message, details)


def pydantic_details(error: ValidationError) -> dict[str, Any]:
    """The first problem as {field, reason}, and all of them under `errors`."""
    problems = [
        {"field": ".".join(str(p) for p in item["loc"]) or "body", "reason": item["msg"]}
        for item in error.errors(include_url=False)
    ]
    first = problems[0] if problems else {"field": "body", "reason": "invalid"}
    return {**first, "errors": problems}

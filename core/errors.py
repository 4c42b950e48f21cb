"""One error format for the whole Hub.

Every error leaves the server as
    {"error": {"code", "message", "details", "request_id", "timestamp"}}
with `code` taken from the registry below (plugins add theirs with `register_error_code`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError
from quart import Quart, Request, g, jsonify
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("hub.errors")

# code -> default HTTP status
ERROR_CODES: dict[str, int] = {
    "VALIDATION_ERROR": 400,
    "BAD_REQUEST": 400,
    "AUTHENTICATION_FAILED": 401,
    "INVALID_CREDENTIALS": 401,
    "TOKEN_EXPIRED": 401,
    "TOKEN_REVOKED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "RATE_LIMIT_EXCEEDED": 429,
    "QUOTA_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
    "AI_SERVICE_UNAVAILABLE": 503,
}

_HTTP_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "AUTHENTICATION_FAILED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMIT_EXCEEDED",
    503: "SERVICE_UNAVAILABLE",
}


def register_error_code(code: str, status: int) -> None:
    existing = ERROR_CODES.get(code)
    if existing is not None and existing != status:
        raise ValueError(f"error code {code} is already registered with status {existing}")
    ERROR_CODES[code] = status


class HubError(Exception):
    """Raise anywhere in a request to answer with the error envelope."""

    def __init__(
        self,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unregistered error code {code}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or ERROR_CODES[code]
        self.headers = headers or {}


def not_found(what: str = "Resource") -> HubError:
    return HubError("NOT_FOUND", f"{what} not found")


def validation_error(field: str, reason: str, message: str = "Invalid input data") -> HubError:
    return HubError("VALIDATION_ERROR", message, {"field": field, "reason": reason})


def utcnow_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def error_response(code: str, message: str, status: int, details: dict | None = None, headers=None):
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": getattr(g, "request_id", None),
            "timestamp": utcnow_iso(),
        }
    }
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def pydantic_details(error: ValidationError) -> dict[str, Any]:
    """The first problem as {field, reason}, and all of them under `errors`."""
    problems = [
        {"field": ".".join(str(p) for p in item["loc"]) or "body", "reason": item["msg"]}
        for item in error.errors(include_url=False)
    ]
    first = problems[0] if problems else {"field": "body", "reason": "invalid"}
    return {**first, "errors": problems}


def install_error_handlers(app: Quart) -> None:
    @app.errorhandler(HubError)
    async def _hub_error(error: HubError):
        return error_response(error.code, error.message, error.status, error.details, error.headers)

    @app.errorhandler(RequestSchemaValidationError)
    async def _schema_error(error: RequestSchemaValidationError):
        cause = error.validation_error
        if isinstance(cause, ValidationError):
            details = pydantic_details(cause)
        else:  # a body that is not a JSON object, or not JSON at all
            details = {"field": "body", "reason": str(cause) or "must be a JSON object"}
        return error_response("VALIDATION_ERROR", "Invalid input data", 400, details)

    @app.errorhandler(ValidationError)
    async def _model_error(error: ValidationError):
        return error_response("VALIDATION_ERROR", "Invalid input data", 400, pydantic_details(error))

    @app.errorhandler(UnicodeDecodeError)
    async def _bad_encoding(error: UnicodeDecodeError):
        # Quart lets this escape get_json() as a 500; it is the client's mistake.
        return error_response(
            "VALIDATION_ERROR", "Request body is not valid UTF-8", 400, {"field": "body", "reason": str(error)}
        )

    @app.errorhandler(HTTPException)
    async def _http_error(error: HTTPException):
        status = error.code or 500
        code = _HTTP_STATUS_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
        message = {
            404: "The requested URL was not found",
            405: "Method not allowed for this URL",
            413: "Request body is too large",
            415: "Unsupported media type",
        }.get(status) or (error.description or error.name)
        headers = {}
        if status == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)
        return error_response(code, message, status, headers=headers)

    @app.errorhandler(Exception)
    async def _unhandled(error: Exception):
        log.exception("unhandled error (request_id=%s)", getattr(g, "request_id", None))
        return error_response("INTERNAL_ERROR", "Internal server error", 500)


class HubRequest(Request):
    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            return await super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:  # "[[[[..." nested too deeply: the client's mistake, not a 500
            if silent:
                return None
            return self.on_json_loading_failed(ValueError("JSON nested too deeply"))

    def on_json_loading_failed(self, error: Exception):
        raise HubError("VALIDATION_ERROR", "Malformed JSON body", {"field": "body", "reason": str(error)})

"""Every error leaves the server in one envelope, whoever raised it:

    {"error": {"code", "message", "details", "request_id", "timestamp"}}

HubError (any layer), request validation (quart-schema, pydantic), malformed or wrongly
encoded bodies, werkzeug's 404/405/413/415 and unhandled exceptions (500, logged with the
request id, no traceback sent) all go through `error_response`.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from pydantic import ValidationError
from quart import Quart, Request, g, jsonify
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from core.kernel.errors import HubError, pydantic_details
from core.kernel.times import iso_now

log = logging.getLogger("hub.errors")

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
_HTTP_MESSAGES = {
    404: "The requested URL was not found",
    405: "Method not allowed for this URL",
    413: "Request body is too large",
    415: "Unsupported media type",
}


def error_body(code: str, message: str, details: dict | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": getattr(g, "request_id", None),
            "timestamp": iso_now(),
        }
    }


def error_response(code: str, message: str, status: int, details: dict | None = None, headers=None):
    response = jsonify(error_body(code, message, details))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


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
        message = _HTTP_MESSAGES.get(status) or (error.description or error.name)
        headers = {}
        if status == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)
        return error_response(code, message, status, headers=headers)

    @app.errorhandler(Exception)
    async def _unhandled(error: Exception):
        log.exception("unhandled error (request_id=%s)", getattr(g, "request_id", None))
        return error_response("INTERNAL_ERROR", "Internal server error", 500)


def nul_path(value: Any, path: str = "") -> str | None:
    """Where the first NUL character hides in JSON data (a key or a string), else None."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            found = nul_path(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


BODY_LIMIT_ATTRIBUTE = "_hub_max_body_bytes"


def max_body(limit: int | Callable[[Any], int]) -> Callable:
    """A route whose bodies may be larger (or must be smaller) than `[http] max_body_bytes`:
    `limit` in bytes, or a function of the Hub giving it (a plugin setting). Put it under the
    route decorator, e.g. n8n's 16 MB webhooks."""

    def decorator(view: Callable) -> Callable:
        setattr(view, BODY_LIMIT_ATTRIBUTE, limit)
        return view

    return decorator


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _may_exceed(method: str, headers: Any, default_limit: int) -> bool:
    """Whether a request's body may be larger than the default bound."""
    length = headers.get("content-length")
    if length is None:  # size unknown: a chunked body, or an HTTP/2 body sent without a length
        return method in _BODY_METHODS or "chunked" in headers.get("transfer-encoding", "").lower()
    return not length.isdigit() or int(length) > default_limit


class HubRequest(Request):
    app: Any = None  # the HubApp whose requests these are (create_app makes a subclass per app)

    def __init__(self, method: str, scheme: str, path: str, query_string: bytes, headers: Any, root_path: str,
                 http_version: str, scope: Any, *, max_content_length: int | None = None, **kwargs: Any) -> None:
        # The body's bound is fixed here, before routing: a route with its own (max_body) is
        # looked up only for a body that the default would refuse or whose size is unknown, so a
        # GET (no body, no length) never pays for a second route match.
        if max_content_length is not None and self.app is not None \
                and _may_exceed(method, headers, max_content_length):
            own = self.app.body_limit_for(path, method)
            if own is not None:
                max_content_length = own
        super().__init__(method, scheme, path, query_string, headers, root_path, http_version, scope,
                         max_content_length=max_content_length, **kwargs)

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            data = await super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:  # "[[[[..." nested too deeply: the client's mistake, not a 500
            if silent:
                return None
            return self.on_json_loading_failed(ValueError("JSON nested too deeply"))
        # NUL can only arrive escaped (\u0000): PostgreSQL text cannot store it, SQLite would,
        # so it is refused everywhere rather than accepted on one database and a 500 on the other.
        if data is not None and b"\\u0000" in await self.get_data(cache=True):
            where = nul_path(data)
            if where is not None:
                raise HubError("VALIDATION_ERROR", "Invalid input data",
                               {"field": where, "reason": "must not contain NUL (\\u0000) characters"})
        return data

    def on_json_loading_failed(self, error: Exception):
        raise HubError("VALIDATION_ERROR", "Malformed JSON body", {"field": "body", "reason": str(error)})

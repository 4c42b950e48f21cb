"""The WebSocket protocol's vocabulary: close codes, message encoding, parsing of client
messages (the protocol itself: core/events/websocket/__init__.py)."""

from __future__ import annotations

import json
from typing import Any

from core.kernel.errors import HubError
from core.kernel.jsonable import json_default
from core.kernel.times import iso_now

EVENTS_PERMISSION = "events.read"
NOTIFICATION_TYPES = ("notification", "notification.*", "announcement", "announcement.*")

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
CLOSE_TOO_SLOW = 1013
CLOSE_KEEPALIVE = 4408


def close_code_for(error: HubError) -> int:
    """4000 + the HTTP status of the error (4401, 4403, 4404, 4429, ...); 1009 for too large."""
    if error.status == 413:
        return CLOSE_TOO_BIG
    if 400 <= error.status < 500:
        return 4000 + error.status
    return CLOSE_SERVER_ERROR


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, default=json_default, separators=(",", ":"), ensure_ascii=False)


def server_message(kind: str, data: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"type": kind}
    if data is not None:
        body["data"] = data
    body["timestamp"] = iso_now()
    return encode(body)


def error_message(error: HubError, request_id: str | None = None) -> str:
    return encode({
        "type": "error",
        "error": {
            "code": error.code,
            "message": error.message,
            "details": error.details,
            "request_id": request_id,
            "timestamp": iso_now(),
        },
    })

def close_reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    return text.encode("utf-8")[:120].decode("utf-8", "ignore")


def auth_token(raw: str | bytes, max_bytes: int) -> str:
    try:
        message = parse(raw, max_bytes)
    except HubError as error:
        if error.code != "VALIDATION_ERROR":
            raise
        message = None
    token = message.get("token") if isinstance(message, dict) else None
    if not isinstance(message, dict) or message.get("type") != "auth" or not isinstance(token, str) or not token.strip():
        raise HubError(
            "AUTHENTICATION_FAILED", "Authentication required",
            {"field": "token", "reason": 'the first message must be {"type": "auth", "token": "..."}'},
        )
    return token.strip()


def parse(raw: str | bytes, max_bytes: int) -> Any:
    if len(raw) > max_bytes:
        raise HubError("PAYLOAD_TOO_LARGE", f"Messages are limited to {max_bytes} bytes", {"limit": max_bytes})
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise HubError("VALIDATION_ERROR", "Malformed JSON message", {"field": "message", "reason": str(error)}) from None


def parse_filters(events: Any) -> tuple[str, ...]:
    if isinstance(events, str):
        events = [events]
    if (
        not isinstance(events, list) or not events or len(events) > 100
        or not all(isinstance(e, str) and 0 < len(e) <= 200 for e in events)
    ):
        raise HubError(
            "VALIDATION_ERROR", "`events` must be a list of event types or patterns",
            {"field": "events", "reason": "a non-empty list of up to 100 strings such as \"lead.*\""},
        )
    return tuple(events)

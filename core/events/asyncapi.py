"""The event catalogue as an AsyncAPI 3.0 document (`GET /asyncapi.json`), so client authors
can generate code for the Hub's live events the way they do for its HTTP API from /openapi.json.

Three channels carry the same catalogued events in two wire shapes:

    events         WebSocket `/ws`                {"type", "data", "timestamp"}  every type
    notifications  WebSocket `/ws/notifications`  the same shape                 notification.*, announcement.*
    webhooks       HTTP POST to a registered URL  {"event", "data", "timestamp", "id"}, signed with
                                                  `X-Signature: sha256=<hex HMAC-SHA256 of the body>`

Each event type's payload model (its `hub_event_types` registration) becomes a component schema;
pydantic's `$defs` are lifted into components so every `$ref` resolves inside the document.
"""

from __future__ import annotations

import copy
import fnmatch
from typing import Any, Iterable

from core.events.catalogue import EventType
from core.events.websocket.protocol import NOTIFICATION_TYPES

REF_PREFIX = "#/components/schemas/"


def _lift(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """Move a pydantic schema's `$defs` into `schemas` and point its refs there."""
    schema = copy.deepcopy(schema)
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (v.replace("#/$defs/", REF_PREFIX) if k == "$ref" and isinstance(v, str) else rewrite(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    for name in list(schemas):
        schemas[name] = rewrite(schemas[name])
    return rewrite(schema)


def _payload_schema(event_type: EventType, schemas: dict[str, Any]) -> str:
    """Register the event's payload model; the component name."""
    model = event_type.payload
    name = model.__name__
    schema = _lift(model.model_json_schema(), schemas)
    if name in schemas and schemas[name] != schema:  # two plugins' models share a class name
        name = f"{event_type.plugin}_{name}"
    schemas[name] = schema
    return name


def _is_notification(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in NOTIFICATION_TYPES)


def document(types: Iterable[EventType], version: str, title: str = "The Hub events") -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channel_messages: dict[str, dict[str, Any]] = {"events": {}, "notifications": {}, "webhooks": {}}
    for event_type in types:
        payload = _payload_schema(event_type, schemas)
        summary = event_type.description
        notes = [f"Emitted by the `{event_type.plugin}` plugin."]
        if event_type.permission:
            notes.append(f"Delivered over WebSocket to callers holding `{event_type.permission}`.")
        if event_type.seed:
            notes.append(f"Named by seed {event_type.seed}.")
        # Keys of AsyncAPI maps take letters, digits, "-" and "_": "lead.created" -> "lead-created".
        key = event_type.name.replace(".", "-")
        socket_key, hook_key = f"socket-{key}", f"webhook-{key}"
        messages[socket_key] = {
            "name": event_type.name, "title": event_type.name, "summary": summary, "description": " ".join(notes),
            "contentType": "application/json",
            "payload": {
                "type": "object", "required": ["type", "data", "timestamp"], "additionalProperties": False,
                "properties": {
                    "type": {"type": "string", "const": event_type.name},
                    "data": {"$ref": REF_PREFIX + payload},
                    "timestamp": {"type": "string", "format": "date-time", "description": "UTC, ending in Z"},
                },
            },
        }
        messages[hook_key] = {
            "name": event_type.name, "title": event_type.name, "summary": summary, "description": " ".join(notes),
            "contentType": "application/json",
            "headers": {"$ref": REF_PREFIX + "WebhookHeaders"},
            "payload": {
                "type": "object", "required": ["event", "data", "timestamp", "id"], "additionalProperties": False,
                "properties": {
                    "event": {"type": "string", "const": event_type.name},
                    "data": {"$ref": REF_PREFIX + payload},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "id": {"type": "string", "description": "The event id: the same on every redelivery"},
                },
            },
        }
        channel_messages["events"][key] = {"$ref": f"#/components/messages/{socket_key}"}
        channel_messages["webhooks"][key] = {"$ref": f"#/components/messages/{hook_key}"}
        if _is_notification(event_type.name):
            channel_messages["notifications"][key] = {"$ref": f"#/components/messages/{socket_key}"}
    schemas["WebhookHeaders"] = {
        "type": "object", "required": ["X-Signature", "X-Hub-Event", "X-Hub-Delivery", "X-Hub-Attempt"],
        "properties": {
            "X-Signature": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$",
                            "description": "HMAC-SHA256 of the exact body bytes with the webhook's secret"},
            "X-Hub-Event": {"type": "string"},
            "X-Hub-Delivery": {"type": "string", "description": "The delivery id"},
            "X-Hub-Attempt": {"type": "string", "description": "1 for the first attempt"},
        },
    }
    socket_description = (
        "Authenticate with `Authorization: Bearer <JWT or API key>`, `X-API-Key`, `?token=` or a first "
        'message `{"type": "auth", "token": "..."}`; the server answers `{"type": "connected"}`, pings '
        'every `ping_interval_seconds` (answer `{"type": "pong"}`), and accepts `{"type": "subscribe", '
        '"events": ["lead.*"]}` to narrow the stream. An event whose data carries `user_id` reaches that '
        "user only. Close codes: 4401 authentication, 4403 permission, 4404 unknown topic, 4408 "
        "keep-alive timeout, 4429 connection limit, 1009 message too large, 1013 client too slow."
    )
    channels = {
        "events": {
            "address": "/ws", "title": "Every event of the caller's organization",
            "description": socket_description, "messages": channel_messages["events"],
        },
        "notifications": {
            "address": "/ws/notifications", "title": "Notifications and announcements for the caller",
            "description": socket_description + (
                ' Seed 001\'s message names: a notification event arrives as `{"type": "notification", '
                '"event": "<its type, e.g. notification.sent>", "data", "timestamp"}`.'),
            "messages": channel_messages["notifications"],
        },
        "webhooks": {
            "address": "{webhook_url}", "title": "Signed deliveries to an organization's webhooks",
            "description": (
                "Registered with `POST /api/v1/webhooks` (admins). A 2xx answer is success; anything else is "
                "retried with exponential back-off; deduplicate by the body's `id`."
            ),
            "parameters": {"webhook_url": {"description": "The URL the organization registered"}},
            "messages": channel_messages["webhooks"],
        },
    }
    operations = {
        name: {
            "action": "receive",
            "title": f"Receive {channel['title'][0].lower()}{channel['title'][1:]}",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{key}"} for key in channel["messages"]],
        }
        for name, channel in channels.items()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": title, "version": version,
            "description": "The events the Hub's plugins emit, as they arrive over WebSocket and webhooks.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "hub": {"host": "localhost:8000", "protocol": "ws",
                    "description": "The Hub's WebSocket endpoint (wss behind TLS); the host is the server's"},
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }

"""Serving one socket: authentication, the connection limit, then reading, writing and
keep-alive until it closes (protocol: core/events/websocket/__init__.py)."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import uuid
from typing import Any, Awaitable, Callable, Iterable

from quart import websocket

from core.events.bus import Event
from core.events.websocket.gateway import Connection, Gateway, current_gateway
from core.events.websocket.protocol import (
    CLOSE_GOING_AWAY,
    CLOSE_KEEPALIVE,
    CLOSE_SERVER_ERROR,
    CLOSE_TOO_BIG,
    EVENTS_PERMISSION,
    auth_token,
    close_code_for,
    close_reason,
    error_message,
    parse_filters,
    server_message,
    parse,
)
from core.events.websocket.topics import EVENTS, Topic
from core.http.auth import credentials_from_headers
from core.kernel.errors import HubError
from core.kernel.hub import current_hub
from core.kernel.jsonable import jsonable
from core.tenancy.principals import principal_from_credential

log = logging.getLogger("hub.websocket")


async def serve_topic(
    match: dict[str, Any] | None = None,
    *,
    types: Iterable[str] = ("*",),
    authorize: Callable[[Any], Any] | None = None,
    permission: str = EVENTS_PERMISSION,
    name: str = "topic",
    render: Callable[[dict[str, Any], Any], dict[str, Any] | None] | None = None,
    on_message: Callable[[Any, dict, Callable[[dict], None]], Awaitable[None]] | None = None,
) -> None:
    """Serve the current websocket as a topic socket: after authentication, `authorize`,
    and the connection limit, stream the organization's events whose type matches `types`
    and whose `data` fields equal `match`. Use it from a plugin's websocket route:

        @bp.websocket("/ws/executions/<execution_id>")
        @public                                   # the socket authenticates itself
        async def execution_socket(execution_id):
            async def authorize(principal):       # False -> 4404; or raise HubError
                return await Execution.filter(org_id=principal.org_id, id=execution_id).exists()
            await serve_topic({"execution_id": execution_id}, types=["execution.*"], authorize=authorize)

    `authorize(principal)` may be sync or async; returning False closes with NOT_FOUND
    (4404, like a foreign id over HTTP); raising HubError closes with 4000 + its status.
    `render(message, principal)` turns each event's `{"type", "data", "timestamp"}` into the
    message this socket sends (a seed's own shape; None: nothing); without it that message is
    sent as it is. `on_message(principal, message, reply)` takes the client's messages of other
    types than the protocol's own (ping, pong, auth, subscribe); `reply(dict)` answers that
    socket only, a HubError it raises is sent as an error message.
    """
    await serve(Topic.of(types, match, name, render), authorize=authorize, permission=permission,
                on_message=on_message)


async def broadcast(org_id: Any, event_type: str, data: dict[str, Any], hub: Any = None) -> None:
    """A volatile event for open sockets only (presence, cursors): checked against the catalogue
    like any event, then fanned out at once to this organization's sockets in every process (by
    Redis when configured), never stored, never passed to `hub_on_event` or webhooks; a socket
    that is not open misses it. Anything that must not be lost goes through `emit`."""
    hub = hub or current_hub()
    hub.bus.catalogue.check(event_type, data)
    await hub.extensions["websocket"].sink(Event(event_type, str(org_id), jsonable(data)))


async def serve(
    topic: Topic = EVENTS,
    *,
    authorize: Callable[[Any], Any] | None = None,
    permission: str = EVENTS_PERMISSION,
    on_message: Callable[[Any, dict, Callable[[dict], None]], Awaitable[None]] | None = None,
) -> None:
    """Run the current websocket until it closes (see the module docstring for the protocol)."""
    gateway = current_gateway()
    socket = websocket._get_current_object()
    connection_id = uuid.uuid4().hex
    await socket.accept()
    try:
        principal, credential = await _authenticate(gateway, socket)
        if not principal.can(permission):
            raise HubError("FORBIDDEN", "Insufficient permissions", {"permission": permission, "role": principal.role})
        await _check_plugin_enabled(gateway, socket, principal)
        if authorize is not None:
            allowed = authorize(principal)
            if inspect.isawaitable(allowed):
                allowed = await allowed
            if allowed is False:
                raise HubError("NOT_FOUND", "Topic not found")
        connection = Connection(gateway, principal, credential, topic, permission)
        connection.id = connection_id
        connection.on_message = on_message
        await gateway.open(connection)
    except HubError as error:
        gateway.stats["rejected"] += 1
        await _refuse(socket, error, connection_id)
        return
    except Exception:
        gateway.stats["rejected"] += 1
        log.exception("WebSocket connection %s failed while opening", connection_id)
        await _refuse(socket, HubError("INTERNAL_ERROR", "Internal server error"), connection_id)
        return
    try:
        connection.push(server_message("connected", {
            "connection_id": connection.id, "user_id": connection.user_id, "org_id": connection.org_id,
            "node": gateway.node, "topic": topic.name, "events": list(connection.filters),
        }))
        await _run(gateway, socket, connection)
    finally:  # also when the client goes away (Quart cancels the handler)
        gateway.close(connection)


async def _refuse(socket: Any, error: HubError, connection_id: str) -> None:
    try:
        await socket.send(error_message(error, connection_id))
        await socket.close(close_code_for(error), close_reason(error.message))
    except asyncio.CancelledError:
        raise
    except Exception:
        pass


async def _authenticate(gateway: Gateway, socket: Any) -> tuple[Any, str]:
    credential = credentials_from_headers(socket.headers) or (socket.args.get("token") or "").strip() or None
    if credential is None:
        timeout = gateway.settings.auth_timeout_seconds
        try:
            raw = await asyncio.wait_for(socket.receive(), timeout)
        except asyncio.TimeoutError:
            raise HubError(
                "AUTHENTICATION_FAILED",
                f"Authentication required: send a token within {timeout:g} s",
                {"hint": 'Authorization header, ?token=, or {"type": "auth", "token": "..."}'},
            ) from None
        credential = auth_token(raw, gateway.settings.max_message_bytes)
    return await principal_from_credential(credential), credential


async def _check_plugin_enabled(gateway: Gateway, socket: Any, principal: Any) -> None:
    owner = gateway.hub.blueprint_owner.get(socket.blueprint or "")
    if owner and not await gateway.hub.plugin_enabled_for(principal.org_id, owner):
        raise HubError("NOT_FOUND", "The requested URL not found")


async def _run(gateway: Gateway, socket: Any, connection: Connection) -> None:
    tasks = [
        asyncio.create_task(_write(gateway, socket, connection)),
        asyncio.create_task(_read(gateway, socket, connection)),
        asyncio.create_task(_keep_alive(gateway, connection)),
    ]
    closing = asyncio.create_task(connection.closing.wait())
    try:
        done, _ = await asyncio.wait([*tasks, closing], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not closing and not task.cancelled() and task.exception() is not None:
                error = task.exception()
                if not isinstance(error, _Disconnected):
                    log.error("WebSocket connection %s failed", connection.id, exc_info=error)
                    connection.close(CLOSE_SERVER_ERROR, HubError("INTERNAL_ERROR", "Internal server error"))
                else:
                    connection.close(CLOSE_GOING_AWAY)
    finally:
        for task in (*tasks, closing):
            task.cancel()
        await asyncio.gather(*tasks, closing, return_exceptions=True)
    code, error = connection.close_code, connection.close_error
    try:
        if error is not None:
            await socket.send(error_message(error, connection.id))
        await socket.close(code, close_reason(error.message if error else ""))
    except asyncio.CancelledError:
        raise
    except Exception:
        pass


class _Disconnected(Exception):
    pass


async def _write(gateway: Gateway, socket: Any, connection: Connection) -> None:
    queue, stats = connection.queue, gateway.stats
    while True:
        text = await queue.get()
        try:
            await socket.send(text)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise _Disconnected() from error
        connection.delivered += 1
        stats["messages_delivered"] += 1


async def _read(gateway: Gateway, socket: Any, connection: Connection) -> None:
    settings = gateway.settings
    while True:
        raw = await socket.receive()
        connection.seen.set()
        try:
            message = parse(raw, settings.max_message_bytes)
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                raise HubError("VALIDATION_ERROR", "A message is a JSON object with a string `type`", {"field": "type", "reason": "required"})
            kind = message["type"]
            if kind == "ping":
                connection.push(server_message("pong"))
            elif kind == "pong":
                pass
            elif kind == "auth":
                try:
                    await _renew(connection, auth_token(raw, settings.max_message_bytes))
                except HubError as error:
                    if error.status != 401:
                        raise
                    # a failed renewal is reported; the socket keeps its current credential
                    connection.push(error_message(error, connection.id))
            elif kind == "subscribe":
                connection.filters = parse_filters(message.get("events"))
                connection.push(server_message("subscribed", {"events": list(connection.filters)}))
            elif connection.on_message is not None:
                await connection.on_message(connection.principal, message,
                                            lambda answer: connection.push(json.dumps(answer)))
            else:
                raise HubError(
                    "VALIDATION_ERROR", f"Unknown message type {kind!r}",
                    {"field": "type", "reason": "expected ping, pong, auth or subscribe"},
                )
        except HubError as error:
            if error.code == "PAYLOAD_TOO_LARGE":
                connection.close(CLOSE_TOO_BIG, error)
                return
            if error.status in (401, 403):
                connection.close(close_code_for(error), error)
                return
            connection.push(error_message(error, connection.id))  # a bad message is not fatal


async def _renew(connection: Connection, credential: str) -> None:
    principal = await principal_from_credential(credential)
    if str(principal.user_id) != connection.user_id or str(principal.org_id) != connection.org_id:
        raise HubError("FORBIDDEN", "A socket cannot change its user", {"field": "token"})
    connection.principal, connection.credential = principal, credential
    connection.push(server_message("authenticated", {"user_id": connection.user_id, "org_id": connection.org_id}))


async def _revalidate(connection: Connection) -> None:
    """At each keep-alive: the credential still valid, the principal still allowed."""
    try:
        principal = await principal_from_credential(connection.credential)
    except HubError as error:
        connection.close(close_code_for(error), error)
        return
    except Exception:
        log.warning("could not re-check the credentials of WebSocket %s", connection.id, exc_info=True)
        return  # a database hiccup is not the client's fault
    if not principal.can(connection.permission):
        connection.close(4403, HubError("FORBIDDEN", "Insufficient permissions", {"permission": connection.permission}))
        return
    connection.principal = principal


async def _keep_alive(gateway: Gateway, connection: Connection) -> None:
    settings = gateway.settings
    while True:
        await asyncio.sleep(settings.ping_interval_seconds)
        await _revalidate(connection)
        if connection.closing.is_set():
            return
        connection.seen.clear()
        connection.push(server_message("ping"))
        try:
            await asyncio.wait_for(connection.seen.wait(), settings.pong_timeout_seconds)
        except asyncio.TimeoutError:
            gateway.stats["keepalive_closed"] += 1
            connection.close(
                CLOSE_KEEPALIVE,
                HubError("KEEPALIVE_TIMEOUT", f"No answer to ping within {settings.pong_timeout_seconds:g} s"),
            )
            return

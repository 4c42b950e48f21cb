"""The core's WebSocket routes (protocol, delivery rule and close codes: core/websocket.py).

    /ws                  every event of the caller's organization (seed 004)
    /ws/notifications    notification and announcement events for the caller (seed 001)

A websocket route authenticates itself (header, `?token=` or a first `auth` message), so
it is marked @public; plugins add topic sockets with `core.websocket.serve_topic`.
"""

from quart import Blueprint

from core.http.auth import public
from core.events.websocket.sockets import serve
from core.events.websocket.topics import EVENTS, NOTIFICATIONS

bp = Blueprint("core_ws", __name__)


@bp.websocket("/ws")
@public
async def events_socket():
    await serve(EVENTS)


@bp.websocket("/ws/notifications")
@public
async def notifications_socket():
    await serve(NOTIFICATIONS)

"""A one-module plugin in a plugins_path folder: one public route."""

from quart import Blueprint

from core import public

bp = Blueprint("hub_ping", __name__)


@bp.get("/api/ping-from-folder")
@public
async def ping():
    """Answers, to show the module was loaded."""
    return {"pong": True}


def hub_routes():
    return bp

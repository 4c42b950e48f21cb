"""`/health` (seed 003 shape plus plugin checks), `/ready`, `/healthz` (n8n)."""

from __future__ import annotations

import asyncio
import time

from pydantic import BaseModel
from quart import Blueprint
from quart_schema import document_response, validate_response

from core.http.auth import public
from core.kernel.db import ping
from core.kernel.plugins import HUB_VERSION
from core.builtin.schemas import HealthResponse, ReadyResponse
from core.kernel.hub import current_hub

bp = Blueprint("core_health", __name__)
CHECK_TIMEOUT_SECONDS = 3.0
STATUS_ORDER = ("healthy", "degraded", "unhealthy")


async def _run_check(check) -> str:
    try:
        result = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the request itself is being cancelled
        return "unhealthy"  # a check that leaked a cancellation must not blank out /health
    except Exception:
        return "unhealthy"
    return result if result in STATUS_ORDER else "unhealthy"


@bp.get("/health")
@public
@validate_response(HealthResponse, 200)
@validate_response(HealthResponse, 503)
async def health():
    """The Hub's health (seed 003): each check's status, and 503 when a core check is unhealthy."""
    hub = current_hub()
    names = list(hub.health_checks)
    results = await asyncio.gather(*(_run_check(check) for _, check in hub.health_checks.values()))
    checks = dict(zip(names, results))
    plugin_results = [r for n, r in checks.items() if hub.health_checks[n][0] != "core"]
    checks.setdefault("dependencies", max(plugin_results, key=STATUS_ORDER.index) if plugin_results else "healthy")
    core_results = [checks[n] for n in names if hub.health_checks[n][0] == "core"]
    if "unhealthy" in core_results:
        status = "unhealthy"
    elif any(r != "healthy" for r in checks.values()):
        status = "degraded"
    else:
        status = "healthy"
    body = HealthResponse(
        status=status, version=HUB_VERSION, uptime_seconds=int(time.time() - hub.started_at), checks=checks
    )
    return body, 503 if status == "unhealthy" else 200


@bp.get("/ready")
@public
@validate_response(ReadyResponse, 200)
@validate_response(ReadyResponse, 503)
async def ready():
    """Whether the Hub can serve requests (its database answers): 200 or 503."""
    try:
        await asyncio.wait_for(ping(), CHECK_TIMEOUT_SECONDS)
    except Exception:
        return ReadyResponse(ready=False), 503
    return ReadyResponse(ready=True)


class LivenessResponse(BaseModel):
    status: str


@bp.get("/healthz")
@public
@document_response(LivenessResponse)
async def healthz():
    """Liveness (n8n style): the process answers."""
    return {"status": "ok"}

"""Metrics, structured logs and trace context (seed 003 §4 and §7).

* `GET /metrics`: Prometheus text format with the standard metrics of seed 003 §7
  (`http_requests_total`, `http_request_duration_seconds`, `http_errors_total`,
  `http_connections_active`, `db_queries_total`, `db_query_duration_seconds`,
  `cache_operations_total`, `cache_hit_rate`). Under `hub serve` every worker process writes
  its samples into a directory shared by all of them (prometheus_client's multiprocess mode,
  `PROMETHEUS_MULTIPROC_DIR`, set up by `prepare_serve`), so any worker answers a scrape
  with the totals of all. `/metrics` is public unless `[observability] metrics_token` is
  set: scrapers usually reach it unauthenticated on an internal network, and it shows route
  patterns and counts, no tenant data. Endpoints are route patterns (`/api/x/<id>`; requests
  matching no route count as `unmatched`) and there is no `tenant_id` label: both would make
  the number of series unbounded. Per-tenant numbers are in the logs and `/api/v1/usage`.
  `hypercorn core.asgi:app --workers N` without `hub serve` gives per-process numbers, unless
  `PROMETHEUS_MULTIPROC_DIR` is set to an empty directory before it starts.
* Logs: one JSON object per line with seed 003's fields (timestamp, level, service, trace_id,
  span_id, message, context{tenant_id, user_id, endpoint, duration_ms, status_code, ...}) and
  one access line per request (logger `hub.access`).
* W3C trace context: a valid incoming `traceparent` keeps its trace id (a new span id is
  ours); a missing or invalid one starts a new trace. The response carries our
  `traceparent`; `current_traceparent()` / `trace_headers()` give it to outbound calls:

      httpx.post(url, json=body, headers=core.observability.trace_headers())

Plugins count their own cache lookups with `record_cache("embeddings.get", "hit")`, and a
job continues the trace of the request that enqueued it with `start_trace(traceparent)`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import time

from quart import Quart, Response, g, request, websocket
from quart.wrappers.response import DataBody
from quart_schema import document_response

from core.http.auth import public
from core.http.client import client_address
from core.http.openapi import Text, document_errors
from core.http.pipeline import Stage
from core.kernel.errors import HubError
from core.ops.observability import metrics as _metrics
from core.ops.observability.metrics import HubMetrics, instrument_tortoise
from core.ops.observability.tracing import _TRACE, TraceContext

access_log = logging.getLogger("hub.access")
log = logging.getLogger("hub.observability")
UNMATCHED_ENDPOINT = "unmatched"  # requests that match no route: raw paths would explode the label set


async def _error_type(response) -> str:
    """The error code of the envelope (`NOT_FOUND`, ...), else `HTTP_<status>`."""
    if response.mimetype == "application/json" and isinstance(response.response, DataBody):
        try:
            body = json.loads(await response.get_data(as_text=False))
            code = body["error"]["code"]
            if isinstance(code, str) and len(code) <= 64:
                return code
        except (ValueError, KeyError, TypeError):
            pass
    return f"HTTP_{response.status_code}"


def install(app: Quart, hub) -> Stage:
    """Trace context, request metrics and the access log as a pipeline stage; the same for
    WebSockets; and `GET /metrics`."""
    settings = hub.settings.observability
    metrics = HubMetrics(settings.service_name) if settings.metrics_enabled else None
    hub.extensions["metrics"] = metrics
    if metrics is not None:
        instrument_tortoise()

    def begin(headers) -> None:  # an HTTP request or a WebSocket connection
        trace = TraceContext.from_headers(headers)
        g.trace = trace
        _TRACE.set(trace)
        if metrics is not None:
            metrics.active.inc()
            g.counted_active = True

    def finish() -> None:
        if metrics is not None and getattr(g, "counted_active", False):
            g.counted_active = False
            metrics.active.dec()

    async def _begin_request() -> None:
        begin(request.headers)

    async def _end_request(response):
        trace = getattr(g, "trace", None)
        if trace is None:  # an earlier before_request refused the request
            trace = g.trace = TraceContext.from_headers(request.headers)
            _TRACE.set(trace)
        response.headers["traceparent"] = trace.traceparent
        started = getattr(g, "started", None)
        seconds = time.perf_counter() - started if started is not None else 0.0
        endpoint = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ENDPOINT
        status = response.status_code
        error_type = await _error_type(response) if status >= 400 else None
        if metrics is not None:
            metrics.observe_request(endpoint, request.method, status, seconds, error_type)
        if settings.access_log:
            context = {
                "endpoint": endpoint, "method": request.method, "path": request.path,
                "status_code": status, "duration_ms": round(seconds * 1000, 3),
            }
            if error_type is not None:
                context["error_type"] = error_type
            access_log.log(logging.ERROR if status >= 500 else logging.INFO, "Request processed",
                           extra={"context": context})
        return response

    async def _finish_request(_exception) -> None:
        finish()

    stage = Stage("observability", before=_begin_request, after=_end_request, teardown=_finish_request)

    @app.before_websocket
    async def _begin_websocket() -> None:
        begin(websocket.headers)

    @app.teardown_websocket
    async def _finish_websocket(_exception) -> None:
        finish()

    @app.before_serving
    async def _serving() -> None:
        if metrics is not None:
            _metrics._SERVING = metrics

    @app.after_serving
    async def _stopped() -> None:
        if metrics is not None and _metrics._SERVING is metrics:
            _metrics._SERVING = None
        if metrics is not None and metrics.directory:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid(), metrics.directory)  # drop its live gauges

    if metrics is None:
        return stage
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    trusted_proxies = hub.settings.rate_limits.trusted_proxies

    @public
    @document_errors(401, 403)
    @document_response(Text("text/plain"))  # Prometheus text, not JSON
    async def prometheus_metrics():
        """Prometheus metrics of every worker process (text exposition format).

        With `[observability] metrics_token` set it needs `Authorization: Bearer <token>`;
        without, only clients on this machine may read it (unless `metrics_public = true`)."""
        if token is not None:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
                raise HubError("AUTHENTICATION_FAILED", "A valid metrics token is required",
                               headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        elif not settings.metrics_public and not _local(client_address(trusted_proxies)):
            raise HubError("FORBIDDEN", "Metrics are readable from this machine only; set "
                           "[observability] metrics_token to scrape them from elsewhere",
                           {"reason": "metrics_token not set"})
        accept = request.headers.get("Accept")
        try:
            extra = await _metrics.job_families(hub, metrics.service)
        except Exception:  # the job numbers are missing from this scrape, the rest is there
            log.warning("metrics: could not read the job metrics", exc_info=True)
            extra = []
        if metrics.directory:  # reads every worker's files
            body, content_type = await asyncio.to_thread(metrics.render, accept, extra)
        else:
            body, content_type = metrics.render(accept, extra)
        return Response(body, status=200, content_type=content_type)

    app.add_url_rule("/metrics", "prometheus_metrics", prometheus_metrics, methods=["GET"])
    return stage


def _local(address: str) -> bool:
    """A loopback address, or no peer at all (an in-process ASGI caller such as a test client,
    which has no `client` in its scope)."""
    if request.scope.get("client") is None:
        return True
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False

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
import atexit
import functools
import hmac
import importlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from quart import Quart, Response, current_app, g, has_app_context, has_request_context, has_websocket_context
from quart import request, websocket
from quart.wrappers.response import DataBody

from core.auth import public
from core.errors import HubError

log = logging.getLogger("hub.observability")
access_log = logging.getLogger("hub.access")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ENDPOINT = "unmatched"  # requests that match no route: raw paths would explode the label set
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LOG_LEVELS = {"WARNING": "WARN", "CRITICAL": "ERROR"}  # seed 003: INFO | WARN | ERROR (and DEBUG)


# -- trace context (W3C traceparent) ------------------------------------------------------------

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")


@dataclass(frozen=True)
class TraceContext:
    trace_id: str  # 32 hex digits, shared by every service on the request's path
    span_id: str  # 16 hex digits, this server's handling of the request
    parent_id: str | None  # the caller's span, when the request carried a valid traceparent
    flags: str = "01"
    tracestate: str | None = None

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    @classmethod
    def new(cls) -> "TraceContext":
        return cls(_random_hex(16), _random_hex(8), None)

    @classmethod
    def from_headers(cls, headers) -> "TraceContext":
        parsed = parse_traceparent(headers.get("traceparent"))
        if parsed is None:
            return cls.new()
        trace_id, parent_id, flags = parsed
        tracestate = (headers.get("tracestate") or "").strip()[:512] or None
        return cls(trace_id, _random_hex(8), parent_id, flags, tracestate)


def _random_hex(length_bytes: int) -> str:
    while True:
        value = secrets.token_hex(length_bytes)
        if value.strip("0"):  # all zeros is invalid in W3C trace context
            return value


def parse_traceparent(value: str | None) -> tuple[str, str, str] | None:
    """(trace_id, parent_id, flags) of a valid `traceparent`, else None.

    Version 00 must be exactly four fields; a later version may append fields (which we do
    not understand and drop); version ff, all-zero ids and upper-case hex are invalid."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip())
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if not trace_id.strip("0") or not parent_id.strip("0"):
        return None
    return trace_id, parent_id, flags


_TRACE: ContextVar[TraceContext | None] = ContextVar("hub_trace", default=None)


def current_trace() -> TraceContext | None:
    return _TRACE.get()


def current_traceparent() -> str | None:
    """This request's `traceparent` (our span as the parent), for outbound calls; None
    outside a request."""
    trace = _TRACE.get()
    return trace.traceparent if trace else None


def start_trace(traceparent: str | None = None) -> TraceContext:
    """Make this task's trace context a new span of `traceparent` (or a new trace), e.g. in
    a job that was enqueued with `current_traceparent()`; log lines then carry its ids."""
    trace = TraceContext.from_headers({"traceparent": traceparent} if traceparent else {})
    _TRACE.set(trace)
    return trace


def trace_headers() -> dict[str, str]:
    """Headers that pass the trace on to another service (empty outside a request)."""
    trace = _TRACE.get()
    if trace is None:
        return {}
    headers = {"traceparent": trace.traceparent}
    if trace.tracestate:
        headers["tracestate"] = trace.tracestate
    return headers


# -- logging ------------------------------------------------------------------------------------


def _request_context() -> dict[str, Any]:
    """What every log line written while handling a request knows about it."""
    if has_request_context():
        current = request
    elif has_websocket_context():
        current = websocket
    else:
        return {}
    context: dict[str, Any] = {}
    principal = getattr(g, "principal", None)
    if principal is not None:
        context["tenant_id"] = str(principal.org_id)
        context["user_id"] = str(principal.user_id)
    rule = current.url_rule
    context["endpoint"] = rule.rule if rule is not None else current.path
    request_id = getattr(g, "request_id", None)
    if request_id:
        context["request_id"] = request_id
    return context


class JsonFormatter(logging.Formatter):
    """One JSON object per line, seed 003 §7's fields first; `extra={"context": {...}}` adds to
    `context`, and the current request's tenant, user, endpoint and request id are filled in."""

    def __init__(self, service: str = "hub", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        trace = _TRACE.get()
        context = _request_context()
        extra = getattr(record, "context", None)
        if isinstance(extra, dict):
            context.update(extra)
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": LOG_LEVELS.get(record.levelname, record.levelname),
            "service": self.service,
            "trace_id": trace.trace_id if trace else None,
            "span_id": trace.span_id if trace else None,
            "message": record.getMessage(),
            "context": context,
            "logger": record.name,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable lines for development (`[observability] json_logs = false`), same facts."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        super().__init__(**kwargs)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _request_context()
        extra = getattr(record, "context", None)
        if isinstance(extra, dict):
            context.update(extra)
        trace = _TRACE.get()
        if trace is not None:
            context = {"trace_id": trace.trace_id, **context}
        if context:
            line += " " + " ".join(f"{key}={value}" for key, value in context.items())
        return line


def logging_config(settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: the root logger writes to stderr, as JSON or text;
    hypercorn's error log goes through the same handler."""
    observability = settings.observability
    if observability.json_logs:
        formatter = {"()": "core.observability.JsonFormatter", "service": observability.service_name}
    else:
        formatter = {"()": "core.observability.TextFormatter"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"hub": formatter},
        "handlers": {"hub": {"class": "logging.StreamHandler", "formatter": "hub", "stream": "ext://sys.stderr"}},
        "root": {"level": settings.log_level, "handlers": ["hub"]},
        "loggers": {"hypercorn.error": {"handlers": [], "propagate": True}},
    }


def configure_logging(settings) -> None:
    import logging.config

    logging.config.dictConfig(logging_config(settings))


# -- serving with several worker processes -------------------------------------------------------


def prepare_serve(settings, config) -> None:
    """Called by `hub serve` before hypercorn starts its workers: a fresh multiprocess metrics
    directory (inherited by every worker through the environment, so it is set before any
    worker imports prometheus_client) and the logging configuration of the workers."""
    if settings.observability.metrics_enabled:
        os.environ[MULTIPROC_ENV] = str(_fresh_metrics_directory(settings.data_dir))
    config.logconfig_dict = logging_config(settings)


def _fresh_metrics_directory(data_dir: Path) -> Path:
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:  # the operator's own directory: keep it, but start from zero
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)
        return directory
    base = (Path(data_dir) / "prometheus").resolve()
    base.mkdir(parents=True, exist_ok=True)
    for child in base.iterdir():  # directories of servers that are gone
        if child.is_dir() and child.name.isdigit() and not _process_alive(int(child.name)):
            shutil.rmtree(child, ignore_errors=True)
    directory = base / str(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    atexit.register(shutil.rmtree, directory, ignore_errors=True)  # when `hub serve` ends
    return directory


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- metrics ------------------------------------------------------------------------------------


def _multiprocess_directory() -> str | None:
    """The shared directory when prometheus_client is really in multiprocess mode."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return None
    from prometheus_client import values

    if values.ValueClass is values.MutexValue:  # imported before the variable was set
        log.warning("%s is set but prometheus_client was imported before; metrics are per process", MULTIPROC_ENV)
        return None
    Path(directory).mkdir(parents=True, exist_ok=True)
    return directory


class HubMetrics:
    """The standard metrics of one Hub (its own registry, so each test app has its own)."""

    def __init__(self, service: str) -> None:
        import prometheus_client as prom

        prom.disable_created_metrics()  # no *_created series: seed 003 lists none
        self.service = service
        self.directory = _multiprocess_directory()
        self.registry = prom.CollectorRegistry()
        registry = self.registry
        self.requests = prom.Counter(
            "http_requests_total", "Total HTTP requests", ["service", "endpoint", "method", "status_code"],
            registry=registry,
        )
        self.duration = prom.Histogram(
            "http_request_duration_seconds", "HTTP request latency", ["service", "endpoint", "method"],
            registry=registry,
        )
        self.errors = prom.Counter(
            "http_errors_total", "HTTP responses with an error status, by error code",
            ["service", "endpoint", "error_type"], registry=registry,
        )
        self.connections = prom.Gauge(
            "http_connections_active", "Requests and WebSocket connections being handled",
            ["service"], registry=registry, multiprocess_mode="livesum",
        )
        self.queries = prom.Counter(
            "db_queries_total", "Database queries", ["service", "query_type", "table"], registry=registry,
        )
        self.query_duration = prom.Histogram(
            "db_query_duration_seconds", "Database query latency", ["service", "query_type", "table"],
            registry=registry, buckets=DB_BUCKETS,
        )
        self.cache = prom.Counter(
            "cache_operations_total", "Cache lookups and writes", ["service", "operation", "result"],
            registry=registry,
        )
        self.active = self.connections.labels(service)

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float, error_type: str | None) -> None:
        self.requests.labels(self.service, endpoint, method, str(status)).inc()
        self.duration.labels(self.service, endpoint, method).observe(seconds)
        if error_type is not None:
            self.errors.labels(self.service, endpoint, error_type).inc()

    def observe_query(self, sql: str, seconds: float) -> None:
        query_type, table = describe_sql(sql)
        self.queries.labels(self.service, query_type, table).inc()
        self.query_duration.labels(self.service, query_type, table).observe(seconds)

    def observe_cache(self, operation: str, result: str) -> None:
        self.cache.labels(self.service, operation, result).inc()

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """(body, content type): this process's registry, or every worker's samples, in the
        text format (or OpenMetrics when the scraper asks for it)."""
        import prometheus_client as prom
        from prometheus_client import multiprocess
        from prometheus_client.exposition import choose_encoder

        if self.directory:
            source = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(source, path=self.directory)
        else:
            source = self.registry
        families = list(source.collect())
        families.append(self._hit_rate(families))
        encoder, content_type = choose_encoder(accept or "")
        return encoder(_Families(families)), content_type

    def _hit_rate(self, families) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        hits = misses = 0.0
        for family in families:
            if family.name != "cache_operations":
                continue
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get("service") == self.service:
                    if sample.labels.get("result") == "hit":
                        hits += sample.value
                    elif sample.labels.get("result") == "miss":
                        misses += sample.value
        gauge = GaugeMetricFamily("cache_hit_rate", "Cache hits / (hits + misses)", labels=["service"])
        gauge.add_metric([self.service], hits / (hits + misses) if hits + misses else 0.0)
        return gauge


class _Families:
    """A collector that hands over already collected metric families."""

    def __init__(self, families) -> None:
        self._families = families

    def collect(self):
        return self._families


_SQL_TABLE = re.compile(
    r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?)\s+[`\"\[]?([A-Za-z_][A-Za-z0-9_$]*)",
    re.IGNORECASE,
)
_SQL_TYPES = {"select", "insert", "update", "delete", "create", "alter", "drop", "begin", "commit",
              "rollback", "savepoint", "release", "pragma", "with", "set", "truncate", "analyze", "vacuum"}
_SQL_CACHE: dict[str, tuple[str, str]] = {}
_SQL_CACHE_SIZE = 4096


def describe_sql(sql: str) -> tuple[str, str]:
    """(query_type, table) of a statement: ("select", "core_user"); "other"/"none" if unknown."""
    described = _SQL_CACHE.get(sql)
    if described is not None:
        return described
    words = sql.lstrip(" \t\r\n(").split(None, 1)
    query_type = words[0].lower() if words else "other"
    if query_type not in _SQL_TYPES:
        query_type = "other"
    match = _SQL_TABLE.search(sql)
    described = (query_type, match.group(1).lower() if match else "none")
    if len(_SQL_CACHE) >= _SQL_CACHE_SIZE:
        _SQL_CACHE.clear()
    _SQL_CACHE[sql] = described
    return described


# The metrics queries and cache operations are counted in when no app context says which
# Hub they belong to (background tasks): the Hub that is serving in this process.
_SERVING: HubMetrics | None = None


def _current_metrics() -> HubMetrics | None:
    if has_app_context():
        hub = current_app.extensions.get("hub")
        metrics = hub.extensions.get("metrics") if hub is not None else None
        if metrics is not None:
            return metrics
    return _SERVING


def record_cache(operation: str, result: str) -> None:
    """Count one cache operation: `record_cache("plans.get", "hit" | "miss")`; hits and
    misses also make `cache_hit_rate`."""
    metrics = _current_metrics()
    if metrics is not None:
        metrics.observe_cache(operation, result)


# -- database queries (tortoise) ----------------------------------------------------------------

_QUERY_METHODS = ("execute_insert", "execute_query", "execute_many", "execute_query_dict",
                  "execute_query_dict_with_affected", "execute_script")
_IN_QUERY: ContextVar[bool] = ContextVar("hub_in_query", default=False)
_instrumented = False


def instrument_tortoise() -> None:
    """Count every statement tortoise sends, on every backend class loaded (once per process).

    The client methods are wrapped where each class defines them; a method that calls
    another (execute_query_dict -> execute_query) is counted once."""
    global _instrumented
    if _instrumented:
        return
    _instrumented = True
    from tortoise.backends.base.client import BaseDBAsyncClient

    for module in ("tortoise.backends.sqlite.client", "tortoise.backends.asyncpg.client"):
        try:
            importlib.import_module(module)
        except ImportError:  # driver not installed
            pass
    classes, todo = [], [BaseDBAsyncClient]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    for cls in classes:
        for name in _QUERY_METHODS:
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "_hub_counted", False):
                setattr(cls, name, _counted(method))


def _counted(method):
    @functools.wraps(method)
    async def counted(self, query, *args, **kwargs):
        if _IN_QUERY.get():
            return await method(self, query, *args, **kwargs)
        token = _IN_QUERY.set(True)
        started = time.perf_counter()
        try:
            return await method(self, query, *args, **kwargs)
        finally:
            _IN_QUERY.reset(token)
            metrics = _current_metrics()
            if metrics is not None:
                metrics.observe_query(query if isinstance(query, str) else str(query), time.perf_counter() - started)

    counted._hub_counted = True
    return counted


# -- wiring -------------------------------------------------------------------------------------


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


def install(app: Quart, hub) -> None:
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

    @app.before_request
    async def _begin_request() -> None:
        begin(request.headers)

    @app.after_request
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

    @app.teardown_request
    async def _finish_request(_exception) -> None:
        finish()

    @app.before_websocket
    async def _begin_websocket() -> None:
        begin(websocket.headers)

    @app.teardown_websocket
    async def _finish_websocket(_exception) -> None:
        finish()

    @app.before_serving
    async def _serving() -> None:
        global _SERVING
        if metrics is not None:
            _SERVING = metrics

    @app.after_serving
    async def _stopped() -> None:
        global _SERVING
        if metrics is not None and _SERVING is metrics:
            _SERVING = None
        if metrics is not None and metrics.directory:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid(), metrics.directory)  # drop its live gauges

    if metrics is None:
        return
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    @public
    async def prometheus_metrics():
        """Prometheus metrics of every worker process (text exposition format)."""
        if token is not None:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
                raise HubError("AUTHENTICATION_FAILED", "A valid metrics token is required",
                               headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        accept = request.headers.get("Accept")
        if metrics.directory:  # reads every worker's files
            body, content_type = await asyncio.to_thread(metrics.render, accept)
        else:
            body, content_type = metrics.render(accept)
        return Response(body, status=200, content_type=content_type)

    app.add_url_rule("/metrics", "prometheus_metrics", prometheus_metrics, methods=["GET"])

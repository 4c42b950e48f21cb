"""Prometheus metrics: the standard series of seed 003 §7, per process or, under `hub serve`,
summed over every worker (prometheus_client's multiprocess mode), and database query counts."""

from __future__ import annotations

import atexit
import functools
import hashlib
import hmac
import importlib
import logging
import os
import re
import shutil
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from quart import current_app, has_app_context

log = logging.getLogger("hub.observability")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def prepare_serve(settings) -> dict:
    """Called by `hub serve` before the ASGI server starts its workers: a fresh multiprocess
    metrics directory (inherited by every worker through the environment, so it is set before
    any worker imports prometheus_client); returns the workers' logging configuration."""
    if settings.observability.metrics_enabled:
        os.environ[MULTIPROC_ENV] = str(_fresh_metrics_directory(settings.data_dir))
    from core.ops.observability.logs import logging_config

    return logging_config(settings)


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
        self._query_children: dict[str, tuple[Any, Any]] = {}

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float, error_type: str | None) -> None:
        self.requests.labels(self.service, endpoint, method, str(status)).inc()
        self.duration.labels(self.service, endpoint, method).observe(seconds)
        if error_type is not None:
            self.errors.labels(self.service, endpoint, error_type).inc()

    def observe_query(self, sql: str, seconds: float) -> None:
        children = self._query_children.get(sql)
        if children is None:  # labels() costs a lock and a lookup per call: keep the children per statement
            query_type, table = describe_sql(sql)
            children = (self.queries.labels(self.service, query_type, table),
                        self.query_duration.labels(self.service, query_type, table))
            if len(self._query_children) >= _SQL_CACHE_SIZE:
                self._query_children.clear()
            self._query_children[sql] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_cache(self, operation: str, result: str) -> None:
        self.cache.labels(self.service, operation, result).inc()

    def render(self, accept: str | None = None, extra: list | tuple = ()) -> tuple[bytes, str]:
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
        families.extend(extra)
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


def tenant_label(hub: Any, org_id: Any) -> str:
    """An organization as a metric label value: a keyed hash (12 hex digits), stable for the
    Hub's secret, so dashboards can tell tenants apart while /metrics lists no organization ids.
    `tenant_label(hub, org_id)` in a shell maps an id to its label."""
    return hmac.new(hub.signing_key.encode(), f"metrics:{org_id}".encode(), hashlib.sha256).hexdigest()[:12]


# -- jobs (read at scrape time: the job table and the job counters of every process) ------------


async def job_families(hub: Any, service: str) -> list:
    """`hub_jobs_queued` / `hub_jobs_running` (unfinished jobs per type, from the job table),
    `hub_jobs_finished_total` (per type and final status), `hub_job_retries_total` and the
    `hub_job_duration_seconds` histogram (first claim to outcome of the attempt that finished
    it), summed over every process that runs jobs (core/jobs/stats.py)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

    runtime = hub.extensions.get("jobs")
    if runtime is None:
        return []
    from core.jobs.stats import DURATION_BUCKETS

    queued = GaugeMetricFamily("hub_jobs_queued", "Jobs waiting to run (pending), per job type",
                               labels=["service", "type"])
    running = GaugeMetricFamily("hub_jobs_running", "Jobs running now, per job type", labels=["service", "type"])
    depths = {(row["type"], row["status"]): row["count"] for row in await runtime.queue_depths()}
    for job_type in sorted(set(runtime.types) | {t for t, _ in depths}):
        queued.add_metric([service, job_type], depths.get((job_type, "pending"), 0))
        running.add_metric([service, job_type], depths.get((job_type, "running"), 0))
    counts = await runtime.metric_totals()
    finished = CounterMetricFamily("hub_jobs_finished", "Jobs that finished, per type and final status",
                                   labels=["service", "type", "status"])
    retries = CounterMetricFamily("hub_job_retries", "Attempts that failed and were scheduled again, per type",
                                  labels=["service", "type"])
    durations = HistogramMetricFamily("hub_job_duration_seconds",
                                      "Run time of the attempt that finished a job, per type", labels=["service", "type"])
    histograms: dict[str, dict] = {}
    for key, value in sorted(counts.items()):
        kind, _, rest = key.partition("|")
        if kind == "finished":
            job_type, _, status = rest.rpartition("|")
            finished.add_metric([service, job_type, status], value)
        elif kind == "retries":
            retries.add_metric([service, rest], value)
        elif kind in ("duration_count", "duration_sum"):
            histograms.setdefault(rest, {})[kind] = value
        elif kind == "duration_bucket":
            job_type, _, bound = rest.rpartition("|")
            histograms.setdefault(job_type, {}).setdefault("buckets", {})[float(bound)] = value
    for job_type, parts in sorted(histograms.items()):
        cumulative = parts.get("buckets", {})
        buckets = [(_bound(b), cumulative.get(b, 0.0)) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", parts.get("duration_count", 0.0)))
        durations.add_metric([service, job_type], buckets, parts.get("duration_sum", 0.0))
    return [queued, running, finished, retries, durations]


def _bound(value: float) -> str:
    from prometheus_client.utils import floatToGoString

    return floatToGoString(value)

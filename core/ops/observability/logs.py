"""Logs: one JSON object per line with seed 003's fields, or readable text lines; both carry the
current request's tenant, user, endpoint, request id and trace."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

from quart import g, has_request_context, has_websocket_context, request, websocket

from core.ops.observability.tracing import _TRACE

LOG_LEVELS = {"WARNING": "WARN", "CRITICAL": "ERROR"}  # seed 003: INFO | WARN | ERROR (and DEBUG)


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
    """Readable lines (on a terminal, or `[observability] log_format = "text"`), same facts."""

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


def log_format(settings) -> str:
    """"json" or "text": as `[observability] log_format` says, or for "auto" text when stderr
    is a terminal (someone reads it) and JSON otherwise (a log collector does)."""
    chosen = settings.observability.log_format
    if chosen != "auto":
        return chosen
    return "text" if sys.stderr.isatty() else "json"


def logging_config(settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: the root logger writes to stderr, as JSON or text;
    the ASGI server's error log (hypercorn's or uvicorn's) goes through the same handler; uvicorn's
    access log (`hub serve --access-log`) too."""
    observability = settings.observability
    if log_format(settings) == "json":
        formatter = {"()": "core.ops.observability.logs.JsonFormatter", "service": observability.service_name}
    else:
        formatter = {"()": "core.ops.observability.logs.TextFormatter"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"hub": formatter},
        "handlers": {"hub": {"class": "logging.StreamHandler", "formatter": "hub", "stream": "ext://sys.stderr"}},
        "root": {"level": settings.log_level, "handlers": ["hub"]},
        "loggers": {name: {"handlers": [], "propagate": True}
                    for name in ("hypercorn.error", "uvicorn", "uvicorn.error", "uvicorn.access")},
    }


def configure_logging(settings) -> None:
    import logging.config

    logging.config.dictConfig(logging_config(settings))

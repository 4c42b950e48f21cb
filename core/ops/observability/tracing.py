"""W3C trace context: a valid incoming `traceparent` keeps its trace id (a new span id is ours);
a missing or invalid one starts a new trace. `trace_headers()` passes it on to outbound calls."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass

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

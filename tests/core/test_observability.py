"""Observability: /metrics (Prometheus, seed 003 §4/§7, summed over worker processes), JSON logs
with seed 003's fields, and W3C traceparent in, out and onwards."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.app import create_app
from core.ops.observability.logs import JsonFormatter
from core.ops.observability.metrics import describe_sql, record_cache
from core.ops.observability.tracing import current_traceparent, parse_traceparent, start_trace, trace_headers
from tests.helpers import PASSWORD, assert_error, make_settings

ROOT = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT = 30
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$')


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and match["name"] == name:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match["labels"] or ""))
            found.append((labels, float(match["value"])))
    return found


def total(text: str, name: str, **labels: str) -> float:
    return sum(value for found, value in samples(text, name) if all(found.get(k) == v for k, v in labels.items()))


async def scrape(client) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return await response.get_data(as_text=True)


# -- /metrics -----------------------------------------------------------------------------------


async def test_metrics_has_the_standard_families(client, admin):
    await client.get("/api/auth/me", headers=admin.headers)
    text = await scrape(client)
    for family, kind in [
        ("http_requests_total", "counter"),
        ("http_request_duration_seconds", "histogram"),
        ("http_errors_total", "counter"),
        ("http_connections_active", "gauge"),
        ("db_queries_total", "counter"),
        ("db_query_duration_seconds", "histogram"),
        ("cache_operations_total", "counter"),
        ("cache_hit_rate", "gauge"),
    ]:
        assert f"# TYPE {family} {kind}" in text, family
    assert "_created" not in text
    assert total(text, "http_connections_active", service="hub") >= 1  # this scrape


async def test_requests_are_counted_by_route_pattern_method_and_status(client, admin):
    created = await client.post("/api/example/notes", headers=admin.headers, json={"text": "metered"})
    note_id = (await created.get_json())["id"]
    before = await scrape(client)
    pattern = "/api/example/notes/<note_id>"
    for _ in range(3):
        assert (await client.get(f"/api/example/notes/{note_id}", headers=admin.headers)).status_code == 200
    after = await scrape(client)
    labels = dict(service="hub", endpoint=pattern, method="GET", status_code="200")
    assert total(after, "http_requests_total", **labels) - total(before, "http_requests_total", **labels) == 3
    assert not [s for s in samples(after, "http_requests_total") if note_id in s[0].get("endpoint", "")]
    duration = dict(service="hub", endpoint=pattern, method="GET")
    count = total(after, "http_request_duration_seconds_count", **duration)
    assert count - total(before, "http_request_duration_seconds_count", **duration) == 3
    assert total(after, "http_request_duration_seconds_bucket", le="+Inf", **duration) == count


async def test_errors_are_counted_by_error_code(client):
    before = await scrape(client)
    assert (await client.get("/no/such/page/1")).status_code == 404
    assert (await client.get("/no/such/page/2")).status_code == 404
    assert (await client.get("/api/v1/tenant")).status_code == 401
    after = await scrape(client)

    def delta(**labels):
        return total(after, "http_errors_total", **labels) - total(before, "http_errors_total", **labels)

    assert delta(endpoint="unmatched", error_type="NOT_FOUND") == 2  # raw paths never become labels
    assert delta(endpoint="/api/v1/tenant", error_type="AUTHENTICATION_FAILED") == 1
    assert total(after, "http_requests_total", endpoint="unmatched", status_code="404") >= 2


async def test_database_queries_are_counted_by_type_and_table(client, admin):
    before = await scrape(client)
    response = await client.post("/api/auth/login", json={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 200
    after = await scrape(client)
    selects = dict(service="hub", query_type="select", table="core_user")
    assert total(after, "db_queries_total", **selects) > total(before, "db_queries_total", **selects)
    assert total(after, "db_query_duration_seconds_count", **selects) == total(after, "db_queries_total", **selects)
    assert total(after, "db_queries_total", query_type="insert", table="core_refresh_token") > total(
        before, "db_queries_total", query_type="insert", table="core_refresh_token"
    )


def test_sql_is_described_by_statement_type_and_table():
    assert describe_sql('SELECT "id" FROM "core_user" WHERE "email"=?') == ("select", "core_user")
    assert describe_sql('INSERT INTO "core_job" ("id") VALUES ($1)') == ("insert", "core_job")
    assert describe_sql('UPDATE "core_api_key" SET "usage_count"=1') == ("update", "core_api_key")
    assert describe_sql('DELETE FROM "core_webhook" WHERE 1') == ("delete", "core_webhook")
    assert describe_sql("SELECT 1") == ("select", "none")
    assert describe_sql("EXPLAIN x") == ("other", "none")


async def test_cache_operations_and_hit_rate(app, client):
    before = await scrape(client)
    async with app.app_context():
        for result in ("hit", "hit", "hit", "miss"):
            record_cache("test_cache.get", result)
    after = await scrape(client)
    labels = dict(service="hub", operation="test_cache.get")
    assert total(after, "cache_operations_total", result="hit", **labels) - total(
        before, "cache_operations_total", result="hit", **labels) == 3
    hits = total(after, "cache_operations_total", result="hit")
    misses = total(after, "cache_operations_total", result="miss")
    assert total(after, "cache_hit_rate", service="hub") == pytest.approx(hits / (hits + misses))


async def test_metrics_token_protects_metrics_when_set(tmp_path):
    app = create_app(make_settings(tmp_path, observability={"metrics_token": "scrape-me-please"}))
    client = app.test_client()
    missing = await client.get("/metrics")
    assert_error(missing.status_code, await missing.get_json(), 401, "AUTHENTICATION_FAILED")
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401
    right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})
    assert right.status_code == 200
    assert "http_requests_total" in await right.get_data(as_text=True)


async def test_metrics_can_be_switched_off(tmp_path):
    app = create_app(make_settings(tmp_path, observability={"metrics_enabled": False}))
    response = await app.test_client().get("/metrics")
    assert_error(response.status_code, await response.get_json(), 404, "NOT_FOUND")


# -- trace context ------------------------------------------------------------------------------


def test_traceparent_parsing():
    assert parse_traceparent(f"00-{TRACE_ID}-{PARENT_ID}-01") == (TRACE_ID, PARENT_ID, "01")
    assert parse_traceparent(f"01-{TRACE_ID}-{PARENT_ID}-00-future-field") == (TRACE_ID, PARENT_ID, "00")
    for bad in [
        None, "", "garbage", f"00-{TRACE_ID}-{PARENT_ID}", f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",
        f"00-{'0' * 32}-{PARENT_ID}-01", f"00-{TRACE_ID}-{'0' * 16}-01", f"ff-{TRACE_ID}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{PARENT_ID}-01-extra", f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01",
    ]:
        assert parse_traceparent(bad) is None, bad


async def test_a_valid_traceparent_continues_the_trace_with_a_new_span(client):
    response = await client.get("/healthz", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    parsed = parse_traceparent(response.headers["traceparent"])
    assert parsed is not None
    trace_id, span_id, flags = parsed
    assert trace_id == TRACE_ID and span_id != PARENT_ID and flags == "01"


@pytest.mark.parametrize("incoming", [None, "nonsense", f"00-{'0' * 32}-{PARENT_ID}-01"])
async def test_a_missing_or_invalid_traceparent_starts_a_new_trace(client, incoming):
    headers = {"traceparent": incoming} if incoming else {}
    first = await client.get("/healthz", headers=headers)
    second = await client.get("/healthz", headers=headers)
    one, two = parse_traceparent(first.headers["traceparent"]), parse_traceparent(second.headers["traceparent"])
    assert one is not None and two is not None
    assert one[0] != two[0] and TRACE_ID not in (one[0], two[0])


async def test_error_responses_carry_the_traceparent_too(client):
    response = await client.get("/nowhere", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"})
    assert response.status_code == 404
    assert parse_traceparent(response.headers["traceparent"])[0] == TRACE_ID


async def test_current_traceparent_is_passed_on_to_outbound_calls(app):
    async def inside_a_request():
        async with app.test_request_context(
            "/healthz", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "tracestate": "vendor=1"}
        ):
            await app.preprocess_request()
            return current_traceparent(), trace_headers()

    traceparent, headers = await asyncio.create_task(inside_a_request())
    trace_id, span_id, _ = parse_traceparent(traceparent)
    assert trace_id == TRACE_ID and span_id != PARENT_ID
    assert headers == {"traceparent": traceparent, "tracestate": "vendor=1"}
    assert current_traceparent() is None and trace_headers() == {}  # outside a request


async def test_start_trace_continues_a_trace_outside_requests():
    async def in_a_job(traceparent):
        trace = start_trace(traceparent)
        return trace, current_traceparent()

    trace, traceparent = await asyncio.create_task(in_a_job(f"00-{TRACE_ID}-{PARENT_ID}-01"))
    assert trace.trace_id == TRACE_ID and trace.parent_id == PARENT_ID
    assert traceparent == trace.traceparent
    fresh, _ = await asyncio.create_task(in_a_job(None))
    assert fresh.trace_id != TRACE_ID and fresh.parent_id is None


# -- logs ---------------------------------------------------------------------------------------


class JsonLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter(service="hub-test"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def access_lines():
    handler = JsonLines()
    logger = logging.getLogger("hub.access")
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)


async def test_one_json_access_line_per_request_with_seed_003_fields(client, admin, access_lines):
    response = await client.get(
        "/api/v1/tenant", headers={**admin.headers, "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    )
    assert response.status_code == 200
    lines = [line for line in access_lines if line["trace_id"] == TRACE_ID]
    assert len(lines) == 1
    line = lines[0]
    assert {"timestamp", "level", "service", "trace_id", "span_id", "message", "context"} <= set(line)
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", line["timestamp"])
    assert line["level"] == "INFO" and line["service"] == "hub-test"
    assert line["span_id"] == parse_traceparent(response.headers["traceparent"])[1]
    assert line["message"] == "Request processed"
    context = line["context"]
    assert context["tenant_id"] == admin.org_id and context["user_id"] == admin.user_id
    assert context["endpoint"] == "/api/v1/tenant" and context["status_code"] == 200
    assert isinstance(context["duration_ms"], (int, float)) and context["duration_ms"] >= 0
    assert context["request_id"] == response.headers["X-Request-ID"]


async def test_access_lines_of_errors_name_the_error(client, access_lines):
    await client.get("/api/v1/tenant", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    line = [line for line in access_lines if line["trace_id"] == TRACE_ID][-1]
    assert line["context"]["status_code"] == 401
    assert line["context"]["error_type"] == "AUTHENTICATION_FAILED"
    assert "tenant_id" not in line["context"]


def test_log_levels_follow_the_seed():
    formatter = JsonFormatter(service="x")
    record = logging.LogRecord("hub.test", logging.WARNING, __file__, 1, "careful %s", ("now",), None)
    record.context = {"job_id": "j1"}
    line = json.loads(formatter.format(record))
    assert line["level"] == "WARN" and line["message"] == "careful now"
    assert line["context"] == {"job_id": "j1"} and line["trace_id"] is None


# -- several worker processes -------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def workers_that_counted(directory: Path, endpoint: str) -> set[str]:
    """The worker pids whose own metrics file counts requests to `endpoint`."""
    from prometheus_client.multiprocess import MultiProcessCollector

    pids = set()
    for path in directory.glob("counter_*.db"):
        for family in MultiProcessCollector.merge([str(path)]):
            if any(s.name == "http_requests_total" and s.labels.get("endpoint") == endpoint and s.value
                   for s in family.samples):
                pids.add(path.stem.rsplit("_", 1)[1])
    return pids


def test_metrics_and_logs_with_two_hypercorn_workers(tmp_path):
    """`hub serve --workers 2`: whichever worker answers a scrape, the counters are the sum
    over both; each worker logs JSON lines that carry the caller's trace id."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("HUB_", "PROMETHEUS_"))}
    env.update(HUB_DATA_DIR=str(tmp_path / "data"), HUB_DATABASE_URL=f"sqlite://{tmp_path / 'hub.sqlite3'}",
               HUB_SECRET_KEY="s" * 48, PYTHONUNBUFFERED="1")
    stale = tmp_path / "data" / "prometheus" / "999999999"  # left by a server that is gone
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out, err = (tmp_path / "serve.out").open("w"), (tmp_path / "serve.err").open("w")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "hub.py"), "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path, env=env, stdout=out, stderr=err, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            assert process.poll() is None, (tmp_path / "serve.err").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.err").read_text()
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        directories = [d for d in (tmp_path / "data" / "prometheus").iterdir()]
        assert [d.name for d in directories] == [str(process.pid)]  # fresh, and the stale one gone
        metrics_dir = directories[0]

        made = 0
        for _ in range(400):  # new connections, until both workers have answered (bounded)
            response = httpx.get(f"{base}/healthz", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
                                 timeout=5)
            assert response.status_code == 200
            made += 1
            answered = workers_that_counted(metrics_dir, "/healthz")
            if made >= 20 and len(answered) >= 2:
                break
        assert len(answered) == 2, f"only one worker answered {made} requests"

        for _ in range(4):
            scraped = httpx.get(f"{base}/metrics", timeout=5)
            assert scraped.status_code == 200
            assert total(scraped.text, "http_requests_total", endpoint="/healthz", method="GET",
                         status_code="200") == made
            assert total(scraped.text, "http_request_duration_seconds_count", endpoint="/healthz") == made
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        out.close()
        err.close()

    lines = []
    for raw in (tmp_path / "serve.err").read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    access = [line for line in lines if line.get("logger") == "hub.access" and line["trace_id"] == TRACE_ID]
    assert len(access) == made
    assert {line["context"]["endpoint"] for line in access} == {"/healthz"}
    assert len({line["span_id"] for line in access}) == made  # a new span per request
    assert all(line["service"] == "hub" for line in lines)

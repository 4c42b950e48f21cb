"""Start-up: what `hub serve` says once it is up (core/ops/startup.py), the log format it picks,
and that building the app leaves the heavy libraries for later."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from core.ops.observability.logs import log_format
from core.ops.startup import masked_url
from tests.helpers import make_settings
from tests.live_server import ROOT, hub_environment, live_hub

HEAVY_LIBRARIES = ("xgboost", "sklearn", "scipy", "pyarrow", "usearch", "llama_cpp", "boto3")
SUMMARY_TIMEOUT = 30


def test_creating_the_app_imports_no_heavy_library(tmp_path):
    script = ("import sys\nfrom core.app import create_app\ncreate_app()\n"
              f"print(sorted(name for name in {HEAVY_LIBRARIES!r} if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=hub_environment(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def wait_for_lines(hub, wanted, count: int = 1) -> list[str]:
    """The server log's lines for which `wanted(line)` holds, once there are `count` of them
    (the summary is written just after the server starts answering)."""
    deadline = time.monotonic() + SUMMARY_TIMEOUT
    while True:
        lines = [line for line in hub.log_path.read_text(errors="replace").splitlines() if wanted(line)]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def test_serve_logs_one_summary_as_json_without_a_terminal(tmp_path):
    def summary(line: str) -> bool:
        return '"logger": "hub.startup"' in line

    with live_hub(tmp_path, workers=2, env={"HUB_LOG_LEVEL": "INFO"}) as hub:
        wait_for_lines(hub, summary)
        time.sleep(1)  # time enough for the other worker to (wrongly) write a second one
        summaries = wait_for_lines(hub, summary)
    assert len(summaries) == 1, hub.log_tail()
    record = json.loads(summaries[0])
    facts = record["context"]
    assert record["level"] == "INFO" and record["message"].startswith("The Hub 0.1.0 is ready at " + hub.url)
    assert facts["url"] == hub.url and facts["workers"] == 2 and facts["server"] == "hypercorn"
    assert facts["database"] == f"sqlite://{tmp_path / 'hub.sqlite3'}" and facts["migrations_applied"] > 0
    assert facts["redis"] is None and facts["secret_key"] == "setting"
    plugins = facts["plugins"]
    assert plugins["llm"].startswith(f"no model at {tmp_path / 'models'}") and "hub llm fetch-model" in plugins["llm"]
    assert plugins["core"] == plugins["example"] == plugins["recommender"] == "ready"
    assert plugins["crm"] == "loaded"  # no health check of its own
    assert facts["docs"] == hub.url + "/docs" and facts["metrics"] == {"enabled": True, "protected": False}


def test_serve_writes_readable_lines_when_asked_and_serves_one_worker_itself(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "hub.py"), "migrate"], cwd=ROOT, env=hub_environment(tmp_path),
                   check=True, capture_output=True, timeout=120)
    env = {"HUB_LOG_LEVEL": "INFO", "HUB_OBSERVABILITY__LOG_FORMAT": "text",
           "HUB_OBSERVABILITY__METRICS_TOKEN": "scrape-token", "HUB_DISABLED_PLUGINS": "crm"}
    with live_hub(tmp_path, env=env) as hub:
        httpx.get(hub.url + "/healthz").raise_for_status()
        header = wait_for_lines(hub, lambda line: "hub.startup The Hub 0.1.0 is ready at" in line)
        access = wait_for_lines(hub, lambda line: "hub.access Request processed" in line)
        text = hub.log_path.read_text()
        served_by = hub.process.pid
        children = subprocess.run(["pgrep", "-P", str(served_by)], capture_output=True, text=True).stdout.split()
    assert len(header) == 1 and header[0].endswith(f"ready at {hub.url} (1 hypercorn worker)"), text
    for line in (f"  database    sqlite://{tmp_path / 'hub.sqlite3'} (up to date)",
                 "  secret key  from the secret_key setting",
                 f"  metrics     {hub.url}/metrics (needs the metrics token)",
                 "              disabled: crm",
                 f"  API docs    {hub.url}/docs"):
        assert line in text.splitlines(), text
    assert "endpoint=/healthz" in access[0] and "status_code=200" in access[0]
    assert not any(line.startswith("{") for line in text.splitlines())
    assert children == []  # one worker: `hub serve` serves itself, no second interpreter


# -- the log format -------------------------------------------------------------------------------


class Stderr:
    def __init__(self, terminal: bool) -> None:
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.mark.parametrize(("observability", "terminal", "expected"), [
    ({}, True, "text"),
    ({}, False, "json"),
    ({"log_format": "json"}, True, "json"),
    ({"log_format": "text"}, False, "text"),
    ({"json_logs": False}, False, "text"),  # the former switch still works
    ({"json_logs": True}, True, "json"),
    ({"json_logs": True, "log_format": "text"}, False, "text"),  # the new setting wins
])
def test_log_format(tmp_path, monkeypatch, observability, terminal, expected):
    monkeypatch.setattr(sys, "stderr", Stderr(terminal))
    assert log_format(make_settings(tmp_path, observability=observability)) == expected


def test_log_format_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_OBSERVABILITY__LOG_FORMAT", "text")
    assert log_format(make_settings(tmp_path)) == "text"


def test_masked_url_hides_the_password_only():
    assert masked_url("postgres://hub:s3cret@db.internal:5432/hub") == "postgres://hub:***@db.internal:5432/hub"
    assert masked_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert masked_url("sqlite://data/hub.sqlite3") == "sqlite://data/hub.sqlite3"


def test_serve_on_uvicorn_announces_it_and_stops_its_workers_on_sigterm(tmp_path):
    env = {"HUB_LOG_LEVEL": "INFO", "HUB_OBSERVABILITY__LOG_FORMAT": "text"}
    with live_hub(tmp_path, workers=2, server="uvicorn", env=env) as hub:
        assert httpx.get(hub.url + "/healthz").json() == {"status": "ok"}
        header = wait_for_lines(hub, lambda line: "hub.startup The Hub 0.1.0 is ready at" in line)
        workers = subprocess.run(["pgrep", "-P", str(hub.process.pid)], capture_output=True, text=True).stdout.split()
    text = hub.log_path.read_text()
    assert len(header) == 1 and header[0].endswith(f"ready at {hub.url} (2 uvicorn workers)"), text
    assert len(workers) >= 2, text  # uvicorn's supervisor and its worker processes
    assert hub.process.returncode == 0, text  # SIGTERM: a clean stop
    deadline = time.monotonic() + 10  # multiprocessing's resource tracker leaves just after
    while (alive := [pid for pid in workers if subprocess.run(["ps", "-p", pid], capture_output=True).returncode == 0]) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive == [], f"workers {alive} outlived the server"

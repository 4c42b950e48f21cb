"""Fixtures of the n8n tests: a caller with an API key in n8n's header, and workflow JSON."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

KEY_HEADER = "X-N8N-API-KEY"
SAMPLE_FILE = Path(__file__).parent / "data" / "Test_workflow_webhook_with_pin_data.json"
READ_ONLY = ("id", "active", "versionId", "meta", "tags")


def n8n_sample() -> dict:
    """n8n's own test workflow, as a client would POST it (n8n's API refuses its read-only fields)."""
    workflow = json.loads(SAMPLE_FILE.read_text())
    return {key: value for key, value in workflow.items() if key not in READ_ONLY}


def node(name: str, kind: str, parameters: dict | None = None, version: float = 1, **extra) -> dict:
    return {"name": name, "type": f"n8n-nodes-base.{kind}", "typeVersion": version, "position": [0, 0],
            "parameters": parameters or {}, **extra}


def chain(*names: str | tuple[str, int, int]) -> dict:
    """Connections: "A", "B", "C" links A->B->C; a tuple (name, output, input) picks the ports
    of the link that ends at that node."""
    connections: dict = {}
    previous = None
    for entry in names:
        name, output, index = (entry, 0, 0) if isinstance(entry, str) else entry
        if previous is not None:
            outputs = connections.setdefault(previous, {"main": []})["main"]
            while len(outputs) <= output:
                outputs.append([])
            outputs[output].append({"node": name, "type": "main", "index": index})
        previous = name
    return connections


def workflow(name: str, nodes: list[dict], connections: dict, **settings) -> dict:
    return {"name": name, "nodes": copy.deepcopy(nodes), "connections": connections, "settings": settings}


def webhook(path: str, method: str = "POST", mode: str = "onReceived", version: float = 2, *,
            node_fields: dict | None = None, **parameters) -> dict:
    """A Webhook node named "Webhook"; `node_fields`: node-level fields (credentials, webhookId)."""
    fields = {"webhookId": f"hook-{path.replace('/', '-')}", **(node_fields or {})}
    return node("Webhook", "webhook", {"path": path, "httpMethod": method, "responseMode": mode, "options": {},
                                       **parameters}, version=version, **fields)


@pytest.fixture
async def n8n(api_of):
    """The admin's API key (workflows.* scopes) in the X-N8N-API-KEY header."""
    return await api_of(key=["workflows.*"], header=KEY_HEADER)


@pytest.fixture
async def other_n8n(api_of, other_admin):
    """A key of another organization's admin."""
    return await api_of(other_admin, key=["workflows.*"], header=KEY_HEADER)


@pytest.fixture
def n8n_settings(hub_app):
    """The n8n plugin's settings object of the shared app (tests may lower its limits)."""
    return hub_app.extensions["hub"].plugin_settings("n8n")


async def finished_runs(n8n, workflow_id: str, count: int = 1) -> list[dict]:
    """The workflow's executions (with data) once `count` of them have ended (bounded wait)."""
    import asyncio
    import time

    from core.testing import WAIT_SECONDS

    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        runs = (await n8n.get(f"/n8n/api/v1/executions?workflowId={workflow_id}&includeData=true"))["data"]
        if sum(run["status"] not in ("new", "running") for run in runs) >= count or time.monotonic() > deadline:
            return runs
        await asyncio.sleep(0.05)

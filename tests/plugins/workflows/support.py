"""Workflow definitions for the tests, and waiting for executions."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from core.testing import WAIT_SECONDS, Api

FINISHED = ("completed", "failed", "cancelled", "timeout")


def node(node_id: str, kind: str, config: dict | None = None, **extra: Any) -> dict:
    return {"id": node_id, "type": kind, "title": node_id.title(), "config": config or {}, **extra}


def edge(source: str, target: str, source_port: str = "main", target_port: str = "main", **extra: Any) -> dict:
    return {"id": f"{source}-{source_port}-{target}-{target_port}", "source_node_id": source, "source_port": source_port,
            "target_node_id": target, "target_port": target_port, **extra}


def workflow(name: str = "Flow", nodes: list | None = None, edges: list | None = None, **extra: Any) -> dict:
    return {"name": name, "nodes": nodes or [], "edges": edges or [], **extra}


def transform(node_id: str, mapping: dict, **extra: Any) -> dict:
    return node(node_id, "data-transformation", {"mapping": mapping}, **extra)


def scoring_workflow() -> dict:
    """trigger -> score -> decision -> (high: tag hot | low: tag cold) -> format"""
    return workflow("Scoring", [
        node("start", "webhook-trigger"),
        transform("score", {"value": "{{ number(input.amount) * 2 }}", "name": "{{ input.name }}"}),
        node("decide", "decision-logic", {"condition": "{{ input.value >= 100 }}"}),
        transform("hot", {"label": "hot", "who": "{{ input.name }}"}),
        transform("cold", {"label": "cold", "who": "{{ input.name }}"}),
        node("format", "output-formatter", {"format": "text", "template": "{{ input.who }} is {{ input.label }}"}),
    ], [
        edge("start", "score"), edge("score", "decide"),
        edge("decide", "hot", source_port="true"), edge("decide", "cold", source_port="false"),
        edge("hot", "format"), edge("cold", "format"),
    ])


class WorkflowApi(Api):
    async def create_workflow(self, body: dict) -> dict:
        return await self.post("/api/workflows", body)

    async def run(self, workflow_id: str, inputs: dict | None = None, **extra: Any) -> dict:
        """Start an execution and wait until it ends; the execution."""
        started = await self.call("POST", f"/api/workflows/{workflow_id}/execute", {"inputs": inputs or {}, **extra},
                                  status=202)
        return await self.wait_for_execution(started["execution_id"])

    async def wait_for_execution(self, execution_id: str, statuses: tuple[str, ...] = FINISHED,
                                 timeout: float = WAIT_SECONDS) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            execution = await self.get(f"/api/executions/{execution_id}")
            if execution["status"] in statuses:
                return execution
            assert time.monotonic() < deadline, f"execution still {execution['status']}: {execution}"
            await asyncio.sleep(0.05)


def steps_by_node(execution: dict) -> dict[str, dict]:
    return {step["node_id"]: step for step in execution["steps"]}

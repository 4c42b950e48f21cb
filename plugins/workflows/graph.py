"""A workflow definition checked as a graph: every problem found, named by where it is.

    problems = check(definition, node_types)    # [] when the workflow can be saved and run

Node types are those the enabled plugins register (`hub_workflow_nodes`), by their full name
(`workflows.decision-logic`) or by the seed's name (`decision-logic`, SEED_NODE_TYPES).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from plugins.workflows.expressions import ExpressionError, check_template, parse

# Seed 001's node types -> the registered node type that runs them (and so the plugin giving it)
SEED_NODE_TYPES = {
    "decision-logic": "workflows.decision-logic",
    "data-transformation": "workflows.data-transformation",
    "api-integration": "workflows.api-integration",
    "database-query": "workflows.database-query",
    "function-call": "workflows.function-call",
    "webhook-trigger": "workflows.webhook-trigger",
    "schedule-trigger": "workflows.schedule-trigger",
    "form-input": "workflows.form-input",
    "output-formatter": "workflows.output-formatter",
    "file-processor": "workflows.file-processor",
    "ai-text-processing": "llm.text-processing",
    "ai-image-analysis": "llm.image-analysis",
    "email-sender": "messaging.email-sender",
    "sms-sender": "messaging.sms-sender",
}


def resolve_type(name: str) -> str:
    """The registered name of a node type given by either of its names."""
    return SEED_NODE_TYPES.get(name, name)


@dataclass(frozen=True)
class Graph:
    """Nodes by id and edges by end, of a definition that passed `check`."""

    nodes: dict[str, dict[str, Any]]
    incoming: dict[str, list[dict[str, Any]]]
    outgoing: dict[str, list[dict[str, Any]]]

    @classmethod
    def of(cls, definition: dict[str, Any]) -> Graph:
        nodes = {node["id"]: node for node in definition.get("nodes", [])}
        incoming: dict[str, list[dict]] = {node_id: [] for node_id in nodes}
        outgoing: dict[str, list[dict]] = {node_id: [] for node_id in nodes}
        for edge in definition.get("edges", []):
            outgoing[edge["source_node_id"]].append(edge)
            incoming[edge["target_node_id"]].append(edge)
        return cls(nodes, incoming, outgoing)

    def downstream(self, start: str) -> set[str]:
        """`start` and every node reachable from it."""
        seen, queue = {start}, deque([start])
        while queue:
            for edge in self.outgoing[queue.popleft()]:
                if edge["target_node_id"] not in seen:
                    seen.add(edge["target_node_id"])
                    queue.append(edge["target_node_id"])
        return seen


def check(definition: dict[str, Any], node_types: dict[str, Any], missing_plugins: dict[str, str]) -> list[dict]:
    """Every problem of `definition` (already shaped by WorkflowCreateRequest) as
    `{"field": where, "reason": why}`: unknown node types, configs their type refuses, edges to
    missing nodes or ports, port type mismatches, bad conditions, cycles, unreachable nodes."""
    problems: list[dict] = []
    nodes = definition.get("nodes", [])
    edges = definition.get("edges", [])

    def problem(where: str, reason: str) -> None:
        problems.append({"field": where, "reason": reason})

    by_id: dict[str, tuple[int, dict, Any]] = {}
    for index, node in enumerate(nodes):
        where = f"nodes[{index}]"
        if node["id"] in by_id:
            problem(f"{where}.id", f"the id {node['id']!r} is used by another node")
            continue
        kind = node_types.get(resolve_type(node["type"]))
        by_id[node["id"]] = (index, node, kind)
        if kind is None:
            plugin = missing_plugins.get(node["type"]) or missing_plugins.get(resolve_type(node["type"]))
            reason = (f"node type {node['type']!r} comes with the {plugin} plugin, which is not enabled"
                      if plugin else f"unknown node type {node['type']!r} (GET /api/workflows/node-types lists them)")
            problem(f"{where}.type", reason)
            continue
        problems.extend({"field": f"{where}.config{place}", "reason": reason}
                        for place, reason in config_problems(kind.config_model, node["config"]))
        for side, declared, offered in (("inputs", node["inputs"], kind.inputs), ("outputs", node["outputs"], kind.outputs)):
            for port_index, port in enumerate(declared):
                if port["id"] not in offered:
                    problem(f"{where}.{side}[{port_index}].id",
                            f"{node['type']} has no {side[:-1]} port {port['id']!r} (it has: {', '.join(offered) or 'none'})")

    edge_ids: set[str] = set()
    for index, edge in enumerate(edges):
        where = f"edges[{index}]"
        if edge["id"] in edge_ids:
            problem(f"{where}.id", f"the id {edge['id']!r} is used by another edge")
        edge_ids.add(edge["id"])
        ends = []
        for end, port_key, side in (("source_node_id", "source_port", "outputs"), ("target_node_id", "target_port", "inputs")):
            entry = by_id.get(edge[end])
            if entry is None:
                problem(f"{where}.{end}", f"no node {edge[end]!r} in this workflow")
                continue
            _, node, kind = entry
            if kind is not None and edge[port_key] not in getattr(kind, side):
                problem(f"{where}.{port_key}", f"node {edge[end]!r} ({node['type']}) has no {side[:-1]} port "
                                               f"{edge[port_key]!r} (it has: {', '.join(getattr(kind, side)) or 'none'})")
                continue
            ends.append(_port_type(node, side, edge[port_key]))
        if len(ends) == 2 and "any" not in ends and ends[0] != ends[1]:
            problem(where, f"port types differ: {edge['source_port']} gives {ends[0]}, {edge['target_port']} takes {ends[1]}")
        if edge["source_node_id"] == edge["target_node_id"]:
            problem(where, "an edge from a node to itself is a cycle")
        if edge["type"] == "conditional" and not edge.get("condition"):
            problem(f"{where}.condition", "a conditional edge needs a condition")
        if edge.get("condition"):
            try:
                check_template(edge["condition"]) if "{{" in edge["condition"] else parse(edge["condition"])
            except ExpressionError as error:
                problem(f"{where}.condition", str(error))

    known = {node_id for node_id in by_id}
    usable = [e for e in edges if e["source_node_id"] in known and e["target_node_id"] in known
              and e["source_node_id"] != e["target_node_id"]]
    cycle = _cycle(known, usable)
    if cycle:
        problem("edges", f"the workflow has a cycle: {' -> '.join(cycle)}")
    else:
        targets = {e["target_node_id"] for e in usable}
        # a trigger is a node type without input ports (this plugin's, or another's: n8n's Webhook)
        triggers = [node_id for node_id, (_, node, kind) in by_id.items() if kind is not None and not kind.inputs]
        starts = triggers or [node_id for node_id in by_id if node_id not in targets]
        reached = set(starts)
        queue = deque(starts)
        following: dict[str, list[str]] = {}
        for edge in usable:
            following.setdefault(edge["source_node_id"], []).append(edge["target_node_id"])
        while queue:
            for target in following.get(queue.popleft(), ()):
                if target not in reached:
                    reached.add(target)
                    queue.append(target)
        for node_id in sorted(known - reached, key=lambda n: by_id[n][0]):
            problem(f"nodes[{by_id[node_id][0]}]", f"node {node_id!r} cannot be reached from a trigger")
    for index, variable in enumerate(definition.get("variables", [])):
        if any(v["name"] == variable["name"] for v in definition["variables"][:index]):
            problem(f"variables[{index}].name", f"the variable {variable['name']!r} is declared twice")
    return problems


def config_problems(model: Any, config: dict[str, Any]) -> list[tuple[str, str]]:
    """What the node type's config model refuses, as (".field", reason). A value holding a `{{ }}`
    expression is checked for its syntax here and for its type when it runs (its value is
    known only then)."""
    found = []
    try:
        check_template(config)
    except ExpressionError as error:
        found.append(("", f"expression: {error}"))
    try:
        model.model_validate(config)
    except ValidationError as error:
        for item in error.errors():
            location = item["loc"]
            value: Any = config
            for part in location:
                value = value.get(part) if isinstance(value, dict) else (
                    value[part] if isinstance(value, list) and isinstance(part, int) and part < len(value) else None)
            if isinstance(value, str) and "{{" in value:
                continue  # decided when it runs
            found.append(("".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in location), item["msg"]))
    return found


def _port_type(node: dict, side: str, port: str) -> str:
    for declared in node.get(side, []):
        if declared["id"] == port:
            return declared.get("type", "any")
    return "any"


def _cycle(nodes: set[str], edges: list[dict]) -> list[str] | None:
    """One cycle (its nodes in order, the first repeated at the end), or None."""
    following: dict[str, list[str]] = {node: [] for node in nodes}
    for edge in edges:
        following[edge["source_node_id"]].append(edge["target_node_id"])
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(nodes):
        if state.get(root):
            continue
        path, stack = [root], [iter(following[root])]
        state[root] = 1
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(step) == 1:
                return path[path.index(step):] + [step]
            elif not state.get(step):
                state[step] = 1
                path.append(step)
                stack.append(iter(following[step]))
    return None

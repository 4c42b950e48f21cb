"""n8n workflow JSON <-> the Hub's workflow definitions.

    definition, problems = to_hub(n8n_workflow)        # problems: [{"field", "reason"}]
    n8n_nodes, connections = to_n8n(hub_definition)   # a Hub workflow as n8n shows it

n8n names nodes and connects them by name (`connections["IF"]["main"][1]` = IF's output 1);
the Hub gives nodes ids and connects ports by id. A node's id is its name made safe
(`Respond to Webhook` -> `Respond_to_Webhook`), its title the name itself. Schedule Trigger
becomes the Hub's own schedule trigger (so the Hub's scheduler runs it); the other supported
node types run as the n8n.* node types of nodes.py.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from plugins.integrations.n8n.expressions import UntranslatableExpression, translate_value, untranslate_value
from plugins.integrations.n8n.nodes import MAX_WAIT_SECONDS, port, wait_seconds

BASE = "n8n-nodes-base."
# n8n type -> Hub node type (schedule triggers are translated by _schedule)
NODE_TYPES = {
    f"{BASE}webhook": "n8n.webhook",
    f"{BASE}manualTrigger": "n8n.manual-trigger",
    f"{BASE}set": "n8n.set",
    f"{BASE}if": "n8n.if",
    f"{BASE}switch": "n8n.switch",
    f"{BASE}merge": "n8n.merge",
    f"{BASE}httpRequest": "n8n.http-request",
    f"{BASE}noOp": "n8n.no-op",
    f"{BASE}wait": "n8n.wait",
    f"{BASE}respondToWebhook": "n8n.respond-to-webhook",
}
SCHEDULE = f"{BASE}scheduleTrigger"
SUPPORTED = sorted([*NODE_TYPES, SCHEDULE, f"{BASE}stickyNote"])
IGNORED = {f"{BASE}stickyNote"}  # canvas notes: kept in the n8n JSON, nothing to run
HUB_TO_N8N = {hub: n8n for n8n, hub in NODE_TYPES.items()}
WEEKDAYS = 7


def node_id_for(name: str, taken: set[str]) -> str:
    """A Hub node id (letters, digits, _ and -) for an n8n node name, unique in `taken`."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:56] or "node"
    if not re.match(r"[A-Za-z_]", base):
        base = f"n_{base}"
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}_{number}"
    taken.add(candidate)
    return candidate


def to_hub(workflow: dict[str, Any], timezone: str = "UTC") -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A Hub definition (nodes, edges, settings) for an n8n workflow, and every problem found
    (unsupported node types, unknown connection targets, untranslatable expressions)."""
    problems: list[dict[str, str]] = []
    nodes_in = workflow.get("nodes") or []
    taken: set[str] = set()
    ids: dict[str, str] = {}
    for index, node in enumerate(nodes_in):
        name = node.get("name")
        if name in ids:
            problems.append({"field": f"nodes[{index}].name", "reason": f"the name {name!r} is used by another node"})
            continue
        ids[name] = node_id_for(name, taken)
    unsupported = sorted({node.get("type") for node in nodes_in if node.get("type") not in SUPPORTED})
    for index, node in enumerate(nodes_in):
        if node.get("type") not in SUPPORTED:
            problems.append({"field": f"nodes[{index}].type",
                             "reason": f"node {node.get('name')!r}: the node type {node.get('type')!r} is not supported"})
    nodes: list[dict[str, Any]] = []
    skipped: set[str] = set()
    for index, node in enumerate(nodes_in):
        name, kind = node.get("name"), node.get("type")
        if kind in IGNORED or kind in unsupported or ids.get(name) is None:
            skipped.add(name)
            continue
        where = f"nodes[{index}]"
        try:
            parameters = translate_value(node.get("parameters") or {}, ids.get)
        except UntranslatableExpression as error:
            problems.append({"field": f"{where}.parameters", "reason": f"node {name!r}: {error}"})
            parameters = {}
        hub_node: dict[str, Any] = {
            "id": ids[name], "title": name, "position": _position(node.get("position")),
            "settings": _settings(node),
        }
        if kind == SCHEDULE:
            try:
                hub_node.update(type="workflows.schedule-trigger", config={"cron": _schedule(parameters), "timezone": timezone})
            except ValueError as error:
                problems.append({"field": f"{where}.parameters.rule", "reason": f"node {name!r}: {error}"})
                continue
        else:
            hub_type = NODE_TYPES[kind]
            if node.get("disabled") and hub_type not in ("n8n.webhook", "n8n.manual-trigger"):
                hub_type = "n8n.no-op"  # n8n passes a disabled node's input through
            if hub_type == "n8n.wait":
                problems.extend(_wait_problems(where, name, parameters))
                hub_node["settings"]["timeout_seconds"] = MAX_WAIT_SECONDS + 60
            hub_node.update(type=hub_type, config={"name": name, "type_version": float(node.get("typeVersion") or 1),
                                                   "parameters": parameters})
        nodes.append(hub_node)
    edges = []
    for source, outputs in (workflow.get("connections") or {}).items():
        if source not in ids:
            problems.append({"field": f"connections.{source}", "reason": f"no node named {source!r} in this workflow"})
            continue
        for connection_type, by_output in (outputs or {}).items():
            if connection_type != "main":
                problems.append({"field": f"connections.{source}.{connection_type}",
                                 "reason": f"{connection_type!r} connections are not supported (only 'main')"})
                continue
            for output_index, targets in enumerate(by_output or []):
                for target in targets or []:
                    target_name = target.get("node")
                    if target_name not in ids:
                        problems.append({"field": f"connections.{source}.main[{output_index}]",
                                         "reason": f"no node named {target_name!r} in this workflow"})
                        continue
                    if source in skipped or target_name in skipped:
                        continue
                    edges.append({"id": f"e{len(edges) + 1}", "source_node_id": ids[source],
                                  "source_port": port(output_index), "target_node_id": ids[target_name],
                                  "target_port": port(int(target.get("index") or 0))})
    return {"nodes": nodes, "edges": edges, "variables": [], "triggers": []}, problems


def to_n8n(definition: dict[str, Any]) -> tuple[list[dict], dict[str, Any]]:
    """n8n nodes and connections for a Hub definition (a workflow made in the Hub, or changed
    there after n8n sent it): n8n.* nodes get their n8n type back, others are shown as
    `hub.<type>` with their config as parameters."""
    names = {node["id"]: node.get("title") or node["id"] for node in definition.get("nodes", [])}
    nodes = []
    for node in definition.get("nodes", []):
        config = node.get("config") or {}
        kind = node["type"]
        if kind in HUB_TO_N8N:
            n8n_type, version = HUB_TO_N8N[kind], config.get("type_version", 1)
            parameters = untranslate_value(config.get("parameters") or {}, names.get)
        elif kind == "workflows.schedule-trigger":
            n8n_type, version = SCHEDULE, 1.2
            parameters = {"rule": {"interval": [{"field": "cronExpression", "expression": config.get("cron", "")}]}}
        else:
            n8n_type, version = f"hub.{kind}", 1
            parameters = untranslate_value(config, names.get)
        position = node.get("position") or {}
        nodes.append({"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"hub-node:{node['id']}")), "name": names[node["id"]],
                      "type": n8n_type, "typeVersion": version,
                      "position": [position.get("x", 0), position.get("y", 0)], "parameters": parameters})
    connections: dict[str, Any] = {}
    for edge in definition.get("edges", []):
        source_port, target_port = edge.get("source_port", "main"), edge.get("target_port", "main")
        output_index = 0 if source_port == "main" else _port_index(source_port)
        outputs = connections.setdefault(names[edge["source_node_id"]], {"main": []})["main"]
        while len(outputs) <= output_index:
            outputs.append([])
        outputs[output_index].append({"node": names[edge["target_node_id"]], "type": "main",
                                      "index": 0 if target_port == "main" else _port_index(target_port)})
    return nodes, connections


def _port_index(name: str) -> int:
    match = re.fullmatch(r"main_(\d+)", name)
    return int(match.group(1)) if match else 0


def _position(value: Any) -> dict[str, float]:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return {"x": max(-1e6, min(1e6, value[0])), "y": max(-1e6, min(1e6, value[1]))}
    return {"x": 0, "y": 0}


def _settings(node: dict) -> dict[str, Any]:
    """n8n's per-node retry and error settings as the Hub's."""
    settings: dict[str, Any] = {}
    if node.get("retryOnFail"):
        settings["retries"] = max(0, min(10, int(node.get("maxTries") or 3) - 1))
        settings["retry_backoff_seconds"] = max(0.0, min(300.0, (node.get("waitBetweenTries") or 1000) / 1000))
    if node.get("continueOnFail") or node.get("onError") in ("continueRegularOutput", "continueErrorOutput"):
        settings["continue_on_error"] = True
    return settings


def _wait_problems(where: str, name: str, parameters: dict) -> list[dict]:
    resume = parameters.get("resume", "timeInterval")
    if resume != "timeInterval":
        return [{"field": f"{where}.parameters.resume",
                 "reason": f"node {name!r}: Wait resumes only after a time interval here (not {resume!r})"}]
    if isinstance(parameters.get("amount"), str) and "{{" in parameters["amount"]:
        return []
    try:
        seconds = wait_seconds(parameters)
    except ValueError as error:
        return [{"field": f"{where}.parameters.amount", "reason": f"node {name!r}: {error}"}]
    if seconds > MAX_WAIT_SECONDS:
        return [{"field": f"{where}.parameters.amount",
                 "reason": f"node {name!r}: waits of more than {MAX_WAIT_SECONDS} s are not supported"}]
    return []


def _schedule(parameters: dict) -> str:
    """A five-field cron expression for a Schedule Trigger's first rule."""
    intervals = (parameters.get("rule") or {}).get("interval") or [{}]
    if len(intervals) > 1:
        raise ValueError("only one schedule rule per Schedule Trigger is supported")
    rule = intervals[0]
    field = rule.get("field", "days")
    minute, hour = int(rule.get("triggerAtMinute", 0) or 0), int(rule.get("triggerAtHour", 0) or 0)
    if field == "cronExpression":
        parts = str(rule.get("expression", "")).split()
        if len(parts) == 6:  # n8n allows seconds first; the Hub's scheduler runs on minutes
            if parts[0] not in ("0", "*"):
                raise ValueError("cron expressions with seconds are not supported")
            parts = parts[1:]
        if len(parts) != 5:
            raise ValueError(f"{rule.get('expression')!r} is not a cron expression")
        return " ".join(parts)
    if field == "seconds":
        raise ValueError("schedules in seconds are not supported (the smallest interval is a minute)")
    if field == "minutes":
        return f"*/{int(rule.get('minutesInterval', 5))} * * * *"
    if field == "hours":
        return f"{minute} */{int(rule.get('hoursInterval', 1))} * * *"
    if field == "days":
        return f"{minute} {hour} */{int(rule.get('daysInterval', 1))} * *"
    if field == "weeks":
        days = rule.get("triggerAtDay") or [0]
        return f"{minute} {hour} * * {','.join(str(int(day) % WEEKDAYS) for day in days)}"
    if field == "months":
        return f"{minute} {hour} {int(rule.get('triggerAtDayOfMonth', 1))} */{int(rule.get('monthsInterval', 1))} *"
    raise ValueError(f"unknown schedule interval {field!r}")

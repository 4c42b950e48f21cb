"""n8n JSON -> Hub definitions and back, and n8n expressions -> the Hub's (no app needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugins.integrations.n8n.expressions import UntranslatableExpression, translate_value, untranslate_value
from plugins.integrations.n8n.translate import node_id_for, to_hub, to_n8n

SAMPLE = json.loads((Path(__file__).parent / "data" / "Test_workflow_webhook_with_pin_data.json").read_text())
IDS = {"Webhook": "Webhook", "Set fields": "Set_fields", "My Node": "My_Node"}.get


@pytest.mark.parametrize("n8n, hub", [
    ("={{ $json.email }}", "{{ input.email }}"),
    ("=Hello {{ $json['first name'] }}!", "Hello {{ input['first name'] }}!"),
    ("={{ $('Webhook').item.json.body.id }}", "{{ steps['Webhook'].output.body.id }}"),
    ("={{ $node[\"Set fields\"].json.total > 10 }}", "{{ steps['Set_fields'].output.total > 10 }}"),
    ("={{ $input.first().json.x === 'a' && !$json.done }}", "{{ input.x == 'a' and not input.done }}"),
    ("={{ $json.a !== null || $json.b == true }}", "{{ input.a != None or input.b == True }}"),
    ("={{ $execution.id }}/{{ $workflow.id }}", "{{ execution.id }}/{{ execution.workflow_id }}"),
    ("={{ $json.text == '$json && !x' }}", "{{ input.text == '$json && !x' }}"),  # strings are left alone
    ("plain text", "plain text"),
])
def test_expressions_are_rewritten(n8n, hub):
    assert translate_value(n8n, IDS) == hub


@pytest.mark.parametrize("n8n, reason", [
    ("={{ $now }}", "'$now' is not supported"),
    ("={{ $json.name.toUpperCase() }}", "JavaScript methods"),
    ("={{ $json.a ? 1 : 2 }}", "?: operator"),
    ("={{ `x ${$json.a}` }}", "template literals"),
    ("={{ $('Nowhere').item.json.a }}", "refers to node 'Nowhere'"),
    ("a {{ literal }}", "without being an expression"),
])
def test_untranslatable_expressions_are_named(n8n, reason):
    with pytest.raises(UntranslatableExpression, match=reason.replace("?", r"\?").replace("$", r"\$")
                       .replace("(", r"\(").replace(")", r"\)")):
        translate_value({"deep": [n8n]}, IDS)


def test_expressions_read_back_in_n8n_syntax():
    hub = translate_value({"a": "={{ $json.x }}", "b": ["={{ $('My Node').item.json.y }}"], "c": 3}, IDS)
    back = untranslate_value(hub, {"My_Node": "My Node"}.get)
    assert back == {"a": "={{ $json.x }}", "b": ["={{ $('My Node').item.json.y }}"], "c": 3}


def test_node_ids_are_safe_and_unique():
    taken: set[str] = set()
    assert [node_id_for(name, taken) for name in ("Respond to Webhook", "Respond to Webhook!", "1st", "→")] == [
        "Respond_to_Webhook", "Respond_to_Webhook_2", "n_1st", "node"]


def test_n8n_sample_becomes_a_hub_graph():
    definition, problems = to_hub(SAMPLE)
    assert problems == []
    by_id = {node["id"]: node for node in definition["nodes"]}
    assert by_id["Webhook"]["type"] == "n8n.webhook" and by_id["Webhook"]["title"] == "Webhook"
    assert by_id["Webhook"]["position"] == {"x": 780, "y": 540}
    assert by_id["Init_Data"]["config"] == {"name": "Init Data", "type_version": 3.2, "parameters": {
        "fields": {"values": [{"name": "nodeData", "stringValue": "init"}]}, "include": "none", "options": {}}}
    assert sorted((e["source_node_id"], e["target_node_id"]) for e in definition["edges"]) == [
        ("Init_Data", "Pin_Data"), ("Pin_Data", "End"), ("Webhook", "Init_Data"),
        ("When_clicking_Execute_workflow", "Init_Data")]
    nodes, connections = to_n8n({**definition, "nodes": definition["nodes"]})
    assert connections["Webhook"] == {"main": [[{"node": "Init Data", "type": "main", "index": 0}]]}
    assert {node["name"]: node["type"] for node in nodes}["Pin Data"] == "n8n-nodes-base.set"


def test_outputs_and_inputs_become_ports():
    workflow = {"nodes": [
        {"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0], "parameters": {}},
        {"name": "IF", "type": "n8n-nodes-base.if", "typeVersion": 2, "position": [1, 0], "parameters": {}},
        {"name": "Merge", "type": "n8n-nodes-base.merge", "typeVersion": 3, "position": [2, 0], "parameters": {}},
    ], "connections": {
        "Hook": {"main": [[{"node": "IF", "type": "main", "index": 0}]]},
        "IF": {"main": [[{"node": "Merge", "type": "main", "index": 0}], [{"node": "Merge", "type": "main", "index": 1}]]},
    }}
    definition, problems = to_hub(workflow)
    assert problems == []
    assert [(e["source_port"], e["target_port"]) for e in definition["edges"]] == [
        ("main", "main"), ("main", "main"), ("main_1", "main_1")]
    _, connections = to_n8n(definition)
    assert connections["IF"]["main"][1] == [{"node": "Merge", "type": "main", "index": 1}]


def test_every_problem_is_named():
    workflow = {"nodes": [
        {"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0], "parameters": {}},
        {"name": "Code", "type": "n8n-nodes-base.code", "typeVersion": 2, "position": [0, 0], "parameters": {}},
        {"name": "Slack", "type": "n8n-nodes-base.slack", "typeVersion": 2, "position": [0, 0], "parameters": {}},
        {"name": "Later", "type": "n8n-nodes-base.wait", "typeVersion": 1.1, "position": [0, 0],
         "parameters": {"resume": "webhook"}},
        {"name": "Bad", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [0, 0],
         "parameters": {"assignments": {"assignments": [{"name": "x", "value": "={{ $now }}", "type": "string"}]}}},
    ], "connections": {"Hook": {"main": [[{"node": "Ghost", "type": "main", "index": 0}]]},
                       "Bad": {"ai_tool": [[{"node": "Hook", "type": "ai_tool", "index": 0}]]}}}
    _, problems = to_hub(workflow)
    reasons = " | ".join(p["reason"] for p in problems)
    assert "'n8n-nodes-base.code' is not supported" in reasons and "'n8n-nodes-base.slack'" in reasons
    assert "Wait resumes only after a time interval" in reasons
    assert "node 'Bad': '$now': '$now' is not supported" in reasons
    assert "no node named 'Ghost'" in reasons and "'ai_tool' connections are not supported" in reasons


@pytest.mark.parametrize("rule, cron", [
    ({"field": "minutes", "minutesInterval": 15}, "*/15 * * * *"),
    ({"field": "hours", "hoursInterval": 2, "triggerAtMinute": 30}, "30 */2 * * *"),
    ({}, "0 0 */1 * *"),
    ({"field": "weeks", "triggerAtDay": [1, 5], "triggerAtHour": 9}, "0 9 * * 1,5"),
    ({"field": "cronExpression", "expression": "0 15 3 * * *"}, "15 3 * * *"),
])
def test_schedule_triggers_become_cron(rule, cron):
    workflow = {"nodes": [{"name": "Every", "type": "n8n-nodes-base.scheduleTrigger", "typeVersion": 1.2,
                           "position": [0, 0], "parameters": {"rule": {"interval": [rule]}}}], "connections": {}}
    definition, problems = to_hub(workflow, timezone="Europe/Paris")
    assert problems == []
    assert definition["nodes"][0]["type"] == "workflows.schedule-trigger"
    assert definition["nodes"][0]["config"] == {"cron": cron, "timezone": "Europe/Paris"}


def test_seconds_schedules_are_refused():
    workflow = {"nodes": [{"name": "Fast", "type": "n8n-nodes-base.scheduleTrigger", "typeVersion": 1.2,
                           "position": [0, 0], "parameters": {"rule": {"interval": [{"field": "seconds"}]}}}],
                "connections": {}}
    _, problems = to_hub(workflow)
    assert problems and "seconds are not supported" in problems[0]["reason"]

"""Workflow definitions: saving checks the graph, every save is a version, lists, permissions
and tenant isolation."""

from __future__ import annotations

import pytest

from tests.plugins.workflows.support import edge, node, scoring_workflow, transform, workflow


async def test_create_read_and_list_a_workflow(api, events):
    created = await api.create_workflow({**scoring_workflow(), "description": "Scores leads", "category": "sales"})
    assert created["version"] == 1 and created["organization_id"] == api.org_id and created["is_active"] is True
    assert [n["id"] for n in created["nodes"]] == ["start", "score", "decide", "hot", "cold", "format"]
    assert created["nodes"][2]["settings"] == {"retries": 0, "retry_backoff_seconds": 1.0, "timeout_seconds": 60.0,
                                               "continue_on_error": False}
    assert await api.get(f"/api/workflows/{created['id']}") == created
    listed = await api.get("/api/workflows?search=scor&category=sales")
    assert [w["id"] for w in listed["workflows"]] == [created["id"]] and listed["workflows"][0]["node_count"] == 6
    assert listed["pagination"]["limit"] == 20
    assert (await api.get("/api/workflows?category=other"))["workflows"] == []
    node_types = sorted({node["type"] for node in created["nodes"]})
    assert events.of(api.org_id, "workflow.created")[0].data == {
        "id": created["id"], "name": "Scoring", "version": 1, "is_active": True, "created_by": api.account.user_id,
        "node_types": node_types}


async def test_pages_by_number(api):
    for i in range(3):
        await api.create_workflow(workflow(f"Flow {i}"))
    first = await api.get("/api/workflows?limit=2&page=1")
    second = await api.get("/api/workflows?limit=2&page=2")
    assert len(first["workflows"]) == 2 and len(second["workflows"]) == 1 and first["total"] == 3
    assert {w["name"] for w in first["workflows"] + second["workflows"]} == {"Flow 0", "Flow 1", "Flow 2"}
    await api.error("GET", "/api/workflows?sort=name", status=400, code="VALIDATION_ERROR")


async def test_every_save_is_a_version_and_older_versions_stay_readable(api):
    created = await api.create_workflow(workflow("V", [transform("a", {"x": 1})]))
    changed = await api.put(f"/api/workflows/{created['id']}", workflow("V2", [transform("a", {"x": 2})]))
    assert changed["version"] == 2 and changed["nodes"][0]["config"]["mapping"] == {"x": 2}
    first = await api.get(f"/api/workflows/{created['id']}/versions/1")
    assert first["version"] == 1 and first["name"] == "V" and first["nodes"][0]["config"]["mapping"] == {"x": 1}
    await api.error("GET", f"/api/workflows/{created['id']}/versions/3", status=404, code="NOT_FOUND")
    # optimistic concurrency: saving over a version someone else replaced is a conflict
    await api.error("PUT", f"/api/workflows/{created['id']}", {**workflow("stale"), "expected_version": 1}, status=409,
                    code="CONFLICT")
    third = await api.put(f"/api/workflows/{created['id']}", {**workflow("fresh"), "expected_version": 2})
    assert third["version"] == 3


@pytest.mark.parametrize("definition, field, reason", [
    (workflow(nodes=[node("a", "no-such-type")]), "nodes[0].type", "unknown node type 'no-such-type'"),
    (workflow(nodes=[node("a", "api-integration", {"method": "BREW"})]), "nodes[0].config.url", "Field required"),
    (workflow(nodes=[node("a", "api-integration", {"url": "http://x", "method": "BREW"})]), "nodes[0].config.method",
     "Input should be"),
    (workflow(nodes=[node("a", "data-transformation", {"mapping": {"x": "{{ inputs.__class__ }}"}})]),
     "nodes[0].config", "no field starting with '_'"),
    (workflow(nodes=[transform("a", {})], edges=[edge("a", "ghost")]), "edges[0].target_node_id", "no node 'ghost'"),
    (workflow(nodes=[transform("a", {}), transform("b", {})], edges=[edge("a", "b", source_port="nope")]),
     "edges[0].source_port", "has no output port 'nope'"),
    (workflow(nodes=[transform("a", {}), transform("b", {}), transform("c", {})],
              edges=[edge("a", "b"), edge("b", "c"), edge("c", "b")]), "edges", "cycle: b -> c -> b"),
    (workflow(nodes=[node("t", "webhook-trigger"), transform("a", {}), transform("lost", {})], edges=[edge("t", "a")]),
     "nodes[2]", "cannot be reached from a trigger"),
    (workflow(nodes=[transform("a", {}, outputs=[{"id": "main", "type": "number"}]),
                     transform("b", {}, inputs=[{"id": "main", "type": "text"}])], edges=[edge("a", "b")]),
     "edges[0]", "port types differ"),
    (workflow(nodes=[transform("a", {}), transform("b", {})], edges=[edge("a", "b", type="conditional")]),
     "edges[0].condition", "needs a condition"),
    (workflow(nodes=[transform("a", {}), transform("b", {})], edges=[edge("a", "b", condition="import os")]),
     "edges[0].condition", "not a valid expression"),
    (workflow(nodes=[transform("a", {}), transform("a", {})]), "nodes[1].id", "used by another node"),
])
async def test_a_bad_graph_is_refused_naming_the_problem(api, definition, field, reason):
    body = await api.error("POST", "/api/workflows", definition, status=400, code="VALIDATION_ERROR")
    problems = body["details"]["problems"]
    assert any(p["field"] == field and reason in p["reason"] for p in problems), problems
    assert (await api.get("/api/workflows"))["workflows"] == []  # nothing half-written


async def test_a_node_type_of_a_plugin_switched_off_for_the_organization_names_the_plugin(api):
    await api.call("PUT", "/api/v1/plugins/messaging", {"enabled": False})
    try:
        body = await api.error("POST", "/api/workflows", workflow(nodes=[node("a", "email-sender")]), status=400,
                               code="VALIDATION_ERROR")
        assert {"field": "nodes[0].type", "reason": "node type 'email-sender' comes with the messaging plugin, "
                "which is not enabled"} in [{k: p[k] for k in ("field", "reason")} for p in body["details"]["problems"]]
        assert (await api.get("/api/workflows/node-types"))["missing"]["email-sender"] == "messaging"
    finally:
        await api.call("PUT", "/api/v1/plugins/messaging", {"enabled": True})
    await api.create_workflow(workflow(nodes=[node("a", "email-sender", {"subject": "Hi"})]))


async def test_every_problem_is_named_at_once(api):
    body = await api.error("POST", "/api/workflows", workflow(
        nodes=[node("a", "no-such-type"), transform("b", {}), transform("c", {})],
        edges=[edge("b", "ghost"), edge("b", "c"), edge("c", "b")]), status=400, code="VALIDATION_ERROR")
    fields = {p["field"] for p in body["details"]["problems"]}
    assert {"nodes[0].type", "edges[0].target_node_id", "edges"} <= fields


async def test_templated_config_values_are_checked_when_they_run(api):
    """`condition` is a boolean: an expression for it is accepted when saved (its value is known
    only when the step runs), a literal of the wrong type is not."""
    await api.create_workflow(workflow(nodes=[node("d", "decision-logic", {"condition": "{{ input.x > 1 }}"})]))
    await api.error("POST", "/api/workflows", workflow(nodes=[node("d", "decision-logic", {"condition": "maybe"})]),
                    status=400, code="VALIDATION_ERROR")


async def test_node_types_list_every_plugins_nodes_and_what_is_missing(api):
    listed = await api.get("/api/workflows/node-types")
    names = {t["name"]: t for t in listed["node_types"]}
    assert {"workflows.decision-logic", "workflows.api-integration", "crm.create_lead"} <= set(names)
    assert names["workflows.decision-logic"]["aliases"] == ["decision-logic"]
    assert names["workflows.decision-logic"]["outputs"] == ["true", "false"]
    assert "condition" in names["workflows.decision-logic"]["config_schema"]["properties"]
    assert names["messaging.email-sender"]["aliases"] == ["email-sender"] and "email-sender" not in listed["missing"]


async def test_roles(api, api_of):
    created = await api.create_workflow(workflow("Roles"))
    viewer, member = await api_of(role="viewer"), await api_of(role="member")
    assert (await viewer.get(f"/api/workflows/{created['id']}"))["id"] == created["id"]
    await viewer.error("POST", "/api/workflows", workflow("x"), status=403, code="FORBIDDEN")
    await viewer.error("POST", f"/api/workflows/{created['id']}/execute", {}, status=403, code="FORBIDDEN")
    started = await member.call("POST", f"/api/workflows/{created['id']}/execute", {}, status=202)
    await api.wait_for_execution(started["execution_id"])
    await member.error("DELETE", f"/api/workflows/{created['id']}", status=403, code="FORBIDDEN")
    await member.error("PUT", f"/api/workflows/{created['id']}", workflow("x"), status=403, code="FORBIDDEN")
    developer = await api_of(role="developer")
    assert (await developer.put(f"/api/workflows/{created['id']}", workflow("Edited")))["version"] == 2
    await developer.error("DELETE", f"/api/workflows/{created['id']}", status=403, code="FORBIDDEN")
    await api.delete(f"/api/workflows/{created['id']}")
    gone = await api.error("GET", f"/api/workflows/{created['id']}", status=404, code="NOT_FOUND")
    assert gone["details"] == {"seed_code": "WF_001"}  # seed 001's WORKFLOW_NOT_FOUND


async def test_another_organization_sees_none_of_it(api, other_api, assert_isolated):
    created = await api.create_workflow(scoring_workflow())
    execution = await api.run(created["id"], {"amount": 60, "name": "Ada"})
    await assert_isolated(api, other_api, f"/api/workflows/{created['id']}", body=scoring_workflow())
    await assert_isolated(api, other_api, f"/api/workflows/{created['id']}/versions/1")
    await assert_isolated(api, other_api, f"/api/executions/{execution['id']}")
    await other_api.error("POST", f"/api/workflows/{created['id']}/execute", {}, status=404, code="NOT_FOUND")
    await other_api.error("GET", f"/api/workflows/{created['id']}/executions", status=404, code="NOT_FOUND")
    await other_api.error("POST", f"/api/executions/{execution['id']}/rerun", {}, status=404, code="NOT_FOUND")
    await other_api.error("POST", f"/api/executions/{execution['id']}/cancel", status=404, code="NOT_FOUND")
    assert (await other_api.get("/api/workflows"))["workflows"] == []

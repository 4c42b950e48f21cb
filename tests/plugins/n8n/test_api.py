"""n8n's public API v1 under /n8n: auth, workflows, executions, lists, errors in n8n's shape."""

from __future__ import annotations

import base64
import json

import pytest

from tests.plugins.n8n.conftest import KEY_HEADER, chain, n8n_sample, node, webhook, workflow

API = "/n8n/api/v1"


async def test_health_probes(hub_client, hub_app, monkeypatch):
    response = await hub_client.get("/n8n/healthz")
    assert response.status_code == 200 and await response.get_json() == {"status": "ok"}
    response = await hub_client.get("/n8n/healthz/readiness")
    assert response.status_code == 200 and await response.get_json() == {"status": "ok"}

    async def database_gone() -> str:
        raise OSError("connection refused")

    # readiness follows the core's database check (the one /health and /ready use)
    monkeypatch.setitem(hub_app.extensions["hub"].health_checks, "database", ("core", database_gone))
    response = await hub_client.get("/n8n/healthz/readiness")
    assert response.status_code == 503 and await response.get_json() == {"status": "error"}


async def test_auth_is_n8ns(hub_client, api, n8n):
    response = await hub_client.get(f"{API}/workflows")
    assert response.status_code == 401
    assert await response.get_json() == {"message": "'X-N8N-API-KEY' header required"}
    # the Hub's own ways of sending credentials are not n8n's
    response = await hub_client.get(f"{API}/workflows", headers=api.headers)
    assert response.status_code == 401 and await response.get_json() == {"message": "'X-N8N-API-KEY' header required"}
    response = await hub_client.get(f"{API}/workflows", headers={KEY_HEADER: "hub_notakey"})
    assert response.status_code == 401 and await response.get_json() == {"message": "unauthorized"}
    response = await hub_client.get(f"{API}/workflows", headers={KEY_HEADER: api.account.access_token})
    assert response.status_code == 401 and await response.get_json() == {"message": "unauthorized"}
    assert (await n8n.get(f"{API}/workflows"))["nextCursor"] is None


async def test_scopes_apply(api_of, n8n):
    reader = await api_of(key=["workflows.read"], header=KEY_HEADER)
    assert await reader.call("POST", f"{API}/workflows", workflow("X", [], {}), status=403) == {"message": "Forbidden"}
    created = await n8n.call("POST", f"{API}/workflows", n8n_sample())
    assert (await reader.get(f"{API}/workflows/{created['id']}"))["name"] == "PinData Test"


async def test_create_read_update_delete(n8n):
    sent = n8n_sample()
    created = await n8n.call("POST", f"{API}/workflows", sent)  # n8n answers 200, not 201
    assert created["active"] is False and created["name"] == "PinData Test"
    assert created["nodes"] == sent["nodes"] and created["connections"] == sent["connections"]
    assert created["settings"] == {"executionOrder": "v1"} and created["pinData"] == sent["pinData"]
    assert created["triggerCount"] == 2 and isinstance(created["id"], str)
    assert await n8n.get(f"{API}/workflows/{created['id']}") == created
    assert "pinData" not in await n8n.get(f"{API}/workflows/{created['id']}?excludePinnedData=true")

    changed = {**sent, "name": "Renamed", "nodes": [n for n in sent["nodes"] if n["name"] != "End"],
               "connections": {k: v for k, v in sent["connections"].items() if k != "Pin Data"}}
    updated = await n8n.call("PUT", f"{API}/workflows/{created['id']}", changed)
    assert updated["name"] == "Renamed" and [n["name"] for n in updated["nodes"]] == [
        "When clicking ‘Execute workflow’", "Webhook", "Init Data", "Pin Data"]
    assert updated["versionId"] != created["versionId"]

    deleted = await n8n.call("DELETE", f"{API}/workflows/{created['id']}")
    assert deleted["id"] == created["id"] and deleted["name"] == "Renamed"
    assert await n8n.call("GET", f"{API}/workflows/{created['id']}", status=404) == {"message": "Not Found"}


async def test_the_same_workflows_are_hub_workflows(n8n, api):
    created = await n8n.call("POST", f"{API}/workflows", n8n_sample())
    hub_view = await api.get(f"/api/workflows/{created['id']}")
    assert {n["type"] for n in hub_view["nodes"]} == {"n8n.manual-trigger", "n8n.webhook", "n8n.set", "n8n.no-op"}
    # a workflow made in the Hub is listed in n8n's shape
    made = await api.post("/api/workflows", {
        "name": "Hub made", "nodes": [
            {"id": "start", "type": "webhook-trigger", "position": {"x": 10, "y": 20}},
            {"id": "shape", "type": "data-transformation", "config": {"mapping": {"who": "{{ input.name }}"}}}],
        "edges": [{"id": "e1", "source_node_id": "start", "target_node_id": "shape"}]})
    listed = await n8n.get(f"{API}/workflows?limit=250")
    seen = {w["id"]: w for w in listed["data"]}
    assert set(seen) >= {created["id"], made["id"]}
    shown = seen[made["id"]]
    assert shown["nodes"][0]["type"] == "hub.webhook-trigger" and shown["nodes"][0]["position"] == [10, 20]
    assert shown["nodes"][1]["parameters"] == {"mapping": {"who": "={{ $json.name }}"}}
    assert shown["connections"] == {"start": {"main": [[{"node": "shape", "type": "main", "index": 0}]]}}
    assert shown["active"] is True and shown["triggerCount"] == 1


async def test_lists_page_with_opaque_cursors(n8n):
    ids = [(await n8n.call("POST", f"{API}/workflows", {**n8n_sample(), "name": f"Paged {i}"}))["id"] for i in range(5)]
    seen, cursor = [], None
    for _ in range(5):
        page = await n8n.get(f"{API}/workflows?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [w["id"] for w in page["data"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert len(page["data"]) == 2
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))
    assert await n8n.call("GET", f"{API}/workflows?cursor=bm90IGEgY3Vyc29y", status=400) == {
        "message": "An invalid cursor was provided"}
    assert (await n8n.call("GET", f"{API}/workflows?limit=251", status=400))["message"].startswith("request/query/limit")
    assert [w["name"] for w in (await n8n.get(f"{API}/workflows?name=Paged 3"))["data"]] == ["Paged 3"]


@pytest.mark.parametrize("change, message", [
    ({"active": True}, "request/body/active is read-only"),
    ({"id": "abc"}, "request/body/id is read-only"),
    ({"tags": []}, "request/body/tags is read-only"),
    ({"color": "red"}, "request/body must NOT have additional properties"),
    ({"settings": {"colour": 1}}, "request/body/settings must NOT have additional properties"),
    ({"nodes": "many"}, "request/body/nodes must be array"),
    ({"nodes": [{"name": "A"}]}, "request/body/nodes/0 must have required property 'type'"),
])
async def test_malformed_workflows_are_refused_as_n8n_does(n8n, change, message):
    assert await n8n.call("POST", f"{API}/workflows", {**n8n_sample(), **change}, status=400) == {"message": message}


async def test_missing_fields_and_bad_json(n8n, hub_client):
    body = n8n_sample()
    del body["settings"]
    assert await n8n.call("POST", f"{API}/workflows", body, status=400) == {
        "message": "request/body must have required property 'settings'"}
    response = await hub_client.post(f"{API}/workflows", headers={**n8n.headers, "Content-Type": "application/json"},
                                     data=b"{not json")
    assert response.status_code == 400 and await response.get_json() == {"message": "Invalid JSON in request body"}


async def test_unsupported_node_types_are_each_named(n8n):
    body = workflow("Unsupported", [webhook("x"), node("Run code", "code"), node("Post", "slack"),
                                    node("Also code", "code")], chain("Webhook", "Run code", "Post", "Also code"))
    error = await n8n.call("POST", f"{API}/workflows", body, status=400)
    assert error["message"].startswith("Unsupported node type(s): n8n-nodes-base.code, n8n-nodes-base.slack (supported:")
    bad_expression = workflow("Bad", [webhook("y"), node("Set", "set", {"assignments": {"assignments": [
        {"name": "a", "value": "={{ $json.a.trim() }}", "type": "string"}]}}, 3.4)], chain("Webhook", "Set"))
    error = await n8n.call("POST", f"{API}/workflows", bad_expression, status=400)
    assert "node 'Set'" in error["message"] and "JavaScript methods" in error["message"]


async def test_activation(n8n):
    created = await n8n.call("POST", f"{API}/workflows", n8n_sample())
    active = await n8n.call("POST", f"{API}/workflows/{created['id']}/activate")
    assert active["active"] is True
    assert [w["id"] for w in (await n8n.get(f"{API}/workflows?active=true&limit=250"))["data"]].count(created["id"]) == 1
    assert (await n8n.call("POST", f"{API}/workflows/{created['id']}/deactivate"))["active"] is False
    no_trigger = await n8n.call("POST", f"{API}/workflows", workflow("Lonely", [node("Nothing", "noOp")], {}))
    error = await n8n.call("POST", f"{API}/workflows/{no_trigger['id']}/activate", status=400)
    assert error["message"] == (f'Workflow "Lonely" (ID: {no_trigger["id"]}) has no node to start the workflow - '
                                "at least one trigger, poller or webhook node is required")


async def test_two_active_workflows_cannot_share_a_webhook(n8n):
    first = await n8n.call("POST", f"{API}/workflows", workflow("One", [webhook("shared-path")], {}))
    second = await n8n.call("POST", f"{API}/workflows", workflow("Two", [webhook("shared-path")], {}))
    await n8n.call("POST", f"{API}/workflows/{first['id']}/activate")
    error = await n8n.call("POST", f"{API}/workflows/{second['id']}/activate", status=409)
    assert error["message"].startswith("There is a conflict with one of the webhooks.")
    assert (await n8n.get(f"{API}/workflows/{second['id']}"))["active"] is False  # nothing half-done


async def test_another_organizations_ids_are_not_found(n8n, other_n8n):
    created = await n8n.call("POST", f"{API}/workflows", n8n_sample())
    for method, path in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/activate"), ("POST", "/deactivate")):
        body = n8n_sample() if method == "PUT" else None
        assert await other_n8n.call(method, f"{API}/workflows/{created['id']}{path}", body, status=404) == {
            "message": "Not Found"}
    assert created["id"] not in [w["id"] for w in (await other_n8n.get(f"{API}/workflows?limit=250"))["data"]]


async def test_executions_in_n8ns_shape(n8n, other_n8n, hub_client):
    sample = n8n_sample()
    hook = next(n for n in sample["nodes"] if n["name"] == "Webhook")
    hook["parameters"]["path"] = "executions-shape"
    created = await n8n.call("POST", f"{API}/workflows", sample)
    await n8n.call("POST", f"{API}/workflows/{created['id']}/activate")
    response = await hub_client.get("/n8n/webhook/executions-shape")
    assert response.status_code == 200
    listed = await n8n.get(f"{API}/executions?workflowId={created['id']}")
    assert len(listed["data"]) == 1 and listed["nextCursor"] is None
    execution = listed["data"][0]
    assert execution["mode"] == "webhook" and execution["status"] == "success" and execution["finished"] is True
    assert execution["workflowId"] == created["id"] and execution["stoppedAt"] and "data" not in execution
    full = await n8n.get(f"{API}/executions/{execution['id']}?includeData=true")
    run_data = full["data"]["resultData"]["runData"]
    assert run_data["End"][0]["data"]["main"] == [[{"json": {"nodeData": "pin"}}]]
    assert full["data"]["resultData"]["lastNodeExecuted"] == "End"
    assert "When clicking ‘Execute workflow’" in run_data  # it ran, and sent nothing on
    assert (await n8n.get(f"{API}/executions?status=success&workflowId={created['id']}"))["data"][0]["id"] == execution["id"]
    assert (await n8n.get(f"{API}/executions?status=error&workflowId={created['id']}"))["data"] == []
    assert (await n8n.call("GET", f"{API}/executions?status=done", status=400))["message"].startswith(
        "request/query/status must be equal to one of the allowed values")
    assert await other_n8n.call("GET", f"{API}/executions/{execution['id']}", status=404) == {"message": "Not Found"}
    assert await other_n8n.call("DELETE", f"{API}/executions/{execution['id']}", status=404) == {"message": "Not Found"}
    assert (await other_n8n.get(f"{API}/executions?workflowId={created['id']}", status=404)) == {"message": "Not Found"}
    assert (await n8n.call("POST", f"{API}/executions/{execution['id']}/retry", status=409))["message"] == (
        "The execution succeeded, so it cannot be retried.")
    deleted = await n8n.call("DELETE", f"{API}/executions/{execution['id']}")
    assert deleted["id"] == execution["id"]
    assert await n8n.call("GET", f"{API}/executions/{execution['id']}", status=404) == {"message": "Not Found"}


async def test_a_failed_execution_is_retried_from_its_failed_node(n8n, hub_client, n8n_settings):
    # The Set node fails on a number it cannot read; the retry reuses the webhook's output.
    set_node = node("Total", "set", {"assignments": {"assignments": [
        {"name": "total", "value": "={{ $json.body.amount }}", "type": "number"}]}}, 3.4)
    created = await n8n.call("POST", f"{API}/workflows", workflow(
        "Totals", [webhook("totals", mode="lastNode"), set_node], chain("Webhook", "Total")))
    await n8n.call("POST", f"{API}/workflows/{created['id']}/activate")
    response = await hub_client.post("/n8n/webhook/totals", json={"amount": "lots"})
    assert response.status_code == 500 and await response.get_json() == {"message": "Error in workflow"}
    failed = (await n8n.get(f"{API}/executions?workflowId={created['id']}&status=error"))["data"][0]
    assert failed["status"] == "error" and failed["finished"] is False
    retried = await n8n.call("POST", f"{API}/executions/{failed['id']}/retry")
    assert retried["mode"] == "retry" and retried["retryOf"] == failed["id"] and retried["id"] != failed["id"]


async def test_cursor_is_opaque_base64(n8n):
    for i in range(3):
        await n8n.call("POST", f"{API}/workflows", {**n8n_sample(), "name": f"C{i}"})
    cursor = (await n8n.get(f"{API}/workflows?limit=1"))["nextCursor"]
    assert json.loads(base64.b64decode(cursor)) == {"limit": 1, "offset": 1}

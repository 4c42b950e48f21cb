"""n8n's webhook URLs: paths, methods, response modes, node types at work, auth, limits."""

from __future__ import annotations

import base64
import json

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

import pytest

from tests.plugins.n8n.conftest import chain, finished_runs, n8n_sample, node, webhook, workflow

API = "/n8n/api/v1"


async def active(n8n, body: dict) -> dict:
    created = await n8n.call("POST", f"{API}/workflows", body)
    return await n8n.call("POST", f"{API}/workflows/{created['id']}/activate")


async def call(client, method: str, path: str, **kwargs):
    response = await client.open(path, method=method, **kwargs)
    data = await response.get_data()
    try:
        body = json.loads(data) if data else None
    except ValueError:
        body = data.decode()
    return response, body


async def test_n8ns_own_workflow_answers_with_its_last_node(n8n, hub_client):
    created = await active(n8n, n8n_sample())
    # the Webhook node (v1.1) has no httpMethod: n8n's default, GET
    response, body = await call(hub_client, "GET", "/n8n/webhook/b0d79ddb-df2d-49b1-8555-9fa2b482608f?x=1")
    assert response.status_code == 200 and body == {"nodeData": "pin"}  # pinned data is for test runs in n8n's editor
    # the seed's form: /webhook/{workflow-id}
    response, body = await call(hub_client, "GET", f"/n8n/webhook/{created['id']}")
    assert response.status_code == 200 and body == {"nodeData": "pin"}
    response, body = await call(hub_client, "POST", "/n8n/webhook/b0d79ddb-df2d-49b1-8555-9fa2b482608f")
    assert response.status_code == 404 and body == {
        "code": 404, "message": "This webhook is not registered for POST requests. Did you mean to make a GET request?"}


async def test_unknown_and_inactive_webhooks_are_404_as_in_n8n(n8n, hub_client):
    response, body = await call(hub_client, "POST", "/n8n/webhook/nobody-home")
    assert response.status_code == 404
    assert body["code"] == 404 and body["message"] == 'The requested webhook "POST nobody-home" is not registered.'
    assert body["hint"].startswith("The workflow must be active for a production URL to run successfully.")
    response, body = await call(hub_client, "POST", "/n8n/webhook-test/nobody-home")
    assert body["message"] == 'The requested webhook "nobody-home" is not registered.'
    assert body["hint"].startswith("Click the 'Execute workflow' button")
    created = await n8n.call("POST", f"{API}/workflows", workflow("Off", [webhook("switched-off")], {}))
    response, _ = await call(hub_client, "POST", "/n8n/webhook/switched-off")
    assert response.status_code == 404
    await n8n.call("POST", f"{API}/workflows/{created['id']}/activate")
    response, body = await call(hub_client, "POST", "/n8n/webhook/switched-off", json={"a": 1})
    assert response.status_code == 200 and body == {"message": "Workflow was started"}
    await n8n.call("POST", f"{API}/workflows/{created['id']}/deactivate")
    response, _ = await call(hub_client, "POST", "/n8n/webhook/switched-off")
    assert response.status_code == 404


async def test_the_item_and_the_branches(n8n, hub_client):
    """Webhook -> IF (body.score > 50) -> Set "hot" | Set "cold" -> Respond to Webhook, with
    `$json` and `$('Webhook')` expressions."""
    hot = node("Hot", "set", {"assignments": {"assignments": [
        {"name": "verdict", "value": "hot", "type": "string"},
        {"name": "lead.email", "value": "={{ $('Webhook').item.json.body.email }}", "type": "string"},
        {"name": "score", "value": "={{ $('Webhook').item.json.body.score }}", "type": "number"}]}}, 3.4)
    cold = node("Cold", "set", {"assignments": {"assignments": [
        {"name": "verdict", "value": "cold", "type": "string"}]}, "includeOtherFields": True}, 3.4)
    decide = node("Score", "if", {"conditions": {
        "options": {"caseSensitive": True, "typeValidation": "strict", "version": 2}, "combinator": "and",
        "conditions": [{"id": "1", "leftValue": "={{ $json.body.score }}", "rightValue": 50,
                        "operator": {"type": "number", "operation": "gt"}}]}}, 2.2)
    answer = node("Answer", "respondToWebhook", {"respondWith": "json",
                                                 "responseBody": "={{ { \"verdict\": $json.verdict } }}",
                                                 "options": {"responseCode": 201, "responseHeaders": {
                                                     "entries": [{"name": "X-Verdict", "value": "={{ $json.verdict }}"}]}}},
                  1.1)
    connections = {
        "Webhook": {"main": [[{"node": "Score", "type": "main", "index": 0}]]},
        "Score": {"main": [[{"node": "Hot", "type": "main", "index": 0}], [{"node": "Cold", "type": "main", "index": 0}]]},
        "Hot": {"main": [[{"node": "Answer", "type": "main", "index": 0}]]},
        "Cold": {"main": [[{"node": "Answer", "type": "main", "index": 0}]]},
    }
    created = await active(n8n, workflow("Scoring", [webhook("score", mode="responseNode"), decide, hot, cold, answer],
                                         connections))
    response, body = await call(hub_client, "POST", "/n8n/webhook/score", json={"score": 87, "email": "a@b.co"})
    assert response.status_code == 201 and body == {"verdict": "hot"}
    assert response.headers["x-verdict"] == "hot"
    response, body = await call(hub_client, "POST", "/n8n/webhook/score", json={"score": 10})
    assert response.status_code == 201 and body == {"verdict": "cold"}
    runs = (await n8n.get(f"{API}/executions?workflowId={created['id']}&includeData=true"))["data"]
    hot_run = next(r for r in runs if "Hot" in r["data"]["resultData"]["runData"])
    item = hot_run["data"]["resultData"]["runData"]["Hot"][0]["data"]["main"][0][0]["json"]
    assert item == {"verdict": "hot", "lead": {"email": "a@b.co"}, "score": 87}
    cold_run = next(r for r in runs if "Cold" in r["data"]["resultData"]["runData"])
    cold_item = cold_run["data"]["resultData"]["runData"]["Cold"][0]["data"]["main"][0][0]["json"]
    assert cold_item["verdict"] == "cold" and cold_item["body"] == {"score": 10}  # includeOtherFields kept the input


async def test_last_node_all_entries_and_switch_and_merge(n8n, hub_client):
    route = node("Route", "switch", {"mode": "rules", "rules": {"values": [
        {"conditions": {"combinator": "and", "conditions": [
            {"leftValue": "={{ $json.body.kind }}", "rightValue": "a", "operator": {"type": "string", "operation": "equals"}}]}},
        {"conditions": {"combinator": "and", "conditions": [
            {"leftValue": "={{ $json.body.kind }}", "rightValue": "b", "operator": {"type": "string", "operation": "equals"}}]}},
    ]}, "options": {"fallbackOutput": "extra"}}, 3.2)
    a = node("A", "set", {"assignments": {"assignments": [{"name": "route", "value": "a", "type": "string"}]}}, 3.4)
    b = node("B", "set", {"assignments": {"assignments": [{"name": "route", "value": "b", "type": "string"}]}}, 3.4)
    other = node("Other", "set", {"assignments": {"assignments": [{"name": "route", "value": "other", "type": "string"}]}}, 3.4)
    info = node("Info", "set", {"assignments": {"assignments": [{"name": "source", "value": "merge", "type": "string"}]}}, 3.4)
    join = node("Join", "merge", {"mode": "combine", "combineBy": "combineByPosition"}, 3)
    connections = {
        "Webhook": {"main": [[{"node": "Route", "type": "main", "index": 0}, {"node": "Info", "type": "main", "index": 0}]]},
        "Route": {"main": [[{"node": "A", "type": "main", "index": 0}], [{"node": "B", "type": "main", "index": 0}],
                           [{"node": "Other", "type": "main", "index": 0}]]},
        "A": {"main": [[{"node": "Join", "type": "main", "index": 0}]]},
        "B": {"main": [[{"node": "Join", "type": "main", "index": 0}]]},
        "Other": {"main": [[{"node": "Join", "type": "main", "index": 0}]]},
        "Info": {"main": [[{"node": "Join", "type": "main", "index": 1}]]},
    }
    await active(n8n, workflow("Routes", [webhook("routes", mode="lastNode", responseData="allEntries"), route, a, b,
                                          other, info, join], connections))
    for kind, expected in (("a", "a"), ("b", "b"), ("zzz", "other")):
        response, body = await call(hub_client, "POST", "/n8n/webhook/routes", json={"kind": kind})
        assert response.status_code == 200 and body == [{"route": expected, "source": "merge"}], (kind, body)


class Echo(BaseHTTPRequestHandler):
    """A JSON API on 127.0.0.1: records each request and answers {"ok", "echo": body["name"]}."""

    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((url.path, dict(parse_qsl(url.query)), self.headers.get("X-Token"), body))
        answer = json.dumps({"ok": True, "echo": body["name"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


async def test_http_request_node_calls_a_server(n8n, hub_client, hub_app, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Echo.seen = []
    # loopback is refused by the SSRF guard unless allowlisted
    monkeypatch.setattr(hub_app.extensions["hub"].settings.webhooks, "allowlist", ["127.0.0.1"])
    try:
        request = node("Call", "httpRequest", {
            "method": "POST", "url": f"http://127.0.0.1:{server.server_port}/hook", "sendQuery": True,
            "queryParameters": {"parameters": [{"name": "q", "value": "={{ $json.body.q }}"}]},
            "sendHeaders": True, "headerParameters": {"parameters": [{"name": "X-Token", "value": "t0k"}]},
            "sendBody": True, "contentType": "json", "specifyBody": "json",
            "jsonBody": "={{ { \"name\": $json.body.name } }}", "options": {}}, 4.2)
        await active(n8n, workflow("Outbound", [webhook("outbound", mode="lastNode"), request], chain("Webhook", "Call")))
        response, body = await call(hub_client, "POST", "/n8n/webhook/outbound", json={"q": "x", "name": "Ada"})
        assert response.status_code == 200 and body == {"ok": True, "echo": "Ada"}
        assert Echo.seen == [("/hook", {"q": "x"}, "t0k", {"name": "Ada"})]
    finally:
        server.shutdown()


async def test_http_request_node_refuses_private_addresses(n8n, hub_client):
    request = node("Call", "httpRequest", {"method": "GET", "url": "http://169.254.169.254/latest/meta-data"}, 4.2)
    await active(n8n, workflow("Metadata", [webhook("metadata", mode="lastNode"), request], chain("Webhook", "Call")))
    response, body = await call(hub_client, "POST", "/n8n/webhook/metadata")
    assert response.status_code == 500 and body == {"message": "Error in workflow"}


async def test_dynamic_paths_and_test_urls(n8n, hub_client):
    hook = webhook("orders/:order_id/items/:item", method="GET", mode="lastNode", node_fields={"webhookId": "dyn-5e1f"})
    await active(n8n, workflow("Dynamic", [hook], {}))
    # n8n serves a path with parameters under the node's webhookId
    response, body = await call(hub_client, "GET", "/n8n/webhook/dyn-5e1f/orders/42/items/7?page=2")
    assert response.status_code == 200
    assert body["params"] == {"order_id": "42", "item": "7"} and body["query"] == {"page": "2"}
    assert body["executionMode"] == "production"
    response, body = await call(hub_client, "GET", "/n8n/webhook-test/dyn-5e1f/orders/1/items/2")
    assert response.status_code == 200 and body["executionMode"] == "test"


async def test_a_hub_workflow_answers_on_its_id(api, n8n, hub_client):
    made = await api.post("/api/workflows", {
        "name": "Hub hook", "nodes": [
            {"id": "start", "type": "webhook-trigger"},
            {"id": "shape", "type": "data-transformation", "config": {"mapping": {"who": "{{ input.name }}"}}}],
        "edges": [{"id": "e1", "source_node_id": "start", "target_node_id": "shape"}]})
    response, body = await call(hub_client, "POST", f"/n8n/webhook/{made['id']}", json={"name": "Ada"})
    assert response.status_code == 200 and body == {"message": "Workflow was started"}
    executions = (await api.get(f"/api/workflows/{made['id']}/executions"))["executions"]
    assert len(executions) == 1 and executions[0]["trigger"] == "webhook"
    ran = await api.get(f"/api/executions/{executions[0]['id']}")
    assert ran["input_data"] == {"name": "Ada"}
    assert (await finished_runs(n8n, made["id"]))[0]["status"] == "success"  # before it is deleted below
    # switched off and on again through n8n's API, it stops and starts answering
    await n8n.call("POST", f"{API}/workflows/{made['id']}/deactivate")
    assert (await call(hub_client, "POST", f"/n8n/webhook/{made['id']}"))[0].status_code == 404
    await n8n.call("POST", f"{API}/workflows/{made['id']}/activate")
    await n8n.call("POST", f"{API}/workflows/{made['id']}/activate")  # already on: still listening
    assert (await call(hub_client, "POST", f"/n8n/webhook/{made['id']}", json={"name": "Bo"}))[0].status_code == 200
    assert len(await finished_runs(n8n, made["id"], count=2)) == 2
    await api.put(f"/api/workflows/{made['id']}", {**{k: made[k] for k in ("name", "nodes", "edges")}, "is_active": False})
    response, _ = await call(hub_client, "POST", f"/n8n/webhook/{made['id']}", json={"name": "Ada"})
    assert response.status_code == 404
    await api.delete(f"/api/workflows/{made['id']}")
    response, _ = await call(hub_client, "POST", f"/n8n/webhook/{made['id']}")
    assert response.status_code == 404


async def test_basic_and_header_auth(n8n, other_n8n, hub_client):
    basic = await n8n.call("POST", f"{API}/credentials", {"name": "hook user", "type": "httpBasicAuth",
                                                          "data": {"user": "ada", "password": "s3cret"}})
    assert set(basic) == {"id", "name", "type", "createdAt", "updatedAt"}  # the secret never comes back
    header = await n8n.call("POST", f"{API}/credentials", {"name": "hook token", "type": "httpHeaderAuth",
                                                           "data": {"name": "X-Hook-Token", "value": "tok-123"}})
    await active(n8n, workflow("Basic", [webhook("basic-auth", authentication="basicAuth", node_fields={
        "credentials": {"httpBasicAuth": {"id": basic["id"], "name": "hook user"}}})], {}))
    await active(n8n, workflow("Header", [webhook("header-auth", authentication="headerAuth", node_fields={
        "credentials": {"httpHeaderAuth": {"id": header["id"], "name": "hook token"}}})], {}))
    response, body = await call(hub_client, "POST", "/n8n/webhook/basic-auth")
    assert response.status_code == 401 and body == "Authorization is required!"
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Webhook"'
    wrong = base64.b64encode(b"ada:nope").decode()
    response, body = await call(hub_client, "POST", "/n8n/webhook/basic-auth", headers={"Authorization": f"Basic {wrong}"})
    assert response.status_code == 403 and body == "Authorization data is wrong!"
    right = base64.b64encode(b"ada:s3cret").decode()
    response, body = await call(hub_client, "POST", "/n8n/webhook/basic-auth", headers={"Authorization": f"Basic {right}"})
    assert response.status_code == 200 and body == {"message": "Workflow was started"}
    response, _ = await call(hub_client, "POST", "/n8n/webhook/header-auth", headers={"X-Hook-Token": "nope"})
    assert response.status_code == 403
    response, _ = await call(hub_client, "POST", "/n8n/webhook/header-auth", headers={"X-Hook-Token": "tok-123"})
    assert response.status_code == 200
    # another organization cannot delete (or use) these credentials
    assert await other_n8n.call("DELETE", f"{API}/credentials/{basic['id']}", status=404) == {"message": "Not Found"}
    await n8n.call("DELETE", f"{API}/credentials/{basic['id']}")
    response, body = await call(hub_client, "POST", "/n8n/webhook/basic-auth", headers={"Authorization": f"Basic {right}"})
    assert response.status_code == 500 and body == "No authentication data defined on node!"


async def test_bodies_are_bounded(n8n, hub_client, n8n_settings, monkeypatch):
    created = await active(n8n, workflow("Big", [webhook("big-body")], {}))
    # above the Hub's default request limit (10 MB): n8n's 16 MB holds on webhooks
    response, body = await call(hub_client, "POST", "/n8n/webhook/big-body", json={"blob": "x" * (11 * 1024 * 1024)})
    assert response.status_code == 200 and body == {"message": "Workflow was started"}
    # the run itself stops at the engine's bound on one step's output, and says so
    runs = await finished_runs(n8n, created["id"])
    assert runs[0]["status"] == "error"
    assert "output is larger than" in runs[0]["data"]["resultData"]["error"]["message"]
    monkeypatch.setattr(n8n_settings, "webhook_max_body_bytes", 4096)
    response, body = await call(hub_client, "POST", "/n8n/webhook/big-body", json={"blob": "x" * 5000})
    assert response.status_code == 413 and body["code"] == 413
    response, body = await call(hub_client, "POST", "/n8n/webhook/big-body", data=b"{broken",
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "not valid" in body["message"]


async def test_each_workflow_is_rate_limited(n8n, hub_client, n8n_settings, monkeypatch):
    monkeypatch.setattr(n8n_settings, "webhook_requests_per_minute", 1)
    monkeypatch.setattr(n8n_settings, "webhook_burst_size", 2)
    await active(n8n, workflow("Limited", [webhook("limited")], {}))
    await active(n8n, workflow("Other", [webhook("not-limited-yet")], {}))
    statuses = [(await call(hub_client, "POST", "/n8n/webhook/limited"))[0].status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response, body = await call(hub_client, "POST", "/n8n/webhook/limited")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1 and body["code"] == 429
    assert (await call(hub_client, "POST", "/n8n/webhook/not-limited-yet"))[0].status_code == 200  # its own bucket


@pytest.mark.parametrize("options, status, text", [
    ({"responseData": "Thanks!"}, 200, "Thanks!"),
    ({"noResponseBody": True}, 200, None),
    ({"responseCode": {"values": {"responseCode": 202}}}, 202, {"message": "Workflow was started"}),
])
async def test_on_received_options(n8n, hub_client, options, status, text):
    path = f"received-{abs(hash(json.dumps(options))) % 10_000}"
    await active(n8n, workflow("Received", [webhook(path, options=options)], {}))
    response, body = await call(hub_client, "POST", f"/n8n/webhook/{path}")
    assert response.status_code == status and body == text


async def test_a_wait_node_holds_the_answer(n8n, hub_client):
    pause = node("Pause", "wait", {"resume": "timeInterval", "amount": 0.2, "unit": "seconds"}, 1.1)
    done = node("Done", "set", {"assignments": {"assignments": [
        {"name": "waited", "value": True, "type": "boolean"}]}}, 3.4)
    await active(n8n, workflow("Waits", [webhook("waits", mode="lastNode"), pause, done], chain("Webhook", "Pause", "Done")))
    response, body = await call(hub_client, "POST", "/n8n/webhook/waits")
    assert response.status_code == 200 and body == {"waited": True}
    too_long = node("Pause", "wait", {"resume": "timeInterval", "amount": 2, "unit": "days"}, 1.1)
    error = await n8n.call("POST", f"{API}/workflows", workflow("Too long", [webhook("w2"), too_long],
                                                                chain("Webhook", "Pause")), status=400)
    assert "waits of more than" in error["message"]

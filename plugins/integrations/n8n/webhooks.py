"""`/webhook/{path}` and `/webhook-test/{path}`: n8n's webhook URLs, answered as n8n answers them.

Webhooks carry no credentials by design: the path finds the workflow (service.find_webhook),
which runs as the user who saved it (with an API key's rights only, when a key saved it). Each
workflow's calls are rate limited, bodies are bounded ([n8n] webhook_max_body_bytes), and a
Webhook node may ask for basic or header authentication (credentials made through
POST /n8n/api/v1/credentials, kept as hashes).

Response modes (the Webhook node's `responseMode`):
  onReceived    at once: {"message": "Workflow was started"} (or options.responseData / nothing)
  lastNode      when the run ends: the last node's first item (firstEntryJson), all of its items
                (allEntries) or nothing (noData); 500 {"message": "Error in workflow"} on failure
  responseNode  what the first Respond to Webhook node to run says (the run goes on after it)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from typing import Any
from urllib.parse import parse_qs

from quart import Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from core import HubError, current_hub, plugin_settings, principal_for_user, rate_limit
from plugins.integrations.n8n import service

PRODUCTION_HINT = ("The workflow must be active for a production URL to run successfully. You can activate the workflow "
                   "using the toggle in the top-right of the editor. Note that unlike test URL calls, production URL "
                   "calls aren't shown on the canvas (only in the executions list)")
TEST_HINT = ("Click the 'Execute workflow' button on the canvas, then try again. (In test mode, the webhook only works "
             "for one call after you click this button)")
FINISHED = ("completed", "failed", "cancelled", "timeout")
RESPOND_NODE = "n8n.respond-to-webhook"


def n8n_error(status: int, message: str, hint: str | None = None, code: int | None = None,
              headers: dict[str, str] | None = None) -> tuple[dict, int, dict]:
    """n8n's error body on its webhook URLs: {code, message, hint?}."""
    body: dict[str, Any] = {"code": status if code is None else code, "message": message}
    if hint:
        body["hint"] = hint
    return body, status, headers or {}


def _plain(status: int, text: str) -> Response:
    return Response(text, status=status, content_type="text/plain; charset=utf-8",
                    headers={"WWW-Authenticate": 'Basic realm="Webhook"'})


async def serve(path: str, *, test: bool) -> Any:
    method = request.method.upper()
    path = path.strip("/")
    row, params, methods = await service.find_webhook(method, path, test=test)
    if row is None or not await current_hub().plugin_enabled_for(row.org_id, "n8n"):
        if row is None and methods:
            return n8n_error(404, f"This webhook is not registered for {method} requests. "
                                  f"Did you mean to make a {_either(methods)} request?")
        if test:
            return n8n_error(404, f'The requested webhook "{path}" is not registered.', TEST_HINT)
        return n8n_error(404, f'The requested webhook "{method} {path}" is not registered.', PRODUCTION_HINT)
    settings = plugin_settings("n8n")
    await rate_limit(f"n8n-webhook:{row.workflow_id}", settings.webhook_requests_per_minute,
                     settings.webhook_burst_size)
    refused = await _check_auth(row)
    if refused is not None:
        return refused
    try:
        body = await _body(settings.webhook_max_body_bytes)
    except RequestEntityTooLarge:
        return n8n_error(413, f"The request body is larger than {settings.webhook_max_body_bytes} bytes")
    except ValueError as error:
        return n8n_error(400, str(error))
    principal = await principal_for_user(row.owner_id, row.org_id, scopes=row.scopes)
    if principal is None:  # the user who saved it left the organization or was deactivated
        return n8n_error(500, "Workflow Webhook Error: Workflow could not be started!", code=0)
    item = {"headers": {k.lower(): v for k, v in request.headers.items()}, "params": params,
            "query": {k: v if len(v) > 1 else v[0] for k, v in request.args.lists()}, "body": body,
            "webhookUrl": request.base_url, "executionMode": "test" if test else "production"}
    if row.node_name:
        inputs = {"n8n_trigger": row.node_name, "json": item}
    else:  # a Hub workflow's webhook trigger: the body is the execution's input
        inputs = body if isinstance(body, dict) else {"body": body}
    try:
        started = await service.call(principal, "run_workflow", workflow_id=str(row.workflow_id), inputs=inputs,
                                     trigger="webhook")
    except HubError as error:
        if error.code in ("RATE_LIMIT_EXCEEDED", "QUOTA_EXCEEDED"):
            raise
        return n8n_error(500, "Workflow Webhook Error: Workflow could not be started!", code=0)
    return await _respond(principal, row.parameters or {}, started["execution_id"], settings.webhook_wait_seconds)


def _either(methods: list[str]) -> str:
    return methods[0] if len(methods) == 1 else f"{', '.join(methods[:-1])} or {methods[-1]}"


async def _check_auth(row) -> Response | None:
    parameters = row.parameters or {}
    kind = parameters.get("authentication", "none")
    if kind in (None, "none"):
        return None
    credential_type = {"basicAuth": "httpBasicAuth", "headerAuth": "httpHeaderAuth"}.get(kind)
    if credential_type is None:
        return _plain(500, f"Authentication {kind!r} is not supported here")
    credential = await service.credential_for(row.org_id, (parameters.get("credentials") or {}).get(credential_type),
                                              credential_type)
    if credential is None:
        return _plain(500, "No authentication data defined on node!")
    if credential_type == "httpBasicAuth":
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or not value:
            return _plain(401, "Authorization is required!")
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _plain(403, "Authorization data is wrong!")
        if user != credential.identity or not service.secret_matches(password, credential.secret_hash):
            return _plain(403, "Authorization data is wrong!")
        return None
    given = request.headers.get(credential.identity)
    if given is None or not service.secret_matches(given, credential.secret_hash):
        return _plain(403, "Authorization data is wrong!")
    return None


async def _body(limit: int) -> Any:
    """The request body as n8n's webhook gives it: JSON parsed, forms as objects, text as text."""
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    raw = await request.get_data(cache=True)  # bounded by the route's max_body
    if len(raw) > limit:
        raise RequestEntityTooLarge()
    if not raw:
        return {}
    content_type = (request.mimetype or "").lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return json.loads(raw)
        except ValueError:
            raise ValueError("Failed to parse request body: the JSON is not valid") from None
    if content_type == "application/x-www-form-urlencoded":
        fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {k: v if len(v) > 1 else v[0] for k, v in fields.items()}
    if content_type == "multipart/form-data":
        form = await request.form
        files = await request.files
        data = {k: v if len(v) > 1 else v[0] for k, v in form.lists()}
        for name, upload in files.items():
            data[name] = {"fileName": upload.filename, "mimeType": upload.mimetype}
        return data
    return raw.decode("utf-8", errors="replace")


async def _respond(principal, parameters: dict, execution_id: str, wait_seconds: float) -> Any:
    mode = parameters.get("responseMode", "onReceived")
    options = parameters.get("options") or {}
    status = _response_code(parameters)
    headers = {entry.get("name"): str(entry.get("value", ""))
               for entry in ((options.get("responseHeaders") or {}).get("entries") or []) if entry.get("name")}
    if mode == "onReceived":
        if options.get("noResponseBody") or options.get("responseData") == "noData":
            return Response("", status=status, headers=headers)
        if options.get("responseData"):
            return Response(str(options["responseData"]), status=status, headers=headers)
        return {"message": "Workflow was started"}, status, headers
    execution = await _wait(principal, execution_id, wait_seconds, respond_node=mode == "responseNode")
    if execution is None:
        return n8n_error(504, f"The workflow did not answer within {wait_seconds:g} s; it goes on running", code=0)
    if mode == "responseNode":
        answer = _respond_step(execution)
        if answer is not None:
            return _node_response(answer)
        if execution["status"] != "completed":
            return n8n_error(500, "Error in workflow", code=0)
        return Response("", status=status, headers=headers)
    if execution["status"] != "completed":
        return {"message": "Error in workflow"}, 500
    data = _last_output(execution)
    what = parameters.get("responseData", "firstEntryJson")
    if what == "noData":
        return Response("", status=status, headers=headers)
    if data is None:
        return {"message": "Workflow executed successfully but the last node did not return any data"}, 200, headers
    items = data if isinstance(data, list) else [data]
    if what == "allEntries":
        body: Any = items
    else:
        if not items:
            return n8n_error(500, "No item to return was found", code=0)
        body = items[0]
        prop = options.get("responsePropertyName")
        if prop:
            body = body.get(prop) if isinstance(body, dict) else None
    response = Response(json.dumps(body), status=status, content_type=options.get("responseContentType") or "application/json")
    response.headers.update(headers)
    return response


def _response_code(parameters: dict) -> int:
    code = parameters.get("responseCode")
    values = ((parameters.get("options") or {}).get("responseCode") or {})
    if isinstance(values, dict) and values.get("values"):
        chosen = values["values"].get("responseCode")
        code = values["values"].get("customCode") if chosen == "customCode" else chosen
    try:
        code = int(code) if code is not None else 200
    except (TypeError, ValueError):
        code = 200
    return code if 100 <= code <= 599 else 200


async def _wait(principal, execution_id: str, limit: float, *, respond_node: bool) -> dict | None:
    """The execution once it has ended (or, for responseNode, once a Respond node has run);
    None after `limit` seconds."""
    deadline = time.monotonic() + limit
    pause = 0.02
    while True:
        execution = await service.call(principal, "get_execution", execution_id=execution_id)
        if execution["status"] in FINISHED or (respond_node and _respond_step(execution) is not None):
            return execution
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 1.5, 0.5)


def _respond_step(execution: dict) -> dict | None:
    for step in execution.get("steps", []):
        if step["node_type"] == RESPOND_NODE and step["status"] == "completed":
            return (step.get("output_data") or {}).get("response")
    return None


def _node_response(answer: dict) -> Response:
    headers = {name.lower(): value for name, value in (answer.get("headers") or {}).items()}
    if "json" in answer:
        content_type = headers.pop("content-type", "application/json; charset=utf-8")
        return Response(json.dumps(answer["json"]), status=answer.get("status", 200), content_type=content_type,
                        headers=headers)
    content_type = headers.pop("content-type", "text/plain; charset=utf-8")
    return Response(answer.get("text", ""), status=answer.get("status", 200), content_type=content_type, headers=headers)


def _last_output(execution: dict) -> Any:
    done = [step for step in execution.get("steps", []) if step["status"] == "completed" and step.get("completed_at")]
    if not done:
        return None
    last = max(done, key=lambda step: step["completed_at"])
    outputs = last.get("output_data") or {}
    return outputs.get("main")

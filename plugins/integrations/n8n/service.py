"""The n8n API over the Hub's workflows, without HTTP.

The workflows plugin owns workflows and executions; this plugin reaches them only through its
hub functions (`save_workflow`, `run_workflow`, `list_executions`, ...), called with the
caller's rights, and keeps what n8n needs besides: the n8n JSON as sent (N8nWorkflow) and the
webhook index (N8nWebhook). n8n ids are the Hub's (UUID strings).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import uuid
from typing import Any

from core import HubError, Principal, call_function, current_hub, iso, transaction
from plugins.integrations.n8n import translate
from plugins.integrations.n8n.models import N8nCredential, N8nWebhook, N8nWorkflow
from plugins.integrations.n8n.schemas import bad_request

WEBHOOK_TYPE = "n8n-nodes-base.webhook"
HUB_WEBHOOK_TYPE = "workflows.webhook-trigger"
TRIGGER_TYPES = {WEBHOOK_TYPE, "n8n-nodes-base.manualTrigger", translate.SCHEDULE}
NOT_FOUND = "Not Found"
# Hub execution status -> n8n's
STATUS = {"pending": "new", "running": "running", "completed": "success", "failed": "error",
          "cancelled": "canceled", "timeout": "error"}
# n8n's status filter -> the Hub's
STATUS_FILTER = {"success": ["completed"], "error": ["failed", "timeout"], "crashed": ["failed", "timeout"],
                 "canceled": ["cancelled"], "running": ["running"], "new": ["pending"], "waiting": [], "unknown": []}
MODE = {"webhook": "webhook", "schedule": "trigger", "api": "integrated", None: "manual"}


async def call(principal: Principal, function: str, /, **arguments: Any) -> Any:
    """A workflows function with the caller's rights; the Hub's errors in n8n's words."""
    try:
        return await call_function(current_hub(), principal, function, arguments)
    except HubError as error:
        if error.code == "NOT_FOUND":
            raise HubError("NOT_FOUND", NOT_FOUND) from None
        if error.code == "VALIDATION_ERROR":
            raise bad_request(_problems_message(error)) from None
        raise


def _problems_message(error: HubError) -> str:
    problems = (error.details or {}).get("problems") or ([error.details] if error.details.get("field") else [])
    if not problems:
        return error.message
    return error.message + ": " + "; ".join(f"{p['field']}: {p['reason']}" for p in problems)


# -- cursors -------------------------------------------------------------------------------------


def encode_cursor(offset: int, limit: int) -> str:
    return base64.b64encode(json.dumps({"limit": limit, "offset": offset}).encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(offset, limit) of a cursor this API gave; 400 for any other string."""
    try:
        data = json.loads(base64.b64decode(cursor, validate=True))
        offset, limit = int(data["offset"]), int(data["limit"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad_request("An invalid cursor was provided") from None
    if offset < 0 or not 1 <= limit <= 250:
        raise bad_request("An invalid cursor was provided")
    return offset, limit


def page_of(rows: list, total: int, offset: int, limit: int) -> dict:
    more = offset + limit < total
    return {"data": rows, "nextCursor": encode_cursor(offset + limit, limit) if more else None}


# -- workflows ----------------------------------------------------------------------------------


def workflow_view(workflow: dict, source: N8nWorkflow | None, *, pinned: bool = True) -> dict:
    """A Hub workflow in n8n's shape: the n8n JSON it was sent as, while the Hub has not changed
    it since; else translated back from the Hub definition."""
    if source is not None and source.hub_version == workflow["version"]:
        sent = source.source
        nodes, connections = sent.get("nodes", []), sent.get("connections", {})
        settings, static, pin = sent.get("settings", {}), sent.get("staticData"), sent.get("pinData") or {}
    else:
        nodes, connections = translate.to_n8n(workflow)
        settings, static, pin = {"executionOrder": "v1"}, None, {}
    view = {
        "id": workflow["id"], "name": workflow["name"], "active": workflow["is_active"],
        "isArchived": False, "createdAt": workflow["created_at"], "updatedAt": workflow["updated_at"],
        "nodes": nodes, "connections": connections, "settings": settings, "staticData": static,
        "meta": None, "versionId": f"{workflow['id']}:{workflow['version']}", "triggerCount": _trigger_count(nodes, connections),
        "tags": [], "shared": [],
    }
    if pinned:
        view["pinData"] = pin
    return view


def _trigger_count(nodes: list[dict], connections: dict) -> int:
    """n8n's triggerCount: its trigger nodes; for a Hub node (`hub.*`), a node nothing leads to
    (the Hub starts a workflow at those)."""
    targets = {target.get("node") for outputs in connections.values() for by_output in outputs.values()
               for targets in by_output or [] for target in targets or []}
    return sum(1 for node in nodes if not node.get("disabled") and (
        node.get("type") in TRIGGER_TYPES or (node.get("type", "").startswith("hub.") and node.get("name") not in targets)))


async def _sources(org_id: Any, workflow_ids: list[str]) -> dict[str, N8nWorkflow]:
    rows = await N8nWorkflow.for_org(org_id).filter(workflow_id__in=workflow_ids)
    return {str(row.workflow_id): row for row in rows}


async def list_workflows(principal: Principal, *, active: bool | None, name: str | None, offset: int, limit: int,
                         pinned: bool = True) -> dict:
    found = await call(principal, "list_workflows", search=name, active=active, full=True, limit=limit, offset=offset)
    rows = found["workflows"]
    sources = await _sources(principal.org_id, [row["id"] for row in rows])
    return page_of([workflow_view(row, sources.get(row["id"]), pinned=pinned) for row in rows], found["total"],
                   offset, limit)


async def get_workflow(principal: Principal, workflow_id: str, *, pinned: bool = True) -> dict:
    workflow = await call(principal, "get_workflow", workflow_id=workflow_id)
    return workflow_view(workflow, (await _sources(principal.org_id, [workflow["id"]])).get(workflow["id"]), pinned=pinned)


async def save_workflow(principal: Principal, body: dict, workflow_id: str | None = None) -> dict:
    """Create (workflow_id None, inactive as in n8n) or replace an n8n workflow: translated to a
    Hub definition (400 naming every unsupported node type and every problem), saved as a new
    Hub version, its n8n JSON and webhooks kept alongside."""
    timezone = (body.get("settings") or {}).get("timezone") or "UTC"
    definition, problems = translate.to_hub(body, timezone)
    unsupported = sorted({node.get("type") for node in body["nodes"] if node.get("type") not in translate.SUPPORTED})
    if unsupported:
        raise bad_request(f"Unsupported node type(s): {', '.join(map(str, unsupported))} "
                          f"(supported: {', '.join(translate.SUPPORTED)})")
    if problems:
        raise bad_request("; ".join(f"{p['field']}: {p['reason']}" for p in problems))
    active = False
    if workflow_id is not None:
        active = (await call(principal, "get_workflow", workflow_id=workflow_id))["is_active"]
    async with transaction():
        saved = await call(principal, "save_workflow", workflow_id=workflow_id, name=body["name"].strip(),
                           description=body.get("description"), is_active=active, settings=_hub_settings(body),
                           **definition)
        await N8nWorkflow.update_or_create(
            {"org_id": principal.org_id, "hub_version": saved["version"], "source": body},
            workflow_id=saved["id"])
        await index_webhooks(principal, saved["id"], body, active)
    return workflow_view(saved, await N8nWorkflow.get(workflow_id=saved["id"]))


def _hub_settings(body: dict) -> dict:
    timeout = (body.get("settings") or {}).get("executionTimeout")
    settings: dict[str, Any] = {}
    if isinstance(timeout, (int, float)) and timeout > 0:
        settings["timeout_seconds"] = int(min(timeout, 86_400))
    return settings


async def set_active(principal: Principal, workflow_id: str, active: bool) -> dict:
    workflow = await get_workflow(principal, workflow_id)
    if active and not workflow["triggerCount"]:
        raise bad_request(f'Workflow "{workflow["name"]}" (ID: {workflow_id}) has no node to start the workflow - '
                          "at least one trigger, poller or webhook node is required")
    async with transaction():
        saved = await call(principal, "set_workflow_active", workflow_id=workflow_id, active=active)
        source = (await _sources(principal.org_id, [saved["id"]])).get(saved["id"])
        if source is not None:  # a workflow made in the Hub is indexed from its events (index_hub_workflow)
            await index_webhooks(principal, saved["id"], source.source, active)
    return workflow_view(saved, source)


async def delete_workflow(principal: Principal, workflow_id: str) -> dict:
    workflow = await get_workflow(principal, workflow_id)
    async with transaction():
        await call(principal, "delete_workflow", workflow_id=workflow_id)
        await N8nWorkflow.for_org(principal.org_id).filter(workflow_id=workflow["id"]).delete()
        await N8nWebhook.for_org(principal.org_id).filter(workflow_id=workflow["id"]).delete()
    return workflow


# -- webhooks -----------------------------------------------------------------------------------


def webhook_paths(workflow_id: str, node: dict) -> list[str]:
    """Where a Webhook node listens: its path (or, with `:parameters`, `<webhookId>/<path>`), and
    the seed's `/webhook/{workflow-id}`."""
    path = str((node.get("parameters") or {}).get("path") or node.get("webhookId") or "").strip("/")
    if ":" in path:
        path = f"{node.get('webhookId') or workflow_id}/{path}"
    return [p for p in (path, workflow_id) if p]


def webhook_methods(node: dict) -> list[str]:
    parameters = node.get("parameters") or {}
    method = parameters.get("httpMethod", "GET")
    methods = method if isinstance(method, list) else [method]
    return [str(m).upper() for m in methods if str(m).upper() in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")]


async def index_webhooks(principal: Principal, workflow_id: str, body: dict, active: bool) -> None:
    """Replace the workflow's webhook rows; activating refuses (409) a method and path another
    active workflow listens on, as n8n does."""
    rows = []
    seed_path_taken = False
    for node in body.get("nodes", []):
        if node.get("type") != WEBHOOK_TYPE or node.get("disabled"):
            continue
        for path in webhook_paths(workflow_id, node):
            if path == workflow_id:
                if seed_path_taken:
                    continue
                seed_path_taken = True
            for method in webhook_methods(node):
                rows.append(N8nWebhook(org_id=principal.org_id, workflow_id=workflow_id, method=method, path=path,
                                       node_name=node["name"], active=active, owner_id=principal.user_id,
                                       scopes=sorted(principal.permissions) if principal.kind == "api_key" else None,
                                       parameters={**(node.get("parameters") or {}),
                                                   "credentials": node.get("credentials") or {},
                                                   "typeVersion": node.get("typeVersion", 1)}))
    if active:
        for row in rows:
            if await N8nWebhook.filter(method=row.method, path=row.path, active=True).exclude(
                    workflow_id=workflow_id).exists():
                raise HubError("CONFLICT", f"There is a conflict with one of the webhooks. "
                                           f"The path {row.method} {row.path} is used by another active workflow.")
    await N8nWebhook.for_org(principal.org_id).filter(workflow_id=workflow_id).delete()
    if rows:
        await N8nWebhook.bulk_create(rows)


async def index_hub_workflow(org_id: Any, data: dict) -> None:
    """A workflow made in the Hub with a webhook trigger listens on `/webhook/{its id}`
    (kept up to date from workflow.created/updated/deleted)."""
    workflow_id = data["id"]
    if await N8nWorkflow.filter(workflow_id=workflow_id).exists():
        return  # an n8n workflow: indexed when saved or switched through this API
    listens = HUB_WEBHOOK_TYPE in data.get("node_types", []) or "webhook-trigger" in data.get("node_types", [])
    await N8nWebhook.filter(org_id=org_id, workflow_id=workflow_id).delete()
    if listens:
        await N8nWebhook.create(org_id=org_id, workflow_id=workflow_id, method="POST", path=workflow_id,
                                node_name="", active=data.get("is_active", False), owner_id=data.get("created_by"),
                                parameters={"responseMode": "onReceived"})


async def forget_workflow(org_id: Any, workflow_id: str) -> None:
    await N8nWebhook.filter(org_id=org_id, workflow_id=workflow_id).delete()
    await N8nWorkflow.filter(org_id=org_id, workflow_id=workflow_id).delete()


async def find_webhook(method: str, path: str, *, test: bool) -> tuple[N8nWebhook | None, dict[str, str], list[str]]:
    """(the row for method and path, the `:parameter` values, the methods the path listens on)."""
    path = path.strip("/")
    rows = await N8nWebhook.filter(path=path, active=True)
    params: dict[str, str] = {}
    if not rows:
        first, _, rest = path.partition("/")
        for candidate in await N8nWebhook.filter(path__startswith=f"{first}/", active=True):
            values = _match_dynamic(candidate.path.partition("/")[2], rest)
            if values is not None:
                rows.append(candidate)
                params = values
    methods = sorted({row.method for row in rows})
    chosen = next((row for row in rows if row.method == method or (method == "HEAD" and row.method == "GET")), None)
    return chosen, params, methods


def _match_dynamic(pattern: str, path: str) -> dict[str, str] | None:
    wanted, given = pattern.split("/"), path.split("/")
    if len(wanted) != len(given):
        return None
    values = {}
    for expected, actual in zip(wanted, given):
        if expected.startswith(":"):
            values[expected[1:]] = actual
        elif expected != actual:
            return None
    return values


# -- credentials ---------------------------------------------------------------------------------


def _hash(secret: str, salt: str | None = None) -> str:
    """A salted HMAC-SHA256 keyed with the Hub's secret: cheap enough for every webhook call, and
    useless to whoever reads the table without that secret."""
    salt = salt or secrets.token_hex(16)
    digest = hmac.new(current_hub().signing_key.encode(), f"{salt}:{secret}".encode(), hashlib.sha256).hexdigest()
    return f"hmac_sha256${salt}${digest}"


def secret_matches(secret: str, stored: str) -> bool:
    try:
        _, salt, _ = stored.split("$")
    except ValueError:
        return False
    return hmac.compare_digest(_hash(secret, salt), stored)


async def create_credential(principal: Principal, body: dict) -> dict:
    data = body["data"]
    identity, secret = (data["user"], data["password"]) if body["type"] == "httpBasicAuth" else (data["name"], data["value"])
    row = await N8nCredential.create(org_id=principal.org_id, name=body["name"][:200], type=body["type"],
                                     identity=identity[:200], secret_hash=_hash(secret))
    return credential_view(row)


def credential_view(row: N8nCredential) -> dict:
    return {"id": str(row.id), "name": row.name, "type": row.type, "createdAt": iso(row.created_at),
            "updatedAt": iso(row.updated_at)}


async def delete_credential(principal: Principal, credential_id: str) -> dict:
    try:
        row = await N8nCredential.get_for_org(principal.org_id, credential_id, "Credential")
    except HubError:
        raise HubError("NOT_FOUND", NOT_FOUND) from None
    await row.delete()
    return credential_view(row)


async def credential_for(org_id: Any, reference: Any, kind: str) -> N8nCredential | None:
    """The credential a node names (`{"id": ..., "name": ...}`: by id, else by name), of this
    organization and kind."""
    if not isinstance(reference, dict):
        return None
    query = N8nCredential.for_org(org_id).filter(type=kind)
    credential_id = str(reference.get("id") or "")
    if credential_id:
        try:
            return await query.filter(id=uuid.UUID(credential_id)).first()
        except ValueError:  # not one of ours
            return None
    return await query.filter(name=str(reference.get("name") or "")).first()


# -- executions ----------------------------------------------------------------------------------


def execution_view(execution: dict, *, data: bool = False) -> dict:
    status = STATUS.get(execution["status"], "unknown")
    view = {
        "id": execution["id"], "finished": execution["status"] == "completed",
        "mode": "retry" if execution.get("rerun_of") else MODE.get(execution.get("trigger"), "manual"),
        "retryOf": execution.get("rerun_of"), "retrySuccessId": None,
        "startedAt": execution.get("started_at") or execution["created_at"],
        "stoppedAt": execution.get("completed_at"), "workflowId": execution["workflow_id"],
        "waitTill": None, "customData": {}, "status": status,
    }
    if data:
        view["data"] = run_data(execution)
    return view


def run_data(execution: dict) -> dict:
    """The `data` n8n gives with includeData: each node's run, by name (resultData.runData)."""
    runs: dict[str, list] = {}
    last = None
    for step in execution.get("steps", []):
        if step["status"] == "skipped":
            continue
        name = step["node_name"]
        outputs = step.get("output_data") or {}
        indexes = {port: translate._port_index(port) for port in outputs if port.startswith("main")}
        main: list[list] = [[] for _ in range(max(indexes.values(), default=-1) + 1)]
        for port, index in indexes.items():
            value = outputs[port]
            main[index] = [{"json": item} for item in (value if isinstance(value, list) else [value])]
        runs.setdefault(name, []).append({
            "startTime": step.get("started_at"), "executionTime": round(step.get("duration_ms") or 0),
            "executionStatus": "success" if step["status"] == "completed" else "error",
            "data": {"main": main} if main else {},
            **({"error": {"message": step["error_message"]}} if step.get("error_message") else {}),
        })
        if step.get("completed_at"):
            last = name
    result: dict[str, Any] = {"runData": runs, "lastNodeExecuted": last}
    if execution.get("error_message") and execution["status"] != "completed":
        result["error"] = {"message": execution["error_message"]}
    return {"startData": {}, "resultData": result}


async def list_executions(principal: Principal, *, workflow_id: str | None, status: str | None, offset: int,
                          limit: int, include_data: bool) -> dict:
    statuses = STATUS_FILTER.get(status) if status else None
    if statuses == []:
        return {"data": [], "nextCursor": None}
    found = await call(principal, "list_executions", workflow_id=workflow_id, statuses=statuses, limit=limit,
                       offset=offset)
    rows = found["executions"]
    if include_data:
        rows = [await call(principal, "get_execution", execution_id=row["id"]) for row in rows]
    return page_of([execution_view(row, data=include_data) for row in rows], found["total"], offset, limit)


async def get_execution(principal: Principal, execution_id: str, *, include_data: bool) -> dict:
    return execution_view(await call(principal, "get_execution", execution_id=execution_id), data=include_data)


async def delete_execution(principal: Principal, execution_id: str) -> dict:
    execution = await call(principal, "get_execution", execution_id=execution_id)
    if execution["status"] in ("pending", "running"):
        raise bad_request("Cannot delete a running execution")
    await call(principal, "delete_execution", execution_id=execution_id)
    return execution_view(execution)


async def retry_execution(principal: Principal, execution_id: str) -> dict:
    execution = await call(principal, "get_execution", execution_id=execution_id)
    if execution["status"] == "completed":
        raise HubError("CONFLICT", "The execution succeeded, so it cannot be retried.")
    if execution["status"] in ("pending", "running"):
        raise HubError("CONFLICT", "The execution is still running, so it cannot be retried.")
    failed = [step for step in execution.get("steps", []) if step["status"] in ("failed", "timeout", "cancelled")]
    started = await call(principal, "rerun_execution", execution_id=execution_id,
                         from_node_id=None if failed else _first_node(execution))
    return execution_view(await call(principal, "get_execution", execution_id=started["execution_id"]))


def _first_node(execution: dict) -> str | None:
    steps = sorted(execution.get("steps", []), key=lambda step: step.get("started_at") or "")
    return steps[0]["node_id"] if steps else None


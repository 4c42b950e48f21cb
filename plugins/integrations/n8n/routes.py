"""n8n's public API v1 and webhook URLs, under this plugin's mount (`/n8n` by default), in n8n's
own shapes: `X-N8N-API-KEY` auth, `{"message"}` errors, `{"data", "nextCursor"}` lists.

    GET  /healthz, /healthz/readiness
    GET  POST /api/v1/workflows                 GET PUT DELETE /api/v1/workflows/{id}
    POST /api/v1/workflows/{id}/activate        POST /api/v1/workflows/{id}/deactivate
    GET  /api/v1/executions                     GET DELETE /api/v1/executions/{id}
    POST /api/v1/executions/{id}/retry
    POST /api/v1/credentials                    DELETE /api/v1/credentials/{id}
    ANY  /webhook/{path}, /webhook-test/{path}  (webhooks.py)
"""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Blueprint, request
from quart_schema import RequestSchemaValidationError, document_request, document_response

from core import HubError, current_hub, current_principal, document_errors, max_body, public, require, validate_query
from plugins.integrations.n8n import service, webhooks
from plugins.integrations.n8n.schemas import (
    STATUSES,
    ExecutionQuery,
    ExecutionReadQuery,
    N8nActivateBody,
    N8nCredential,
    N8nCredentialBody,
    N8nExecution,
    N8nExecutionList,
    N8nMessage,
    N8nRetryBody,
    N8nStatus,
    N8nWorkflow,
    N8nWorkflowBody,
    N8nWebhookError,
    N8nWorkflowList,
    WebhookBody,
    WorkflowReadQuery,
    WorkflowQuery,
    bad_request,
    checked_credential,
    checked_workflow,
)

KEY_HEADER = "X-N8N-API-KEY"
bp = document_errors(model=N8nMessage)(Blueprint("n8n", __name__))
WEBHOOK_METHODS = ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"]


def n8n_api(permission: str):
    return require(permission, key_header=KEY_HEADER)


# -- n8n's error body --------------------------------------------------------------------------


@bp.errorhandler(HubError)
async def _hub_error(error: HubError):
    message = error.message
    details = error.details or {}
    if error.code == "VALIDATION_ERROR" and details.get("field") and "allowed" in details:
        message = f"Unknown query parameter '{details['field']}'"  # n8n's validator says it so
    elif error.code == "VALIDATION_ERROR" and details.get("field") and message == "Invalid input data":
        message = f"request/query/{details['field']} {details.get('reason', 'is not valid').lower()}"
    elif error.status == 401 and not message.endswith("header required"):
        message = "unauthorized"  # n8n says no more about a key it refuses
    elif error.code == "FORBIDDEN":
        message = "Forbidden"
    elif error.code == "NOT_FOUND":
        message = "Not Found"
    if request.path.startswith(_webhook_prefixes()):
        return webhooks.n8n_error(error.status, message, headers=error.headers)
    return {"message": message}, error.status, error.headers or {}


@bp.errorhandler(RequestSchemaValidationError)
async def _schema_error(error: RequestSchemaValidationError):
    return {"message": "request/body is not valid"}, 400


@bp.errorhandler(UnicodeDecodeError)
async def _bad_encoding(error: UnicodeDecodeError):
    return {"message": "Invalid JSON in request body"}, 400


def _webhook_prefixes() -> tuple[str, ...]:
    root = request.path[: request.path.find("/webhook")] if "/webhook" in request.path else ""
    return (f"{root}/webhook/", f"{root}/webhook-test/")


async def _json_body() -> Any:
    try:
        return await request.get_json(force=True, silent=False)
    except Exception:
        raise bad_request("Invalid JSON in request body") from None


def _window(query: Any) -> tuple[int, int]:
    if query.cursor:
        return service.decode_cursor(query.cursor)
    return 0, query.limit


# -- health -----------------------------------------------------------------------------------


@bp.get("/healthz")
@public
@document_response(N8nStatus)
async def n8n_healthz():
    """n8n's liveness probe.

    Always `{"status": "ok"}` while the process answers."""
    return {"status": "ok"}


@bp.get("/healthz/readiness")
@public
@document_response(N8nStatus)
@document_response(N8nStatus, 503)
async def n8n_readiness():
    """n8n's readiness probe.

    200 `{"status": "ok"}` when the database answers, else 503 `{"status": "error"}`."""
    _, database = current_hub().health_checks["database"]
    try:
        healthy = await asyncio.wait_for(database(), 3.0) == "healthy"
    except Exception:
        healthy = False
    return ({"status": "ok"}, 200) if healthy else ({"status": "error"}, 503)


# -- workflows ----------------------------------------------------------------------------------


@bp.get("/api/v1/workflows")
@n8n_api("workflows.read")
@validate_query(WorkflowQuery)
@document_response(N8nWorkflowList)
async def n8n_list_workflows(query_args: WorkflowQuery):
    """List workflows in n8n's JSON.

    The organization's workflows, made here or in the Hub, last changed first; `active`, `name`
    (part of it), `limit` (up to 250) and the opaque `cursor` of the previous page."""
    query = query_args
    offset, limit = _window(query)
    return await service.list_workflows(current_principal(), active=query.active, name=query.name, offset=offset,
                                        limit=limit, pinned=not query.excludePinnedData)


@bp.post("/api/v1/workflows")
@n8n_api("workflows.edit")
@document_request(N8nWorkflowBody)
@document_response(N8nWorkflow)
async def n8n_create_workflow():
    """Create a workflow from n8n's JSON.

    Translated to a Hub workflow (inactive, as in n8n); a 400 names every unsupported node type
    and every expression that cannot run."""
    body = checked_workflow(await _json_body())
    return await service.save_workflow(current_principal(), body)


@bp.get("/api/v1/workflows/<workflow_id>")
@n8n_api("workflows.read")
@validate_query(WorkflowReadQuery)
@document_response(N8nWorkflow)
async def n8n_get_workflow(workflow_id: str, query_args: WorkflowReadQuery):
    """Get a workflow in n8n's JSON.

    As it was sent while the Hub has not changed it; else translated back from the Hub's graph."""
    return await service.get_workflow(current_principal(), workflow_id, pinned=not query_args.excludePinnedData)


@bp.put("/api/v1/workflows/<workflow_id>")
@n8n_api("workflows.edit")
@document_request(N8nWorkflowBody)
@document_response(N8nWorkflow)
async def n8n_update_workflow(workflow_id: str):
    """Replace a workflow.

    Saved as a new Hub version; an active workflow stays active, listening on its new webhooks."""
    principal = current_principal()
    await service.get_workflow(principal, workflow_id)  # another organization's id: 404 before any 400
    body = checked_workflow(await _json_body())
    return await service.save_workflow(principal, body, workflow_id)


@bp.delete("/api/v1/workflows/<workflow_id>")
@n8n_api("workflows.delete")
@document_response(N8nWorkflow)
async def n8n_delete_workflow(workflow_id: str):
    """Delete a workflow.

    With its executions; the answer is the workflow as it was (n8n's)."""
    return await service.delete_workflow(current_principal(), workflow_id)


@bp.post("/api/v1/workflows/<workflow_id>/activate")
@n8n_api("workflows.edit")
@document_request(N8nActivateBody)
@document_response(N8nWorkflow)
@document_errors(409)
async def n8n_activate_workflow(workflow_id: str):
    """Activate a workflow.

    Its webhooks listen and its schedule runs; 400 without a trigger, 409 when another active
    workflow listens on one of its webhook URLs."""
    body = await request.get_json(silent=True) if await request.get_data() else None
    principal = current_principal()
    if isinstance(body, dict) and body.get("versionId") is not None:
        current = await service.get_workflow(principal, workflow_id)
        if body["versionId"] != current["versionId"]:
            raise bad_request(f"request/body/versionId {body['versionId']!r} is not the workflow's current version")
    return await service.set_active(principal, workflow_id, True)


@bp.post("/api/v1/workflows/<workflow_id>/deactivate")
@n8n_api("workflows.edit")
@document_request(N8nActivateBody)
@document_response(N8nWorkflow)
async def n8n_deactivate_workflow(workflow_id: str):
    """Deactivate a workflow.

    Its webhooks stop answering (404) and its schedule stops; no body is needed."""
    return await service.set_active(current_principal(), workflow_id, False)


# -- executions ---------------------------------------------------------------------------------


@bp.get("/api/v1/executions")
@n8n_api("workflows.read")
@validate_query(ExecutionQuery)
@document_response(N8nExecutionList)
async def n8n_list_executions(query_args: ExecutionQuery):
    """List executions in n8n's shape.

    Newest first; `workflowId`, `status` (n8n's: success, error, canceled, running, new, ...),
    `includeData` (each node's run), `limit` and `cursor`."""
    query = query_args
    if query.status is not None and query.status not in STATUSES:
        raise bad_request(f"request/query/status must be equal to one of the allowed values: {', '.join(STATUSES)}")
    offset, limit = _window(query)
    return await service.list_executions(current_principal(), workflow_id=query.workflowId, status=query.status,
                                         offset=offset, limit=limit, include_data=bool(query.includeData))


@bp.get("/api/v1/executions/<execution_id>")
@n8n_api("workflows.read")
@validate_query(ExecutionReadQuery)
@document_response(N8nExecution)
async def n8n_get_execution(execution_id: str, query_args: ExecutionReadQuery):
    """Get an execution.

    With `includeData`, each node's run (resultData.runData) and the last node that ran."""
    return await service.get_execution(current_principal(), execution_id, include_data=bool(query_args.includeData))


@bp.delete("/api/v1/executions/<execution_id>")
@n8n_api("workflows.edit")
@document_response(N8nExecution)
async def n8n_delete_execution(execution_id: str):
    """Delete an execution.

    An ended one (400 while it runs); the answer is the execution as it was."""
    return await service.delete_execution(current_principal(), execution_id)


@bp.post("/api/v1/executions/<execution_id>/retry")
@n8n_api("workflows.execute")
@document_request(N8nRetryBody)
@document_response(N8nExecution)
@document_errors(409)
async def n8n_retry_execution(execution_id: str):
    """Retry a failed execution.

    A new execution from its failed node: the nodes before it keep their outputs and do not run
    again; 409 for an execution that succeeded or still runs."""
    return await service.retry_execution(current_principal(), execution_id)


# -- credentials (for Webhook nodes' basic and header auth) --------------------------------------


@bp.post("/api/v1/credentials")
@n8n_api("workflows.edit")
@document_request(N8nCredentialBody)
@document_response(N8nCredential)
async def n8n_create_credential():
    """Create a credential for Webhook nodes.

    httpBasicAuth {user, password} or httpHeaderAuth {name, value}; only a hash of the secret is
    kept and it is never returned."""
    return await service.create_credential(current_principal(), checked_credential(await _json_body()))


@bp.delete("/api/v1/credentials/<credential_id>")
@n8n_api("workflows.edit")
@document_response(N8nCredential)
async def n8n_delete_credential(credential_id: str):
    """Delete a credential.

    Webhook nodes that name it answer 500 "No authentication data defined on node!" after."""
    return await service.delete_credential(current_principal(), credential_id)


# -- webhooks -------------------------------------------------------------------------------------


def _webhook_body_limit(hub) -> int:
    return hub.plugin_settings("n8n").webhook_max_body_bytes


@bp.route("/webhook/<path:path>", methods=WEBHOOK_METHODS)
@max_body(_webhook_body_limit)
@document_request(WebhookBody)
@document_response(N8nMessage)
@document_errors(400, 413, 500, 504, model=N8nWebhookError)
@public
async def n8n_webhook(path: str):
    """Call a workflow's webhook.

    Starts the active workflow listening on this path and method (or, `/webhook/{workflow-id}`,
    that workflow) and answers as its Webhook node's responseMode says. No credentials: the
    node may ask for basic or header auth; each workflow is rate limited."""
    return await webhooks.serve(path, test=False)


@bp.route("/webhook-test/<path:path>", methods=WEBHOOK_METHODS)
@max_body(_webhook_body_limit)
@document_request(WebhookBody)
@document_response(N8nMessage)
@document_errors(400, 413, 500, 504, model=N8nWebhookError)
@public
async def n8n_test_webhook(path: str):
    """Call a workflow's test webhook.

    The same as /webhook/ (n8n's editor is not here to arm it), the item's executionMode "test"."""
    return await webhooks.serve(path, test=True)

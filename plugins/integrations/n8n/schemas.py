"""n8n's request bodies, checked as n8n's public API checks them (its OpenAPI schema through
express-openapi-validator): the same rules and the same messages, `request/body/...`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core import HubError, Query

# packages/cli/src/public-api/v1/handlers/workflows/spec/schemas/workflow.yml, node.yml, workflowSettings.yml
WORKFLOW_FIELDS = {"name", "description", "externalId", "nodes", "connections", "nodeGroups", "settings", "staticData",
                   "pinData", "shared", "activeVersion"}
WORKFLOW_READ_ONLY = {"id", "active", "createdAt", "updatedAt", "isArchived", "versionId", "triggerCount", "meta", "tags"}
WORKFLOW_REQUIRED = ("name", "nodes", "connections", "settings")
NODE_FIELDS = {"id", "name", "webhookId", "disabled", "notesInFlow", "notes", "type", "typeVersion", "executeOnce",
               "alwaysOutputData", "retryOnFail", "maxTries", "waitBetweenTries", "continueOnFail", "onError", "position",
               "parameters", "credentials", "customTelemetryTags", "createdAt", "updatedAt"}
SETTINGS_FIELDS = {"saveExecutionProgress", "saveManualExecutions", "saveDataErrorExecution", "saveDataSuccessExecution",
                   "executionTimeout", "errorWorkflow", "timezone", "executionOrder", "callerPolicy", "callerIds",
                   "timeSavedPerExecution", "redactionPolicy", "availableInMCP"}
MAX_NODES = 500
STATUSES = ("canceled", "crashed", "error", "new", "running", "success", "unknown", "waiting")


def bad_request(message: str) -> HubError:
    return HubError("VALIDATION_ERROR", message)


def _type(value: Any, expected: str, where: str) -> None:
    checks = {"string": lambda v: isinstance(v, str), "object": lambda v: isinstance(v, dict),
              "array": lambda v: isinstance(v, list), "boolean": lambda v: isinstance(v, bool),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}
    if not checks[expected](value):
        raise bad_request(f"{where} must be {expected}")


def checked_workflow(body: Any) -> dict[str, Any]:
    """The body of POST/PUT /workflows, or a 400 with the validator's message."""
    if not isinstance(body, dict):
        raise bad_request("request/body must be object")
    for name in WORKFLOW_REQUIRED:
        if name not in body:
            raise bad_request(f"request/body must have required property '{name}'")
    for name in body:
        if name in WORKFLOW_READ_ONLY:
            raise bad_request(f"request/body/{name} is read-only")
        if name not in WORKFLOW_FIELDS:
            raise bad_request("request/body must NOT have additional properties")
    _type(body["name"], "string", "request/body/name")
    if not body["name"].strip() or len(body["name"]) > 200:
        raise bad_request("request/body/name must NOT have fewer than 1 or more than 200 characters")
    _type(body["nodes"], "array", "request/body/nodes")
    if len(body["nodes"]) > MAX_NODES:
        raise bad_request(f"request/body/nodes must NOT have more than {MAX_NODES} items")
    _type(body["connections"], "object", "request/body/connections")
    _type(body["settings"], "object", "request/body/settings")
    for name in body["settings"]:
        if name not in SETTINGS_FIELDS:
            raise bad_request("request/body/settings must NOT have additional properties")
    if "timezone" in body["settings"]:
        _type(body["settings"]["timezone"], "string", "request/body/settings/timezone")
    for index, node in enumerate(body["nodes"]):
        where = f"request/body/nodes/{index}"
        _type(node, "object", where)
        for name in node:
            if name not in NODE_FIELDS:
                raise bad_request(f"{where} must NOT have additional properties")
        for name in ("name", "type", "typeVersion", "position", "parameters"):
            if name not in node:
                raise bad_request(f"{where} must have required property '{name}'")
        _type(node["name"], "string", f"{where}/name")
        _type(node["type"], "string", f"{where}/type")
        _type(node["typeVersion"], "number", f"{where}/typeVersion")
        _type(node["position"], "array", f"{where}/position")
        _type(node["parameters"], "object", f"{where}/parameters")
        if not node["name"] or len(node["name"]) > 200:
            raise bad_request(f"{where}/name must NOT have fewer than 1 or more than 200 characters")
        if len(node["type"]) > 200:
            raise bad_request(f"{where}/type must NOT have more than 200 characters")
    for source, outputs in body["connections"].items():
        _type(outputs, "object", f"request/body/connections/{source}")
        for kind, by_output in outputs.items():
            _type(by_output, "array", f"request/body/connections/{source}/{kind}")
            for index, targets in enumerate(by_output):
                if targets is None:
                    continue
                _type(targets, "array", f"request/body/connections/{source}/{kind}/{index}")
                for target in targets:
                    _type(target, "object", f"request/body/connections/{source}/{kind}/{index}")
                    _type(target.get("node"), "string", f"request/body/connections/{source}/{kind}/{index}/node")
    return {name: body[name] for name in WORKFLOW_FIELDS if name in body}


def checked_credential(body: Any) -> dict[str, Any]:
    """POST /credentials for the two kinds a Webhook node checks: httpBasicAuth {user, password}
    and httpHeaderAuth {name, value}."""
    if not isinstance(body, dict):
        raise bad_request("request/body must be object")
    for name in ("name", "type", "data"):
        if name not in body:
            raise bad_request(f"request/body must have required property '{name}'")
    _type(body["name"], "string", "request/body/name")
    _type(body["type"], "string", "request/body/type")
    _type(body["data"], "object", "request/body/data")
    if not body["name"] or len(body["name"]) > 200:
        raise bad_request("request/body/name must NOT have fewer than 1 or more than 200 characters")
    fields = {"httpBasicAuth": ("user", "password"), "httpHeaderAuth": ("name", "value")}.get(body["type"])
    if fields is None:
        raise bad_request(f"request/body/type: credential type {body['type']!r} is not supported here "
                          "(httpBasicAuth, httpHeaderAuth)")
    limits = {"user": 200, "name": 200, "password": 1000, "value": 1000}
    for name, value in body["data"].items():
        if name in limits and (not isinstance(value, str) or len(value) > limits[name]):
            raise bad_request(f"request/body/data/{name} must be a string of at most {limits[name]} characters")
    for name in fields:
        if not body["data"].get(name):
            raise bad_request(f"request/body/data must have required property '{name}'")
    return body


BOUNDED_BY_BODY = {"x-bounded-by": "the request body's size ([http] max_body_bytes); kept as n8n sent it"}
BOUNDED_BY_CHECK = {"x-bounded-by": "checked_workflow and the translation to a Hub graph, which refuse "
                                    "what they cannot run"}


class N8nCredentialRef(BaseModel):
    id: str | None = Field(None, max_length=100)
    name: str | None = Field(None, max_length=200)


class N8nNode(BaseModel):
    """One n8n node as n8n exports it."""

    id: str | None = Field(None, max_length=100)
    name: str = Field(max_length=200)
    type: str = Field(max_length=200, description="e.g. n8n-nodes-base.webhook (see the plugin's supported types)")
    typeVersion: float = Field(ge=0, le=100)
    position: list[Annotated[float, Field(ge=-1e6, le=1e6)]] = Field(max_length=2, description="[x, y] on the canvas")
    parameters: dict[str, Any] = Field(description="the node's parameters; `={{ }}` values are expressions",
                                       json_schema_extra=BOUNDED_BY_CHECK)
    credentials: dict[str, N8nCredentialRef] | None = Field(None, max_length=10,
                                                            description='{"httpBasicAuth": {"id", "name"}}')
    webhookId: str | None = Field(None, max_length=100)
    disabled: bool | None = None
    retryOnFail: bool | None = None
    maxTries: int | None = Field(None, ge=1, le=11)
    waitBetweenTries: int | None = Field(None, ge=0, le=300_000)
    continueOnFail: bool | None = None
    onError: str | None = Field(None, max_length=50)
    notes: str | None = Field(None, max_length=5000)


class N8nWorkflowBody(BaseModel):
    """A workflow as n8n exports it (checked as n8n's API checks it: checked_workflow)."""

    name: str = Field(max_length=200)
    nodes: list[N8nNode] = Field(max_length=MAX_NODES)
    connections: dict[str, Any] = Field(
        description='{"Node": {"main": [[{"node": "Next", "type": "main", "index": 0}]]}}: by output, then target',
        json_schema_extra=BOUNDED_BY_CHECK)
    settings: dict[str, Any] = Field(
        description="executionOrder, timezone (schedule triggers), executionTimeout (seconds), errorWorkflow, ...",
        json_schema_extra=BOUNDED_BY_CHECK)
    staticData: dict[str, Any] | None = Field(None, json_schema_extra=BOUNDED_BY_BODY)
    pinData: dict[str, Any] | None = Field(
        None, description="kept and shown; runs ignore it, as n8n's production runs do", json_schema_extra=BOUNDED_BY_BODY)
    description: str | None = Field(None, max_length=5000)


class N8nWorkflow(N8nWorkflowBody):
    """A workflow in n8n's shape (read-only fields included)."""

    id: str
    active: bool
    isArchived: bool
    createdAt: str
    updatedAt: str
    versionId: str
    triggerCount: int
    tags: list[dict[str, str]]
    meta: dict[str, Any] | None
    nodes: list[dict[str, Any]]  # as sent
    connections: dict[str, Any]
    settings: dict[str, Any]


class N8nExecution(BaseModel):
    id: str
    finished: bool
    mode: str = Field(description="webhook, manual, trigger (a schedule), retry or integrated")
    retryOf: str | None
    retrySuccessId: str | None
    startedAt: str
    stoppedAt: str | None
    workflowId: str
    waitTill: str | None
    customData: dict[str, Any]
    status: str = Field(description="new, running, success, error or canceled")
    data: dict[str, Any] | None = Field(None, description="with includeData: resultData.runData by node name")


class N8nCredentialData(BaseModel):
    user: str | None = Field(None, max_length=200, description="httpBasicAuth")
    password: str | None = Field(None, max_length=1000, description="httpBasicAuth")
    name: str | None = Field(None, max_length=200, description="httpHeaderAuth: the header")
    value: str | None = Field(None, max_length=1000, description="httpHeaderAuth: its value")


class N8nCredentialBody(BaseModel):
    name: str = Field(max_length=200)
    type: Literal["httpBasicAuth", "httpHeaderAuth"]
    data: N8nCredentialData


class N8nCredential(BaseModel):
    id: str
    name: str
    type: str
    createdAt: str
    updatedAt: str


class N8nRetryBody(BaseModel):
    loadWorkflow: bool | None = Field(None, description="n8n's option; a retry here runs the version that failed")


class N8nActivateBody(BaseModel):
    versionId: str | None = Field(None, max_length=100,
                                  description="refuse (400) unless this is the workflow's current versionId")


class WebhookBody(BaseModel):
    """Any body the workflow expects: JSON, a form or text (the Webhook node's `body`), up to
    [plugins.n8n] webhook_max_body_bytes."""

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "additionalProperties": True,
        "x-bounded-by": "the webhook route's own body limit ([plugins.n8n] webhook_max_body_bytes)"})


class N8nMessage(BaseModel):
    """n8n's error body on its API: `{"message": "..."}`."""

    message: str


class N8nWebhookError(BaseModel):
    """n8n's error body on its webhook URLs."""

    code: int
    message: str
    hint: str | None = Field(None, description="what to do (an unknown or inactive webhook)")


class N8nStatus(BaseModel):
    status: str = Field(description="ok, or error when the database does not answer")


class N8nWorkflowList(BaseModel):
    data: list[N8nWorkflow]
    nextCursor: str | None = Field(description="opaque: pass it as `cursor` for the next page; null on the last")


class N8nExecutionList(BaseModel):
    data: list[N8nExecution]
    nextCursor: str | None = Field(description="opaque: pass it as `cursor` for the next page; null on the last")


class WorkflowQuery(Query):
    active: bool | None = None
    name: str | None = Field(None, max_length=200, description="part of the name")
    tags: str | None = Field(None, max_length=500, description="accepted; the Hub's workflows have no tags")
    projectId: str | None = Field(None, max_length=100, description="accepted; one project per organization")
    excludePinnedData: bool | None = None
    limit: int = Field(100, ge=1, le=250)
    cursor: str | None = Field(None, max_length=500)


class WorkflowReadQuery(Query):
    excludePinnedData: bool | None = None


class ExecutionQuery(Query):
    includeData: bool | None = None
    status: str | None = Field(None, max_length=20, description=", ".join(STATUSES))
    workflowId: str | None = Field(None, max_length=64)
    projectId: str | None = Field(None, max_length=100, description="accepted; one project per organization")
    limit: int = Field(100, ge=1, le=250)
    cursor: str | None = Field(None, max_length=500)


class ExecutionReadQuery(Query):
    includeData: bool | None = None

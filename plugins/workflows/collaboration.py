"""Live editing of one workflow by several people (WS /ws/workflows/{id}/collaboration, seed 001's
WorkflowCollaboration).

An editor sends `{"type": "workflow_collaboration", "operation", "data", "base_version"}`:
- node_added / node_updated / node_deleted / edge_added / edge_deleted change the stored workflow:
  applied to the version named by `base_version` and saved as the next version, or refused with
  `{"type": "conflict", "version"}` when someone saved another version since (reload, re-apply);
  the editor gets `{"type": "applied", "version"}`, the others the operation;
- selection_changed / cursor_moved are relayed to the others and stored nowhere.
The others receive `{"type": "workflow_collaboration", "workflow_id", "user_id", "operation", "data",
"version", "timestamp"}`; nobody receives their own operations back.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Literal

from pydantic import BaseModel, Field, ValidationError

from core import HubError, Principal, broadcast, emit, pydantic_details
from plugins.workflows import service
from plugins.workflows.schemas import WorkflowEdge, WorkflowNode

CHANGES = ("node_added", "node_updated", "node_deleted", "edge_added", "edge_deleted")
PRESENCE = ("selection_changed", "cursor_moved")


class Operation(BaseModel):
    type: Literal["workflow_collaboration"]
    operation: Literal["node_added", "node_updated", "node_deleted", "edge_added", "edge_deleted",
                       "selection_changed", "cursor_moved"]
    data: dict[str, Any] = Field(default_factory=dict)
    base_version: int | None = Field(None, ge=1)


def applied(definition: dict, operation: str, data: dict) -> dict:
    """`definition` with the operation made (a copy); a 400 for an operation that cannot apply."""
    result = copy.deepcopy(definition)
    nodes, edges = result.setdefault("nodes", []), result.setdefault("edges", [])
    node_ids = {node["id"] for node in nodes}

    def refuse(reason: str) -> HubError:
        return HubError("VALIDATION_ERROR", "The operation cannot apply", {"field": "data", "reason": reason})

    try:
        if operation == "node_added":
            node = WorkflowNode.model_validate(data).model_dump(mode="json")
            if node["id"] in node_ids:
                raise refuse(f"a node {node['id']!r} exists")
            nodes.append(node)
        elif operation == "node_updated":
            index = next((i for i, node in enumerate(nodes) if node["id"] == data.get("id")), None)
            if index is None:
                raise refuse(f"no node {data.get('id')!r}")
            nodes[index] = WorkflowNode.model_validate({**nodes[index], **data}).model_dump(mode="json")
        elif operation == "node_deleted":
            if data.get("id") not in node_ids:
                raise refuse(f"no node {data.get('id')!r}")
            result["nodes"] = [node for node in nodes if node["id"] != data["id"]]
            result["edges"] = [e for e in edges if data["id"] not in (e["source_node_id"], e["target_node_id"])]
        elif operation == "edge_added":
            edge = WorkflowEdge.model_validate(data).model_dump(mode="json")
            if any(e["id"] == edge["id"] for e in edges):
                raise refuse(f"an edge {edge['id']!r} exists")
            edges.append(edge)
        elif operation == "edge_deleted":
            if not any(e["id"] == data.get("id") for e in edges):
                raise refuse(f"no edge {data.get('id')!r}")
            result["edges"] = [e for e in edges if e["id"] != data["id"]]
    except ValidationError as error:
        raise HubError("VALIDATION_ERROR", "The operation's data is invalid", pydantic_details(error)) from None
    return result


async def handle(hub: Any, workflow_id: str, principal: Principal, message: dict, reply: Callable[[dict], None]) -> None:
    try:
        operation = Operation.model_validate(message)
    except ValidationError as error:
        raise HubError("VALIDATION_ERROR", "Invalid collaboration message", pydantic_details(error)) from None
    announced = {"workflow_id": workflow_id, "editor_id": str(principal.user_id), "operation": operation.operation,
                 "data": operation.data}
    if operation.operation in PRESENCE:
        await broadcast(principal.org_id, "workflow.collaboration.presence", announced, hub=hub)
        return
    if not principal.can("workflows.edit"):
        reply({"type": "rejected", "operation": operation.operation,
               "error": {"code": "FORBIDDEN", "message": "Changing a workflow needs workflows.edit"}})
        return
    if operation.base_version is None:
        raise HubError("VALIDATION_ERROR", "A change names the version it applies to",
                       {"field": "base_version", "reason": "required"})
    workflow = await service.get_workflow(principal.org_id, workflow_id)
    if workflow.version != operation.base_version:
        reply({"type": "conflict", "workflow_id": workflow_id, "version": workflow.version,
               "operation": operation.operation, "data": operation.data})
        return
    definition = applied(workflow.definition, operation.operation, operation.data)
    body = {"name": workflow.name, "description": workflow.description, "category": workflow.category,
            "is_active": workflow.is_active, **service.graph_parts(definition)}

    async def announce(saved) -> None:
        await emit(principal.org_id, "workflow.collaboration.changed", {**announced, "version": saved.version}, hub=hub)

    try:
        saved = await service.update_workflow(hub, principal.org_id, principal.user_id, workflow_id, body,
                                              expected_version=operation.base_version, editing=True, on_saved=announce)
    except HubError as error:
        if error.code != "CONFLICT":
            raise
        current = await service.get_workflow(principal.org_id, workflow_id)
        reply({"type": "conflict", "workflow_id": workflow_id, "version": current.version,
               "operation": operation.operation, "data": operation.data})
        return
    reply({"type": "applied", "workflow_id": workflow_id, "operation": operation.operation, "version": saved["version"]})


def for_the_others(message: dict, principal: Principal) -> dict | None:
    """A collaboration event as seed 001's WorkflowCollaboration, to every editor but its author."""
    data = message["data"]
    if data["editor_id"] == str(principal.user_id):
        return None
    return {"type": "workflow_collaboration", "workflow_id": data["workflow_id"], "user_id": data["editor_id"],
            "operation": data["operation"], "data": data["data"], "version": data.get("version"),
            "timestamp": message["timestamp"]}

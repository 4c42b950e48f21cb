"""What the workers API does, without HTTP: start a job type or a Hub workflow at a priority,
read and cancel jobs, the organization's totals. Hub workflows run through the hub functions
the workflows plugin registers (`list_workflows`, `run_workflow`): this plugin imports no
other plugin."""

from __future__ import annotations

import fnmatch
import uuid
from typing import Any

from core import (
    HubError,
    Principal,
    call_function,
    default_priority,
    enqueue,
    get_job,
    job_types,
)

MAX_LISTED_WORKFLOWS = 50


def _settings(hub: Any):
    return hub.plugin_settings("workers")


async def runnable_job_types(hub: Any, principal: Principal) -> list[str]:
    """Registered job types this caller may start here: each declares the permission that may
    start it (`start_permission`; none: only its plugin's code enqueues it), allowed by
    `job_types`, of a plugin that is on for the organization."""
    allowed = _settings(hub).job_types
    disabled = await hub.disabled_for_org(principal.org_id)
    return sorted(
        name for name, kind in job_types(hub).items()
        if kind.start_permission is not None and principal.can(kind.start_permission)
        and kind.plugin not in disabled
        and any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed)
    )


async def _workflows(hub: Any, principal: Principal, search: str | None) -> list[dict]:
    """The organization's workflows the caller may see (none when the workflows plugin is off
    or the caller may not read workflows)."""
    if not _settings(hub).run_workflows:
        return []
    arguments: dict[str, Any] = {"limit": MAX_LISTED_WORKFLOWS}
    if search:
        arguments["search"] = search[:200]
    try:
        listed = await call_function(hub, principal, "list_workflows", arguments)
    except HubError as error:
        if error.code in ("NOT_FOUND", "FORBIDDEN"):
            return []
        raise
    return list(listed.get("workflows") or [])


async def _find_workflow(hub: Any, principal: Principal, name: str) -> str | None:
    """A workflow's id by its exact name (the most recently saved one) or its id."""
    candidates = await _workflows(hub, principal, name)
    for match in (lambda w: w["id"] == name, lambda w: w["name"] == name,
                  lambda w: str(w["name"]).casefold() == name.casefold()):
        for workflow in candidates:
            if match(workflow):
                return str(workflow["id"])
    try:
        uuid.UUID(name)
    except ValueError:
        return None
    return name if _settings(hub).run_workflows else None  # an id: run_workflow says whether it exists


async def unknown_type(hub: Any, principal: Principal, workflow_type: str) -> HubError:
    types = await runnable_job_types(hub, principal)
    workflows = [w["name"] for w in await _workflows(hub, principal, None)]
    return HubError("VALIDATION_ERROR", f"Unknown workflow_type {workflow_type!r}", {
        "field": "workflow_type",
        "reason": "must be one of the valid types: a job type, or a workflow's name or id",
        "valid_types": types + sorted(set(workflows) - set(types)),
        "job_types": types, "workflows": sorted(set(workflows)),
    })


async def execute(hub: Any, principal: Principal, workflow_type: str, input_data: dict, priority: int):
    """Start `workflow_type` with `input_data`: a registered job type is enqueued as is; a Hub
    workflow (name or id) starts an execution whose job runs at `priority`. Returns the job."""
    org_id = principal.org_id
    if workflow_type in await runnable_job_types(hub, principal):
        try:
            return await enqueue(org_id, workflow_type, input_data, user_id=principal.user_id, priority=priority, hub=hub)
        except (TypeError, ValueError) as error:
            raise HubError("VALIDATION_ERROR", "Invalid input data",
                           {"field": "input_data", "reason": str(error)}) from None
    workflow_id = await _find_workflow(hub, principal, workflow_type)
    if workflow_id is None:
        raise await unknown_type(hub, principal, workflow_type)
    try:
        with default_priority(priority):
            started = await call_function(hub, principal, "run_workflow",
                                          {"workflow_id": workflow_id, "inputs": input_data, "trigger": "api"})
    except HubError as error:
        if error.code == "NOT_FOUND":  # no such workflow (or the plugin went away)
            raise await unknown_type(hub, principal, workflow_type) from None
        raise
    return await get_job(org_id, started["job_id"])

"""Event triggers: a workflow whose `triggers` hold `{"type": "event", "config": {"event_type":
"dms.vehicle.service_needed", "filter": {"make": "Volvo"}}}` starts when such an event of its
organization is emitted, with the event's data as its input.

Saving checks the trigger (`check`): the type is in the event catalogue, of a plugin on for the
organization, not one of this plugin's own (`workflow.*`, `execution.*`, `job.*` would start
workflows from workflows), and the workflow's author (and whoever saves it) may read it: the
type's permission. Every save, switch on/off and delete rewrites the workflow's rows of
`EventTrigger` (`sync`), so an event finds its candidates with one indexed query on
(org_id, event_type) however many workflows the organization has (`on_event`).

An event starts one execution per matching active workflow, as the workflow's author (like a
schedule), whose right to read the event is checked again when it fires. Delivery is at least
once: the execution records the event's id, unique per workflow, so a redelivered event starts
nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from tortoise.exceptions import IntegrityError

from core import Hub, HubError, principal_for_user
from plugins.workflows.models import EventTrigger, Execution, Workflow

log = logging.getLogger("hub.workflows")
PLUGIN = "workflows"
# Events about workflows, executions and jobs never start a workflow (no loops).
OWN_PREFIXES = ("workflow.", "execution.", "job.")
CONFIG_KEYS = {"event_type", "filter"}
MAX_FILTER_FIELDS = 20


def is_own(hub: Hub, event_type: str) -> bool:
    known = hub.bus.catalogue.types.get(event_type)
    return event_type.startswith(OWN_PREFIXES) or (known is not None and known.plugin == PLUGIN)


def event_triggers(definition: dict) -> list[tuple[int, dict]]:
    """(position in `triggers`, config) of the definition's event triggers."""
    return [(index, trigger.get("config") or {}) for index, trigger in enumerate(definition.get("triggers") or [])
            if trigger.get("type") == "event"]


async def check(hub: Hub, org_id: Any, definition: dict, authors: Iterable[Any]) -> list[dict]:
    """The problems (`{"field", "reason"}`) of the definition's event triggers, saved by or for
    `authors` (user ids: each must be allowed to read the event)."""
    found = event_triggers(definition)
    if not found:
        return []
    problems: list[dict] = []
    disabled = await hub.disabled_for_org(org_id)
    principals = [await principal_for_user(user_id, org_id, hub=hub) for user_id in dict.fromkeys(authors) if user_id]
    for index, config in found:
        at = f"triggers[{index}].config"
        unknown = sorted(set(config) - CONFIG_KEYS)
        if unknown:
            problems.append({"field": f"{at}.{unknown[0]}", "reason": "an event trigger takes only event_type and filter"})
        event_type = config.get("event_type")
        known = hub.bus.catalogue.types.get(event_type) if isinstance(event_type, str) else None
        if known is None or known.plugin in disabled:
            problems.append({"field": f"{at}.event_type",
                             "reason": "not an event type of this Hub (GET /api/v1/events/types)"})
        elif is_own(hub, event_type):
            problems.append({"field": f"{at}.event_type",
                             "reason": "events of workflows, executions and jobs cannot start a workflow"})
        elif known.permission and not all(p is not None and p.can(known.permission) for p in principals):
            problems.append({"field": f"{at}.event_type",
                             "reason": f"the workflow's author may not read this event ({known.permission})"})
        data_filter = config.get("filter", {})
        if not isinstance(data_filter, dict) or len(data_filter) > MAX_FILTER_FIELDS \
                or not all(isinstance(key, str) and key for key in data_filter):
            problems.append({"field": f"{at}.filter",
                             "reason": f"an object of at most {MAX_FILTER_FIELDS} fields of the event's data "
                                       "and the values they must have"})
    return problems


async def sync(workflow: Workflow) -> None:
    """Rewrite the workflow's rows of EventTrigger from its current version (none when it is
    inactive or deleted). Call it in the transaction that saves the workflow."""
    await forget(workflow.id)
    if not workflow.is_active:
        return
    rows = [EventTrigger(org_id=workflow.org_id, workflow_id=workflow.id, event_type=config["event_type"],
                         data_filter=config.get("filter") or {})
            for _, config in event_triggers(workflow.definition) if isinstance(config.get("event_type"), str)]
    if rows:
        await EventTrigger.bulk_create(rows)


async def forget(workflow_id: Any) -> None:
    """A deleted workflow listens to nothing."""
    await EventTrigger.filter(workflow_id=workflow_id).delete()


def matches(data_filter: dict, data: dict) -> bool:
    """Every field of the filter has its value in the event's data (`a.b`: a nested field)."""
    for path, wanted in data_filter.items():
        value: Any = data
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return False
            value = value[part]
        if value != wanted:
            return False
    return True


async def on_event(hub: Hub, event: Any) -> int:
    """Start the workflows of the event's organization that listen to it; how many started."""
    from plugins.workflows import service

    if is_own(hub, event.type):
        return 0
    candidates = await EventTrigger.filter(org_id=event.org_id, event_type=event.type)
    workflow_ids = list(dict.fromkeys(row.workflow_id for row in candidates if matches(row.data_filter, event.data)))
    if not workflow_ids:
        return 0
    started = 0
    known = hub.bus.catalogue.types.get(event.type)
    for workflow in await Workflow.for_org(event.org_id).filter(id__in=workflow_ids, is_active=True):
        if await Execution.filter(workflow_id=workflow.id, trigger_event_id=event.id).exists():
            continue  # delivered again
        if known is not None and known.permission:
            author = await principal_for_user(workflow.created_by, workflow.org_id, hub=hub) \
                if workflow.created_by else None
            if author is None or not author.can(known.permission):
                log.warning("workflow %s not started by %s: its author may no longer read it", workflow.id, event.type)
                continue
        try:
            await service.start_execution(
                hub, workflow.org_id, workflow.id, workflow.created_by, inputs=event.data,
                context={"trigger": "event", "event_type": event.type, "event_id": event.id},
                trigger_event_id=event.id)
            started += 1
        except IntegrityError:
            continue  # another process started it for this event meanwhile
        except HubError as error:  # over the monthly quota, switched off meanwhile
            log.warning("workflow %s not started by %s %s: %s", workflow.id, event.type, event.id, error.message)
    return started

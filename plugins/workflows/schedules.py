"""Schedule triggers: a workflow whose graph has `schedule-trigger` nodes starts by itself.

Saving a workflow sets its `next_run_at` (the earliest next time of its schedule triggers, in
their time zones). Every process that runs the Hub looks for due workflows every SCAN_SECONDS;
a due run is claimed by moving `next_run_at` with a conditional update, so whichever processes
look at once, each due time starts one execution. A Hub that was down does not start the runs
it missed one by one: the first look after it starts one run, then the schedule goes on from now.
The run is made as the workflow's author, with `{"scheduled_at", "trigger": "schedule"}` as input.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core import iso, utcnow
from plugins.workflows.graph import resolve_type
from plugins.workflows.models import Workflow

log = logging.getLogger("hub.workflows")
SCAN_SECONDS = 15.0
SCHEDULE_TYPE = "workflows.schedule-trigger"


def next_run(definition: dict, after: datetime, is_active: bool = True) -> datetime | None:
    """The earliest time after `after` at which a schedule trigger of `definition` fires."""
    from croniter import croniter

    if not is_active:
        return None
    times = []
    for node in definition.get("nodes", []):
        config = node.get("config") or {}
        if resolve_type(node["type"]) != SCHEDULE_TYPE or "{{" in str(config.get("cron", "{{")):
            continue
        zone = ZoneInfo(config.get("timezone") or "UTC")
        times.append(croniter(config["cron"], after.astimezone(zone)).get_next(datetime))
    return min(times).astimezone(after.tzinfo) if times else None


async def run_due(hub: Any, now: datetime | None = None) -> int:
    """Start every run that is due; how many this call started."""
    from plugins.workflows import service

    now = now or utcnow()
    started = 0
    for workflow in await Workflow.filter(is_active=True, next_run_at__lte=now).limit(100):
        due = workflow.next_run_at
        following = next_run(workflow.definition, max(now, due))
        if not await Workflow.filter(id=workflow.id, next_run_at=due).update(next_run_at=following):
            continue  # another process claimed this run
        try:
            await service.start_execution(hub, workflow.org_id, workflow.id, workflow.created_by,
                                          inputs={"scheduled_at": iso(due), "trigger": "schedule"},
                                          context={"trigger": "schedule"})
            started += 1
        except Exception:
            log.warning("could not start the scheduled run of workflow %s due at %s", workflow.id, due, exc_info=True)
    return started


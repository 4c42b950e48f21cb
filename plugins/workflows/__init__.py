"""Workflows (seed 001): definitions saved as versioned graphs of nodes from every plugin
(`hub_workflow_nodes`), executions run durably step by step on the core's jobs, live progress on
WS /ws/executions/{id}. Graph checks in graph.py, `{{ }}` expressions in expressions.py, the
runner in engine.py, this plugin's own node types in nodes.py, schedule triggers in schedules.py,
event triggers (workflows started by other plugins' events, `hub_on_event`) in event_triggers.py."""

from __future__ import annotations

mount = "/"

# Monthly `workflow_executions` by plan (seed 001 "Usage Quotas"); the billing plugin's plans
# take over through the same hook.
EXECUTIONS_PER_MONTH = {"free": 1_000, "starter": 10_000, "pro": 100_000, "enterprise": 1_000_000}


def hub_models():
    return ["plugins.workflows.models"]


def hub_routes(app):
    from plugins.workflows.routes import bp

    return bp


def hub_permissions(register):
    register("workflows.read", "See workflows, their versions and executions", "read")
    register("workflows.execute", "Run, cancel and re-run workflows", "write")
    register("workflows.edit", "Create and change workflows and templates", "develop")
    register("workflows.delete", "Delete workflows", "admin")


def hub_event_types(register):
    from plugins.workflows.schemas import EVENT_TYPES

    for name, payload, description in EVENT_TYPES:
        register(name, payload, description, permission="workflows.read", seed="001")


def hub_jobs(register):
    from plugins.workflows.jobs import execute

    # Attempts: a worker killed mid-run hands the execution to the next attempt, which resumes it.
    register("workflows.execute", execute, max_attempts=5)


def hub_workflow_nodes(register):
    from plugins.workflows.nodes import NODE_TYPES

    for name, description, config_model, run, inputs, outputs in NODE_TYPES:
        register(name, description, config_model, run, inputs=inputs, outputs=outputs)


def hub_functions(register):
    from plugins.workflows.functions import FUNCTIONS

    for name, description, args_model, permission, func in FUNCTIONS:
        register(name, description, args_model, permission, func)


async def hub_on_event(event, hub):
    """Event triggers: the organization's active workflows listening to this event start."""
    from plugins.workflows.event_triggers import on_event

    await on_event(hub, event)


async def hub_startup(hub):
    from plugins.workflows.schedules import SCAN_SECONDS, run_due
    from plugins.workflows.templates import install_built_ins

    await install_built_ins(hub)
    hub.run_every("workflows.schedules", SCAN_SECONDS, lambda: run_due(hub))


def hub_plan_limits(plan):
    limit = EXECUTIONS_PER_MONTH.get(plan)
    return {"workflow_executions": limit} if limit is not None else None


def hub_metrics(register):
    from plugins.workflows.metrics import register_metrics

    register_metrics(register)

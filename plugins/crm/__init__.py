"""CRM: leads, contacts, companies, conversations and messages, analytics, achievements
(seed 004 "CRM MVP", seed 000 "crm-twenty"). The model for every domain plugin: hooks here,
tables in models.py, logic in service.py, HTTP in routes.py, LLM tools in functions.py."""

from __future__ import annotations

mount = "/"


def hub_models():
    return ["plugins.crm.models"]


def hub_routes(app):
    from plugins.crm.routes import bp

    return bp


def hub_permissions(register):
    for resource in ("leads", "contacts", "companies"):
        register(f"crm.{resource}.read", f"Read {resource}", "read")
        register(f"crm.{resource}.write", f"Create and edit {resource}", "write")
        register(f"crm.{resource}.delete", f"Delete {resource}", "admin")
    register("crm.messages.read", "Read conversations and messages", "read")
    register("crm.messages.write", "Send and log messages", "write")
    register("crm.analytics.read", "See the CRM dashboard", "read")
    register("crm.achievements.read", "See one's achievements", "read")


def hub_event_types(register):
    from plugins.crm.schemas import EVENT_TYPES

    for name, payload, description, permission, seed in EVENT_TYPES:
        register(name, payload, description, permission=permission, seed=seed)


async def hub_on_event(event):
    from plugins.crm import achievements

    await achievements.on_event(event)


def hub_functions(register):
    from plugins.crm.functions import FUNCTIONS

    for name, description, args_model, permission, func in FUNCTIONS:
        register(name, description, args_model, permission, func)


def hub_workflow_nodes(register):
    from plugins.crm.functions import WORKFLOW_NODES

    for name, description, config_model, run in WORKFLOW_NODES:
        register(name, description, config_model, run)


def hub_metrics(register):
    from plugins.crm.metrics import register_metrics

    register_metrics(register)

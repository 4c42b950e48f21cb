"""Support tickets (seed 002 "Support Service", issue #19): tickets with status rules, public
and internal comments, SLA due times per priority with breach events, and attachments kept by
the core's file store (types told by content, size limits per file and per ticket)."""

from __future__ import annotations

mount = "/"


def hub_config():
    from plugins.support.settings import SupportSettings

    return SupportSettings


def hub_models():
    return ["plugins.support.models"]


def hub_routes(app):
    from plugins.support.routes import bp

    return bp


def hub_permissions(register):
    register("support.read", "See the organization's tickets, their public comments and attachments", "read")
    # customers (viewers) open tickets and answer on them: a level-read permission on purpose
    register("support.submit", "Open tickets, comment on them and attach files", "read")
    register("support.staff", "Work tickets: status, priority, assignment, internal comments", "write")


def hub_error_codes(register):
    register("INVALID_STATUS_TRANSITION", 409, "A ticket cannot move from its status to the one asked for")


def hub_event_types(register):
    from plugins.support.schemas import EVENT_TYPES

    for name, payload, description in EVENT_TYPES:
        register(name, payload, description, permission="support.read")


def hub_functions(register):
    from plugins.support.functions import FUNCTIONS

    for name, description, args_model, permission, func in FUNCTIONS:
        register(name, description, args_model, permission, func)


async def hub_startup(hub):
    from plugins.support.jobs import check_sla_now

    def interval() -> float:  # read at each look: a changed setting applies at the next one
        return hub.plugin_settings("support").sla_check_seconds

    hub.run_every("support.sla", interval, lambda: check_sla_now(hub), start_after=interval())


def hub_metrics(register):
    from plugins.support.metrics import register_metrics

    register_metrics(register)

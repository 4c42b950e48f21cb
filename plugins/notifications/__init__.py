"""Notifications (seed 002 "Notifications Service", seed 004 "Notifications API", seed 001's
`/ws/notifications`): one store of notifications per member, delivered in_app (pushed to the
member's sockets only), by email or by SMS (through the messaging plugin's hub functions), on Slack
(through the Slack plugin's `slack_post_message`, where the organization connected it), per the
member's preferences per channel and per type, with an email digest. Other plugins notify through
the event `notification.requested` or the hub function `notify_user`; the CRM's achievements
(`notification.created`) and billing's failed payments become notifications here."""

from __future__ import annotations

mount = "/"


def hub_config():
    from plugins.notifications.settings import NotificationSettings

    return NotificationSettings


def hub_models():
    return ["plugins.notifications.models"]


def hub_routes(app):
    from plugins.notifications.routes import bp

    return bp


def hub_permissions(register):
    register("notifications.read", "Read one's own notifications and set one's own preferences", "read")
    register("notifications.send", "Send notifications to members of the organization", "write")


def hub_error_codes(register):
    register("CHANNEL_NOT_AVAILABLE", 409, "A notification channel the organization cannot use yet (slack: "
                                           "Slack is not connected)")


def hub_event_types(register):
    from plugins.notifications.schemas import EVENT_TYPES

    for name, payload, description, permission in EVENT_TYPES:
        register(name, payload, description, permission=permission)


async def hub_on_event(event, hub):
    from plugins.notifications.service import on_event

    await on_event(hub, event)


def hub_functions(register):
    from plugins.notifications.functions import FUNCTIONS

    for name, description, args_model, permission, func in FUNCTIONS:
        register(name, description, args_model, permission, func)


async def hub_startup(hub):
    from plugins.notifications.jobs import digest_tick

    def interval() -> float:  # read at each tick: a changed setting applies at the next one
        return hub.plugin_settings("notifications").digest_seconds

    hub.run_every("notifications.digest", interval, lambda: digest_tick(hub), start_after=interval())

"""Notification routes at the root mount: seed 002's Notifications Service (snake_case) and
seed 004's Notifications API (camelCase) over one store. Everyone sees their own inbox only:
another member's notification id is 404, like an unknown one.

    POST /api/v1/notifications                   send to a member of the organization    notifications.send
    GET  /api/v1/notifications                   the caller's inbox (is_read, skip, limit) notifications.read
    GET  /api/v1/notifications/unread-count      {unread, total}                          notifications.read
    PUT  /api/v1/notifications/{id}/read         mark one read                            notifications.read
    POST /api/v1/notifications/read-all          mark all read                            notifications.read
    GET  /api/v1/preferences, PUT                the caller's preferences                 notifications.read
    GET  /api/notifications                      seed 004 (status, type, limit)           notifications.read
    PUT  /api/notifications/{id}/read            seed 004                                 notifications.read
"""

from __future__ import annotations

from quart import Blueprint
from quart_schema import document_request, document_response, validate_request, validate_response

from core import current_hub, current_principal, document_errors, optional_body, require, validate_query
from plugins.notifications import service
from plugins.notifications.schemas import (
    CamelNotification,
    CamelNotificationList,
    CamelQuery,
    MarkAllRead,
    MarkedAllRead,
    MarkRead,
    NotificationOut,
    NotificationQuery,
    NotificationRequest,
    Preferences,
    PreferencesUpdate,
    UnreadCount,
)

bp = Blueprint("notifications", __name__)

SEED_004_DEFAULT_LIMIT = 20


@bp.post("/api/v1/notifications")
@require("notifications.send")
@validate_request(NotificationRequest)
@validate_response(NotificationOut, 201)
@document_errors(409)
async def notifications_send(data: NotificationRequest):
    """Send a notification.

    To `user_id`, a member of the caller's organization (left out: the caller; another
    organization's member is 404), over `channel`: `in_app` (stored, pushed on /ws/notifications
    to that member only), `email` or `sms` (queued through the messaging plugin; `message_id` is
    its message) or `slack` (posted through the Slack plugin to the member's `slack_channel`, else
    the integration's default channel; 409 CHANNEL_NOT_AVAILABLE while the organization has not
    connected Slack). The member's preferences decide: a channel they turned off is not used
    (`delivery: suppressed`); a non-urgent email waits for their digest when it is on."""
    principal = current_principal()
    row = await service.send(current_hub(), principal.org_id, data.user_id or principal.user_id,
                             title=data.title, message=data.message, type=data.type, channel=data.channel,
                             priority=data.priority, metadata=data.metadata, sender_id=principal.user_id)
    return service.body(row), 201


@bp.get("/api/v1/notifications")
@require("notifications.read")
@validate_query(NotificationQuery)
@document_response(list[NotificationOut])
async def notifications_list(query_args: NotificationQuery):
    """List my notifications.

    The caller's own, newest first, as a bare list (seed 002); `is_read` filters, `skip`/`limit`
    page; the total is in X-Total-Count."""
    principal = current_principal()
    rows = service.inbox(principal.org_id, principal.user_id)
    if query_args.is_read is not None:
        rows = rows.filter(is_read=query_args.is_read)
    page = query_args.page()
    found, total = await page.fetch(rows, "-created_at")
    return page.respond([NotificationOut(**service.body(row)).model_dump(mode="json") for row in found], total)


@bp.get("/api/v1/notifications/unread-count")
@require("notifications.read")
@validate_response(UnreadCount)
async def notifications_unread_count():
    """Count my unread notifications.

    `unread` and `total` of the caller's inbox (a badge's number)."""
    principal = current_principal()
    return UnreadCount(unread=await service.unread_count(principal.org_id, principal.user_id),
                       total=await service.inbox(principal.org_id, principal.user_id).count())


@bp.put("/api/v1/notifications/<notification_id>/read")
@require("notifications.read")
@document_request(MarkRead)
@validate_response(NotificationOut)
async def notifications_mark_read(notification_id: str):
    """Mark a notification read.

    One of the caller's notifications (another member's is 404); marking it again changes nothing.
    No body needed; `{"is_read": false}` marks it unread again."""
    principal = current_principal()
    data = await optional_body(MarkRead)
    return service.body(await service.mark_read(principal.org_id, principal.user_id, notification_id, data.is_read))


@bp.post("/api/v1/notifications/read-all")
@require("notifications.read")
@document_request(MarkAllRead)
@validate_response(MarkedAllRead)
async def notifications_mark_all_read():
    """Mark all my notifications read.

    No body needed (`{"type": "lead"}`: only that type's); `updated`: how many were unread."""
    principal = current_principal()
    data = await optional_body(MarkAllRead)
    return MarkedAllRead(updated=await service.mark_all_read(principal.org_id, principal.user_id, data.type))


@bp.get("/api/v1/preferences")
@require("notifications.read")
@validate_response(Preferences)
async def notifications_get_preferences():
    """Get my notification preferences.

    Seed 002's `email_enabled`, `in_app_enabled`, `sms_enabled` (defaults true, true, false), the
    `phone` SMS go to, `slack_enabled` (true) and `slack_channel` (where Slack notifications go),
    `digest`, and `types` (per notification type, channels set to false)."""
    principal = current_principal()
    return service.preferences_body(await service.preferences(principal.org_id, principal.user_id))


@bp.put("/api/v1/preferences")
@require("notifications.read")
@validate_request(PreferencesUpdate)
@validate_response(Preferences)
async def notifications_put_preferences(data: PreferencesUpdate):
    """Update my notification preferences.

    Only the fields given change (`types` is replaced as a whole)."""
    principal = current_principal()
    changes = data.model_dump(exclude_unset=True)
    if "types" in changes and changes["types"] is not None:
        changes["types"] = {name: {channel: on for channel, on in switches.items() if on is not None}
                            for name, switches in changes["types"].items()}
    changes = {name: value for name, value in changes.items() if value is not None or name in ("phone", "slack_channel")}
    row = await service.update_preferences(principal.org_id, principal.user_id, changes)
    return service.preferences_body(row)


@bp.get("/api/notifications")
@require("notifications.read")
@validate_query(CamelQuery)
@validate_response(CamelNotificationList)
async def notifications_list_camel(query_args: CamelQuery):
    """List my notifications (seed 004).

    `{notifications, unreadCount}`, newest first; `status` unread, read or all, `type`, `limit`
    (default 20)."""
    principal = current_principal()
    rows = service.inbox(principal.org_id, principal.user_id)
    if query_args.status in ("read", "unread"):
        rows = rows.filter(is_read=query_args.status == "read")
    if query_args.type:
        rows = rows.filter(type=query_args.type)
    settings = current_hub().settings.pagination
    limit = min(query_args.limit or SEED_004_DEFAULT_LIMIT, settings.max_limit)
    found = await rows.order_by("-created_at", "-id").limit(limit)
    return {"notifications": [service.camel_body(row) for row in found],
            "unreadCount": await service.unread_count(principal.org_id, principal.user_id)}


@bp.put("/api/notifications/<notification_id>/read")
@require("notifications.read")
@document_request(MarkRead)
@validate_response(CamelNotification)
async def notifications_mark_read_camel(notification_id: str):
    """Mark a notification read (seed 004).

    One of the caller's notifications (another member's is 404); `{"is_read": false}`: unread again."""
    principal = current_principal()
    data = await optional_body(MarkRead)
    return service.camel_body(await service.mark_read(principal.org_id, principal.user_id, notification_id,
                                                      data.is_read))

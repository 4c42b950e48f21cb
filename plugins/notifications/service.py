"""Notifications without HTTP: send one to a member over a channel (in_app, email, sms), the
member's preferences, the inbox (read, mark read), and the digest.

Every notification is stored (the member's inbox lists it), then delivered by its channel:
`in_app` is pushed on `/ws/notifications` as the event `notification.sent`, whose `user_id` makes the
core's gateway deliver it to that member's sockets only (that socket names it `notification`, seed
001's message); `email` and `sms` are queued through the messaging plugin's hub functions
`send_email` / `send_sms`, `slack` through the Slack plugin's `slack_post_message` (this plugin
never imports another); such a row is `queued`, and those plugins' events (`messaging.sent`,
`messaging.delivered`, `messaging.bounced`, `messaging.failed`, `slack.message.posted`,
`slack.message.failed`) move it to `sent`, `delivered` or `failed` (`OUTCOMES`).
A channel the member turned off (for every type, or for this type) is not used: the row says
`suppressed`, and an in_app one stays out of the inbox. Non-urgent emails of a member with the
digest on wait (`digest`) for `send_digests`, which every `digest_seconds` sends each such member
one email listing them."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from tortoise.exceptions import IntegrityError

from core import (
    HubError,
    Principal,
    call_function,
    emit,
    integration_config,
    iso,
    member_ids,
    not_found,
    principal_for_user,
    utcnow,
)
from plugins.notifications.models import Notification, Preference

log = logging.getLogger(__name__)

PUSHED_TYPE = "notification.sent"  # seed 001's /ws/notifications `notification` message
SLACK_FUNCTION, SLACK_INTEGRATION = "slack_post_message", "slack"
SLACK_MISSING = ("The slack channel needs the organization's Slack integration: connect it at "
                 "/api/integrations/slack, or use in_app, email or sms")


# -- preferences ----------------------------------------------------------------------------------------


async def preferences(org_id: Any, user_id: Any) -> Preference:
    """The member's preferences (seed 002's defaults until they change them; not stored until then)."""
    row = await Preference.for_org(org_id).filter(user_id=user_id).first()
    return row or Preference(org_id=org_id, user_id=user_id)


async def update_preferences(org_id: Any, user_id: Any, changes: dict[str, Any]) -> Preference:
    row = await preferences(org_id, user_id)
    for name, value in changes.items():
        setattr(row, name, value)
    try:
        await row.save()
    except IntegrityError:  # the member's first change raced another: apply it to that row
        row = await Preference.for_org(org_id).get(user_id=user_id)
        for name, value in changes.items():
            setattr(row, name, value)
        await row.save()
    return row


def preferences_body(row: Preference) -> dict:
    return {"email_enabled": row.email_enabled, "in_app_enabled": row.in_app_enabled, "sms_enabled": row.sms_enabled,
            "phone": row.phone, "slack_enabled": row.slack_enabled, "slack_channel": row.slack_channel,
            "digest": row.digest, "types": row.types or {}}


def channel_enabled(prefs: Preference, channel: str, notification_type: str) -> bool:
    if not getattr(prefs, f"{channel}_enabled", True):
        return False
    return (prefs.types or {}).get(notification_type, {}).get(channel) is not False


# -- sending --------------------------------------------------------------------------------------------


async def slack_connected(hub, org_id: Any) -> bool:
    """Whether the slack channel can post for this organization: the Slack plugin's hub function
    is there (and on for it) and the organization has connected Slack."""
    function = hub.functions.get(SLACK_FUNCTION)
    if function is None or not await hub.plugin_enabled_for(str(org_id), function.plugin):
        return False
    try:
        return await integration_config(str(org_id), SLACK_INTEGRATION) is not None
    except KeyError:  # no Slack integration registered
        return False


async def send(hub, org_id: Any, user_id: Any, *, title: str, message: str, type: str = "info",
               channel: str = "in_app", priority: str = "normal", metadata: dict | None = None,
               sender_id: Any = None, event_id: str | None = None, push: bool = True) -> Notification:
    """Store a notification for a member of `org_id` and deliver it by its channel (see the
    module's docstring). Another organization's or an unknown user is 404; `push=False` stores an
    in_app one without pushing it (it was already on the socket: the CRM's achievements)."""
    if channel == "slack" and not await slack_connected(hub, org_id):
        raise HubError("CHANNEL_NOT_AVAILABLE", SLACK_MISSING, {"field": "channel", "missing": "slack integration"})
    recipient = await principal_for_user(user_id, org_id, hub=hub)
    if recipient is None:
        raise not_found("User")
    if event_id is not None:
        done = await Notification.for_org(org_id).filter(user_id=recipient.user_id, event_id=event_id).first()
        if done is not None:
            return done
    prefs = await preferences(org_id, recipient.user_id)
    enabled = channel_enabled(prefs, channel, type)
    row = Notification(org_id=org_id, user_id=recipient.user_id, sender_id=sender_id, type=type, channel=channel,
                       priority=priority, title=title, message=message, metadata=metadata or {}, event_id=event_id)
    if not enabled:
        row.delivery, row.visible = "suppressed", channel != "in_app"
    elif channel == "email" and prefs.digest and priority != "urgent":
        row.delivery = "digest"
    try:
        await row.save()
    except IntegrityError:  # the same event handled twice at once: the other one stored it
        return await Notification.for_org(org_id).get(user_id=recipient.user_id, event_id=event_id)
    if row.delivery != "delivered":
        return row
    if channel == "in_app":
        if push:
            await emit(org_id, PUSHED_TYPE, pushed(row))
        return row
    try:
        if channel == "slack":
            post = {"text": slack_text(title, message)}
            if prefs.slack_channel:
                post["channel"] = prefs.slack_channel
            queued = await call_function(hub, _acting_for(recipient, "slack.post"), SLACK_FUNCTION, post)
        elif channel == "email":
            queued = await call_function(hub, _mailer(recipient), "send_email", {
                "provider": hub.plugin_settings("notifications").email_provider, "to": [recipient.email],
                "subject": _one_line(title), "content": {"text": message}})
        else:
            if not prefs.phone:
                raise HubError("VALIDATION_ERROR", "The member has no phone number in their notification preferences")
            queued = await call_function(hub, _mailer(recipient), "send_sms",
                                         {"to": prefs.phone, "message": f"{title}\n{message}"[:1600]})
        row.message_id, row.delivery = str(queued["id"]), "queued"
    except HubError as error:
        row.delivery, row.error = "failed", error.message[:500]
    await row.save(update_fields=["delivery", "message_id", "error", "updated_at"])
    return row


def _acting_for(recipient: Principal, permission: str) -> Principal:
    """Whom another plugin's function runs as: the recipient, allowed that one function's
    permission only (a notification is the Hub writing to a member, whatever the member's rights)."""
    return Principal("user", recipient.user_id, recipient.org_id, recipient.role, recipient.email,
                     frozenset({permission}))


def _mailer(recipient: Principal) -> Principal:
    return _acting_for(recipient, "messaging.send")


def _slack_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(title: str, message: str) -> str:
    """A notification as a Slack message: the title in bold, then the message, both shown as
    written (no mention or link can be slipped in)."""
    return f"*{_slack_escaped(' '.join(title.split()))}*\n{_slack_escaped(message)}"[:40_000]


def _one_line(text: str) -> str:
    return " ".join(text.split())[:998]


def pushed(row: Notification) -> dict:
    return {"id": str(row.id), "user_id": str(row.user_id), "type": row.type, "title": row.title,
            "message": row.message, "channel": row.channel, "priority": row.priority, "metadata": row.metadata,
            "is_read": row.is_read, "created_at": iso(row.created_at)}


async def notify_admins(hub, org_id: Any, event_id: str, **fields: Any) -> None:
    """The organization's own business (a failed payment) goes to each of its admins."""
    for admin_id in await member_ids(org_id, ("admin",)):
        await send(hub, org_id, admin_id, event_id=event_id, **fields)


# -- the inbox -----------------------------------------------------------------------------------------


def inbox(org_id: Any, user_id: Any):
    return Notification.for_org(org_id).filter(user_id=user_id, visible=True)


async def one_of(org_id: Any, user_id: Any, notification_id: Any) -> Notification:
    """The member's notification; another member's (same organization or not) is 404."""
    row = await Notification.get_for_org(org_id, notification_id, "Notification")
    if str(row.user_id) != str(user_id) or not row.visible:
        raise not_found("Notification")
    return row


async def mark_read(org_id: Any, user_id: Any, notification_id: Any, is_read: bool = True) -> Notification:
    """Mark the member's notification read (or unread again); marking it as it is changes nothing."""
    row = await one_of(org_id, user_id, notification_id)
    if row.is_read != is_read:
        await Notification.filter(id=row.id, is_read=not is_read).update(
            is_read=is_read, read_at=utcnow() if is_read else None)
        await row.refresh_from_db()
    return row


async def mark_all_read(org_id: Any, user_id: Any, notification_type: str | None = None) -> int:
    unread = inbox(org_id, user_id).filter(is_read=False)
    if notification_type is not None:
        unread = unread.filter(type=notification_type)
    return await unread.update(is_read=True, read_at=utcnow())


async def unread_count(org_id: Any, user_id: Any) -> int:
    return await inbox(org_id, user_id).filter(is_read=False).count()


def body(row: Notification) -> dict:
    return {"id": str(row.id), "user_id": str(row.user_id), "title": row.title, "message": row.message,
            "type": row.type, "channel": row.channel, "priority": row.priority, "metadata": row.metadata,
            "is_read": row.is_read, "read_at": row.read_at, "delivery": row.delivery,
            "message_id": row.message_id, "error": row.error, "created_at": row.created_at}


def camel_body(row: Notification) -> dict:
    return {"id": str(row.id), "type": row.type, "title": row.title, "message": row.message, "data": row.metadata,
            "status": "read" if row.is_read else "unread", "channel": row.channel, "createdAt": row.created_at,
            "readAt": row.read_at}


# -- the digest -----------------------------------------------------------------------------------------


async def send_digests(hub) -> int:
    """One email per member listing the notifications that waited for the digest; returns how many
    emails were queued. Each member's rows are claimed with a conditional update (a token in
    `message_id`), so processes ticking together never send one twice."""
    settings = hub.plugin_settings("notifications")
    waiting = await Notification.filter(delivery="digest").distinct().values_list("org_id", "user_id")
    sent = 0
    for org_id, user_id in waiting:
        claim = f"digest:{uuid.uuid4().hex}"[:36]
        ids = await Notification.for_org(org_id).filter(user_id=user_id, delivery="digest").order_by(
            "created_at", "id").limit(settings.digest_max_items).values_list("id", flat=True)
        claimed = await Notification.filter(id__in=list(ids), delivery="digest").update(
            delivery="digested", message_id=claim)
        if not claimed:
            continue
        rows = await Notification.filter(message_id=claim).order_by("created_at", "id")
        if await _send_digest(hub, org_id, user_id, rows):
            sent += 1
    return sent


async def _send_digest(hub, org_id: Any, user_id: Any, rows: list[Notification]) -> bool:
    ids = [row.id for row in rows]
    recipient = await principal_for_user(user_id, org_id, hub=hub)
    prefs = await preferences(org_id, user_id)
    if recipient is None or not prefs.email_enabled:  # removed, or email off since: nothing to send
        await Notification.filter(id__in=ids).update(delivery="suppressed", message_id=None)
        return False
    lines = [f"- {row.title}: {row.message}" for row in rows]
    subject = f"{len(rows)} notification{'s' if len(rows) != 1 else ''}"
    try:
        queued = await call_function(hub, _mailer(recipient), "send_email", {
            "provider": hub.plugin_settings("notifications").email_provider, "to": [recipient.email],
            "subject": f"Your digest: {subject}", "content": {"text": "\n".join(lines)}})
    except HubError as error:
        await Notification.filter(id__in=ids).update(delivery="failed", message_id=None, error=error.message[:500])
        return False
    await Notification.filter(id__in=ids).update(message_id=str(queued["id"]))
    return True


# -- other plugins' events -----------------------------------------------------------------------------


# What the messaging and Slack plugins announce about a message a notification queued, and the
# delivery it means. A state only moves forward (queued → sent → delivered; failed from any of
# them), so events arriving late or twice do not undo a later one.
OUTCOMES = {
    "messaging.sent": ("sent", ("queued",)),
    "messaging.delivered": ("delivered", ("queued", "sent")),
    "slack.message.posted": ("delivered", ("queued", "sent")),
    "messaging.bounced": ("failed", ("queued", "sent", "delivered")),
    "messaging.failed": ("failed", ("queued", "sent")),
    "slack.message.failed": ("failed", ("queued", "sent")),
}


async def record_outcome(org_id: Any, event_type: str, data: dict) -> int:
    """Move the notifications that queued message `data["id"]` to the delivery the event means."""
    delivery, before = OUTCOMES[event_type]
    changes: dict[str, Any] = {"delivery": delivery, "updated_at": utcnow()}
    if delivery == "failed":
        changes["error"] = str(data.get("error") or event_type)[:500]
    return await Notification.for_org(org_id).filter(
        message_id=str(data.get("id")), delivery__in=before).update(**changes)


async def on_event(hub, event) -> None:
    """`notification.requested` (any plugin), the CRM's `notification.created` (an unlocked
    achievement, already pushed on the member's socket by the CRM: stored, not pushed again) and
    billing's `billing.invoice.payment_failed` (no user in it: each admin gets an urgent email)."""
    data = event.data if isinstance(event.data, dict) else {}
    if event.type in OUTCOMES:
        await record_outcome(event.org_id, event.type, data)
        return
    try:
        if event.type == "notification.requested":
            await send(hub, event.org_id, data["user_id"], title=data["title"], message=data["message"],
                       type=data.get("type") or "info", channel=data.get("channel") or "in_app",
                       priority=data.get("priority") or "normal", metadata=data.get("metadata") or {},
                       event_id=event.id)
        elif event.type == "notification.created" and data.get("user_id"):
            await send(hub, event.org_id, data["user_id"], title=data["title"], message=data["message"],
                       type=data.get("type") or "info", metadata=data.get("data") or {}, event_id=event.id,
                       push=False)
        elif event.type == "billing.invoice.payment_failed":
            amount = f"{data.get('amount_due', 0) / 100:.2f} {str(data.get('currency', '')).upper()}".strip()
            await notify_admins(
                hub, event.org_id, event.id, title="A payment failed",
                message=f"The payment of invoice {data.get('stripe_invoice_id')} ({amount}) failed. Update the "
                        "payment method to keep the organization's plan.",
                type="billing", channel="email", priority="urgent",
                metadata={"invoice_id": data.get("id"), "hosted_invoice_url": data.get("hosted_invoice_url")})
    except HubError as error:  # an unknown or removed member, slack not connected: nothing to deliver to
        log.warning("notification for event %s (%s) not sent: %s", event.id, event.type, error.message)

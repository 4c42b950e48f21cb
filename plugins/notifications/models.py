"""The notifications plugin's tables: every notification sent to a member (the one store behind
seed 002's and seed 004's APIs) and each member's preferences."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel


class Notification(TenantModel):
    user_id = fields.UUIDField()  # the recipient, a member of org_id
    sender_id = fields.UUIDField(null=True)  # who sent it through the API (None: a plugin's event)
    type = fields.CharField(max_length=50)  # info, lead, message, system, achievement, billing, ...
    channel = fields.CharField(max_length=16)  # in_app | email | sms | slack
    priority = fields.CharField(max_length=16, default="normal")  # normal | urgent (urgent skips the digest)
    title = fields.CharField(max_length=200)
    message = fields.TextField()
    metadata = fields.JSONField(default=dict)
    is_read = fields.BooleanField(default=False)
    read_at = fields.DatetimeField(null=True)
    # delivered (in_app pushed, or the email/SMS queued: `message_id`) | digest (waits for the
    # user's digest email) | digested | suppressed (the user's preferences) | failed (`error`)
    delivery = fields.CharField(max_length=16, default="delivered")
    message_id = fields.CharField(max_length=36, null=True)  # the messaging plugin's message
    error = fields.CharField(max_length=500, null=True)
    # in the user's inbox: false only for an in_app notification the user turned off
    visible = fields.BooleanField(default=True)
    # the event it came from (events are delivered at least once: one notification per event)
    event_id = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "notifications_notifications"
        indexes = (("org_id", "user_id", "is_read"),)
        unique_together = (("org_id", "user_id", "event_id"),)


class Preference(TenantModel):
    user_id = fields.UUIDField()
    email_enabled = fields.BooleanField(default=True)
    in_app_enabled = fields.BooleanField(default=True)
    sms_enabled = fields.BooleanField(default=False)  # seed 002's defaults
    phone = fields.CharField(max_length=24, null=True)  # E.164: where the sms channel sends
    slack_enabled = fields.BooleanField(default=True, db_default=True)
    # where the slack channel posts (#alerts, @U0123 for a direct message with a bot token);
    # none: the Slack integration's default channel (a webhook: its own channel)
    slack_channel = fields.CharField(max_length=81, null=True)
    digest = fields.BooleanField(default=False)  # non-urgent emails batched into one per period
    types = fields.JSONField(default=dict)  # {type: {channel: false}}: a channel off for one type

    class Meta:
        table = "notifications_preferences"
        unique_together = (("org_id", "user_id"),)

"""The Slack plugin's tables: an organization's rules (post a message to a channel for an event)
and every post (what was sent, where, and how it went). The webhook URL or bot token is never
here: the core keeps it encrypted (`/api/integrations/slack`)."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel


class SlackRule(TenantModel):
    # an event type of the catalogue (lead.created): each such event posts `template` rendered
    name = fields.CharField(max_length=200)
    event_type = fields.CharField(max_length=100, db_index=True)
    channel = fields.CharField(max_length=81, null=True)  # none: the integration's default channel
    template = fields.TextField()  # Jinja2, sandboxed; values escaped for Slack
    enabled = fields.BooleanField(default=True)
    created_by = fields.UUIDField(null=True)
    last_posted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "slack_rules"


class SlackPost(TenantModel):
    # one message to Slack, sent by the `slack.post` job: from a rule (rule_id, event_id), the hub
    # function, a workflow node or the API (source)
    source = fields.CharField(max_length=20)  # rule | function | workflow | api
    rule_id = fields.UUIDField(null=True, db_index=True)
    event_id = fields.CharField(max_length=64, null=True)
    channel = fields.CharField(max_length=81, null=True)
    text = fields.TextField()
    status = fields.CharField(max_length=10, default="queued", db_index=True)  # queued | sent | failed
    error = fields.CharField(max_length=500, null=True)
    attempts = fields.IntField(default=0)
    slack_ts = fields.CharField(max_length=40, null=True)  # Slack's id of the message (bot token)
    job_id = fields.UUIDField(null=True)
    created_by = fields.UUIDField(null=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "slack_posts"
        # events are delivered at least once: one post per rule and event
        unique_together = (("org_id", "rule_id", "event_id"),)

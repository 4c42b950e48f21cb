"""The messaging plugin's tables: each message sent (what to send, its status and history) and
the organizations' templates. Provider credentials are never here: the core keeps them
encrypted (`/api/integrations`)."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel


class Message(TenantModel):
    """One email or SMS. `payload` is what the send job delivers (rendered content, attachments
    in base64); `history` is every status it went through: [{status, at, detail}]."""

    channel = fields.CharField(max_length=10)  # email | sms
    provider = fields.CharField(max_length=30)  # settings.PROVIDERS
    # queued | sending | sent | failed | delivered | bounced | suppressed
    status = fields.CharField(max_length=20, db_index=True)
    recipients = fields.JSONField()  # to (email: a list; sms: one number)
    sender = fields.CharField(max_length=320, null=True)
    subject = fields.CharField(max_length=998, null=True)
    template_id = fields.UUIDField(null=True)
    payload = fields.JSONField()
    provider_message_id = fields.CharField(max_length=255, null=True, db_index=True)
    error = fields.CharField(max_length=1000, null=True)
    attempts = fields.IntField(default=0)
    job_id = fields.UUIDField(null=True)
    created_by = fields.UUIDField(null=True)
    history = fields.JSONField(default=list)

    class Meta:
        table = "messaging_message"


class MessageTemplate(TenantModel):
    """A Jinja2 template of an organization, rendered in a sandbox (templates.py)."""

    name = fields.CharField(max_length=200)
    channel = fields.CharField(max_length=10)  # email | sms
    description = fields.CharField(max_length=1000, default="")
    subject = fields.TextField(null=True)
    html = fields.TextField(null=True)
    text = fields.TextField(null=True)

    class Meta:
        table = "messaging_template"
        unique_together = (("org_id", "name"),)


class Suppression(TenantModel):
    """An address the organization no longer sends to: it bounced, complained, unsubscribed
    (reported by a provider's webhook) or was added by hand. Email addresses are lower-cased."""

    address = fields.CharField(max_length=320)
    reason = fields.CharField(max_length=20)  # bounce | complaint | unsubscribe | manual
    provider = fields.CharField(max_length=30, null=True)
    message_id = fields.UUIDField(null=True)  # the message whose event suppressed it
    detail = fields.CharField(max_length=500, default="")

    class Meta:
        table = "messaging_suppression"
        unique_together = (("org_id", "address"),)

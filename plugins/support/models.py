"""The support plugin's tables: tickets, their comments, and their attachments (the bytes are
in the core's file store; a row here says which ticket a stored file belongs to)."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel


class Ticket(TenantModel):
    user_id = fields.UUIDField()  # who opened it
    title = fields.CharField(max_length=200)
    description = fields.TextField()
    status = fields.CharField(max_length=20, default="open", db_index=True)  # see service.TRANSITIONS
    priority = fields.CharField(max_length=10, default="medium", db_index=True)
    priority_rank = fields.SmallIntField(default=1)  # low 0 .. urgent 3: what `?sort=priority` orders by
    category = fields.CharField(max_length=50, null=True)
    assigned_to = fields.UUIDField(null=True)
    # SLA: due times set from the priority's targets; the *_breached_at columns are claimed once
    # by the periodic check (a conditional update), so each breach is announced once
    first_response_due_at = fields.DatetimeField(null=True)
    resolution_due_at = fields.DatetimeField(null=True)
    first_responded_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    first_response_breached_at = fields.DatetimeField(null=True)
    resolution_breached_at = fields.DatetimeField(null=True)
    # bytes of its attachments, raised by a conditional update against the per-ticket limit
    attachment_bytes = fields.BigIntField(default=0)

    class Meta:
        table = "support_tickets"


class TicketComment(TenantModel):
    ticket_id = fields.UUIDField(db_index=True)
    author_id = fields.UUIDField(null=True)
    comment = fields.TextField()
    is_internal = fields.BooleanField(default=False)

    class Meta:
        table = "support_ticket_comments"


class TicketAttachment(TenantModel):
    # `id` is the core file's id
    ticket_id = fields.UUIDField(db_index=True)
    name = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=255)
    size = fields.BigIntField()
    uploaded_by = fields.UUIDField(null=True)

    class Meta:
        table = "support_ticket_attachments"

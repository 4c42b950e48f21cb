"""Request and response shapes of the support plugin (seed 002 "Support Service")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core import Blankable, EventPayload, SkipQuery

STATUSES = Literal["open", "in_progress", "resolved", "closed"]
PRIORITIES = Literal["low", "medium", "high", "urgent"]
SORTS = Literal["created_at", "updated_at", "priority", "status", "title"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketCreate(Strict):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=50_000)
    priority: PRIORITIES = "medium"
    category: str | None = Field(None, min_length=1, max_length=50)


class TicketUpdate(Strict):
    """What staff change; `assigned_to: null` unassigns."""

    status: STATUSES | None = None
    priority: PRIORITIES | None = None
    assigned_to: uuid.UUID | None = Field(None, description="an active member of the organization, or null")


class CommentCreate(Strict):
    comment: str = Field(min_length=1, max_length=50_000)
    is_internal: bool = Field(False, description="a note for staff only (support.staff)")


class CommentOut(BaseModel):
    id: str
    ticket_id: str
    author_id: str | None
    comment: str
    is_internal: bool
    created_at: datetime


class AttachmentUpload(BaseModel):
    """multipart/form-data with the file in the part `file` (its type is told by its content)."""

    file: bytes = Field(json_schema_extra={"format": "binary"})


class AttachmentOut(BaseModel):
    id: str
    ticket_id: str
    name: str
    content_type: str
    size: int
    uploaded_by: str | None
    created_at: datetime


class TicketOut(BaseModel):
    id: str
    organization_id: str
    user_id: str
    title: str
    description: str
    status: STATUSES
    priority: PRIORITIES
    category: str | None
    assigned_to: str | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    sla_breached: list[Literal["first_response", "resolution"]]
    created_at: datetime
    updated_at: datetime


class TicketDetail(TicketOut):
    comments: list[CommentOut]
    attachments: list[AttachmentOut]


class TicketQuery(SkipQuery):
    status: Blankable[STATUSES] = None
    priority: Blankable[PRIORITIES] = None
    sort: Blankable[SORTS] = None
    order: Blankable[Literal["asc", "desc"]] = None


# -- events -------------------------------------------------------------------------------------


class TicketEvent(EventPayload):
    id: str
    title: str
    status: STATUSES
    priority: PRIORITIES
    user_id: str
    assigned_to: str | None
    actor_id: str | None = None
    changed: list[str] = Field(default_factory=list, description="ticket.updated: the fields that changed")
    previous_status: STATUSES | None = None


class TicketCommented(EventPayload):
    id: str
    ticket_id: str
    title: str
    status: STATUSES
    user_id: str
    assigned_to: str | None
    author_id: str | None
    is_internal: bool
    reopened: bool


class TicketSlaBreached(EventPayload):
    id: str
    title: str
    priority: PRIORITIES
    assigned_to: str | None
    sla: Literal["first_response", "resolution"]
    due_at: datetime


EVENT_TYPES = (
    ("ticket.created", TicketEvent, "A support ticket was opened"),
    ("ticket.updated", TicketEvent, "A ticket's status, priority or assignee changed"),
    ("ticket.commented", TicketCommented, "A comment was added to a ticket (internal ones carry no text)"),
    ("ticket.sla_breached", TicketSlaBreached, "A ticket passed its first-response or resolution due time "
                                               "(announced once per ticket and kind)"),
)

"""Support tickets without HTTP: status rules, comments, SLA due times and breaches, attachments.

Status rules (staff change them with PUT; `INVALID_STATUS_TRANSITION` 409 names the allowed ones):

    open        -> in_progress, closed
    in_progress -> open, resolved
    resolved    -> in_progress, closed
    closed      -> (none: a customer's comment reopens it)

A comment by someone who is not staff (no `support.staff`) on a resolved or closed ticket
reopens it (status `open`). SLA: the priority's `first_response_minutes` and
`resolution_minutes` from `[plugins.support] sla` set the due times from the ticket's creation
(again when the priority changes); the first public comment by staff is the first response,
`resolved` the resolution. `check_sla(hub, now)` claims each passed due time once and emits
`ticket.sla_breached`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F

from core import (
    HubError,
    delete_file,
    emit,
    not_found,
    principal_for_user,
    save_upload,
    transaction,
    utcnow,
    validation_error,
)
from plugins.support.models import Ticket, TicketAttachment, TicketComment

ATTACHMENT_PURPOSE = "support.attachment"
STAFF = "support.staff"
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("in_progress", "closed"),
    "in_progress": ("open", "resolved"),
    "resolved": ("in_progress", "closed"),
    "closed": (),
}
PRIORITY_RANK = {"low": 0, "medium": 1, "high": 2, "urgent": 3}


def is_staff(principal: Any) -> bool:
    return STAFF in principal.permissions


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def sla_breached(ticket: Ticket) -> list[str]:
    return [kind for kind, at in (("first_response", ticket.first_response_breached_at),
                                  ("resolution", ticket.resolution_breached_at)) if at is not None]


def ticket_body(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": str(ticket.id), "organization_id": str(ticket.org_id), "user_id": str(ticket.user_id),
        "title": ticket.title, "description": ticket.description, "status": ticket.status,
        "priority": ticket.priority, "category": ticket.category, "assigned_to": _id(ticket.assigned_to),
        "first_response_due_at": ticket.first_response_due_at, "resolution_due_at": ticket.resolution_due_at,
        "first_responded_at": ticket.first_responded_at, "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at, "sla_breached": sla_breached(ticket),
        "created_at": ticket.created_at, "updated_at": ticket.updated_at,
    }


def comment_body(row: TicketComment) -> dict[str, Any]:
    return {"id": str(row.id), "ticket_id": str(row.ticket_id), "author_id": _id(row.author_id),
            "comment": row.comment, "is_internal": row.is_internal, "created_at": row.created_at}


def attachment_body(row: TicketAttachment) -> dict[str, Any]:
    return {"id": str(row.id), "ticket_id": str(row.ticket_id), "name": row.name, "content_type": row.content_type,
            "size": row.size, "uploaded_by": _id(row.uploaded_by), "created_at": row.created_at}


def _event(ticket: Ticket, actor_id: Any = None, **extra: Any) -> dict[str, Any]:
    return {"id": str(ticket.id), "title": ticket.title, "status": ticket.status, "priority": ticket.priority,
            "user_id": str(ticket.user_id), "assigned_to": _id(ticket.assigned_to), "actor_id": _id(actor_id),
            **extra}


def _set_due_times(hub: Any, ticket: Ticket) -> None:
    sla = hub.plugin_settings("support").sla.get(ticket.priority)
    start = ticket.created_at
    ticket.first_response_due_at = start + timedelta(minutes=sla.first_response_minutes) if sla else None
    ticket.resolution_due_at = start + timedelta(minutes=sla.resolution_minutes) if sla else None


# -- tickets --------------------------------------------------------------------------------------


async def create_ticket(hub: Any, org_id: Any, user_id: Any, data: dict[str, Any]) -> Ticket:
    async with transaction():
        ticket = Ticket(org_id=org_id, user_id=user_id, priority_rank=PRIORITY_RANK[data["priority"]], **data)
        ticket.created_at = utcnow()
        _set_due_times(hub, ticket)
        await ticket.save()
        await emit(org_id, "ticket.created", _event(ticket, user_id), hub=hub)
    return ticket


def tickets_query(org_id: Any, status: str | None = None, priority: str | None = None):
    query = Ticket.for_org(org_id)
    if status is not None:
        query = query.filter(status=status)
    if priority is not None:
        query = query.filter(priority=priority)
    return query


async def get_ticket(org_id: Any, ticket_id: Any) -> Ticket:
    return await Ticket.get_for_org(org_id, ticket_id, "Ticket")


def _move(ticket: Ticket, status: str, now: datetime) -> None:
    ticket.status = status
    if status == "resolved":
        ticket.resolved_at = now
    elif status == "closed":
        ticket.closed_at = now
    else:  # open or in progress again
        ticket.resolved_at = ticket.closed_at = None


async def update_ticket(hub: Any, org_id: Any, ticket_id: Any, changes: dict[str, Any], actor_id: Any) -> Ticket:
    """Apply staff's changes (status by the rules above, priority, assignee: an active member)."""
    found = await get_ticket(org_id, ticket_id)  # another organization's ticket: 404 before anything
    if changes.get("assigned_to") is not None \
            and await principal_for_user(changes["assigned_to"], org_id, hub=hub) is None:
        raise validation_error("assigned_to", "must be an active member of the organization")
    async with transaction():
        ticket = await Ticket.filter(id=found.id).select_for_update().get()  # one change at a time
        previous, changed = ticket.status, []
        status = changes.get("status")
        if status is not None and status != ticket.status:
            allowed = TRANSITIONS[ticket.status]
            if status not in allowed:
                raise HubError("INVALID_STATUS_TRANSITION",
                               f"A ticket that is {ticket.status} cannot become {status}"
                               + (f" (allowed: {', '.join(allowed)})" if allowed else
                                  " (closed: a customer's comment reopens it)"),
                               {"field": "status", "from": ticket.status, "to": status, "allowed": list(allowed)})
            _move(ticket, status, utcnow())
            changed.append("status")
        if changes.get("priority") is not None and changes["priority"] != ticket.priority:
            ticket.priority, ticket.priority_rank = changes["priority"], PRIORITY_RANK[changes["priority"]]
            _set_due_times(hub, ticket)
            changed.append("priority")
        if "assigned_to" in changes and _id(changes["assigned_to"]) != _id(ticket.assigned_to):
            ticket.assigned_to = changes["assigned_to"]
            changed.append("assigned_to")
        if changed:
            await ticket.save()
            await emit(org_id, "ticket.updated", _event(ticket, actor_id, changed=changed, previous_status=previous),
                       hub=hub)
    return ticket


async def add_comment(org_id: Any, ticket_id: Any, principal: Any, comment: str, is_internal: bool
                      ) -> tuple[TicketComment, Ticket]:
    """A comment; a non-staff author's comment reopens a resolved or closed ticket, a staff
    author's first public one is the ticket's first response."""
    staff = is_staff(principal)
    if is_internal and not staff:
        raise HubError("FORBIDDEN", "Internal comments are for support staff (support.staff)",
                       {"field": "is_internal", "permission": STAFF})
    async with transaction():
        found = await get_ticket(org_id, ticket_id)
        ticket = await Ticket.filter(id=found.id).select_for_update().get()
        now = utcnow()
        row = await TicketComment.create(org_id=org_id, ticket_id=ticket.id, author_id=principal.user_id,
                                         comment=comment, is_internal=is_internal)
        reopened = not staff and ticket.status in ("resolved", "closed")
        fields = []
        if reopened:
            _move(ticket, "open", now)
            fields.append("status")
        if staff and not is_internal and ticket.first_responded_at is None:
            ticket.first_responded_at = now
        await ticket.save()
        if reopened:
            await emit(org_id, "ticket.updated", _event(ticket, principal.user_id, changed=fields,
                                                        previous_status=found.status))
        await emit(org_id, "ticket.commented", {
            "id": str(row.id), "ticket_id": str(ticket.id), "title": ticket.title, "status": ticket.status,
            "user_id": str(ticket.user_id), "assigned_to": _id(ticket.assigned_to),
            "author_id": _id(principal.user_id), "is_internal": is_internal, "reopened": reopened})
    return row, ticket


async def comments_of(org_id: Any, ticket: Ticket, principal: Any) -> list[TicketComment]:
    query = TicketComment.for_org(org_id).filter(ticket_id=ticket.id)
    if not is_staff(principal):
        query = query.filter(is_internal=False)
    return await query.order_by("created_at", "id")


# -- attachments ----------------------------------------------------------------------------------


async def attach(hub: Any, org_id: Any, ticket: Ticket, user_id: Any) -> TicketAttachment:
    """Store the request's `file` part as the ticket's attachment: at most `max_attachment_bytes`,
    and the ticket's attachments together at most `max_ticket_attachment_bytes` (413 past
    either, nothing kept); the type told by content (415 for one not accepted)."""
    settings = hub.plugin_settings("support")
    room = settings.max_ticket_attachment_bytes - ticket.attachment_bytes
    if room <= 0:
        raise _ticket_full(settings.max_ticket_attachment_bytes, ticket.attachment_bytes)
    try:
        info = await save_upload(field="file", purpose=ATTACHMENT_PURPOSE, owner_id=ticket.id, shared=False,
                                 allowed_types=settings.attachment_types or None,
                                 max_bytes=min(settings.max_attachment_bytes, room))
    except HubError as error:  # stopped at the ticket's room rather than the file's own limit: say so
        if error.code == "PAYLOAD_TOO_LARGE" and room < settings.max_attachment_bytes:
            raise _ticket_full(settings.max_ticket_attachment_bytes, ticket.attachment_bytes) from None
        raise
    try:
        async with transaction():
            # the ticket's total, raised only while it stays within the limit (two uploads at
            # once cannot both squeeze past it)
            claimed = await Ticket.for_org(org_id).filter(
                id=ticket.id, attachment_bytes__lte=settings.max_ticket_attachment_bytes - info.size,
            ).update(attachment_bytes=F("attachment_bytes") + info.size)
            if not claimed:
                raise _ticket_full(settings.max_ticket_attachment_bytes, ticket.attachment_bytes)
            return await TicketAttachment.create(id=info.id, org_id=org_id, ticket_id=ticket.id, name=info.name,
                                                 content_type=info.content_type, size=info.size, uploaded_by=user_id)
    except BaseException:  # the ticket is full, or gone: the stored file goes too
        await delete_file(org_id, info.id, purpose=ATTACHMENT_PURPOSE)
        raise


def _ticket_full(limit: int, used: int) -> HubError:
    return HubError("PAYLOAD_TOO_LARGE", f"The ticket's attachments may take {limit} bytes together",
                    {"field": "file", "max_ticket_bytes": limit, "used_bytes": used})


async def attachments_of(org_id: Any, ticket: Ticket) -> list[TicketAttachment]:
    return await TicketAttachment.for_org(org_id).filter(ticket_id=ticket.id).order_by("created_at", "id")


async def get_attachment(org_id: Any, ticket: Ticket, attachment_id: Any) -> TicketAttachment:
    row = await TicketAttachment.get_for_org(org_id, attachment_id, "Attachment")
    if row.ticket_id != ticket.id:  # another ticket's: unknown here
        raise not_found("Attachment")
    return row


# -- SLA ------------------------------------------------------------------------------------------


async def check_sla(hub: Any, now: datetime, org_id: Any = None) -> int:
    """Announce every due time passed by `now` and not yet announced (`ticket.sla_breached`),
    each once: the breach column is claimed by a conditional update, so processes checking at
    the same time announce it once between them. `org_id`: only that organization's tickets.
    How many were announced."""
    announced = 0
    kinds = (
        ("first_response", "first_response_due_at", "first_response_breached_at",
         {"first_responded_at__isnull": True, "status__in": ("open", "in_progress")}),
        ("resolution", "resolution_due_at", "resolution_breached_at",
         {"status__in": ("open", "in_progress")}),
    )
    for kind, due_column, breach_column, pending in kinds:
        due = Ticket.filter(**{f"{due_column}__lte": now, f"{breach_column}__isnull": True}, **pending)
        if org_id is not None:
            due = due.filter(org_id=org_id)
        for ticket in await due.order_by(due_column).limit(500):
            async with transaction():
                if not await Ticket.filter(id=ticket.id, **{f"{breach_column}__isnull": True}) \
                        .update(**{breach_column: now}):
                    continue  # another process announced it
                await emit(ticket.org_id, "ticket.sla_breached", {
                    "id": str(ticket.id), "title": ticket.title, "priority": ticket.priority,
                    "assigned_to": _id(ticket.assigned_to), "sla": kind, "due_at": getattr(ticket, due_column)}, hub=hub)
            announced += 1
    return announced

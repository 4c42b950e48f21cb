"""Support routes (seed 002 "Support Service"), at the root mount:

    POST /api/v1/tickets                                open a ticket (201)              support.submit
    GET  /api/v1/tickets                                ?status ?priority ?sort ?order   support.read
                                                        ?skip ?limit: a bare list + X-Total-Count
    GET  /api/v1/tickets/{id}                           the ticket, comments, attachments support.read
    PUT  /api/v1/tickets/{id}                           status, priority, assigned_to    support.staff
    POST /api/v1/tickets/{id}/comments                  comment (is_internal: staff)     support.submit
    GET  /api/v1/tickets/{id}/comments                  the comments the caller may see  support.read
    POST /api/v1/tickets/{id}/attachments               multipart `file` (201)           support.submit
    GET  /api/v1/tickets/{id}/attachments               the attachments                  support.read
    GET  /api/v1/tickets/{id}/attachments/{file id}     download (as an attachment)      support.read
"""

from __future__ import annotations

from quart import Blueprint
from quart_schema import DataSource, document_request, document_response, validate_request, validate_response

from core import (
    Text,
    current_hub,
    current_principal,
    document_errors,
    file_response,
    max_body,
    require,
    validate_query,
)
from plugins.support import service
from plugins.support.schemas import (
    AttachmentOut,
    AttachmentUpload,
    CommentCreate,
    CommentOut,
    TicketCreate,
    TicketDetail,
    TicketOut,
    TicketQuery,
    TicketUpdate,
)

bp = Blueprint("support", __name__)
MULTIPART_FRAMING = 64 * 1024


def _upload_limit(hub) -> int:
    return hub.plugin_settings("support").max_attachment_bytes + MULTIPART_FRAMING


@bp.post("/api/v1/tickets")
@require("support.submit")
@validate_request(TicketCreate)
@validate_response(TicketOut, 201)
async def support_create_ticket(data: TicketCreate):
    """Open a ticket.

    `title`, `description`, `priority` (low, medium (default), high, urgent) and `category`.
    It starts `open`, with its SLA due times (`first_response_due_at`, `resolution_due_at`) from
    the priority's targets in `[plugins.support] sla`; `ticket.created` is emitted."""
    principal = current_principal()
    ticket = await service.create_ticket(current_hub(), principal.org_id, principal.user_id, data.model_dump())
    return service.ticket_body(ticket), 201


@bp.get("/api/v1/tickets")
@require("support.read")
@validate_query(TicketQuery)
@document_response(list[TicketOut])
async def support_list_tickets(query_args: TicketQuery):
    """List the organization's tickets.

    `status` and `priority` filter; `sort` (created_at (default), updated_at, priority (low to
    urgent), status, title) and `order` (desc by default); `skip`/`limit`. A bare list, as seed 002; the total is
    in X-Total-Count."""
    page = query_args.page(default_limit=100)
    sort = {"priority": "priority_rank"}.get(query_args.sort, query_args.sort or "created_at")
    ordering = ("-" if (query_args.order or "desc") == "desc" else "") + sort
    query = service.tickets_query(current_principal().org_id, query_args.status, query_args.priority)
    rows, total = await page.fetch(query, ordering)
    return page.respond([TicketOut(**service.ticket_body(row)).model_dump(mode="json") for row in rows], total)


async def _detail(ticket) -> dict:
    principal = current_principal()
    return {**service.ticket_body(ticket),
            "comments": [service.comment_body(row) for row in await service.comments_of(principal.org_id, ticket, principal)],
            "attachments": [service.attachment_body(row) for row in await service.attachments_of(principal.org_id, ticket)]}


@bp.get("/api/v1/tickets/<ticket_id>")
@require("support.read")
@validate_response(TicketDetail)
async def support_get_ticket(ticket_id: str):
    """Get a ticket with its comments (internal ones only for staff) and attachments."""
    return await _detail(await service.get_ticket(current_principal().org_id, ticket_id))


@bp.put("/api/v1/tickets/<ticket_id>")
@require("support.staff")
@validate_request(TicketUpdate)
@validate_response(TicketDetail)
@document_errors(409)
async def support_update_ticket(ticket_id: str, data: TicketUpdate):
    """Change a ticket's status, priority or assignee (staff).

    Status rules: open -> in_progress or closed; in_progress -> open or resolved; resolved ->
    in_progress or closed; closed is final (a customer's comment reopens it). Another move is
    409 INVALID_STATUS_TRANSITION naming the allowed ones. `assigned_to` must be an active member
    of the organization (400 otherwise), null unassigns. A new priority sets the SLA due times
    again from the ticket's creation. `ticket.updated` lists what changed."""
    principal = current_principal()
    ticket = await service.update_ticket(current_hub(), principal.org_id, ticket_id,
                                         data.model_dump(exclude_unset=True), principal.user_id)
    return await _detail(ticket)


@bp.post("/api/v1/tickets/<ticket_id>/comments")
@require("support.submit")
@validate_request(CommentCreate)
@validate_response(CommentOut, 201)
async def support_add_comment(ticket_id: str, data: CommentCreate):
    """Comment on a ticket.

    `is_internal: true` is a note for staff (support.staff; 403 for others), never shown to
    customers. A customer's comment (an author without support.staff) on a resolved or closed
    ticket reopens it; staff's first public comment is the ticket's first response (SLA).
    `ticket.commented` is emitted (without the text)."""
    principal = current_principal()
    row, _ = await service.add_comment(principal.org_id, ticket_id, principal, data.comment, data.is_internal)
    return service.comment_body(row), 201


@bp.get("/api/v1/tickets/<ticket_id>/comments")
@require("support.read")
@document_response(list[CommentOut])
async def support_list_comments(ticket_id: str):
    """A ticket's comments, oldest first (internal ones only for staff)."""
    principal = current_principal()
    ticket = await service.get_ticket(principal.org_id, ticket_id)
    return [CommentOut(**service.comment_body(row)).model_dump(mode="json")
            for row in await service.comments_of(principal.org_id, ticket, principal)]


@bp.post("/api/v1/tickets/<ticket_id>/attachments")
@require("support.submit")
@max_body(_upload_limit)
@document_request(AttachmentUpload, source=DataSource.FORM_MULTIPART)
@validate_response(AttachmentOut, 201)
@document_errors(413, 415)
async def support_upload_attachment(ticket_id: str):
    """Attach a file (multipart/form-data, part `file`).

    At most `max_attachment_bytes` (default 10 MB) per file and `max_ticket_attachment_bytes`
    (50 MB) per ticket: 413 past either. The type is told by the content (magic bytes), not the
    name nor the client's type, and must be one of `attachment_types` (default: the core's
    images, PDF, text, CSV, JSON, Office; never programs or markup): 415 otherwise. A refused
    file leaves nothing stored. The file is kept by the core's file store under a generated name."""
    principal = current_principal()
    ticket = await service.get_ticket(principal.org_id, ticket_id)
    row = await service.attach(current_hub(), principal.org_id, ticket, principal.user_id)
    return service.attachment_body(row), 201


@bp.get("/api/v1/tickets/<ticket_id>/attachments")
@require("support.read")
@document_response(list[AttachmentOut])
async def support_list_attachments(ticket_id: str):
    """A ticket's attachments, oldest first."""
    org_id = current_principal().org_id
    ticket = await service.get_ticket(org_id, ticket_id)
    return [AttachmentOut(**service.attachment_body(row)).model_dump(mode="json")
            for row in await service.attachments_of(org_id, ticket)]


@bp.get("/api/v1/tickets/<ticket_id>/attachments/<attachment_id>")
@require("support.read")
@document_response(Text("application/octet-stream"))
async def support_download_attachment(ticket_id: str, attachment_id: str):
    """Download an attachment: its detected type, `Content-Disposition: attachment`,
    `X-Content-Type-Options: nosniff` and a sandboxing Content-Security-Policy."""
    org_id = current_principal().org_id
    ticket = await service.get_ticket(org_id, ticket_id)
    row = await service.get_attachment(org_id, ticket, attachment_id)
    return await file_response(org_id, row.id, purpose=service.ATTACHMENT_PURPOSE)

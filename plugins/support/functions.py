"""LLM-callable functions (hub_functions): an agent opens a ticket for the caller and reads
the organization's tickets, with the caller's rights."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core import current_hub
from plugins.support import service
from plugins.support.schemas import PRIORITIES, STATUSES, TicketCreate


class TicketArgs(BaseModel):
    model_config = {"extra": "forbid"}

    ticket_id: str = Field(max_length=64, description="The ticket's id")


class ListArgs(BaseModel):
    model_config = {"extra": "forbid"}

    status: STATUSES | None = None
    priority: PRIORITIES | None = None
    limit: int = Field(20, ge=1, le=100)


async def create_ticket(ctx, args: TicketCreate) -> dict:
    ticket = await service.create_ticket(current_hub(), ctx.org_id, ctx.user_id, args.model_dump())
    return service.ticket_body(ticket)


async def get_ticket(ctx, args: TicketArgs) -> dict:
    ticket = await service.get_ticket(ctx.org_id, args.ticket_id)
    comments = await service.comments_of(ctx.org_id, ticket, ctx.principal)
    return {**service.ticket_body(ticket), "comments": [service.comment_body(row) for row in comments]}


async def list_tickets(ctx, args: ListArgs) -> list[dict]:
    rows = await service.tickets_query(ctx.org_id, args.status, args.priority).order_by("-created_at").limit(args.limit)
    return [service.ticket_body(row) for row in rows]


FUNCTIONS = [
    ("create_support_ticket", "Open a support ticket (title, description, priority, category) for the caller",
     TicketCreate, "support.submit", create_ticket),
    ("get_support_ticket", "One support ticket with its comments (internal notes only for staff)",
     TicketArgs, "support.read", get_ticket),
    ("list_support_tickets", "The organization's support tickets, newest first, by status or priority",
     ListArgs, "support.read", list_tickets),
]

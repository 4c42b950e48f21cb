"""LLM-callable CRM functions (hub_functions). Each validates its arguments with pydantic
and runs with the caller's organization and permissions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from core import Page
from plugins.crm import service
from plugins.crm.schemas import Email, Money, Name, Notes, Phone, ShortText, Source, Tag


class CreateLeadArgs(BaseModel):
    # the same field types as POST /api/leads, so a model cannot store what the API refuses
    name: Name = Field(description="Full name of the lead")
    email: EmailStr | None = None
    phone: Phone | None = None
    company: ShortText | None = None
    source: Source = "ai"
    value: Money = 0
    notes: Notes | None = None


class UpdateLeadStatusArgs(BaseModel):
    lead_id: str
    status: Literal["new", "contacted", "qualified", "converted", "lost"]


class GetLeadArgs(BaseModel):
    lead_id: str


class SearchContactsArgs(BaseModel):
    query: str = Field(min_length=1, max_length=200, description="Text to find in name, email or company")
    tags: list[str] = Field(default_factory=list, max_length=10)
    limit: int = Field(default=10, ge=1, le=50)


class UpsertContactArgs(BaseModel):
    """A contact as another plugin's system knows it (plugins/crm/service.py upsert_contact)."""

    name: Name = Field(description="Full name")
    email: Email | None = None
    phone: Phone | None = None
    company: ShortText | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    source: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                        description='The system the record comes from, e.g. "mautic" or "dms:<connection id>"')
    external_id: str = Field(min_length=1, max_length=200, description="The record's id in that system")


class LogMessageArgs(BaseModel):
    lead_id: str
    content: str = Field(min_length=1, max_length=10_000)
    sender: Literal["lead", "agent", "user"] = "agent"


async def create_lead(ctx, args: CreateLeadArgs) -> dict:
    return await service.create_lead(ctx.org_id, ctx.user_id, args.model_dump())


async def update_lead_status(ctx, args: UpdateLeadStatusArgs) -> dict:
    return await service.update_lead(ctx.org_id, ctx.user_id, args.lead_id, {"status": args.status})


async def get_lead(ctx, args: GetLeadArgs) -> dict:
    return await service.get_lead(ctx.org_id, args.lead_id)


async def search_contacts(ctx, args: SearchContactsArgs) -> dict:
    rows, total = await service.list_contacts(ctx.org_id, Page(0, args.limit), args.query, args.tags, "name", "asc")
    return {"contacts": rows, "total": total}


async def upsert_contact(ctx, args: UpsertContactArgs) -> dict:
    return await service.upsert_contact(ctx.org_id, args.model_dump())


async def log_message(ctx, args: LogMessageArgs) -> dict:
    return await service.send_message(ctx.org_id, ctx.user_id, args.lead_id, args.content, args.sender)


FUNCTIONS = (
    ("create_lead", "Create a new lead in the CRM", CreateLeadArgs, "crm.leads.write", create_lead),
    ("update_lead_status", "Move a lead to another status (new, contacted, qualified, converted, lost)",
     UpdateLeadStatusArgs, "crm.leads.write", update_lead_status),
    ("get_lead", "Get one lead by id", GetLeadArgs, "crm.leads.read", get_lead),
    ("search_contacts", "Search contacts by name, email or company", SearchContactsArgs, "crm.contacts.read",
     search_contacts),
    ("log_message", "Record a message exchanged with a lead", LogMessageArgs, "crm.messages.write", log_message),
    ("upsert_contact", "Create or update the contact another system knows as (source, external_id)",
     UpsertContactArgs, "crm.contacts.write", upsert_contact),
)


# -- workflow nodes (hub_workflow_nodes): the same operations as steps of a workflow --------------


class CreateLeadNode(BaseModel):
    """Defaults for fields the incoming data leaves out."""

    source: Source = "workflow"
    status: Literal["new", "contacted", "qualified"] = "new"


class UpdateLeadStatusNode(BaseModel):
    status: Literal["new", "contacted", "qualified", "converted", "lost"]


async def create_lead_node(ctx, config: CreateLeadNode, inputs: dict) -> dict:
    """Input `main`: the lead's fields (at least `name`); output `main`: the created lead."""
    fields = {"source": config.source, "status": config.status, **inputs.get("main", {})}
    lead = CreateLeadArgs.model_validate({k: v for k, v in fields.items() if k in CreateLeadArgs.model_fields})
    data = lead.model_dump()
    data["status"] = fields["status"]
    return {"main": await service.create_lead(ctx.org_id, ctx.user_id, data)}


async def update_lead_status_node(ctx, config: UpdateLeadStatusNode, inputs: dict) -> dict:
    """Input `main`: a lead (its `id`); output `main`: the lead after the change."""
    lead_id = inputs.get("main", {}).get("id")
    return {"main": await service.update_lead(ctx.org_id, ctx.user_id, lead_id, {"status": config.status})}


WORKFLOW_NODES = (
    ("crm.create_lead", "Create a lead from the incoming data", CreateLeadNode, create_lead_node),
    ("crm.update_lead_status", "Move the incoming lead to another status", UpdateLeadStatusNode,
     update_lead_status_node),
)

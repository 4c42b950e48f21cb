"""CRM routes: paths as seeds 004 and 000 give them, under the plugin's mount."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import document_response, validate_request

from core import CursorQuery, current_org_id, current_principal, require, validate_query
from plugins.crm import achievements, service
from plugins.crm.schemas import (
    AchievementList,
    CompanyCreate,
    CompanyList,
    CompanyOut,
    CompanyQuery,
    CompanyUpdate,
    ContactCreate,
    ContactList,
    ContactOut,
    ContactQuery,
    ContactUpdate,
    ConversationList,
    ConversationQuery,
    Dashboard,
    LeadCreate,
    LeadList,
    LeadOut,
    LeadQuery,
    LeadUpdate,
    MessageCreate,
    MessageList,
    MessageOut,
)

bp = Blueprint("crm", __name__)


def _changes(data) -> dict:
    return data.model_dump(exclude_unset=True)


# -- leads ---------------------------------------------------------------------------------------


@bp.get("/api/leads")
@require("crm.leads.read")
@validate_query(LeadQuery)
@document_response(LeadList)
async def list_leads(query_args: LeadQuery):
    """The organization's leads, filtered, searched and sorted (default: newest first). Pages by
    `limit`/`offset` (seed 004, with `total`) or by cursor: `?cursor=` for the first page, then
    `pagination.nextCursor` (no count unless `?total=true`)."""
    page = query_args.page()
    rows, total = await service.list_leads(
        current_org_id(), page, query_args.status, query_args.source, query_args.company_id, query_args.search,
        query_args.sort, query_args.direction(),
    )
    return page.listing("leads", rows, total, camel=True)


@bp.post("/api/leads")
@require("crm.leads.write")
@validate_request(LeadCreate)
@document_response(LeadOut, 201)
async def create_lead(data: LeadCreate):
    """Create a lead (status `new` unless given)."""
    return await service.create_lead(current_org_id(), current_principal().user_id, data.model_dump()), 201


@bp.get("/api/leads/<lead_id>")
@require("crm.leads.read")
@document_response(LeadOut)
async def get_lead(lead_id: str):
    """One lead."""
    return await service.get_lead(current_org_id(), lead_id)


@bp.put("/api/leads/<lead_id>")
@require("crm.leads.write")
@validate_request(LeadUpdate)
@document_response(LeadOut)
async def update_lead(lead_id: str, data: LeadUpdate):
    """Change a lead's fields; a status change must follow the lead status rules."""
    return await service.update_lead(current_org_id(), current_principal().user_id, lead_id, _changes(data))


@bp.delete("/api/leads/<lead_id>")
@require("crm.leads.delete")
@document_response(None, 204)
async def delete_lead(lead_id: str):
    """Delete a lead with its messages and conversation."""
    await service.delete_lead(current_org_id(), lead_id)
    return "", 204


# -- contacts ------------------------------------------------------------------------------------


@bp.get("/api/contacts")
@require("crm.contacts.read")
@validate_query(ContactQuery)
@document_response(ContactList)
async def list_contacts(query_args: ContactQuery):
    """The organization's contacts, searched, filtered by tags and sorted (default: newest first);
    by offset or by cursor, as leads."""
    page = query_args.page()
    rows, total = await service.list_contacts(
        current_org_id(), page, query_args.search, query_args.tags, query_args.sort, query_args.direction()
    )
    return page.listing("contacts", rows, total, camel=True)


@bp.post("/api/contacts")
@require("crm.contacts.write")
@validate_request(ContactCreate)
@document_response(ContactOut, 201)
async def create_contact(data: ContactCreate):
    """Create a contact."""
    return await service.create_contact(current_org_id(), data.model_dump()), 201


@bp.get("/api/contacts/<contact_id>")
@require("crm.contacts.read")
@document_response(ContactOut)
async def get_contact(contact_id: str):
    """One contact."""
    return await service.get_contact(current_org_id(), contact_id)


@bp.put("/api/contacts/<contact_id>")
@require("crm.contacts.write")
@validate_request(ContactUpdate)
@document_response(ContactOut)
async def update_contact(contact_id: str, data: ContactUpdate):
    """Change a contact's fields (tags are replaced as a whole)."""
    return await service.update_contact(current_org_id(), contact_id, _changes(data))


@bp.delete("/api/contacts/<contact_id>")
@require("crm.contacts.delete")
@document_response(None, 204)
async def delete_contact(contact_id: str):
    """Delete a contact."""
    await service.delete_contact(current_org_id(), contact_id)
    return "", 204


# -- companies (seed 000) ------------------------------------------------------------------------


@bp.get("/api/companies")
@require("crm.companies.read")
@validate_query(CompanyQuery)
@document_response(CompanyList)
async def list_companies(query_args: CompanyQuery):
    """The organization's companies by name, with their lead and contact counts; by offset or by
    cursor, as leads."""
    page = query_args.page()
    rows, total = await service.list_companies(current_org_id(), page, query_args.search)
    return page.listing("companies", rows, total, camel=True)


@bp.post("/api/companies")
@require("crm.companies.write")
@validate_request(CompanyCreate)
@document_response(CompanyOut, 201)
async def create_company(data: CompanyCreate):
    """Create a company (seed 000)."""
    return await service.create_company(current_org_id(), data.model_dump()), 201


@bp.get("/api/companies/<company_id>")
@require("crm.companies.read")
@document_response(CompanyOut)
async def get_company(company_id: str):
    """One company, with its lead and contact counts."""
    return await service.get_company(current_org_id(), company_id)


@bp.put("/api/companies/<company_id>")
@require("crm.companies.write")
@validate_request(CompanyUpdate)
@document_response(CompanyOut)
async def update_company(company_id: str, data: CompanyUpdate):
    """Change a company's fields."""
    return await service.update_company(current_org_id(), company_id, _changes(data))


@bp.delete("/api/companies/<company_id>")
@require("crm.companies.delete")
@document_response(None, 204)
async def delete_company(company_id: str):
    """Delete a company; its leads and contacts stay, unlinked."""
    await service.delete_company(current_org_id(), company_id)
    return "", 204


# -- conversations and messages --------------------------------------------------------------------


@bp.get("/api/conversations")
@require("crm.messages.read")
@validate_query(ConversationQuery)
@document_response(ConversationList)
async def list_conversations(query_args: ConversationQuery):
    """Conversations with leads, the latest message first; by offset or by cursor, as leads."""
    page = query_args.page()
    rows, total = await service.list_conversations(current_org_id(), page, query_args.status)
    return page.listing("conversations", rows, total, camel=True)


@bp.get("/api/messages/<lead_id>")
@require("crm.messages.read")
@validate_query(CursorQuery)
@document_response(MessageList)
async def list_messages(lead_id: str, query_args: CursorQuery):
    """A lead's messages, oldest first; reading them marks the lead's messages read. By offset or
    by cursor, as leads (a cursor is for this lead's messages only)."""
    page = query_args.page()
    rows, total = await service.read_messages(current_org_id(), lead_id, page)
    return page.listing("messages", rows, total, camel=True)


@bp.post("/api/messages")
@require("crm.messages.write")
@validate_request(MessageCreate)
@document_response(MessageOut, 201)
async def send_message(data: MessageCreate):
    """Send a message to a lead, or record one from them (`sender: lead`)."""
    principal = current_principal()
    return await service.send_message(principal.org_id, principal.user_id, data.lead_id, data.content,
                                      data.sender), 201


# -- analytics and achievements ------------------------------------------------------------------


@bp.get("/api/analytics/dashboard")
@require("crm.analytics.read")
@document_response(Dashboard)
async def analytics_dashboard():
    """Seed 004's dashboard: lead and revenue totals, this month's trends, leads by source."""
    return await service.dashboard(current_org_id())


@bp.get("/api/achievements")
@require("crm.achievements.read")
@document_response(AchievementList)
async def list_achievements():
    """Every achievement with the calling member's progress, and their totals."""
    principal = current_principal()
    return await achievements.for_member(principal.org_id, principal.user_id)

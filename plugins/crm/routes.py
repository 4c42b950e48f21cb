"""CRM routes: paths as seeds 004 and 000 give them, under the plugin's mount."""

from __future__ import annotations

from quart import Blueprint, request
from quart_schema import document_response, validate_request

from core import current_org_id, current_principal, paginate, require, validation_error
from plugins.crm import achievements, service
from plugins.crm.schemas import (
    CompanyCreate,
    CompanyList,
    CompanyOut,
    CompanyUpdate,
    ContactCreate,
    ContactList,
    ContactOut,
    ContactUpdate,
    ConversationList,
    LeadCreate,
    LeadList,
    LeadOut,
    LeadUpdate,
    MessageCreate,
    MessageList,
    MessageOut,
)

bp = Blueprint("crm", __name__)


def _choice(name: str, allowed, default=None):
    value = request.args.get(name, default)
    if value is not None and value not in allowed:
        raise validation_error(name, f"must be one of {', '.join(sorted(allowed))}")
    return value


def _listed(key: str, rows: list[dict], total: int, page):
    return page.respond({key: rows, "total": total, "pagination": page.info(total)}, total)


def _changes(data) -> dict:
    return data.model_dump(exclude_unset=True)


# -- leads ---------------------------------------------------------------------------------------


@bp.get("/api/leads")
@require("crm.leads.read")
@document_response(LeadList)
async def list_leads():
    page = paginate("offset")
    status = _choice("status", set(service.TRANSITIONS))
    source = request.args.get("source", "").strip().lower() or None  # stored lower-case
    rows, total = await service.list_leads(current_org_id(), page, status, source, request.args.get("companyId") or None)
    return _listed("leads", rows, total, page)


@bp.post("/api/leads")
@require("crm.leads.write")
@validate_request(LeadCreate)
@document_response(LeadOut, 201)
async def create_lead(data: LeadCreate):
    return await service.create_lead(current_org_id(), current_principal().user_id, data.model_dump()), 201


@bp.get("/api/leads/<lead_id>")
@require("crm.leads.read")
@document_response(LeadOut)
async def get_lead(lead_id: str):
    return await service.get_lead(current_org_id(), lead_id)


@bp.put("/api/leads/<lead_id>")
@require("crm.leads.write")
@validate_request(LeadUpdate)
@document_response(LeadOut)
async def update_lead(lead_id: str, data: LeadUpdate):
    return await service.update_lead(current_org_id(), current_principal().user_id, lead_id, _changes(data))


@bp.delete("/api/leads/<lead_id>")
@require("crm.leads.delete")
async def delete_lead(lead_id: str):
    await service.delete_lead(current_org_id(), lead_id)
    return "", 204


# -- contacts ------------------------------------------------------------------------------------


@bp.get("/api/contacts")
@require("crm.contacts.read")
@document_response(ContactList)
async def list_contacts():
    page = paginate("offset")
    search = request.args.get("search") or None
    if search and len(search) > 200:
        raise validation_error("search", "at most 200 characters")
    tags = [t.strip() for t in request.args.get("tags", "").split(",") if t.strip()]
    sort = _choice("sort", set(service.CONTACT_SORTS), "createdAt")
    order = _choice("order", {"asc", "desc"}, "desc" if sort == "createdAt" else "asc")
    rows, total = await service.list_contacts(current_org_id(), page, search, tags, sort, order)
    return _listed("contacts", rows, total, page)


@bp.post("/api/contacts")
@require("crm.contacts.write")
@validate_request(ContactCreate)
@document_response(ContactOut, 201)
async def create_contact(data: ContactCreate):
    return await service.create_contact(current_org_id(), data.model_dump()), 201


@bp.get("/api/contacts/<contact_id>")
@require("crm.contacts.read")
@document_response(ContactOut)
async def get_contact(contact_id: str):
    return await service.get_contact(current_org_id(), contact_id)


@bp.put("/api/contacts/<contact_id>")
@require("crm.contacts.write")
@validate_request(ContactUpdate)
@document_response(ContactOut)
async def update_contact(contact_id: str, data: ContactUpdate):
    return await service.update_contact(current_org_id(), contact_id, _changes(data))


@bp.delete("/api/contacts/<contact_id>")
@require("crm.contacts.delete")
async def delete_contact(contact_id: str):
    await service.delete_contact(current_org_id(), contact_id)
    return "", 204


# -- companies (seed 000) ------------------------------------------------------------------------


@bp.get("/api/companies")
@require("crm.companies.read")
@document_response(CompanyList)
async def list_companies():
    page = paginate("offset")
    rows, total = await service.list_companies(current_org_id(), page, request.args.get("search") or None)
    return _listed("companies", rows, total, page)


@bp.post("/api/companies")
@require("crm.companies.write")
@validate_request(CompanyCreate)
@document_response(CompanyOut, 201)
async def create_company(data: CompanyCreate):
    return await service.create_company(current_org_id(), data.model_dump()), 201


@bp.get("/api/companies/<company_id>")
@require("crm.companies.read")
@document_response(CompanyOut)
async def get_company(company_id: str):
    return await service.get_company(current_org_id(), company_id)


@bp.put("/api/companies/<company_id>")
@require("crm.companies.write")
@validate_request(CompanyUpdate)
@document_response(CompanyOut)
async def update_company(company_id: str, data: CompanyUpdate):
    return await service.update_company(current_org_id(), company_id, _changes(data))


@bp.delete("/api/companies/<company_id>")
@require("crm.companies.delete")
async def delete_company(company_id: str):
    await service.delete_company(current_org_id(), company_id)
    return "", 204


# -- conversations and messages --------------------------------------------------------------------


@bp.get("/api/conversations")
@require("crm.messages.read")
@document_response(ConversationList)
async def list_conversations():
    page = paginate("offset")
    status = _choice("status", {"active", "closed"})
    rows, total = await service.list_conversations(current_org_id(), page, status)
    return _listed("conversations", rows, total, page)


@bp.get("/api/messages/<lead_id>")
@require("crm.messages.read")
@document_response(MessageList)
async def list_messages(lead_id: str):
    page = paginate("offset")
    rows, total = await service.read_messages(current_org_id(), lead_id, page)
    return _listed("messages", rows, total, page)


@bp.post("/api/messages")
@require("crm.messages.write")
@validate_request(MessageCreate)
@document_response(MessageOut, 201)
async def send_message(data: MessageCreate):
    principal = current_principal()
    return await service.send_message(principal.org_id, principal.user_id, data.lead_id, data.content,
                                      data.sender), 201


# -- analytics and achievements ------------------------------------------------------------------


@bp.get("/api/analytics/dashboard")
@require("crm.analytics.read")
async def analytics_dashboard():
    return await service.dashboard(current_org_id())


@bp.get("/api/achievements")
@require("crm.achievements.read")
async def list_achievements():
    principal = current_principal()
    return await achievements.for_member(principal.org_id, principal.user_id)

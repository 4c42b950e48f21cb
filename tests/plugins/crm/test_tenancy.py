"""Cross-tenant isolation of every CRM route: another organization's ids are 404 (never
403, never 200), its rows never appear in lists, counts or aggregates, and its companies
cannot be linked (400)."""

from __future__ import annotations

import pytest

from tests.plugins.crm.support import CrmApi as Api


@pytest.fixture
async def theirs(other_api: Api) -> dict:
    """A populated second organization (Globex)."""
    company = await other_api.company(name="Globex Co")
    lead = await other_api.lead(name="Globex Lead", email="shared@example.com", source="website",
                                companyId=company["id"], value=1000)
    await other_api.put(f"/api/leads/{lead['id']}", {"status": "qualified"})
    contact = await other_api.contact(name="Globex Contact", email="shared@example.com", company="Globex Co",
                                      tags=["shared-tag"], companyId=company["id"])
    message = await other_api.message(lead["id"], "Globex secret", sender="lead")
    return {"company": company, "lead": lead, "contact": contact, "message": message}


ROUTES_BY_ID = [
    ("GET", "/api/leads/{lead}", None),
    ("PUT", "/api/leads/{lead}", {"name": "hijacked", "status": "lost"}),
    ("DELETE", "/api/leads/{lead}", None),
    ("GET", "/api/contacts/{contact}", None),
    ("PUT", "/api/contacts/{contact}", {"name": "hijacked", "tags": []}),
    ("DELETE", "/api/contacts/{contact}", None),
    ("GET", "/api/companies/{company}", None),
    ("PUT", "/api/companies/{company}", {"name": "hijacked"}),
    ("DELETE", "/api/companies/{company}", None),
    ("GET", "/api/messages/{lead}", None),
    ("POST", "/api/messages", {"leadId": "{lead}", "content": "hijacked", "sender": "lead"}),
]


def fill(template, ids: dict):
    if isinstance(template, str):
        for name, row in ids.items():
            template = template.replace("{" + name + "}", row["id"])
        return template
    if isinstance(template, dict):
        return {k: fill(v, ids) for k, v in template.items()}
    return template


async def test_other_organizations_ids_are_404_everywhere(api, other_api, theirs):
    paths = {"lead": "/api/leads/", "contact": "/api/contacts/", "company": "/api/companies/"}
    before = {kind: await other_api.get(paths[kind] + theirs[kind]["id"]) for kind in paths}
    unread = (await other_api.get("/api/conversations"))["conversations"][0]["unreadCount"]
    for method, path, body in ROUTES_BY_ID:
        error = await api.error(method, fill(path, theirs), fill(body, theirs), status=404, code="NOT_FOUND")
        assert "Globex" not in str(error)
    # nothing was changed, deleted, read or sent
    for kind in paths:
        assert await other_api.get(paths[kind] + theirs[kind]["id"]) == before[kind]
    conversation = (await other_api.get("/api/conversations"))["conversations"][0]
    assert conversation["unreadCount"] == unread == 1  # our GET did not mark their messages read
    assert conversation["lastMessage"]["content"] == "Globex secret"
    assert [m["content"] for m in (await other_api.get(f"/api/messages/{theirs['lead']['id']}"))["messages"]] == [
        "Globex secret"]


async def test_lists_never_show_other_organizations_rows(api, theirs):
    mine = await api.lead(name="Mine")
    for path, key in [("/api/leads", "leads"), ("/api/contacts", "contacts"), ("/api/companies", "companies"),
                      ("/api/conversations", "conversations")]:
        response, body = await api.request("GET", path)
        ids = {row["id"] for row in body[key]}
        assert not ids & {theirs[k]["id"] for k in theirs}, path
        assert body["total"] == len(body[key]) and response.headers["X-Total-Count"] == str(body["total"])
    assert [lead["id"] for lead in (await api.get("/api/leads"))["leads"]] == [mine["id"]]
    for query in ("status=qualified", "source=website", f"companyId={theirs['company']['id']}"):
        assert (await api.get(f"/api/leads?{query}"))["total"] == 0, query
    for query in ("search=globex", "search=shared@example.com", "tags=shared-tag"):
        assert (await api.get(f"/api/contacts?{query}"))["total"] == 0, query
    assert (await api.get("/api/companies?search=globex"))["total"] == 0


async def test_aggregates_and_achievements_ignore_other_organizations(api, theirs):
    dashboard = await api.get("/api/analytics/dashboard")
    assert dashboard["summary"]["totalLeads"] == 0 and dashboard["sourceBreakdown"] == {}
    assert (await api.get("/api/achievements"))["progress"]["totalUnlocked"] == 0


async def test_other_organizations_companies_cannot_be_linked(api, theirs):
    company_id = theirs["company"]["id"]
    await api.error("POST", "/api/leads", {"name": "x", "companyId": company_id}, field="companyId")
    await api.error("POST", "/api/contacts", {"name": "x", "companyId": company_id}, field="companyId")
    lead, contact = await api.lead(), await api.contact()
    await api.error("PUT", f"/api/leads/{lead['id']}", {"companyId": company_id}, field="companyId")
    await api.error("PUT", f"/api/contacts/{contact['id']}", {"companyId": company_id}, field="companyId")
    assert (await api.get(f"/api/leads/{lead['id']}"))["companyId"] is None
    assert (await api.get(f"/api/contacts/{contact['id']}"))["companyId"] is None
    assert (await api.get("/api/leads"))["total"] == 1 and (await api.get("/api/contacts"))["total"] == 1


async def test_our_messages_do_not_touch_their_contacts(api, other_api, theirs):
    before = (await other_api.get(f"/api/contacts/{theirs['contact']['id']}"))["lastContactDate"]
    lead = await api.lead(email="shared@example.com")  # same e-mail as their contact
    await api.message(lead["id"], "hello")
    assert (await other_api.get(f"/api/contacts/{theirs['contact']['id']}"))["lastContactDate"] == before


async def test_api_keys_are_confined_to_their_organization(api, key_api, admin, theirs):
    keyed = await key_api(admin, ["crm.*"])
    for method, path, body in ROUTES_BY_ID:
        await keyed.error(method, fill(path, theirs), fill(body, theirs), status=404, code="NOT_FOUND")
    assert (await keyed.get("/api/leads"))["total"] == 0

"""Companies (seed 000 crm-twenty `GET /api/companies`, with create/get/update/delete):
CRUD, the leads and contacts linked to them, list, search and bad input."""

from __future__ import annotations

import uuid

import pytest

from tests.plugins.crm.support import COMPANY_KEYS, parse_time


async def test_company_crud(api):
    company = await api.post("/api/companies", {"name": "Acme Corp", "domain": "ACME.com", "industry": "Software",
                                                "size": "51-200", "notes": "Key account"})
    assert set(company) == COMPANY_KEYS
    assert company["domain"] == "acme.com"  # stored lower-case
    assert company["leadCount"] == 0 and company["contactCount"] == 0
    parse_time(company["createdAt"])
    assert await api.get(f"/api/companies/{company['id']}") == company

    updated = await api.put(f"/api/companies/{company['id']}", {"industry": "Robotics", "domain": None})
    assert updated["industry"] == "Robotics" and updated["domain"] is None and updated["name"] == "Acme Corp"
    assert parse_time(updated["updatedAt"]) >= parse_time(company["updatedAt"])
    assert await api.get(f"/api/companies/{company['id']}") == updated

    await api.delete(f"/api/companies/{company['id']}")
    for method in ("GET", "DELETE"):
        await api.error(method, f"/api/companies/{company['id']}", status=404, code="NOT_FOUND")
    await api.error("PUT", f"/api/companies/{company['id']}", {"name": "x"}, status=404, code="NOT_FOUND")
    await api.error("GET", "/api/companies/not-an-id", status=404, code="NOT_FOUND")


async def test_counts_links_and_deleting_a_company_unlinks_its_leads_and_contacts(api):
    company = await api.company(name="Linked")
    other = await api.company(name="Unlinked")
    leads = [await api.lead(companyId=company["id"]) for _ in range(2)]
    contacts = [await api.contact(companyId=company["id"]) for _ in range(3)]
    got = await api.get(f"/api/companies/{company['id']}")
    assert (got["leadCount"], got["contactCount"]) == (2, 3)
    listed = {c["name"]: (c["leadCount"], c["contactCount"]) for c in (await api.get("/api/companies"))["companies"]}
    assert listed == {"Linked": (2, 3), "Unlinked": (0, 0)}
    assert (await api.get(f"/api/leads?companyId={company['id']}"))["total"] == 2

    await api.put(f"/api/leads/{leads[0]['id']}", {"companyId": other["id"]})
    assert (await api.get(f"/api/companies/{company['id']}"))["leadCount"] == 1
    assert (await api.get(f"/api/companies/{other['id']}"))["leadCount"] == 1

    await api.delete(f"/api/companies/{company['id']}")
    assert (await api.get(f"/api/leads/{leads[1]['id']}"))["companyId"] is None
    assert (await api.get(f"/api/leads/{leads[0]['id']}"))["companyId"] == other["id"]
    for contact in contacts:
        assert (await api.get(f"/api/contacts/{contact['id']}"))["companyId"] is None


async def test_company_list_is_by_name_with_search_and_pagination(api):
    for name in ("Gamma", "alpha labs", "Beta", "Alphabet"):
        await api.company(name=name)
    response, body = await api.request("GET", "/api/companies?limit=3")
    assert set(body) == {"companies", "total", "pagination"}
    assert body["total"] == 4 and body["pagination"] == {"limit": 3, "offset": 0, "hasMore": True}
    assert response.headers["X-Total-Count"] == "4"
    found = await api.get("/api/companies?search=ALPHA")
    assert sorted(c["name"] for c in found["companies"]) == ["Alphabet", "alpha labs"] and found["total"] == 2
    past = await api.get("/api/companies?offset=10")
    assert past["companies"] == [] and past["total"] == 4
    await api.error("GET", "/api/companies?limit=0", field="limit")


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x", "domain": "not a domain!"}, "domain"),
    ({"name": "x", "size": "s" * 33}, "size"),
    ({"name": "x", "notes": "n" * 10_001}, "notes"),
    ({"name": "x", "employees": 12}, "employees"),
])
async def test_bad_company_input_is_400_naming_the_field(module_api, body, field):
    before = (await module_api.get("/api/companies"))["total"]
    await module_api.error("POST", "/api/companies", body, field=field)
    assert (await module_api.get("/api/companies"))["total"] == before


async def test_bad_company_update_is_400_and_changes_nothing(api):
    company = await api.company(domain="keep.io")
    for body, field in [({"name": None}, "name"), ({"domain": "bad domain"}, "domain"), ({"x": 1}, "x")]:
        await api.error("PUT", f"/api/companies/{company['id']}", body, field=field)
    assert await api.get(f"/api/companies/{company['id']}") == company
    await api.error("PUT", f"/api/companies/{uuid.uuid4()}", {"name": "ghost"}, status=404, code="NOT_FOUND")

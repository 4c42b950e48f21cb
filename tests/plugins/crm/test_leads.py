"""Leads (seed 004 "Leads API"): CRUD, filters, pagination edges, shapes, bad input and the
status rules of plugins/crm/service.py."""

from __future__ import annotations

import uuid

import pytest

from plugins.crm.models import Lead
from tests.plugins.crm.support import (
    LEAD_KEYS,
    SEED_CREATE_LEAD,
    SEED_LEAD,
    SEED_LEAD_LIST,
    SEED_UPDATE_LEAD,
    assert_same_types,
    parse_time,
)

# The rules as service.py's docstring states them (kept here independently of TRANSITIONS).
ALLOWED = {
    "new": {"contacted", "qualified", "lost"},
    "contacted": {"qualified", "lost"},
    "qualified": {"converted", "contacted", "lost"},
    "lost": {"new"},
    "converted": set(),
}
STATUSES = ("new", "contacted", "qualified", "converted", "lost")


# -- CRUD and shapes -----------------------------------------------------------------------------


async def test_seed_create_request_gives_a_seed_shaped_lead(api):
    lead = await api.post("/api/leads", SEED_CREATE_LEAD)
    assert set(lead) == LEAD_KEYS
    assert_same_types({k: v for k, v in lead.items() if k != "companyId"},
                      {k: v for k, v in SEED_LEAD.items()})
    assert {k: lead[k] for k in SEED_CREATE_LEAD} == SEED_CREATE_LEAD
    assert lead["status"] == "new" and lead["companyId"] is None
    uuid.UUID(lead["id"])
    assert parse_time(lead["updatedAt"]) >= parse_time(lead["createdAt"])


async def test_get_update_delete_a_lead(api):
    lead = await api.post("/api/leads", SEED_CREATE_LEAD)
    assert await api.get(f"/api/leads/{lead['id']}") == lead

    updated = await api.put(f"/api/leads/{lead['id']}", SEED_UPDATE_LEAD)
    assert updated["status"] == "qualified" and updated["notes"] == SEED_UPDATE_LEAD["notes"]
    assert {k: updated[k] for k in ("name", "email", "phone", "company", "source", "value")} == \
        {k: lead[k] for k in ("name", "email", "phone", "company", "source", "value")}
    assert updated["createdAt"] == lead["createdAt"]
    assert parse_time(updated["updatedAt"]) >= parse_time(lead["updatedAt"])
    assert await api.get(f"/api/leads/{lead['id']}") == updated

    cleared = await api.put(f"/api/leads/{lead['id']}", {"email": None, "phone": None, "notes": None})
    assert cleared["email"] is None and cleared["phone"] is None and cleared["notes"] is None

    await api.delete(f"/api/leads/{lead['id']}")
    await api.error("GET", f"/api/leads/{lead['id']}", status=404, code="NOT_FOUND")
    await api.error("PUT", f"/api/leads/{lead['id']}", {"name": "x"}, status=404, code="NOT_FOUND")
    await api.error("DELETE", f"/api/leads/{lead['id']}", status=404, code="NOT_FOUND")


async def test_malformed_ids_are_404(api):
    for path in ("/api/leads/not-a-uuid", "/api/leads/" + str(uuid.uuid4())):
        await api.error("GET", path, status=404, code="NOT_FOUND")
        await api.error("PUT", path, {"name": "x"}, status=404, code="NOT_FOUND")
        await api.error("DELETE", path, status=404, code="NOT_FOUND")


async def test_list_shape_matches_the_seed(api):
    await api.post("/api/leads", SEED_CREATE_LEAD)
    body = await api.get("/api/leads")
    assert set(body) == set(SEED_LEAD_LIST)
    assert set(body["pagination"]) == set(SEED_LEAD_LIST["pagination"])
    assert all(set(lead) == LEAD_KEYS for lead in body["leads"])
    assert body["total"] == 1 and body["pagination"] == {"limit": 50, "offset": 0, "hasMore": False}


async def test_list_is_newest_first(api):
    names = [f"n{i}" for i in range(4)]
    for name in names:
        await api.lead(name=name)
    body = await api.get("/api/leads")
    assert [lead["name"] for lead in body["leads"]] == list(reversed(names))


async def test_source_is_normalised_and_defaults_to_other(api):
    assert (await api.lead())["source"] == "other"
    assert (await api.lead(source="  Website "))["source"] == "website"


# -- filters ---------------------------------------------------------------------------------------


async def test_filters_by_status_source_and_company(api):
    acme = await api.company(name="Acme")
    other = await api.company(name="Other")
    a = await api.lead(name="a", source="website", companyId=acme["id"])
    b = await api.lead(name="b", source="referral", companyId=acme["id"])
    c = await api.lead(name="c", source="website")
    await api.put(f"/api/leads/{b['id']}", {"status": "contacted"})
    await api.put(f"/api/leads/{c['id']}", {"status": "contacted"})

    async def names(query: str) -> list[str]:
        body = await api.get(f"/api/leads?{query}")
        assert body["total"] == len(body["leads"])
        return sorted(lead["name"] for lead in body["leads"])

    assert await names("status=new") == ["a"]
    assert await names("status=contacted") == ["b", "c"]
    assert await names("status=converted") == []
    assert await names("source=website") == ["a", "c"]
    assert await names("source=referral") == ["b"]
    assert await names("source=nowhere") == []
    assert await names("source=WebSite") == ["a", "c"]  # sources are stored and matched lower-case
    assert await names(f"companyId={acme['id']}") == ["a", "b"]
    assert await names(f"companyId={other['id']}") == []
    assert await names(f"companyId={uuid.uuid4()}") == []
    assert await names("status=contacted&source=website") == ["c"]
    assert await names(f"status=contacted&companyId={acme['id']}") == ["b"]
    assert await names("source=&companyId=") == ["a", "b", "c"]  # empty parameters filter nothing
    assert a["companyId"] == acme["id"]


async def test_bad_filters_are_400_naming_the_parameter(api):
    await api.error("GET", "/api/leads?status=bogus", field="status")
    await api.error("GET", "/api/leads?status=", field="status")
    await api.error("GET", "/api/leads?status=NEW", field="status")
    await api.error("GET", "/api/leads?companyId=not-a-uuid", field="companyId")


# -- pagination edges ------------------------------------------------------------------------------


async def test_pagination_edges(api, client, admin):
    for i in range(5):
        await api.lead(name=f"p{i}")
    response, body = await api.request("GET", "/api/leads?limit=2")
    assert response.headers["X-Total-Count"] == "5"
    assert body["total"] == 5 and len(body["leads"]) == 2
    assert body["pagination"] == {"limit": 2, "offset": 0, "hasMore": True}

    last = await api.get("/api/leads?limit=2&offset=4")
    assert [lead["name"] for lead in last["leads"]] == ["p0"]
    assert last["pagination"] == {"limit": 2, "offset": 4, "hasMore": False}
    exact = await api.get("/api/leads?limit=2&offset=3")
    assert len(exact["leads"]) == 2 and exact["pagination"]["hasMore"] is False

    response, past = await api.request("GET", "/api/leads?offset=50")
    assert response.status_code == 200 and past["leads"] == [] and past["total"] == 5
    assert past["pagination"] == {"limit": 50, "offset": 50, "hasMore": False}
    assert response.headers["X-Total-Count"] == "5"

    huge = await api.get(f"/api/leads?offset={2**62}")
    assert huge["leads"] == [] and huge["total"] == 5

    pages = []
    for offset in range(0, 5, 2):
        pages += [lead["id"] for lead in (await api.get(f"/api/leads?limit=2&offset={offset}"))["leads"]]
    assert len(pages) == len(set(pages)) == 5  # pages neither overlap nor skip

    for query, field in [("limit=0", "limit"), ("limit=-1", "limit"), ("limit=abc", "limit"), ("limit=1.5", "limit"),
                         ("offset=-1", "offset"), ("offset=abc", "offset"), (f"offset={2**63}", "offset")]:
        await api.error("GET", f"/api/leads?{query}", field=field)


async def test_limit_is_capped_at_100(api, admin):
    await Lead.bulk_create([Lead(org_id=admin.org_id, name=f"bulk {i}") for i in range(105)])
    response, body = await api.request("GET", "/api/leads?limit=1000")
    assert len(body["leads"]) == 100 and body["total"] == 105
    assert body["pagination"] == {"limit": 100, "offset": 0, "hasMore": True}
    assert response.headers["X-Total-Count"] == "105" and response.headers["X-Per-Page"] == "100"
    rest = await api.get("/api/leads?limit=100&offset=100")
    assert len(rest["leads"]) == 5 and rest["pagination"]["hasMore"] is False


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "email": "not-an-email"}, "email"),
    ({"name": "x", "value": -1}, "value"),
    ({"name": "x", "value": "lots"}, "value"),
    ({"name": "x", "status": "won"}, "status"),
    ({"name": "x", "favouriteColour": "blue"}, "favouriteColour"),
    ({"name": "x", "notes": "n" * 10_001}, "notes"),
    ({"name": "x", "phone": "call me maybe"}, "phone"),
    ({"name": "x", "phone": "12"}, "phone"),
    ({"name": "x", "source": "web site!"}, "source"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 201}, "name"),
    ({}, "name"),
    ({"name": "x", "companyId": "not-a-uuid"}, "companyId"),
    ({"name": "x", "companyId": str(uuid.uuid4())}, "companyId"),
])
async def test_bad_lead_input_is_400_naming_the_field(module_api, body, field):
    before = (await module_api.get("/api/leads"))["total"]
    await module_api.error("POST", "/api/leads", body, field=field)
    assert (await module_api.get("/api/leads"))["total"] == before


@pytest.mark.parametrize("body, field", [
    ({"email": "nope"}, "email"),
    ({"value": -0.01}, "value"),
    ({"status": "won"}, "status"),
    ({"id": str(uuid.uuid4())}, "id"),
    ({"createdAt": "2020-01-01T00:00:00Z"}, "createdAt"),
    ({"notes": "n" * 10_001}, "notes"),
    ({"phone": "abc"}, "phone"),
    ({"name": None}, "name"),
    ({"status": None}, "status"),
    ({"value": None}, "value"),
    ({"source": None}, "source"),
])
async def test_bad_lead_update_is_400_and_changes_nothing(module_api, body, field):
    lead = await module_api.lead(name="keep", value=5)
    await module_api.error("PUT", f"/api/leads/{lead['id']}", body, field=field)
    assert await module_api.get(f"/api/leads/{lead['id']}") == lead


async def test_notes_of_exactly_10000_characters_are_accepted(api):
    lead = await api.lead(notes="n" * 10_000)
    assert len(lead["notes"]) == 10_000


async def test_body_that_is_not_a_json_object_is_400(api):
    response, body = await api.request("POST", "/api/leads", data="[1, 2]",
                                    headers={**api.headers, "Content-Type": "application/json"})
    assert response.status_code == 400 and body["error"]["code"] == "VALIDATION_ERROR"
    response, body = await api.request("POST", "/api/leads", data="{nope",
                                    headers={**api.headers, "Content-Type": "application/json"})
    assert response.status_code == 400 and body["error"]["code"] == "VALIDATION_ERROR"


# -- status transitions ----------------------------------------------------------------------------


@pytest.mark.parametrize("start", STATUSES)
async def test_status_transitions_follow_the_documented_rules(module_api, start):
    api = module_api
    for target in STATUSES:
        lead = await api.lead(status=start)
        assert lead["status"] == start
        response, body = await api.request("PUT", f"/api/leads/{lead['id']}", {"status": target, "notes": "moved"})
        if target in ALLOWED[start] or target == start:
            assert response.status_code == 200, (start, target, body)
            assert body["status"] == target and body["notes"] == "moved"
        else:
            assert response.status_code == 400, (start, target, body)
            details = body["error"]["details"]
            assert details["field"] == "status" and start in details["reason"] and target in details["reason"]
            assert details["allowed"] == sorted(ALLOWED[start])
            assert await api.get(f"/api/leads/{lead['id']}") == lead  # the notes were not saved either


async def test_the_whole_funnel_and_converted_is_final(api, admin):
    lead = await api.lead()
    for status in ("contacted", "qualified", "contacted", "qualified", "converted"):
        assert (await api.put(f"/api/leads/{lead['id']}", {"status": status}))["status"] == status
    row = await Lead.get(id=lead["id"])
    assert row.converted_at is not None
    for status in ("new", "contacted", "qualified", "lost"):
        await api.error("PUT", f"/api/leads/{lead['id']}", {"status": status}, field="status")
    # other fields of a converted lead may still change, and re-stating its status is a no-op
    same = await api.put(f"/api/leads/{lead['id']}", {"status": "converted", "notes": "paid"})
    assert same["status"] == "converted" and same["notes"] == "paid"
    assert (await Lead.get(id=lead["id"])).converted_at == row.converted_at


async def test_lost_leads_can_be_reopened(api):
    lead = await api.lead()
    await api.put(f"/api/leads/{lead['id']}", {"status": "lost"})
    assert (await api.put(f"/api/leads/{lead['id']}", {"status": "new"}))["status"] == "new"
    assert (await api.put(f"/api/leads/{lead['id']}", {"status": "qualified"}))["status"] == "qualified"


# -- companies linked to leads ------------------------------------------------------------------


async def test_lead_links_to_a_company_of_its_organization(api):
    company = await api.company()
    lead = await api.lead(companyId=company["id"])
    assert lead["companyId"] == company["id"]
    moved = await api.put(f"/api/leads/{lead['id']}", {"companyId": None})
    assert moved["companyId"] is None
    await api.error("PUT", f"/api/leads/{lead['id']}", {"companyId": str(uuid.uuid4())}, field="companyId")

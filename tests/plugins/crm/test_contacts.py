"""Contacts (seed 004 "Contacts API"): CRUD, search, tags, sort and order, pagination, shapes
and bad input."""

from __future__ import annotations

import uuid

import pytest

from plugins.crm.models import Contact, ContactTag
from tests.helpers import register_and_login
from tests.plugins.crm.support import (
    CONTACT_KEYS,
    SEED_CONTACT,
    SEED_CONTACT_LIST,
    SEED_CREATE_CONTACT,
    CrmApi,
    assert_same_types,
)


async def names(api, query: str = "") -> list[str]:
    body = await api.get(f"/api/contacts?{query}")
    assert body["total"] >= len(body["contacts"])
    return [contact["name"] for contact in body["contacts"]]


# -- CRUD and shapes -----------------------------------------------------------------------------


async def test_seed_create_request_gives_a_seed_shaped_contact(api):
    contact = await api.post("/api/contacts", SEED_CREATE_CONTACT)
    assert set(contact) == CONTACT_KEYS
    assert {k: contact[k] for k in SEED_CREATE_CONTACT} == SEED_CREATE_CONTACT
    assert contact["status"] == "active" and contact["lastContactDate"] is None and contact["notes"] is None
    full = await api.post("/api/contacts", {k: v for k, v in SEED_CONTACT.items()
                                            if k not in ("id", "createdAt", "lastContactDate")})
    assert_same_types({k: v for k, v in full.items() if k not in ("companyId", "lastContactDate")},
                      {k: v for k, v in SEED_CONTACT.items() if k != "lastContactDate"})


async def test_get_update_delete_a_contact(api, admin):
    contact = await api.post("/api/contacts", SEED_CREATE_CONTACT)
    assert await api.get(f"/api/contacts/{contact['id']}") == contact
    updated = await api.put(f"/api/contacts/{contact['id']}",
                            {"position": "CTO", "tags": ["ai", "ai", "board"], "status": "inactive", "notes": "met"})
    assert updated["position"] == "CTO" and updated["tags"] == ["ai", "board"]  # duplicates dropped
    assert updated["status"] == "inactive" and updated["notes"] == "met"
    assert updated["name"] == SEED_CREATE_CONTACT["name"] and updated["createdAt"] == contact["createdAt"]
    assert await api.get(f"/api/contacts/{contact['id']}") == updated

    await api.delete(f"/api/contacts/{contact['id']}")
    await api.error("GET", f"/api/contacts/{contact['id']}", status=404, code="NOT_FOUND")
    await api.error("PUT", f"/api/contacts/{contact['id']}", {"name": "x"}, status=404, code="NOT_FOUND")
    await api.error("DELETE", f"/api/contacts/{contact['id']}", status=404, code="NOT_FOUND")
    assert not await ContactTag.filter(contact_id=contact["id"]).exists()  # its tags went with it


async def test_list_shape_contains_the_seed_keys(api):
    await api.post("/api/contacts", SEED_CREATE_CONTACT)
    response, body = await api.request("GET", "/api/contacts")
    assert set(body) == set(SEED_CONTACT_LIST) | {"pagination"}
    assert body["pagination"] == {"limit": 50, "offset": 0, "hasMore": False}
    assert all(set(contact) == CONTACT_KEYS for contact in body["contacts"])
    assert response.headers["X-Total-Count"] == "1"


# -- search --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def people(app):
    """An organization of its own holding the contacts the search cases look for."""
    client = app.test_client()
    api = CrmApi.of(client, await register_and_login(client, organization_name="People"))
    rows = [
        ("Alice Johnson", "alice@innovation.io", "Innovation Inc"),
        ("Bob Wilson", "bob@startup.io", "AI Startup"),
        ("Carol Díaz", "carol@example.com", None),
        ("Dan 100% Pure", "dan@pure.com", "Percent Co"),
        ("Dan 1000 Pure", "dan1000@pure.com", "Thousand Co"),
        ("Eve a_b", "eve@under.score", None),
        ("Eve axb", "evex@under.score", None),
    ]
    for name, email, company in rows:
        await api.contact(name=name, email=email, company=company)
    return api


@pytest.mark.parametrize("term, expected", [
    ("alice", ["Alice Johnson"]),                       # name
    ("ALICE", ["Alice Johnson"]),                       # case-insensitive
    ("jOhNsOn", ["Alice Johnson"]),
    ("bob@startup", ["Bob Wilson"]),                    # email
    ("STARTUP.IO", ["Bob Wilson"]),
    ("innovation inc", ["Alice Johnson"]),              # company
    ("ai startup", ["Bob Wilson"]),
    ("díaz", ["Carol Díaz"]),                           # non-ASCII
    ("DÍAZ", ["Carol Díaz"]),
    ("  wilson  ", ["Bob Wilson"]),                     # surrounding blanks ignored
    ("100%", ["Dan 100% Pure"]),                        # % is literal, not "anything"
    ("%", ["Dan 100% Pure"]),
    ("a_b", ["Eve a_b"]),                               # _ is literal, not "any character"
    ("_", ["Eve a_b"]),
    ("\\", []),
    ("pure", ["Dan 100% Pure", "Dan 1000 Pure"]),
    ("nobody-by-this-name", []),
])
async def test_search_name_email_company(people, term, expected):
    from urllib.parse import quote

    body = await people.get(f"/api/contacts?search={quote(term)}&sort=name")
    assert [c["name"] for c in body["contacts"]] == expected
    assert body["total"] == len(expected)


async def test_search_follows_updates(api):
    contact = await api.contact(name="Frank Ocean", email="frank@old.io", company="Oldco")
    await api.put(f"/api/contacts/{contact['id']}", {"email": "frank@new.io", "company": "Newco"})
    assert await names(api, "search=old") == []
    assert await names(api, "search=new.io") == ["Frank Ocean"]
    assert await names(api, "search=newco") == ["Frank Ocean"]
    await api.put(f"/api/contacts/{contact['id']}", {"name": "Francis Ocean", "company": None})
    assert await names(api, "search=francis") == ["Francis Ocean"]
    assert await names(api, "search=newco") == []


async def test_overlong_search_is_400(api):
    await api.error("GET", "/api/contacts?search=" + "x" * 201, field="search")
    assert await names(api, "search=" + "x" * 200) == []


# -- tags ----------------------------------------------------------------------------------------


async def test_tags_filter_needs_every_tag(api):
    await api.contact(name="both", tags=["vip", "tech"])
    await api.contact(name="vip only", tags=["vip"])
    await api.contact(name="tech only", tags=["tech"])
    await api.contact(name="none")
    assert await names(api, "tags=vip,tech&sort=name") == ["both"]
    assert await names(api, "tags=tech,vip&sort=name") == ["both"]
    assert await names(api, "tags=vip&sort=name") == ["both", "vip only"]
    assert await names(api, "tags= vip , tech ,&sort=name") == ["both"]  # blanks and empty items ignored
    assert await names(api, "tags=vip,nope") == []
    assert await names(api, "tags=VIP") == []  # tags are case-sensitive
    assert await names(api, "tags=&sort=name") == ["both", "none", "tech only", "vip only"]
    body = await api.get("/api/contacts?tags=vip,tech")
    assert body["total"] == 1 and body["contacts"][0]["tags"] == ["vip", "tech"]


async def test_tags_filter_follows_updates_and_combines_with_search(api):
    a = await api.contact(name="Ann Tagged", tags=["old"])
    await api.contact(name="Ann Other", tags=["new"])
    await api.put(f"/api/contacts/{a['id']}", {"tags": ["new", "lead"]})
    assert await names(api, "tags=old") == []
    assert await names(api, "tags=new&sort=name") == ["Ann Other", "Ann Tagged"]
    assert await names(api, "tags=new,lead") == ["Ann Tagged"]
    assert await names(api, "tags=new&search=tagged") == ["Ann Tagged"]
    await api.put(f"/api/contacts/{a['id']}", {"name": "Ann Renamed"})  # tags untouched when not sent
    assert await names(api, "tags=lead") == ["Ann Renamed"]
    await api.put(f"/api/contacts/{a['id']}", {"tags": []})
    assert await names(api, "tags=lead") == []
    assert await ContactTag.filter(contact_id=a["id"]).count() == 0


# -- sort and order ------------------------------------------------------------------------------


async def test_sort_and_order(api, admin):
    created = []
    for name, company in [("Bravo", "Zulu Ltd"), ("Alpha", "Mike Ltd"), ("Charlie", "Alpha Ltd")]:
        created.append(await api.contact(name=name, company=company))
    assert await names(api, "sort=name") == ["Alpha", "Bravo", "Charlie"]          # name: asc by default
    assert await names(api, "sort=name&order=asc") == ["Alpha", "Bravo", "Charlie"]
    assert await names(api, "sort=name&order=desc") == ["Charlie", "Bravo", "Alpha"]
    assert await names(api, "sort=company") == ["Charlie", "Alpha", "Bravo"]
    assert await names(api, "sort=company&order=desc") == ["Bravo", "Alpha", "Charlie"]
    assert await names(api) == ["Charlie", "Alpha", "Bravo"]                        # default: newest first
    assert await names(api, "sort=createdAt") == ["Charlie", "Alpha", "Bravo"]
    assert await names(api, "sort=createdAt&order=asc") == ["Bravo", "Alpha", "Charlie"]
    assert await names(api, "order=asc") == ["Bravo", "Alpha", "Charlie"]


async def test_ties_are_broken_stably_across_pages(api):
    for _ in range(7):
        await api.contact(name="Same Name", company="Same Co")
    for sort in ("name", "company"):
        full = [c["id"] for c in (await api.get(f"/api/contacts?sort={sort}"))["contacts"]]
        paged = []
        for offset in range(0, 7, 3):
            paged += [c["id"] for c in (await api.get(f"/api/contacts?sort={sort}&limit=3&offset={offset}"))["contacts"]]
        assert paged == full and len(set(full)) == 7


@pytest.mark.parametrize("query, field", [
    ("sort=email", "sort"), ("sort=created_at", "sort"), ("sort=", "sort"),
    ("order=up", "order"), ("order=DESC", "order"), ("sort=name&order=sideways", "order"),
    ("limit=0", "limit"), ("offset=-3", "offset"), ("limit=x", "limit"),
])
async def test_bad_list_parameters_are_400_naming_them(module_api, query, field):
    await module_api.error("GET", f"/api/contacts?{query}", field=field)


# -- pagination ----------------------------------------------------------------------------------


async def test_contact_pagination_edges(api, admin):
    await Contact.bulk_create([Contact(org_id=admin.org_id, name=f"c{i:03}", search_text=f"c{i:03}")
                               for i in range(103)])
    response, body = await api.request("GET", "/api/contacts?limit=500&sort=name")
    assert len(body["contacts"]) == 100 and body["total"] == 103
    assert body["pagination"] == {"limit": 100, "offset": 0, "hasMore": True}
    assert response.headers["X-Total-Count"] == "103"
    tail = await api.get("/api/contacts?limit=100&offset=100&sort=name")
    assert [c["name"] for c in tail["contacts"]] == ["c100", "c101", "c102"]
    assert tail["pagination"]["hasMore"] is False
    response, past = await api.request("GET", "/api/contacts?offset=103")
    assert past["contacts"] == [] and past["total"] == 103 and response.headers["X-Total-Count"] == "103"
    searched = await api.get("/api/contacts?search=c10&limit=2")
    assert searched["total"] == 3 and len(searched["contacts"]) == 2 and searched["pagination"]["hasMore"] is True


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "email": "alice@"}, "email"),
    ({"name": "x", "phone": "phone number"}, "phone"),
    ({"name": "x", "notes": "n" * 10_001}, "notes"),
    ({"name": "x", "status": "deleted"}, "status"),
    ({"name": "x", "lastContactDate": "2024-01-10T14:20:00Z"}, "lastContactDate"),  # kept by messages
    ({"name": "x", "nickname": "al"}, "nickname"),
    ({"name": "x", "tags": "vip"}, "tags"),
    ({"name": "x", "tags": [""]}, "tags.0"),
    ({"name": "x", "tags": ["t" * 51]}, "tags.0"),
    ({"name": "x", "tags": [f"t{i}" for i in range(51)]}, "tags"),
    ({"name": "x", "companyId": str(uuid.uuid4())}, "companyId"),
    ({"name": ""}, "name"),
    ({"email": "a@b.io"}, "name"),
])
async def test_bad_contact_input_is_400_naming_the_field(module_api, body, field):
    before = (await module_api.get("/api/contacts"))["total"]
    await module_api.error("POST", "/api/contacts", body, field=field)
    assert (await module_api.get("/api/contacts"))["total"] == before


@pytest.mark.parametrize("body, field", [
    ({"email": "nope"}, "email"),
    ({"notes": "n" * 10_001}, "notes"),
    ({"name": None}, "name"),
    ({"tags": None}, "tags"),
    ({"status": None}, "status"),
    ({"id": "x"}, "id"),
])
async def test_bad_contact_update_is_400_and_changes_nothing(module_api, body, field):
    contact = await module_api.contact(tags=["keep"])
    await module_api.error("PUT", f"/api/contacts/{contact['id']}", body, field=field)
    assert await module_api.get(f"/api/contacts/{contact['id']}") == contact


async def test_contact_links_to_a_company(api):
    company = await api.company()
    contact = await api.contact(companyId=company["id"])
    assert contact["companyId"] == company["id"]
    assert (await api.put(f"/api/contacts/{contact['id']}", {"companyId": None}))["companyId"] is None


async def test_search_pages_are_the_same_whether_matches_are_few_or_many(api, admin):
    """list_contacts pages few matches by id and many by walking the sort index: both must
    give the same order, totals and pages."""
    from plugins.crm.service import FEW_MATCHES, _search_text

    many = FEW_MATCHES + 25
    rows = [(f"Walker {i:05d}", f"w{i}@many.io", f"Co {i % 7}") for i in range(many)]
    rows += [(f"Rare {i:02d}", f"r{i}@few.io", "Co 3") for i in range(30)]
    await Contact.bulk_create([Contact(org_id=admin.org_id, name=n, email=e, company=c,
                                       search_text=_search_text(n, e, c)) for n, e, c in rows])
    for term, expected in [("many.io", sorted(n for n, _, _ in rows if n.startswith("Walker"))),
                           ("few.io", sorted(n for n, _, _ in rows if n.startswith("Rare")))]:
        for order, names_in_order in (("asc", expected), ("desc", expected[::-1])):
            for offset in (0, 7, 20):
                body = await api.get(f"/api/contacts?search={term}&sort=name&order={order}&limit=10&offset={offset}")
                assert body["total"] == len(expected)
                assert [c["name"] for c in body["contacts"]] == names_in_order[offset:offset + 10], (term, order, offset)
            last = await api.get(f"/api/contacts?search={term}&sort=name&order={order}&limit=100"
                                 f"&offset={len(expected) - 3}")
            assert [c["name"] for c in last["contacts"]] == names_in_order[-3:]
            assert last["pagination"]["hasMore"] is False
    body = await api.get("/api/contacts?search=co 3&sort=company&limit=5")
    assert body["total"] == len([r for r in rows if r[2] == "Co 3"])

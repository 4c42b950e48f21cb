"""Keyset (cursor) pages of the CRM lists (core/http/pagination.py, CursorQuery): `?cursor=` for
the first page, then each page's `pagination.nextCursor`; totals only when asked on cursor pages;
the edges (empty, one page, the end, ties, both directions, NULL sort keys, rows added and
removed between pages) and the cursors that must be refused (altered, another sort, another
organization or list, with an offset)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from plugins.crm.models import Company, Contact, Conversation, Lead, Message
from plugins.crm.service import _search_text
from tests.plugins.crm.support import LEAD_KEYS

MOMENT = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


async def walk(api, path: str, key: str, limit: int = 3, **first) -> list[dict]:
    """Every row of a list, page after page by cursor, checking each page's envelope."""
    separator = "&" if "?" in path else "?"
    url = f"{path}{separator}limit={limit}&cursor="
    rows, seen_pages = [], 0
    while True:
        response, body = await api.request("GET", url)
        assert response.status_code == 200, body
        assert set(body) == {key, "total", "pagination"} and body["total"] is None
        assert "X-Total-Count" not in response.headers and "X-Page" not in response.headers
        assert response.headers["X-Per-Page"] == str(limit)
        pagination = body["pagination"]
        assert set(pagination) == {"limit", "offset", "hasMore", "nextCursor"}
        assert pagination["limit"] == limit and pagination["offset"] is None
        assert len(body[key]) <= limit
        rows += body[key]
        seen_pages += 1
        assert seen_pages < 1000
        if not pagination["hasMore"]:
            assert pagination["nextCursor"] is None and "Link" not in response.headers
            return rows
        assert len(body[key]) == limit and pagination["nextCursor"]
        assert response.headers["Link"].endswith(f'cursor={pagination["nextCursor"]}>; rel="next"')
        url = f"{path}{separator}limit={limit}&cursor={pagination['nextCursor']}"


async def by_offset(api, path: str, key: str) -> list[dict]:
    separator = "&" if "?" in path else "?"
    body = await api.get(f"{path}{separator}limit=100")
    assert body["total"] == len(body[key])
    return body[key]


async def same_moment_leads(org_id, count: int, **fields) -> list[Lead]:
    """Leads created at one and the same instant: only the id orders them."""
    leads = [Lead(org_id=org_id, name=f"Tie {i:02d}", created_at=MOMENT, updated_at=MOMENT, **fields)
             for i in range(count)]
    await Lead.bulk_create(leads)
    return leads


def ids(rows) -> list[str]:
    return [row["id"] for row in rows]


# -- the envelope ----------------------------------------------------------------------------------


async def test_empty_list(api):
    response, body = await api.request("GET", "/api/leads?cursor=")
    assert body == {"leads": [], "total": None,
                    "pagination": {"limit": 50, "offset": None, "hasMore": False, "nextCursor": None}}
    assert "X-Total-Count" not in response.headers and "Link" not in response.headers
    counted = await api.get("/api/leads?cursor=&total=true")
    assert counted["total"] == 0 and counted["leads"] == []


async def test_exactly_one_page(api):
    for i in range(3):
        await api.lead(name=f"L{i}")
    response, body = await api.request("GET", "/api/leads?cursor=&limit=3")
    assert [lead["name"] for lead in body["leads"]] == ["L2", "L1", "L0"]
    assert body["pagination"] == {"limit": 3, "offset": None, "hasMore": False, "nextCursor": None}
    assert all(set(lead) == LEAD_KEYS for lead in body["leads"])


async def test_cursor_pages_tile_the_offset_list(api):
    for i in range(8):
        await api.lead(name=f"L{i}", value=float(i % 3))
    for query in ("", "order=asc", "sort=name", "sort=name&order=desc", "sort=value", "sort=value&order=desc",
                  "sort=status"):
        path = f"/api/leads?{query}"
        assert ids(await walk(api, path, "leads")) == ids(await by_offset(api, path, "leads")), query


async def test_the_last_pages_cursor_and_a_cursor_past_the_end(api, admin):
    for i in range(5):
        await api.lead(name=f"L{i}")
    first = await api.get("/api/leads?cursor=&limit=2")
    second = await api.get(f"/api/leads?limit=2&cursor={first['pagination']['nextCursor']}")
    last = await api.get(f"/api/leads?limit=2&cursor={second['pagination']['nextCursor']}")
    assert [lead["name"] for lead in last["leads"]] == ["L0"]
    assert last["pagination"]["hasMore"] is False and last["pagination"]["nextCursor"] is None
    # a cursor after the last row (it had a next page when made; the row after it is gone)
    four = await api.get("/api/leads?cursor=&limit=4")
    await Lead.filter(id=last["leads"][0]["id"]).delete()
    after = await api.get(f"/api/leads?limit=4&cursor={four['pagination']['nextCursor']}")
    assert after["leads"] == [] and after["pagination"]["hasMore"] is False


@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_ties_on_the_sort_key_across_page_boundaries(api, admin, order):
    leads = await same_moment_leads(admin.org_id, 11)
    expected = sorted(str(lead.id) for lead in leads)
    if order == "desc":
        expected.reverse()
    for limit in (1, 2, 3, 4, 10, 11):
        walked = await walk(api, f"/api/leads?order={order}", "leads", limit=limit)
        assert ids(walked) == expected, limit
        assert {lead["createdAt"] for lead in walked} == {"2024-05-01T12:00:00.123456Z"}


async def test_ties_on_name_and_value(api, admin):
    await Lead.bulk_create([Lead(org_id=admin.org_id, name=f"N{i % 2}", value=float(i % 3)) for i in range(13)])
    for query in ("sort=name", "sort=name&order=desc", "sort=value", "sort=value&order=desc"):
        path = f"/api/leads?{query}"
        walked = await walk(api, path, "leads", limit=2)
        assert ids(walked) == ids(await by_offset(api, path, "leads")) and len(set(ids(walked))) == 13


async def test_null_sort_keys(api, admin):
    """Contacts by company, which may be NULL: the NULLs come where the database sorts them."""
    companies = [None, "Acme", None, "Bravo", "Acme", None, "", "Zed", None]
    await Contact.bulk_create([Contact(org_id=admin.org_id, name=f"C{i}", company=company,
                                       search_text=_search_text(f"C{i}", None, company))
                               for i, company in enumerate(companies)])
    from tortoise import connections

    # NULL is the smallest value on SQLite (first ascending), the largest on PostgreSQL
    nulls_first_ascending = connections.get("default").capabilities.dialect != "postgres"
    for query in ("sort=company", "sort=company&order=desc"):
        path = f"/api/contacts?{query}"
        listed = await by_offset(api, path, "contacts")
        nulls_first = nulls_first_ascending == query.endswith("company")
        assert [c["company"] for c in listed] == ([None] * 4 if nulls_first else []) + sorted(
            (c for c in companies if c is not None), reverse=query.endswith("desc")) + ([] if nulls_first else [None] * 4)
        for limit in (1, 2, 3, 4):
            walked = await walk(api, path, "contacts", limit=limit)
            assert ids(walked) == ids(listed), (query, limit)


async def test_null_sort_keys_descending(api, admin):
    """Conversations by their latest message, newest first; some without one (NULL)."""
    leads = [await api.lead(name=f"L{i}") for i in range(7)]
    for lead in leads:
        await api.message(lead["id"], "hi")
    await Conversation.filter(org_id=admin.org_id, lead_id__in=[lead["id"] for lead in leads[1:6:2]]).update(
        last_message_at=None)
    await Conversation.filter(org_id=admin.org_id, lead_id__in=[lead["id"] for lead in leads[4:]]).update(
        last_message_at=MOMENT)  # leads[5]'s stays NULL
    listed = await by_offset(api, "/api/conversations", "conversations")
    assert len(listed) == 7
    for limit in (1, 2, 3, 7):
        walked = await walk(api, "/api/conversations", "conversations", limit=limit)
        assert ids(walked) == ids(listed), limit
    walked = await walk(api, "/api/conversations?status=active", "conversations", limit=2)
    assert ids(walked) == ids(listed)


async def test_filters_and_search_with_cursors(api, admin):
    await same_moment_leads(admin.org_id, 6, status="qualified")
    await same_moment_leads(admin.org_id, 4, status="lost")
    for query in ("status=qualified", "status=lost", "search=tie%200", "search=ti"):
        path = f"/api/leads?{query}"
        assert ids(await walk(api, path, "leads", limit=4)) == ids(await by_offset(api, path, "leads")), query


# -- totals ----------------------------------------------------------------------------------------


async def test_totals_only_when_asked_on_cursor_pages(api):
    for i in range(4):
        await api.lead(name=f"L{i}")
    response, body = await api.request("GET", "/api/leads?cursor=&limit=3&total=true")
    assert body["total"] == 4 and response.headers["X-Total-Count"] == "4"
    response, body = await api.request("GET", f"/api/leads?limit=3&total=1&cursor={body['pagination']['nextCursor']}")
    assert body["total"] == 4 and len(body["leads"]) == 1 and response.headers["X-Total-Count"] == "4"
    # offset pages count unless told not to; hasMore does not need the count
    response, body = await api.request("GET", "/api/leads?limit=3&total=false")
    assert body["total"] is None and "X-Total-Count" not in response.headers
    assert body["pagination"] == {"limit": 3, "offset": 0, "hasMore": True}
    body = await api.get("/api/leads?limit=3&offset=3&total=false")
    assert body["pagination"] == {"limit": 3, "offset": 3, "hasMore": False} and len(body["leads"]) == 1
    body = await api.get("/api/leads?limit=3&offset=1")
    assert body["total"] == 4 and body["pagination"] == {"limit": 3, "offset": 1, "hasMore": False}


async def test_offset_pages_are_unchanged(api):
    for i in range(3):
        await api.lead(name=f"L{i}")
    response, body = await api.request("GET", "/api/leads?limit=2")
    assert body["total"] == 3 and body["pagination"] == {"limit": 2, "offset": 0, "hasMore": True}
    assert (response.headers["X-Total-Count"], response.headers["X-Page"]) == ("3", "1")
    assert "Link" not in response.headers


# -- changes between pages -------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_rows_added_and_removed_between_pages(api, admin, order):
    """No row listed twice, and every row that existed before the first page and still exists
    is listed, whatever is inserted or deleted between pages (also rows at the same instant)."""
    before = [await api.lead(name=f"Before {i}") for i in range(6)] + [
        {"id": str(lead.id)} for lead in await same_moment_leads(admin.org_id, 6)]
    path = f"/api/leads?order={order}&limit=4"
    page = await api.get(f"{path}&cursor=")
    listed = ids(page["leads"])
    deleted = set()
    added = 0
    while page["pagination"]["nextCursor"]:
        # between pages: new rows (now, and at the tied instant) and deletions on both sides of the cursor
        await api.lead(name=f"During {added}")
        await same_moment_leads(admin.org_id, 1)
        added += 1
        remaining = [lead["id"] for lead in before if lead["id"] not in listed and lead["id"] not in deleted]
        for victim in (remaining[-1:] if remaining else []) + listed[-1:]:
            await Lead.filter(id=victim).delete()
            deleted.add(victim)
        page = await api.get(f"{path}&cursor={page['pagination']['nextCursor']}")
        listed += ids(page["leads"])
    assert len(listed) == len(set(listed))
    assert {lead["id"] for lead in before} - deleted <= set(listed)
    assert added >= 2


# -- cursors that are refused ----------------------------------------------------------------------


async def next_cursor(api, path: str) -> str:
    separator = "&" if "?" in path else "?"
    cursor = (await api.get(f"{path}{separator}cursor=&limit=1"))["pagination"]["nextCursor"]
    assert cursor
    return cursor


async def test_a_changed_cursor_is_400(api):
    for i in range(3):
        await api.lead(name=f"L{i}")
    cursor = await next_cursor(api, "/api/leads")
    payload, signature = cursor.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for bad in (flipped + "." + signature, payload + "." + signature[::-1], payload, payload + ".", "." + signature,
                cursor[:-1], cursor + "x", "abc", "a.b", "%00", "eyJvIjoiLWNyZWF0ZWRfYXQsLWlkIiwidiI6W119.AAAA",
                "x" * 1025):
        error = await api.error("GET", f"/api/leads?limit=1&cursor={quote(bad)}", field="cursor")
        assert error["details"]["reason"]


async def test_a_cursor_for_another_sort_or_order_is_400(api):
    for i in range(3):
        await api.lead(name=f"L{i}")
    cursor = await next_cursor(api, "/api/leads")  # createdAt, desc
    for query in ("order=asc", "sort=name", "sort=name&order=desc", "sort=value"):
        error = await api.error("GET", f"/api/leads?{query}&cursor={cursor}", field="cursor")
        assert "sort" in error["details"]["reason"]
    assert (await api.get(f"/api/leads?order=desc&limit=1&cursor={cursor}"))["leads"]  # the same sort, spelled out


async def test_a_cursor_of_another_organization_is_400_and_shows_nothing(api, other_api):
    for i in range(3):
        await api.lead(name=f"Mine {i}")
        await other_api.lead(name=f"Theirs {i}")
    theirs = await next_cursor(other_api, "/api/leads")
    await api.error("GET", f"/api/leads?cursor={theirs}", field="cursor")
    mine = await next_cursor(api, "/api/leads")
    await other_api.error("GET", f"/api/leads?cursor={mine}", field="cursor")


async def test_a_cursor_of_another_list_is_400(api):
    lead = await api.lead(name="L")
    other = await api.lead(name="M")
    for text in ("a", "b"):
        await api.message(lead["id"], text)
        await api.message(other["id"], text)
    await api.contact(name="A")
    await api.contact(name="B")
    contacts = await next_cursor(api, "/api/contacts")
    await api.error("GET", f"/api/leads?cursor={contacts}", field="cursor")
    messages = await next_cursor(api, f"/api/messages/{lead['id']}")
    await api.error("GET", f"/api/messages/{other['id']}?cursor={messages}", field="cursor")
    assert (await api.get(f"/api/messages/{lead['id']}?cursor={messages}"))["messages"]


@pytest.mark.parametrize("query", ["cursor=&offset=0", "cursor=&offset=2", "cursor={cursor}&offset=1"])
async def test_cursor_and_offset_together_is_400(api, query):
    for i in range(3):
        await api.lead(name=f"L{i}")
    cursor = await next_cursor(api, "/api/leads")
    error = await api.error("GET", "/api/leads?" + query.format(cursor=cursor), field="cursor")
    assert "offset" in error["details"]["reason"]


@pytest.mark.parametrize("path", ["/api/leads", "/api/contacts", "/api/companies", "/api/conversations"])
async def test_bad_cursor_parameters_on_every_list(module_api, path):
    await module_api.error("GET", f"{path}?cursor=not-a-cursor", field="cursor")
    await module_api.error("GET", f"{path}?cursor=&offset=1", field="cursor")
    await module_api.error("GET", f"{path}?cursor=&total=maybe", field="total")


# -- the other lists -------------------------------------------------------------------------------


async def test_contacts_companies_conversations_and_messages_by_cursor(api, admin):
    for i in range(5):
        await api.contact(name=f"Person {i % 2}", company=f"Co {i % 3}")
        await api.company(name=f"Company {i % 2}")
    for query in ("", "sort=name", "sort=company&order=desc", "search=person", "search=co 1"):
        path = f"/api/contacts?{query}"
        assert ids(await walk(api, path, "contacts", limit=2)) == ids(await by_offset(api, path, "contacts"))
    for query in ("", "search=company"):
        path = f"/api/companies?{query}"
        assert ids(await walk(api, path, "companies", limit=2)) == ids(await by_offset(api, path, "companies"))

    leads = [await api.lead(name=f"L{i}") for i in range(5)]
    for lead in leads:
        await api.message(lead["id"], "hi")
    # conversations by the latest message, at the same instant for some of them
    await Conversation.filter(org_id=admin.org_id, lead_id__in=[lead["id"] for lead in leads[:3]]).update(
        last_message_at=MOMENT)
    walked = await walk(api, "/api/conversations", "conversations", limit=2)
    assert ids(walked) == ids(await by_offset(api, "/api/conversations", "conversations")) and len(walked) == 5
    assert set(walked[0]) == {"id", "leadId", "leadName", "lastMessage", "unreadCount", "status"}

    await Message.bulk_create([Message(org_id=admin.org_id, lead_id=leads[0]["id"], content=f"m{i}", sender="lead",
                                       created_at=MOMENT + timedelta(seconds=i // 3)) for i in range(7)])
    path = f"/api/messages/{leads[0]['id']}"
    walked = await walk(api, path, "messages", limit=3)
    assert ids(walked) == ids(await by_offset(api, path, "messages")) and len(walked) == 8


async def test_companies_of_the_same_name_by_cursor(api, admin):
    await Company.bulk_create([Company(org_id=admin.org_id, name="Same") for _ in range(5)])
    walked = await walk(api, "/api/companies", "companies", limit=2)
    assert len(set(ids(walked))) == 5 and ids(walked) == ids(await by_offset(api, "/api/companies", "companies"))


async def test_contact_search_pages_by_cursor_whether_matches_are_few_or_many(api, admin):
    from plugins.crm.service import FEW_MATCHES

    rows = [(f"Walker {i:05d}", f"w{i}@many.io", f"Co {i % 7}") for i in range(FEW_MATCHES + 5)]
    rows += [(f"Rare {i:02d}", f"r{i}@few.io", "Co 3") for i in range(7)]
    await Contact.bulk_create([Contact(org_id=admin.org_id, name=n, email=e, company=c, search_text=_search_text(n, e, c))
                               for n, e, c in rows])
    for term, expected in (("few.io", 7), ("many.io", FEW_MATCHES + 5), ("wa", FEW_MATCHES + 5)):
        for order in ("asc", "desc"):
            walked = await walk(api, f"/api/contacts?search={term}&sort=name&order={order}", "contacts", limit=100)
            names = [c["name"] for c in walked]
            assert len(names) == expected and names == sorted(names, reverse=order == "desc"), (term, order)
        counted = await api.get(f"/api/contacts?search={term}&cursor=&total=true&limit=1")
        assert counted["total"] == expected


async def test_a_uuid_shaped_org_mixup_cannot_page_into_another_organization(api, other_api, admin, other_admin):
    """Cursors carry sort values only: the rows always come from the caller's organization."""
    await same_moment_leads(other_admin.org_id, 4)
    await same_moment_leads(admin.org_id, 4)
    mine = {str(lead.id) for lead in await Lead.filter(org_id=admin.org_id)}
    walked = await walk(api, "/api/leads", "leads", limit=1)
    assert set(ids(walked)) == mine
    assert uuid.UUID(walked[0]["id"])

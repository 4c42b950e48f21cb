"""Leads: `search` (name, email or company) and `sort`/`order`, as contacts have them."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from core.testing import register_and_login
from tests.plugins.crm.support import CrmApi


@pytest.fixture(scope="module")
async def sales(module_api):
    """An organization's leads for the search and sort cases (created in this order)."""
    rows = [
        ("Bravo Jones", "bravo@acme.io", "Acme Corp", 500, "qualified"),
        ("Alpha Smith", "alpha@globex.com", "Globex", 2500, "new"),
        ("Charlie 100% Day", "charlie@pct.io", "Initech", 1000, "contacted"),
        ("Delta a_b", "delta@under.io", None, 0, "lost"),
    ]
    for name, email, company, value, status in rows:
        await module_api.lead(name=name, email=email, company=company, value=value, status=status)
    return module_api


async def names(api, query: str) -> list[str]:
    body = await api.get(f"/api/leads?{query}")
    assert body["total"] == len(body["leads"])
    return [lead["name"] for lead in body["leads"]]


@pytest.mark.parametrize("term, expected", [
    ("alpha", ["Alpha Smith"]),                 # name
    ("SMITH", ["Alpha Smith"]),                 # any case
    ("bravo@acme", ["Bravo Jones"]),            # email
    ("globex", ["Alpha Smith"]),                # company
    ("  initech  ", ["Charlie 100% Day"]),      # surrounding blanks ignored
    ("100%", ["Charlie 100% Day"]),             # % is literal
    ("a_b", ["Delta a_b"]),                     # _ is literal
    (".io", ["Bravo Jones", "Charlie 100% Day", "Delta a_b"]),
    ("nobody", []),
])
async def test_search_name_email_company(sales, term, expected):
    assert await names(sales, f"search={quote(term)}&sort=name") == expected


async def test_search_combines_with_filters_and_pages(sales):
    assert await names(sales, "search=.io&status=qualified") == ["Bravo Jones"]
    body = await sales.get("/api/leads?search=.io&sort=name&limit=2&offset=1")
    assert [lead["name"] for lead in body["leads"]] == ["Charlie 100% Day", "Delta a_b"]
    assert body["total"] == 3 and body["pagination"] == {"limit": 2, "offset": 1, "hasMore": False}
    assert await names(sales, "search=&sort=name") == ["Alpha Smith", "Bravo Jones", "Charlie 100% Day", "Delta a_b"]


async def test_sort_and_order(sales):
    assert await names(sales, "") == ["Delta a_b", "Charlie 100% Day", "Alpha Smith", "Bravo Jones"]  # newest first
    assert await names(sales, "sort=createdAt&order=asc") == [
        "Bravo Jones", "Alpha Smith", "Charlie 100% Day", "Delta a_b"]
    assert await names(sales, "sort=name") == ["Alpha Smith", "Bravo Jones", "Charlie 100% Day", "Delta a_b"]
    assert await names(sales, "sort=name&order=desc") == ["Delta a_b", "Charlie 100% Day", "Bravo Jones", "Alpha Smith"]
    assert await names(sales, "sort=value") == ["Delta a_b", "Bravo Jones", "Charlie 100% Day", "Alpha Smith"]
    assert await names(sales, "sort=value&order=desc") == [
        "Alpha Smith", "Charlie 100% Day", "Bravo Jones", "Delta a_b"]
    assert await names(sales, "sort=status") == ["Charlie 100% Day", "Delta a_b", "Alpha Smith", "Bravo Jones"]


@pytest.fixture(scope="module")
async def tied(app):
    """An organization of its own with seven leads alike in every sort key."""
    client = app.test_client()
    api = CrmApi.of(client, await register_and_login(client, organization_name="Tied"))
    for _ in range(7):
        await api.lead(name="Same Name", value=10)
    return api


@pytest.mark.parametrize("sort", ["name", "value", "status"])
async def test_ties_are_broken_stably_across_pages(tied, sort):
    async def ids(query: str) -> list[str]:
        return [lead["id"] for lead in (await tied.get(f"/api/leads?sort={sort}&{query}"))["leads"]]

    pages = [await ids(f"limit=3&offset={offset}") for offset in (0, 3, 6)]
    assert sum(pages, []) == await ids("") and len(set(sum(pages, []))) == 7


@pytest.mark.parametrize("query, field", [
    ("sort=email", "sort"), ("sort=created_at", "sort"), ("sort=", "sort"),
    ("order=up", "order"), ("order=DESC", "order"),
    ("search=" + "x" * 201, "search"),
])
async def test_bad_search_and_sort_are_400_naming_them(module_api, query, field):
    await module_api.error("GET", f"/api/leads?{query}", field=field)

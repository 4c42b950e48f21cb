"""Pagination (core/http/pagination.py) through real list routes: `/api/v1/keys` (skip/limit,
seed 002), `/api/v1/tenant/members` and `/api/example/notes` (limit/offset, seed 004); the
list helper (`Page.fetch`); and the query models of lists (core/http/query.py): unknown or
invalid parameters of a core, a CRM and a recommender list."""

from __future__ import annotations

import re
import uuid

import pytest

from core.kernel.errors import HubError
from core.http.pagination import Page, paginate
from tests.helpers import add_member, assert_error, create_key, register_and_login


def page_headers(response) -> tuple[int, int, int]:
    return (
        int(response.headers["X-Total-Count"]),
        int(response.headers["X-Page"]),
        int(response.headers["X-Per-Page"]),
    )


async def get_ok(client, account, url):
    response = await client.get(url, headers=account.headers)
    body = await response.get_json()
    assert response.status_code == 200, body
    return response, body


async def make_notes(account, count: int) -> None:
    """Rows straight into the example plugin's table: quicker than `count` POSTs."""
    from hub_example_plugin.models import ExampleNote

    await ExampleNote.bulk_create([
        ExampleNote(org_id=uuid.UUID(account.org_id), author_id=uuid.UUID(account.user_id), text=f"note {i:04d}")
        for i in range(count)
    ])


@pytest.fixture(scope="module")
async def reader(app):
    """One account for the read-only checks (registering costs a password hash)."""
    return await register_and_login(app.test_client())


# -- skip / limit -------------------------------------------------------------------------------


async def test_keys_skip_and_limit(client, admin):
    for _ in range(5):
        await create_key(client, admin)
    response, everything = await get_ok(client, admin, "/api/v1/keys")
    assert page_headers(response)[0] == 5
    assert len(everything) == 5

    seen = []
    for skip, expected_len, expected_page in ((0, 2, 1), (2, 2, 2), (4, 1, 3)):
        response, body = await get_ok(client, admin, f"/api/v1/keys?skip={skip}&limit=2")
        assert len(body) == expected_len
        assert page_headers(response) == (5, expected_page, 2)
        seen += [key["id"] for key in body]
    assert seen == [key["id"] for key in everything]  # pages tile the list, in order, no repeats


async def test_keys_default_limit_is_capped(client, admin, settings):
    await create_key(client, admin)
    response, _ = await get_ok(client, admin, "/api/v1/keys")
    assert page_headers(response)[2] == min(100, settings.pagination.max_limit)


async def test_total_counts_only_the_callers_organization(client, admin, other_admin):
    for _ in range(3):
        await create_key(client, other_admin)
    await create_key(client, admin)
    response, body = await get_ok(client, admin, "/api/v1/keys")
    assert page_headers(response)[0] == 1 and len(body) == 1


async def test_api_keys_seed_003_list_uses_offset(client, admin):
    for _ in range(3):
        await create_key(client, admin)
    response, body = await get_ok(client, admin, "/api/v1/api-keys?limit=2&offset=2")
    assert len(body["keys"]) == 1
    assert page_headers(response) == (3, 2, 2)


# -- limit / offset -----------------------------------------------------------------------------


async def test_members_limit_and_offset(client, admin):
    await add_member(client, admin, "developer")
    await add_member(client, admin, "viewer")
    response, body = await get_ok(client, admin, "/api/v1/tenant/members?limit=2")
    assert len(body["members"]) == 2 and body["total"] == 3
    assert page_headers(response) == (3, 1, 2)
    first_page = [m["id"] for m in body["members"]]
    response, body = await get_ok(client, admin, "/api/v1/tenant/members?limit=2&offset=2")
    assert len(body["members"]) == 1 and body["total"] == 3
    assert page_headers(response) == (3, 2, 2)
    assert body["members"][0]["id"] not in first_page


async def test_notes_limit_offset_and_default(client, admin, settings):
    await make_notes(admin, 7)
    response, body = await get_ok(client, admin, "/api/example/notes?limit=3&offset=3")
    assert [n["text"] for n in body["notes"]] == ["note 0003", "note 0004", "note 0005"]
    assert body["total"] == 7
    assert page_headers(response) == (7, 2, 3)
    response, body = await get_ok(client, admin, "/api/example/notes")
    assert len(body["notes"]) == 7
    assert page_headers(response) == (7, 1, settings.pagination.default_limit)


async def test_unaligned_offset_reports_the_page_it_starts_in(client, admin):
    await make_notes(admin, 7)
    response, body = await get_ok(client, admin, "/api/example/notes?limit=3&offset=4")
    assert [n["text"] for n in body["notes"]] == ["note 0004", "note 0005", "note 0006"]
    assert page_headers(response) == (7, 2, 3)


async def test_limit_is_capped_at_max_limit(client, admin, settings):
    max_limit = settings.pagination.max_limit
    await make_notes(admin, max_limit + 5)
    for limit in (max_limit + 1, 10_000, 10**30):
        response, body = await get_ok(client, admin, f"/api/example/notes?limit={limit}")
        assert len(body["notes"]) == max_limit
        assert page_headers(response) == (max_limit + 5, 1, max_limit)
    response, body = await get_ok(client, admin, f"/api/example/notes?limit={max_limit}&offset={max_limit}")
    assert len(body["notes"]) == 5


@pytest.mark.parametrize(
    ("url", "items"),
    [
        ("/api/example/notes?offset=1000", "notes"),
        ("/api/v1/tenant/members?offset=50", "members"),
        ("/api/v1/keys?skip=1000", None),
    ],
)
async def test_offset_past_the_end_is_empty_with_total(client, admin, url, items):
    await make_notes(admin, 2)
    await create_key(client, admin)
    response, body = await get_ok(client, admin, url)
    listed = body[items] if items else body
    assert listed == []
    total = page_headers(response)[0]
    assert total == {"notes": 2, "members": 1, None: 1}[items]
    if items and "total" in body:
        assert body["total"] == total


async def test_offset_at_the_largest_integer_is_still_empty(client, admin):
    await make_notes(admin, 1)
    response, body = await get_ok(client, admin, f"/api/example/notes?offset={2**63 - 1}")
    assert body["notes"] == [] and body["total"] == 1


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/example/notes?offset=100000000000000000000000000000", "offset"),
        ("/api/v1/keys?skip=99999999999999999999999", "skip"),
        ("/api/v1/tenant/members?offset=9223372036854775808", "offset"),
    ],
)
async def test_offset_beyond_any_database_is_400_not_500(client, reader, url, field):
    response = await client.get(url, headers=reader.headers)
    body = await response.get_json()
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == field


# -- bad values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/keys?limit=abc", "limit"),
        ("/api/v1/keys?limit=0", "limit"),
        ("/api/v1/keys?limit=-5", "limit"),
        ("/api/v1/keys?limit=2.5", "limit"),
        ("/api/v1/keys?skip=-1", "skip"),
        ("/api/v1/keys?skip=one", "skip"),
        ("/api/v1/tenant/members?limit=0", "limit"),
        ("/api/v1/tenant/members?offset=-1", "offset"),
        ("/api/v1/tenant/members?offset=1e3", "offset"),
        ("/api/example/notes?limit=ten", "limit"),
        ("/api/example/notes?limit=-1", "limit"),
        ("/api/example/notes?offset=x", "offset"),
        # the query models of a core, a CRM and a recommender list
        ("/api/v1/jobs?status=running,sleeping", "status"),
        ("/api/v1/jobs?type=" + "t" * 101, "type"),
        ("/api/leads?sort=email", "sort"),
        ("/api/leads?order=sideways", "order"),
        ("/api/leads?companyId=not-a-uuid", "companyId"),
        ("/api/v1/items?limit=many", "limit"),
        ("/api/v1/items?offset=-1", "offset"),
        ("/api/v1/recommender/models?limit=0", "limit"),
    ],
)
async def test_bad_values_are_400_naming_the_parameter(client, reader, url, field):
    response = await client.get(url, headers=reader.headers)
    body = await response.get_json()
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"] == field
    assert body["error"]["details"]["reason"]
    assert [problem["field"] for problem in body["error"]["details"]["errors"]] == [field]
    assert "X-Total-Count" not in response.headers


async def test_empty_values_mean_the_defaults(client, admin, settings):
    await make_notes(admin, 2)
    response, body = await get_ok(client, admin, "/api/example/notes?limit=&offset=")
    assert len(body["notes"]) == 2
    assert page_headers(response) == (2, 1, settings.pagination.default_limit)


# -- the helper's page style (no route uses it yet) ---------------------------------------------


async def test_page_style(app):
    async with app.test_request_context("/anything", query_string={"page": "3", "limit": "10"}):
        page = paginate("page")
    assert page == Page(offset=20, limit=10)
    assert page.number == 3
    assert page.has_more(31) and not page.has_more(30)
    assert page.info(31) == {"limit": 10, "offset": 20, "has_more": True}
    assert page.info(31, camel=True) == {"limit": 10, "offset": 20, "hasMore": True}  # camelCase APIs (seed 004)


@pytest.mark.parametrize("value", ["0", "-2", "x", str(2**63), str(2**62)])  # 2**62 pages of 10: past any offset
async def test_bad_page_is_400_naming_page(app, value):
    async with app.test_request_context("/anything", query_string={"page": value, "limit": "10"}):
        with pytest.raises(HubError) as caught:
            paginate("page")
    assert caught.value.code == "VALIDATION_ERROR"
    assert caught.value.details["field"] == "page"


async def test_page_style_respects_max_limit(app, settings):
    async with app.test_request_context("/anything", query_string={"page": "2", "limit": "100000"}):
        page = paginate("page")
    assert page == Page(offset=settings.pagination.max_limit, limit=settings.pagination.max_limit)


async def test_unknown_style_is_a_programming_error(app):
    async with app.test_request_context("/anything"):
        with pytest.raises(ValueError):
            paginate("cursor")


async def test_paginate_reads_only_its_own_parameters(app, settings):
    """A route without a query model of its own (a plugin's) may read others by hand."""
    async with app.test_request_context("/anything", query_string={"offset": "5", "limit": "", "q": "x"}):
        assert paginate("offset") == Page(offset=5, limit=settings.pagination.default_limit)


# -- the list helper ------------------------------------------------------------------------------


@pytest.mark.parametrize(("ordering", "expected"), [
    (("-created_at",), '"created_at" DESC,"id" DESC'),
    (("text",), '"text" ASC,"id" ASC'),
    (("-created_at", "text"), '"created_at" DESC,"text" ASC,"id" ASC'),  # the last key's direction
    (("-id",), '"id" DESC'),  # already unique: no second id
])
async def test_window_breaks_ties_by_id(app, ordering, expected):
    from hub_example_plugin.models import ExampleNote

    sql = Page(offset=4, limit=2).window(ExampleNote.all(), *ordering).sql(params_inline=True)
    assert re.search(r"ORDER BY (.*) LIMIT 2 OFFSET 4", sql).group(1) == expected, sql


async def test_fetch_counts_and_pages(admin):
    from hub_example_plugin.models import ExampleNote

    await make_notes(admin, 5)
    notes = ExampleNote.for_org(admin.org_id)
    rows, total = await Page(offset=3, limit=10).fetch(notes, "text", values=("text",))
    assert total == 5 and rows == [{"text": "note 0003"}, {"text": "note 0004"}]
    rows, total = await Page(offset=5, limit=10).fetch(notes, "text")
    assert (rows, total) == ([], 5)


# -- query parameters of lists ----------------------------------------------------------------------


@pytest.mark.parametrize(("url", "allowed"), [
    ("/api/v1/jobs?state=running", ["job_type", "limit", "offset", "status", "type"]),
    ("/api/leads?serach=acme", ["companyId", "cursor", "limit", "offset", "order", "search", "sort", "source",
                                "status", "total"]),  # cursor and total: keyset pages (CursorQuery)
    ("/api/v1/items?categroy=books", ["category", "limit", "offset"]),
    ("/api/v1/keys?offset=2", ["limit", "skip"]),  # seed 002 pages with skip
    ("/api/example/notes?limit=2&sort=text", ["limit", "offset"]),
])
async def test_unknown_query_parameter_is_400_naming_the_allowed_ones(client, reader, url, allowed):
    response = await client.get(url, headers=reader.headers)
    body = await response.get_json()
    assert_error(response.status_code, body, 400, "VALIDATION_ERROR")
    unknown = next(name for name in (pair.split("=")[0] for pair in url.split("?")[1].split("&"))
                   if name not in allowed)
    assert body["error"]["details"]["field"] == unknown
    assert body["error"]["details"]["allowed"] == allowed
    assert "X-Total-Count" not in response.headers


async def test_comma_separated_and_repeated_values_are_one_list(client, admin):
    for query in ("status=pending,running", "status=pending&status=running", "status=%20pending%20,,running,"):
        response = await client.get(f"/api/v1/jobs?{query}", headers=admin.headers)
        assert response.status_code == 200, await response.get_json()


# -- keyset (cursor) pages ----------------------------------------------------------------------------

from datetime import datetime, timedelta, timezone  # noqa: E402
from functools import cmp_to_key  # noqa: E402
from itertools import product  # noqa: E402

from tortoise.expressions import Q  # noqa: E402

from core.http.pagination import CursorQuery, after, decode_cursor, encode_cursor  # noqa: E402


def holds(condition: Q, row: dict) -> bool:
    """`condition` (as `after` builds it) evaluated on a row in Python, with SQL's NULLs: a
    comparison with NULL is not true."""
    results = []
    for name, value in condition.filters.items():
        column, _, operator = name.partition("__")
        have = row[column]
        if operator == "isnull":
            results.append((have is None) == value)
        elif have is None:
            results.append(False)
        else:
            results.append({"": have == value, "gt": have > value, "lt": have < value,
                            "gte": have >= value, "lte": have <= value}[operator])
    results += [holds(child, row) for child in condition.children]
    return any(results) if condition.join_type == Q.OR else all(results)


def database_order(rows: list[dict], ordering: tuple[str, ...], nulls_first_ascending: bool) -> list[dict]:
    def compare(a, b):
        for key in ordering:
            column, descending = key.lstrip("-"), key.startswith("-")
            x, y = a[column], b[column]
            if x == y:
                continue
            if x is None or y is None:  # NULL is the smallest value (SQLite) or the largest (PostgreSQL)
                smaller = (x is None) == nulls_first_ascending
            else:
                smaller = x < y
            return (1 if smaller else -1) if descending else (-1 if smaller else 1)
        return 0

    return sorted(rows, key=cmp_to_key(compare))


@pytest.mark.parametrize("nulls_first_ascending", [True, False])
@pytest.mark.parametrize("ordering", [
    ("company", "id"), ("-company", "-id"), ("name", "id"), ("-name", "-id"),
    ("company", "-name", "-id"), ("-company", "name", "id"),
])
def test_after_is_exactly_the_rows_that_follow(ordering, nulls_first_ascending):
    """For every row of a list with ties and NULLs, `after(its values)` holds for exactly the
    rows after it in the database's order, wherever the database puts NULLs."""
    rows = [{"id": i, "name": name, "company": company}
            for i, (name, company) in enumerate(product(["a", "b", "b"], [None, "x", "y", None]))]
    ordered = database_order(rows, ordering, nulls_first_ascending)
    for position, row in enumerate(ordered):
        condition = after(ordering, [row[key.lstrip("-")] for key in ordering], nulls_first_ascending, {"company"})
        assert [r["id"] for r in ordered if holds(condition, r)] == [r["id"] for r in ordered[position + 1:]], (
            position, row)


def test_after_bounds_the_first_key_for_the_index():
    from hub_example_plugin.models import ExampleNote

    moment = datetime(2024, 1, 1, tzinfo=timezone.utc)
    sql = ExampleNote.filter(after(("-created_at", "-id"), [moment, "x"])).sql(params_inline=True)
    where = sql.split("WHERE ", 1)[1]
    assert where.startswith('"created_at"<=') and '"created_at"<' in where and '"id"<' in where, sql


async def test_cursors_round_trip_typed_values(app):
    import uuid as uuid_module
    from decimal import Decimal

    values = [datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc), "Ñame \"quoted\"", 1.5, 7, None, True,
              Decimal("1.10"), uuid_module.uuid4()]
    ordering = tuple(f"k{i}" for i in range(len(values)))
    async with app.test_request_context("/api/things"):
        cursor = encode_cursor(ordering, values)
        assert decode_cursor(cursor, ordering) == values
        assert all(type(a) is type(b) for a, b in zip(decode_cursor(cursor, ordering), values))


@pytest.mark.parametrize("change", ["payload", "signature", "ordering", "path", "cut"])
async def test_a_cursor_is_refused_when_anything_about_it_changed(app, change):
    ordering = ("-created_at", "-id")
    async with app.test_request_context("/api/things"):
        cursor = encode_cursor(ordering, [datetime(2024, 1, 1, tzinfo=timezone.utc), "id-1"])
    payload, signature = cursor.split(".")
    path = "/api/things"
    if change == "payload":
        cursor = encode_cursor.__globals__["_b64"](b'{"o":"-created_at,-id","v":[["n",null],["s","id-0"]]}') + "." + signature
    elif change == "signature":
        cursor = payload + "." + signature[:-1] + ("A" if signature[-1] != "A" else "B")
    elif change == "ordering":
        ordering = ("created_at", "id")
    elif change == "path":
        path = "/api/other-things"
    else:
        cursor = cursor[: len(payload) // 2]
    async with app.test_request_context(path):
        with pytest.raises(HubError) as caught:
            decode_cursor(cursor, ordering)
    assert caught.value.code == "VALIDATION_ERROR" and caught.value.details["field"] == "cursor"
    assert ("sort" in caught.value.details["reason"]) == (change == "ordering")


async def test_cursor_query_pages(app, settings):
    async with app.test_request_context("/anything", query_string={"cursor": "", "limit": "5"}):
        page = paginate("offset")  # paginate() knows no cursors: a route opts in with CursorQuery
    assert page == Page(offset=0, limit=5) and not page.keyset
    for query, expected in [
        ({"cursor": ""}, Page(0, settings.pagination.default_limit, cursor="")),
        ({"cursor": "  ", "total": "true"}, Page(0, settings.pagination.default_limit, cursor="", count=True)),
        ({"cursor": "abc", "limit": "3"}, Page(0, 3, cursor="abc")),
        ({"offset": "4", "total": "false"}, Page(4, settings.pagination.default_limit, count=False)),
        ({"offset": "", "cursor": "abc"}, Page(0, settings.pagination.default_limit, cursor="abc")),
    ]:
        async with app.test_request_context("/anything", query_string=query):
            from core.http.query import parse_query

            assert parse_query(CursorQuery).page() == expected, query
    async with app.test_request_context("/anything", query_string={"cursor": "abc", "offset": "0"}):
        with pytest.raises(HubError) as caught:
            parse_query(CursorQuery).page()
    assert caught.value.details["field"] == "cursor"


async def notes_in_one_instant(account, count: int):
    from hub_example_plugin.models import ExampleNote

    moment = datetime(2024, 3, 1, 9, 30, tzinfo=timezone.utc)
    await ExampleNote.bulk_create([
        ExampleNote(org_id=uuid.UUID(account.org_id), author_id=uuid.UUID(account.user_id), text=f"note {i % 3}",
                    created_at=moment + timedelta(microseconds=i // 4), updated_at=moment)
        for i in range(count)
    ])
    return ExampleNote.for_org(account.org_id)


@pytest.mark.parametrize("ordering", [("-created_at",), ("created_at",), ("text",), ("-text", "created_at")])
@pytest.mark.parametrize("values", [(), ("text",), ("id", "text", "created_at")])
async def test_fetch_by_cursor_walks_the_whole_list_once(app, admin, ordering, values):
    """Ties on the sort key (4 notes per microsecond, 3 texts), both directions, model
    instances or dicts, with the sort keys in `values` or not (then read and dropped)."""
    notes = await notes_in_one_instant(admin, 14)
    everything, total = await Page(0, 100).fetch(notes, *ordering)
    assert total == 14
    for limit in (1, 3, 5, 14, 20):
        walked, cursor = [], ""
        async with app.test_request_context("/api/example/notes"):
            while True:
                page = Page(0, limit, cursor=cursor)
                rows, total = await page.fetch(notes, *ordering, values=values)
                assert total is None and len(rows) <= limit
                assert all(set(row) == set(values) for row in rows) if values else True
                walked += rows
                cursor = page.found["next_cursor"]
                assert page.found["has_more"] == (cursor is not None)
                if cursor is None:
                    break
        if "id" in values or not values:
            assert [getattr(r, "id", None) or r["id"] for r in walked] == [n.id for n in everything], limit
        else:
            assert [r["text"] for r in walked] == [n.text for n in everything], limit


async def test_fetch_counts_when_asked(app, admin):
    notes = await notes_in_one_instant(admin, 5)
    async with app.test_request_context("/api/example/notes"):
        page = Page(0, 2, cursor="", count=True)
        rows, total = await page.fetch(notes, "-created_at")
        assert total == 5 and len(rows) == 2
        listing = page.listing("notes", [], total)
    assert listing.headers["X-Total-Count"] == "5" and "X-Page" not in listing.headers
    assert "Link" in listing.headers and "cursor=" in listing.headers["Link"]
    assert (await listing.get_json())["pagination"] == {"limit": 2, "offset": None, "has_more": True,
                                                        "next_cursor": page.found["next_cursor"]}
    page = Page(4, 2, count=False)
    rows, total = await page.fetch(notes, "-created_at")
    assert total is None and len(rows) == 1 and page.info(total) == {"limit": 2, "offset": 4, "has_more": False}
    rows, total = await Page(1, 2).fetch(notes, "-created_at", total=99)  # a count the caller already has
    assert total == 99 and len(rows) == 2

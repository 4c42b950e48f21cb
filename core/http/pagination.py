"""One way to list: the page a route was asked for, its rows and the response.

    class LeadQuery(OffsetQuery): ...                  # ?limit=&offset= (seed 004); SkipQuery: ?skip=&limit=
                                                       # (seed 002); PageNumberQuery: ?page=&limit= (seed 001);
                                                       # CursorQuery: ?limit=&offset= and ?cursor=&total=
    @validate_query(LeadQuery)
    async def list_leads(query_args: LeadQuery):
        page = query_args.page()                       # or paginate("offset") without a query model
        rows, total = await page.fetch(Lead.for_org(org), "-created_at", values=LEAD_FIELDS)
        return page.listing("leads", rows, total, camel=True)
        # {"leads": [...], "total": n, "pagination": {"limit", "offset", "hasMore"}} (has_more unless camel),
        # with the headers X-Total-Count, X-Page and X-Per-Page; `page.respond(body, total)` for other bodies

`limit` defaults to `[pagination] default_limit` (or the route's own default) and is capped at
`[pagination] max_limit` (a larger one is not an error); bad values are a 400 naming the parameter.

Keyset (cursor) pages, for lists whose query model is a `CursorQuery`: an offset page costs
the rows it skips (the database walks past them), a cursor page costs only its own rows.

    GET /api/leads?cursor=                  the first page; `cursor` present (even empty) asks for cursors
    -> {"leads": [...], "total": null,
        "pagination": {"limit": 50, "offset": null, "hasMore": true, "nextCursor": "eyJv...Qx"}}
       + Link: </api/leads?cursor=eyJv...Qx>; rel="next"
    GET /api/leads?cursor=eyJv...Qx         the rows after the last one of that page (nextCursor null: the end)

- The cursor is opaque: base64url of `{"o": the ordering ("-created_at,-id"), "v": the last row's
  value of each ordering key, typed}`, a ".", and an HMAC-SHA256 (hub signing key, 128 bits) of
  it bound to the organization and the path of the request. A cursor that was altered, cut,
  made by another organization or for another list (another path, another lead's messages) is a
  400 naming `cursor` (never a 500, and never another organization's rows: the rows still come
  from the route's own query); one made for another sort or order is a 400 saying so. Filters
  are not part of it: a cursor with other filters continues from the same position.
- The next page is `WHERE (key, id) after (the cursor's values)` in the direction of each key
  (`page.after`), with the id as the last key (the tiebreak `window` adds), so ties on the sort
  key neither repeat nor skip rows, rows inserted or deleted between pages shift nothing: every
  row that existed when the first page was read, and still exists, is listed exactly once
  (rows inserted behind the cursor are not, rows inserted ahead of it are). Nullable keys are
  supported: NULLs sort where the database puts them (first ascending on SQLite, last ascending
  on PostgreSQL) and the condition follows. Ordering keys must be the model's own columns
  (not `relation__field`); when `values=` leaves one out it is read for the cursor and dropped.
- `cursor` and `offset` together are a 400 (a cursor is a position already).

Totals: counting is the part of a page whose cost grows with the table (a count reads every
matching row). Offset pages count, as seed 004 asks (`total`, `X-Total-Count`), unless the client
says `?total=false`; cursor pages do not count unless it says `?total=true` (then `total` and
X-Total-Count are there, else `total` is null and the header absent). `hasMore` never needs the
count: a page reads one row more than it returns. Cursor pages have no `X-Page` (the position is
the cursor, not a number) and `offset` is null.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Collection, Sequence
from urllib.parse import urlencode
from uuid import UUID

from pydantic import Field, StringConstraints
from quart import g, has_request_context, jsonify, request
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from core.http.query import Blankable, Query, parse_query
from core.http.schemas import CamelModel, SnakeModel
from core.kernel.errors import validation_error
from core.kernel.hub import current_hub

# The largest OFFSET the databases take (a signed 64-bit integer); beyond it SQLite and
# PostgreSQL fail, which must be the client's 400, not a 500.
MAX_OFFSET = 2**63 - 1
TIEBREAK = "id"
MAX_CURSOR = 1024  # characters: a cursor holds a few sort values (a name of 200 characters at most)
CURSOR_PARAMETER = "cursor"


def _with_tiebreak(ordering: Sequence[str]) -> tuple[str, ...]:
    ordering = tuple(ordering)
    if ordering[-1].lstrip("-") != TIEBREAK:
        ordering = (*ordering, "-" + TIEBREAK if ordering[-1].startswith("-") else TIEBREAK)
    return ordering


# -- cursors -------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _typed(value: Any) -> list:
    """A sort value as JSON that says its type (a datetime must come back a datetime)."""
    if value is None:
        return ["n", None]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, float):
        return ["f", value]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, UUID):
        return ["u", str(value)]
    if isinstance(value, Decimal):
        return ["x", str(value)]
    raise TypeError(f"cannot page by a value of type {type(value).__name__}")


_UNTYPED = {
    "n": lambda v: None, "b": bool, "i": int, "f": float, "s": str, "t": datetime.fromisoformat,
    "d": date.fromisoformat, "u": UUID, "x": Decimal,
}


def _untyped(item: Any) -> Any:
    tag, value = item  # a malformed item raises, and becomes the caller's 400
    if tag == "n":
        return None
    if tag not in _UNTYPED or (tag != "b" and isinstance(value, bool)):
        raise ValueError(tag)
    return _UNTYPED[tag](value)


def _scope() -> str:
    """What a cursor is bound to: the organization and the path it was made for."""
    if not has_request_context():
        return ""
    principal = getattr(g, "principal", None)
    return f"{getattr(principal, 'org_id', '')}\x00{request.path}"


def _signature(payload: str) -> str:
    key = current_hub().signing_key.encode()
    message = f"hub.cursor\x00{_scope()}\x00{payload}".encode()
    return _b64(hmac.new(key, message, hashlib.sha256).digest()[:16])


def encode_cursor(ordering: Sequence[str], values: Sequence[Any]) -> str:
    """The opaque cursor after a row whose ordering keys (tiebreak included) have `values`."""
    payload = _b64(json.dumps({"o": ",".join(ordering), "v": [_typed(v) for v in values]},
                              separators=(",", ":")).encode())
    return f"{payload}.{_signature(payload)}"


def decode_cursor(cursor: str, ordering: Sequence[str]) -> list[Any]:
    """The values a cursor made by `encode_cursor` for this ordering holds; a 400 naming
    `cursor` for anything else (altered, cut, another organization's or list's, another sort)."""
    payload, _, signature = cursor.partition(".")
    if not payload or not hmac.compare_digest(signature.encode(), _signature(payload).encode()):
        raise validation_error(CURSOR_PARAMETER, "not a cursor of this list (use nextCursor as given)")
    try:
        body = json.loads(_unb64(payload))
        made_for, values = body["o"], [_untyped(item) for item in body["v"]]
    except (ValueError, TypeError, KeyError, ArithmeticError, binascii.Error):  # signed, yet unreadable
        raise validation_error(CURSOR_PARAMETER, "not a cursor of this list (use nextCursor as given)") from None
    if made_for != ",".join(ordering) or len(values) != len(ordering):
        raise validation_error(CURSOR_PARAMETER, "made for another sort or order: start again without it")
    return values


def after(ordering: Sequence[str], values: Sequence[Any], nulls_first_ascending: bool = True,
          nullable: Collection[str] = ()) -> Q:
    """The rows after the one whose ordering keys have `values`, in that ordering: for keys
    k1..kn, `k1 after v1 OR (k1 = v1 AND k2 after v2) OR ...`, plus `k1 >= v1` (`<=`
    descending) when that holds for every such row, so the database walks its index from the
    cursor instead of testing every row before it. The `nullable` columns may hold NULLs, which
    sort where the database puts them: first ascending (SQLite, MySQL) or last
    (`nulls_first_ascending=False`: PostgreSQL); the others never hold one."""
    branches: list[Q] = []
    equal: list[Q] = []
    bound: Q | None = None
    for position, (key, value) in enumerate(zip(ordering, values)):
        column, descending = key.lstrip("-"), key.startswith("-")
        # NULLs come after every value of this key in this direction
        nulls_after = column in nullable and nulls_first_ascending == descending
        if value is None:
            beyond = None if nulls_after else Q(**{f"{column}__isnull": False})
            same = Q(**{f"{column}__isnull": True})
        else:
            beyond = Q(**{f"{column}__{'lt' if descending else 'gt'}": value})
            if nulls_after:
                beyond = Q(beyond, Q(**{f"{column}__isnull": True}), join_type=Q.OR)
            elif position == 0:
                bound = Q(**{f"{column}__{'lte' if descending else 'gte'}": value})
            same = Q(**{column: value})
        if beyond is not None:
            branches.append(Q(*equal, beyond) if equal else beyond)
        equal.append(same)
    if not branches:  # after the last possible row: nothing (the id is never NULL, so not reached)
        return Q(**{f"{TIEBREAK}__isnull": True})
    condition = Q(*branches, join_type=Q.OR)
    return Q(bound, condition) if bound is not None else condition


# -- the page ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """The page asked for: `offset` and `limit`; with `cursor` (not None) a keyset page after
    that cursor ("": the first one); `count` whether to count all rows (None: offset pages
    do, cursor pages do not). `fetch` notes what it found (hasMore, nextCursor) for `listing`."""

    offset: int
    limit: int
    cursor: str | None = None
    count: bool | None = None
    found: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def keyset(self) -> bool:
        return self.cursor is not None

    @property
    def counts(self) -> bool:
        return self.count if self.count is not None else not self.keyset

    @property
    def number(self) -> int:
        return self.offset // self.limit + 1

    def has_more(self, total: int) -> bool:
        return self.offset + self.limit < total

    def info(self, total: int | None, *, camel: bool = False) -> dict[str, Any]:
        """The `pagination` object: {limit, offset, has_more}; for a cursor page also
        next_cursor (null on the last page) and offset null."""
        more = self.found.get("has_more")
        if more is None:
            more = self.has_more(total) if total is not None else False
        info = {"limit": self.limit, "offset": None if self.keyset else self.offset,
                "hasMore" if camel else "has_more": more}
        if self.keyset:
            info["nextCursor" if camel else "next_cursor"] = self.found.get("next_cursor")
        return info

    def window(self, query: QuerySet, *ordering: str) -> QuerySet:
        """`query` in `ordering`, ties broken by id in the direction of the last key (so pages
        neither repeat nor skip rows), cut to this page."""
        return query.order_by(*_with_tiebreak(ordering)).offset(self.offset).limit(self.limit)

    async def fetch(self, query: QuerySet, *ordering: str, values: Sequence[str] = (),
                    total: int | None = None) -> tuple[list, int | None]:
        """(this page's rows of `query`, the count of all of them or None when not counted: see
        the module's "Totals"): model instances, or dicts of `values` when given. `total`: the
        count when the caller already knows it (it is then not counted again)."""
        ordering = _with_tiebreak(ordering)
        following = self._following(query, ordering) if self.cursor else None  # a bad cursor: 400 first
        if self.counts and total is None:
            total = await query.count()
        elif not self.counts:
            total = None
        if self.keyset:
            return await self._after_cursor(query if following is None else query.filter(following),
                                            ordering, values), total
        if total is not None:
            self.found["has_more"] = self.has_more(total)
            if total <= self.offset:
                return [], total
            return await self._rows(self.window(query, *ordering), values), total
        rows = await self._rows(query.order_by(*ordering).offset(self.offset).limit(self.limit + 1), values)
        self.found["has_more"] = len(rows) > self.limit
        return rows[: self.limit], None

    def _following(self, query: QuerySet, ordering: tuple[str, ...]) -> Q:
        """The condition for the rows after this page's cursor (a 400 for a bad cursor)."""
        values = decode_cursor(self.cursor or "", ordering)
        meta = query.model._meta
        nulls_first = meta.db.capabilities.dialect != "postgres"
        nullable = {key.lstrip("-") for key in ordering if getattr(meta.fields_map.get(key.lstrip("-")), "null", True)}
        return after(ordering, values, nulls_first, nullable)

    async def _after_cursor(self, query: QuerySet, ordering: tuple[str, ...], values: Sequence[str]) -> list:
        keys = [key.lstrip("-") for key in ordering]
        missing = [key for key in keys if values and key not in values]
        rows = await self._rows(query.order_by(*ordering).limit(self.limit + 1), (*values, *missing))
        more = len(rows) > self.limit
        rows = rows[: self.limit]
        last = rows[-1] if rows else None
        read = (lambda row, key: row[key]) if values else getattr
        self.found["has_more"] = more
        self.found["next_cursor"] = encode_cursor(ordering, [read(last, key) for key in keys]) if more else None
        for row in rows if missing else ():
            for key in missing:
                del row[key]
        return rows

    @staticmethod
    async def _rows(query: QuerySet, values: Sequence[str]) -> list:
        return await (query.values(*values) if values else query)

    def cut(self, rows: Sequence) -> list:
        """This page of rows already in memory, in order."""
        return list(rows[self.offset : self.offset + self.limit])

    def listing(self, key: str, rows: list, total: int | None, *, camel: bool = False, **extra: Any):
        """The list envelope `{key: rows, "total", "pagination", **extra}` with the page headers."""
        return self.respond({key: rows, "total": total, "pagination": self.info(total, camel=camel), **extra}, total)

    def respond(self, body: Any, total: int | None, status: int = 200):
        """`body` with the page headers: X-Total-Count (when counted), X-Page (not on cursor
        pages), X-Per-Page, and `Link: <...>; rel="next"` on a cursor page that has a next one."""
        response = jsonify(body)
        response.status_code = status
        if total is not None:
            response.headers["X-Total-Count"] = str(total)
        if not self.keyset:
            response.headers["X-Page"] = str(self.number)
        response.headers["X-Per-Page"] = str(self.limit)
        following = self.found.get("next_cursor")
        if following and has_request_context():
            query = [(name, value) for name, value in request.args.items(multi=True) if name != CURSOR_PARAMETER]
            response.headers["Link"] = f'<{request.path}?{urlencode([*query, (CURSOR_PARAMETER, following)])}>; rel="next"'
        return response


class Pagination(SnakeModel):
    limit: int
    offset: int
    has_more: bool


class CamelPagination(CamelModel):
    limit: int
    offset: int
    has_more: bool


class CursorPagination(SnakeModel):
    """The `pagination` of a CursorQuery list: offset null and next_cursor on cursor pages."""

    limit: int
    offset: int | None
    has_more: bool
    next_cursor: str | None = Field(None, description="The next page's `cursor` (cursor pages only; null at the end)")


class CamelCursorPagination(CamelModel):
    """CursorPagination in camelCase (seed 004 lists): {limit, offset, hasMore, nextCursor}."""

    limit: int
    offset: int | None
    has_more: bool
    next_cursor: str | None = Field(None, description="The next page's `cursor` (cursor pages only; null at the end)")


# -- the page a request asks for ----------------------------------------------------------------

Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
ROWS_TO_SKIP = "Rows to skip"


class PageQuery(Query):
    """A list's query: its subclasses say how a page is asked for."""

    # no maximum: a larger limit is not an error, it is capped at [pagination] max_limit
    limit: Blankable[Annotated[int, Field(ge=1)]] = Field(
        None, description="Rows per page (a default per route; larger than `[pagination] max_limit` is capped)",
        json_schema_extra={"x-bounded-by": "capped at [pagination] max_limit (a setting), not refused"})

    def page(self, default_limit: int | None = None) -> Page:
        raise NotImplementedError

    def _limit(self, default_limit: int | None) -> int:
        settings = current_hub().settings.pagination
        return min(self.limit or default_limit or settings.default_limit, settings.max_limit)


class OffsetQuery(PageQuery):
    offset: Blankable[Offset] = Field(None, description=ROWS_TO_SKIP)

    def page(self, default_limit: int | None = None) -> Page:
        return Page(self.offset or 0, self._limit(default_limit))


# `?cursor=` (empty) is not "not given" but "the first page, with cursors": blanks become ""
CursorValue = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_CURSOR)]


class CursorQuery(OffsetQuery):
    """?limit=&offset= as OffsetQuery, and keyset pages: ?cursor= (empty for the first page,
    then each page's `nextCursor`), ?total=true|false (count all rows: by default offset pages
    do and cursor pages do not). A cursor with an offset is a 400."""

    cursor: CursorValue | None = Field(
        None, description="Keyset paging: empty for the first page, then the previous page's "
                          "`pagination.nextCursor` (opaque; a changed or foreign cursor is a 400). "
                          "Not with `offset`.")
    total: Blankable[bool] = Field(
        None, description="Count all matching rows into `total` and X-Total-Count (default: true "
                          "for offset pages, false for cursor pages, whose `total` is then null)")

    def page(self, default_limit: int | None = None) -> Page:
        if self.cursor is not None and self.offset is not None:
            raise validation_error(CURSOR_PARAMETER, "give either cursor or offset, not both")
        return Page(self.offset or 0, self._limit(default_limit), cursor=self.cursor, count=self.total)


class SkipQuery(PageQuery):
    skip: Blankable[Offset] = Field(None, description=ROWS_TO_SKIP)

    def page(self, default_limit: int | None = None) -> Page:
        return Page(self.skip or 0, self._limit(default_limit))


class PageNumberQuery(PageQuery):
    # `page` is the parameter; the field has another name, as `page()` is the method
    page_number: Blankable[Annotated[int, Field(ge=1, le=MAX_OFFSET)]] = Field(
        None, alias="page", description="The page, from 1")

    def page(self, default_limit: int | None = None) -> Page:
        limit = self._limit(default_limit)
        offset = ((self.page_number or 1) - 1) * limit
        if offset > MAX_OFFSET:
            raise validation_error("page", f"must be at most {MAX_OFFSET // limit + 1}")
        return Page(offset, limit)


PAGE_STYLES: dict[str, type[PageQuery]] = {"offset": OffsetQuery, "skip": SkipQuery, "page": PageNumberQuery}


def paginate(style: str = "offset", default_limit: int | None = None) -> Page:
    """The page asked for in the style of the route's seed: "offset" (?limit=&offset=), "skip"
    (?skip=&limit=) or "page" (?page=&limit=). For routes without a query model of their own;
    with one (`validate_query`), `query_args.page()` is the same."""
    if style not in PAGE_STYLES:
        raise ValueError(f"unknown pagination style {style!r}")
    return parse_query(PAGE_STYLES[style], only_declared=True).page(default_limit)

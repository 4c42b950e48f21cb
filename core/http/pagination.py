"""One way to list: the page a route was asked for, its rows and the response.

    class LeadQuery(OffsetQuery): ...                  # ?limit=&offset= (seed 004); SkipQuery: ?skip=&limit=
                                                       # (seed 002); PageNumberQuery: ?page=&limit= (seed 001)
    @validate_query(LeadQuery)
    async def list_leads(query_args: LeadQuery):
        page = query_args.page()                       # or paginate("offset") without a query model
        rows, total = await page.fetch(Lead.for_org(org), "-created_at", values=LEAD_FIELDS)
        return page.listing("leads", rows, total, camel=True)
        # {"leads": [...], "total": n, "pagination": {"limit", "offset", "hasMore"}} (has_more unless camel),
        # with the headers X-Total-Count, X-Page and X-Per-Page; `page.respond(body, total)` for other bodies

`limit` defaults to `[pagination] default_limit` (or the route's own default) and is capped at
`[pagination] max_limit` (a larger one is not an error); bad values are a 400 naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Sequence

from pydantic import Field
from quart import jsonify
from tortoise.queryset import QuerySet

from core.http.query import Blankable, Query, parse_query
from core.http.schemas import CamelModel, SnakeModel
from core.kernel.errors import validation_error
from core.kernel.hub import current_hub

# The largest OFFSET the databases take (a signed 64-bit integer); beyond it SQLite and
# PostgreSQL fail, which must be the client's 400, not a 500.
MAX_OFFSET = 2**63 - 1
TIEBREAK = "id"


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int

    @property
    def number(self) -> int:
        return self.offset // self.limit + 1

    def has_more(self, total: int) -> bool:
        return self.offset + self.limit < total

    def info(self, total: int, *, camel: bool = False) -> dict[str, Any]:
        return {"limit": self.limit, "offset": self.offset, "hasMore" if camel else "has_more": self.has_more(total)}

    def window(self, query: QuerySet, *ordering: str) -> QuerySet:
        """`query` in `ordering`, ties broken by id in the direction of the last key (so pages
        neither repeat nor skip rows), cut to this page."""
        if ordering[-1].lstrip("-") != TIEBREAK:
            ordering = (*ordering, "-" + TIEBREAK if ordering[-1].startswith("-") else TIEBREAK)
        return query.order_by(*ordering).offset(self.offset).limit(self.limit)

    async def fetch(self, query: QuerySet, *ordering: str, values: Sequence[str] = ()) -> tuple[list, int]:
        """(this page's rows of `query`, the count of all of them): model instances, or dicts of
        `values` when given."""
        total = await query.count()
        if total <= self.offset:
            return [], total
        rows = self.window(query, *ordering)
        return await (rows.values(*values) if values else rows), total

    def cut(self, rows: Sequence) -> list:
        """This page of rows already in memory, in order."""
        return list(rows[self.offset : self.offset + self.limit])

    def listing(self, key: str, rows: list, total: int, *, camel: bool = False, **extra: Any):
        """The list envelope `{key: rows, "total", "pagination", **extra}` with the page headers."""
        return self.respond({key: rows, "total": total, "pagination": self.info(total, camel=camel), **extra}, total)

    def respond(self, body: Any, total: int, status: int = 200):
        response = jsonify(body)
        response.status_code = status
        response.headers["X-Total-Count"] = str(total)
        response.headers["X-Page"] = str(self.number)
        response.headers["X-Per-Page"] = str(self.limit)
        return response


class Pagination(SnakeModel):
    limit: int
    offset: int
    has_more: bool


class CamelPagination(CamelModel):
    limit: int
    offset: int
    has_more: bool


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

"""One pagination helper for every list, whichever style its seed uses.

    page = paginate("skip")            # ?skip=&limit=   (seed 002)
    page = paginate("offset")          # ?limit=&offset= (seed 004)
    page = paginate("page")            # ?page=&limit=   (seed 001)
    rows = await query.offset(page.offset).limit(page.limit)
    return page.respond(body, total)   # sets X-Total-Count, X-Page, X-Per-Page

`limit` is capped at `[pagination] max_limit`; bad values are a 400 naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quart import jsonify, request

from core.kernel.errors import validation_error
from core.kernel.hub import current_hub


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int

    @property
    def number(self) -> int:
        return self.offset // self.limit + 1

    def has_more(self, total: int) -> bool:
        return self.offset + self.limit < total

    def info(self, total: int) -> dict[str, Any]:
        return {"limit": self.limit, "offset": self.offset, "hasMore": self.has_more(total)}

    def respond(self, body: Any, total: int, status: int = 200):
        response = jsonify(body)
        response.status_code = status
        response.headers["X-Total-Count"] = str(total)
        response.headers["X-Page"] = str(self.number)
        response.headers["X-Per-Page"] = str(self.limit)
        return response


# The largest OFFSET the databases take (a signed 64-bit integer); beyond it SQLite and
# PostgreSQL fail, which must be the client's 400, not a 500.
MAX_OFFSET = 2**63 - 1


def _int_param(name: str, default: int, minimum: int, maximum: int | None = MAX_OFFSET) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(name, "must be an integer") from None
    if value < minimum:
        raise validation_error(name, f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise validation_error(name, f"must be at most {maximum}")
    return value


def paginate(style: str = "offset", default_limit: int | None = None) -> Page:
    settings = current_hub().settings.pagination
    limit = min(_int_param("limit", default_limit or settings.default_limit, 1, None), settings.max_limit)
    if style == "skip":
        return Page(_int_param("skip", 0, 0), limit)
    if style == "offset":
        return Page(_int_param("offset", 0, 0), limit)
    if style == "page":
        return Page((_int_param("page", 1, 1, MAX_OFFSET // limit + 1) - 1) * limit, limit)
    raise ValueError(f"unknown pagination style {style!r}")

"""The request pipeline: one explicit list of stages, assembled by `core/app.py`.

A stage may act before the view (`before`, in list order), after it (`after`, in reverse
order, so the first stage sees the final response last) and when the request is torn down
(`teardown`, always, even after an error). Checks that need the caller (rate limits by user
or organization, quotas) are not stages: they are `hub.request_guards`, run by `require`
right after authentication and the permission check.

    request -> [stage.before ...] -> require: authenticate, permission, guards -> view
    response <- [stage.after ... reversed] <- view or error handler
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from quart import Quart, current_app, g, request
from quart_schema import DataSource
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE

from core.kernel import transactions
from core.kernel.errors import HubError

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# An error answered before the body was read (415, 401, 404, 413, 429, ...) leaves the rest of the
# body on the connection, and HTTP/1.1 cannot take the next request until it is gone: a body up
# to this size is read and dropped; a larger one (or a chunked one) gets `Connection: close`.
DRAIN_BYTES = 64 * 1024
DRAIN_SECONDS = 2.0


@dataclass(frozen=True)
class Stage:
    name: str
    before: Callable[[], Awaitable[None]] | None = None
    after: Callable[[Any], Awaitable[Any]] | None = None
    teardown: Callable[[BaseException | None], Awaitable[None]] | None = None


def install(app: Quart, stages: list[Stage]) -> None:
    """Run `stages` on every HTTP request of `app`."""
    befores = [stage.before for stage in stages if stage.before is not None]
    afters = [stage.after for stage in reversed(stages) if stage.after is not None]
    teardowns = [stage.teardown for stage in stages if stage.teardown is not None]

    @app.before_request
    async def _before() -> None:
        for before in befores:
            await before()

    @app.after_request
    async def _after(response):
        for after in afters:
            response = await after(response)
        return response

    @app.teardown_request
    async def _teardown(exception: BaseException | None) -> None:
        for teardown in teardowns:
            await teardown(exception)


# -- the core's own stages --------------------------------------------------------------------


async def _begin_unit_of_work() -> None:
    g.unit_of_work = transactions.begin_unit_of_work()


async def _end_unit_of_work(exception: BaseException | None) -> None:
    token = getattr(g, "unit_of_work", None)
    if token is not None:
        g.unit_of_work = None
        transactions.end_unit_of_work(token)


# What waits for the request's end (events emitted in a bare tortoise transaction: dispatched if
# it committed; core/kernel/transactions.py).
UNIT_OF_WORK_STAGE = Stage("unit_of_work", before=_begin_unit_of_work, teardown=_end_unit_of_work)


async def _assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.started = time.perf_counter()


async def _echo_request_id(response):
    response.headers["X-Request-ID"] = getattr(g, "request_id", None) or uuid.uuid4().hex
    return response


REQUEST_ID_STAGE = Stage("request_id", before=_assign_request_id, after=_echo_request_id)


JSON_AS_TEXT_ATTRIBUTE = "_hub_json_as_text"


def json_as_text(view: Callable) -> Callable:
    """A route whose JSON body its sender labels otherwise (Amazon SNS posts JSON as
    `text/plain`): documented with `document_request(Model)`, spared the 415 below; the view
    parses `await request.get_data()` itself. Put it right under the route decorator."""
    setattr(view, JSON_AS_TEXT_ATTRIBUTE, True)
    return view


async def _require_json_body() -> None:
    """A body sent to a JSON route must say it is JSON (else 415, not a confusing 400)."""
    if request.method not in ("POST", "PUT", "PATCH") or request.is_json:
        return
    # Chunked bodies have no Content-Length, so a declared non-JSON type counts too.
    if not request.content_length and not request.headers.get("Content-Type"):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    expects = getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None)
    if expects is not None and expects[1] == DataSource.JSON and not getattr(view, JSON_AS_TEXT_ATTRIBUTE, False):
        raise HubError("UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json", {"field": "Content-Type"})


JSON_BODY_STAGE = Stage("json_body", before=_require_json_body)


async def _finish_the_body(response):
    """Keep the connection usable for the client's next request (see DRAIN_BYTES)."""
    length = request.content_length
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not length and not chunked:
        return response
    if response.status_code < 400 or (length is not None and length <= DRAIN_BYTES):
        try:
            await asyncio.wait_for(request.get_data(cache=True), DRAIN_SECONDS)
            return response
        except Exception:  # too slow, too large, cut off: give up on this connection
            pass
    response.headers["Connection"] = "close"
    return response


UNREAD_BODY_STAGE = Stage("unread_body", after=_finish_the_body)


async def _refuse_nul_in_url() -> None:
    """NUL (%00) in the path or the query string: PostgreSQL cannot compare or store it."""
    if "\x00" in request.path or any("\x00" in key or "\x00" in value
                                     for key, values in request.args.lists() for value in values):
        raise HubError("VALIDATION_ERROR", "Invalid input data",
                       {"field": "url", "reason": "must not contain NUL (%00) characters"})


URL_STAGE = Stage("url", before=_refuse_nul_in_url)

"""The two bases of every request, response and event model, and the one timestamp type.

    class LeadOut(CamelModel):        # JSON keys in camelCase (seed 004 style): createdAt
        created_at: Timestamp          # always UTC with a Z: "2024-01-15T10:30:00Z"

    class ItemIn(SnakeModel):          # JSON keys as written (seeds 001-003): created_at

Both refuse fields they do not name (a typo in a request is a 400 naming the field, not a
silently dropped value; an event payload carries exactly what the catalogue says). Camel
models accept the Python names too (`populate_by_name`), so code can build them either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel
from quart import request

from core.kernel.errors import HubError
from core.kernel.times import iso

M = TypeVar("M", bound=BaseModel)


class SnakeModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CamelModel(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str, when_used="json")]


async def optional_body(model: type[M]) -> M:
    """The request's JSON body as `model`, or `model()` when no body came: for a route whose body
    is optional (document it with `@document_request(model)`). Whether a body came is known from
    the body itself (a chunked request has no Content-Length); a body that is not JSON is a 415,
    malformed JSON or a JSON value that is not an object a 400."""
    body = {}
    if (await request.get_data()).strip():
        if not request.is_json:
            raise HubError("UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json", {"field": "Content-Type"})
        body = await request.get_json()
    return model.model_validate(body)

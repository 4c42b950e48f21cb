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
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

from core.kernel.times import iso


class SnakeModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CamelModel(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str, when_used="json")]

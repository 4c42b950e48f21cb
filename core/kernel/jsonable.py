"""What JSON makes of Python values the Hub sends or stores (events, socket messages, webhooks)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import json
import uuid
from typing import Any


def json_default(value: Any) -> Any:
    """`json.dumps(..., default=json_default)`: ids and decimals as strings, times in ISO 8601,
    sets and tuples as lists, dataclasses and pydantic models as objects, anything else as str."""
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def jsonable(value: Any) -> Any:
    """`value` as it comes back from JSON."""
    return json.loads(json.dumps(value, default=json_default))

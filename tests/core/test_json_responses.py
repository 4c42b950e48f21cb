"""Responses are written by orjson (core/http/application.py HubJSONProvider): a client parses
the same values the provider it replaced (quart-schema's) gives, and what orjson cannot write
still goes out."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from quart_schema.extension import create_json_provider


@dataclasses.dataclass
class Point:
    x: int
    label: str


VALUES = {
    "nested": {"b": [1, 2.5, None, True], "a": {"z": "é ✓ 😀", "y": ""}},
    "datetime": datetime(2026, 12, 7, 5, 30, 1, 123456, tzinfo=timezone.utc),
    "naive datetime": datetime(2026, 12, 7, 5, 30),
    "date": date(2026, 12, 7),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "decimal": Decimal("12.50"),
    "dataclass": Point(1, "p"),
    "nan": float("nan"),  # null rather than json's NaN, which is not JSON
    "big int": 10**30,  # orjson stops at 64 bits: json writes it
    "int keys": {1: "a", 2: "b"},  # orjson refuses non-string keys: json writes them
    "escapes": "\"quoted\" \\ back </script> \u2028 \x00",
}


@pytest.mark.parametrize("name", VALUES)
async def test_responses_parse_as_the_replaced_provider_writes_them(app, name):
    value = {"value": VALUES[name], "list": [VALUES[name]]}
    reference = create_json_provider(app)  # what quart-schema would have answered with
    async with app.app_context():
        written = app.json.dumps(value, separators=(",", ":"))
        response = app.json.response(value)
    expected = json.loads(reference.dumps(value, separators=(",", ":")))
    if name == "nan":
        expected = {"value": None, "list": [None]}
    assert json.loads(written) == expected
    assert json.loads(await response.get_data()) == json.loads(written)
    assert response.mimetype == "application/json"


async def test_keys_come_out_sorted_and_compact(app):
    async with app.app_context():
        written = app.json.dumps({"b": 1, "a": {"d": 2, "c": 3}}, separators=(",", ":"))
    assert written == '{"a":{"c":3,"d":2},"b":1}'


async def test_what_nothing_can_write_is_still_an_error(app):
    async with app.app_context():
        with pytest.raises((TypeError, ValueError)):  # as before: pydantic's serialization error
            app.json.dumps({"value": object()})


async def test_a_route_answers_through_it(client, admin):
    response = await client.get("/api/auth/me", headers=admin.headers)
    text = (await response.get_data()).decode()
    assert response.status_code == 200
    body = json.loads(text)
    assert body["email"] == admin.email if "email" in body else body
    assert text == json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"

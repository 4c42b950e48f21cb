"""Malformed bodies (hardening issue: "0 server errors and 0 non-envelope errors in ~1,100
malformed requests"): to every operation that takes a JSON body, a fixed corpus - not JSON, JSON
that is not an object, the wrong content type, no body, arrays nested 100,000 deep, 1e400 - and,
in every field of a valid body, a value of the wrong type, an integer of 10**30, 1e400, NaN and
Infinity in numbers, a string longer than allowed (at least 10,000 characters), NUL, and one item
more than an array may have: each answer is a 4xx with the operation's error envelope (never a
5xx, never another body), and nothing is stored.

The recommender's ingest routes validate each record on its own (seed 003 §9): a bad record is
refused by a 2xx that lists it under `validation_errors` with nothing accepted.

Generated from /openapi.json: a new plugin's routes are swept as soon as they are served.
"""

from __future__ import annotations

import copy
import json

import pytest

from core.testing import Api, login
from tests.security.sweep import Kit, Operation, record_refused, state_changes, sweeping

JSON = "application/json"
DEEP = b"[" * 100_000 + b"]" * 100_000
# Whole bodies: (what, bytes or None for "a valid body", content type)
CORPUS = (
    ("not JSON", b'{"name": ', JSON),
    ("a JSON array", b"[1, 2]", JSON),
    ("a JSON string", b'"text"', JSON),
    ("a JSON number", b"42", JSON),
    ("JSON null", b"null", JSON),
    ("JSON true", b"true", JSON),
    ("1e400", b"1e400", JSON),
    ("NaN", b"NaN", JSON),
    ("arrays nested 100,000 deep", DEEP, JSON),
    ("arrays nested 100,000 deep in a field", b'{"name": ' + DEEP + b"}", JSON),
    ("invalid UTF-8", b'{"name": "\xff\xfe\xc3\x28"}', JSON),
    ("a valid body as text/plain", None, "text/plain"),
    ("a valid body as a form", None, "application/x-www-form-urlencoded"),
    ("a valid body without a content type", None, ""),
    ("no body", b"", JSON),
)
# Operations whose body may be left out (then its defaults apply): "no body" is valid for them.
OPTIONAL_BODIES = {
    "POST /api/auth/logout": "the refresh token to revoke too is optional",
    "POST /api/v1/webhooks/{webhook_id}/secret": "without one, a new secret is generated",
    "POST /api/v1/webhooks/{webhook_id}/test": "without one, the test event is sent",
    "POST /api/integrations/{integration_id}/test": "without one, the stored connection is tested",
    "POST /api/integrations/{integration_id}/disconnect": "the reason is optional",
    "POST /api/v1/dms/connections/{dms_connection_id}/test": "without one, the connection's first endpoint is tried",
    "POST /api/v1/notifications/read-all": "without one, every notification is marked read",
    "PUT /api/v1/notifications/{notification_id}/read": "without one, it is marked read",
    "PUT /api/notifications/{notification_id}/read": "without one, it is marked read",
}
RAW = "\x01raw{}\x01"  # a placeholder replaced by JSON text json.dumps cannot write (1e400, NaN)


def mutations(kit: Kit, schema: dict, value) -> list[tuple[str, object]]:
    """(what, mutated value) for one field of a valid body."""
    variants = kit.document.variants(schema)
    kind = next((variant for variant in variants if _fits(variant, value)), variants[0] if variants else {})
    # a value no alternative of the field takes
    wrong = [candidate for candidate in ({"wrong": "type"}, [1], 12345, "text")
             if not any(_fits(variant, candidate) or "type" not in variant and "properties" not in variant
                        for variant in variants)]
    found = [("a value of the wrong type", wrong[0])] if wrong else []
    if kind.get("type") in ("integer", "number"):
        found += [("10**30", 10**30), ("1e400", RAW.format("1e400")), ("NaN", RAW.format("NaN")),
                  ("Infinity", RAW.format("Infinity")), ("-Infinity", RAW.format("-Infinity"))]
    elif kind.get("type") == "string" and "enum" not in kind and "const" not in kind:
        longest = max(10_000, kind.get("maxLength", 0) + 1)
        found += [(f"{longest} characters", "x" * longest), ("NUL", "a\u0000b")]
    elif kind.get("type") == "array" and "maxItems" in kind and isinstance(value, list) and value:
        found.append((f"{kind['maxItems'] + 1} items", [copy.deepcopy(value[0])] * (kind["maxItems"] + 1)))
    return found


def _fits(schema: dict, value) -> bool:
    kind = schema.get("type")
    return {"string": isinstance(value, str), "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool),
            "boolean": isinstance(value, bool), "array": isinstance(value, list),
            "object": isinstance(value, dict)}.get(kind, "properties" in schema and isinstance(value, dict))


def fields(kit: Kit, schema: dict, value, where: tuple = ()):
    """(path, schema) of every field in a body (nested objects' and first array items' too)."""
    for variant in kit.document.variants(schema):
        if not _fits(variant, value):
            continue
        if variant.get("properties") and isinstance(value, dict):
            for name, child in variant["properties"].items():
                if name in value:
                    yield where + (name,), child
                    yield from fields(kit, child, value[name], where + (name,))
        elif isinstance(variant.get("items"), dict) and isinstance(value, list) and value:
            yield where + (0,), variant["items"]
            yield from fields(kit, variant["items"], value[0], where + (0,))
        return


def _at(body, where: tuple):
    for step in where:
        body = body[step]
    return body


def with_value(body, where: tuple, value) -> bytes:
    body = copy.deepcopy(body)
    target = body
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    text = json.dumps(body)
    if isinstance(value, str) and value.startswith("\x01raw"):
        text = text.replace(json.dumps(value), value[4:-1])
    return text.encode()


@pytest.fixture(scope="module")
async def sweep(hub_app):
    async with sweeping(hub_app, "Malformed bodies") as (kit, owner):
        yield kit, owner


def body_operations(kit: Kit) -> list[Operation]:
    return [operation for operation in kit.document.operations if operation.body is not None]


async def test_malformed_bodies_are_refused_with_the_envelope(sweep):
    kit, owner = sweep
    operations = body_operations(kit)
    assert set(OPTIONAL_BODIES) <= {operation.name for operation in operations}
    before = await owner.state()
    problems, sent = [], 0
    for operation in operations:
        path = await owner.path(operation, shared=True)
        body = await owner.body(operation, full=True)
        requests = [(what, data if data is not None else json.dumps(body).encode(), kind)
                    for what, data, kind in CORPUS if not (what == "no body" and operation.name in OPTIONAL_BODIES)]
        for where, schema in fields(kit, operation.body, body):
            for what, value in mutations(kit, schema, _at(body, where)):
                requests.append((f"{what} in {'.'.join(map(str, where))}", with_value(body, where, value), JSON))
        for what, data, kind in requests:
            sent += 1
            headers = {**owner.api.headers, **({"Content-Type": kind} if kind else {})}
            response = await owner.api.client.open(path, method=operation.method, data=data, headers=headers)
            answer = await response.get_json() if response.is_json else await response.get_data(as_text=True)
            if record_refused(response, answer):
                continue
            problem = (kit.document.error_envelope_problem(operation, response.status_code, answer)
                       if 400 <= response.status_code < 500 else f"not a 4xx: {answer!r:.300}")
            if problem:
                problems.append(f"{operation.name}, {what}: {response.status_code} {problem}")
        if (await owner.api.request("GET", "/api/auth/me"))[0].status_code != 200:
            problems.append(f"{operation.name}: the session ended")
            owner.api = Api.of(kit.client, await login(kit.client, owner.api.account.email))
    problems += [f"stored: {change}" for change in state_changes(before, await owner.state())]
    assert not problems, "\n".join(problems)
    assert sent >= 1_500 and len(operations) >= 45, (sent, len(operations))

"""No mass assignment (hardening issue: "0 mass-assigned fields stuck"): a body that adds
fields its schema does not have but the resource does (`id`, `org_id`, `created_at`, `role`,
`key_hash`, every column of the plugin's tables, ...) is a 400 naming each of them, at the top
and in every nested object, wherever the schema forbids unknown fields. Where a schema takes
unknown fields on purpose (the OpenAI-compatible routes, the recommender's records: clients
send attributes the Hub does not model), they are dropped: none of their values shows anywhere
the organization can read, and another organization named in them is untouched.

Generated from /openapi.json and the plugins' tortoise models: a new plugin's routes and
columns are swept as soon as they are served.
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import date, timedelta

import pytest
from tortoise import Tortoise

from tests.security.sweep import Kit, Operation, snake, state_changes, sweeping

# Always tried, whatever the plugin's tables: what an attacker would set first.
FIELDS = ("id", "org_id", "orgId", "organization_id", "organizationId", "tenant_id", "tenantId", "created_at",
          "createdAt", "updated_at", "updatedAt", "owner_id", "ownerId", "user_id", "userId", "author_id",
          "created_by", "createdBy", "role", "is_active", "isActive", "key_hash", "password_hash", "plan",
          "permissions", "scopes", "secret", "status", "deleted_at", "is_admin", "isAdmin")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def columns(plugin: str) -> set[str]:
    """Every column of the plugin's tables, as written and in camelCase."""
    models = Tortoise.apps[plugin].values() if plugin in Tortoise.apps else []
    names = {name for model in models for name in model._meta.fields_map}
    return names | {camel(name) for name in names}


def extra_fields(kit: Kit, operation: Operation, properties: dict) -> list[str]:
    taken = set(properties) | {snake(name) for name in properties}
    return sorted((set(FIELDS) | columns(operation.tag)) - taken)


class Markers:
    """Values for added fields that can be recognised wherever they end up: per operation, a
    fresh id, a date in 2001, a string with the organization's mark; the other organization's
    ids for the fields that name an organization or a user."""

    def __init__(self, owner, other, index: int) -> None:
        self.other = other
        self.id = str(uuid.uuid4())
        self.day = (date(2001, 1, 1) + timedelta(days=index)).isoformat()
        self.text = f"{owner.mark}mass{index}"

    def value(self, name: str):
        name = snake(name)
        if any(word in name for word in ("org", "tenant")):
            return self.other.org_id
        if name.endswith(("user_id", "owner_id", "author_id", "created_by")):
            return self.other.api.account.user_id
        if name == "id" or name.endswith("_id"):
            return self.id
        if name.endswith("_at") or name in ("timestamp", "day"):
            return f"{self.day}T04:05:06Z"
        if name.startswith(("is_", "has_")):
            return True
        if name == "role":
            return "admin"
        return self.text

    def found_in(self, text: str) -> list[str]:
        return [marker for marker in (self.id, self.day, self.text) if marker in text]


@pytest.fixture(scope="module")
async def sweep(hub_app):
    async with sweeping(hub_app, "Mass assignment", "Bystander") as (kit, owner, other):
        yield kit, owner, other


def body_operations(kit: Kit) -> list[Operation]:
    return [operation for operation in kit.document.operations
            if operation.method in ("POST", "PUT", "PATCH") and operation.body is not None]


def objects_in(kit: Kit, schema: dict, value, where: str = ""):
    """(where, schema, the object in the body) for the body and every object nested in it."""
    for variant in kit.document.variants(schema):
        if variant.get("properties") and isinstance(value, dict):
            yield where, variant, value
            for name, child in variant["properties"].items():
                if name in value:
                    yield from objects_in(kit, child, value[name], f"{where}{name}.")
        elif isinstance(variant.get("items"), dict) and isinstance(value, list) and value:
            yield from objects_in(kit, variant["items"], value[0], f"{where}0.")


def strict(schema: dict) -> bool:
    return schema.get("additionalProperties") is False


def named(answer, field: str) -> bool:
    """Whether a 400 names `field` ("config.org_id"): as the field of one of its errors, or in
    the reason given for the object holding it ("unknown hyperparameters: org_id, ...")."""
    errors = (answer or {}).get("error", {}).get("details", {}).get("errors", [])
    parent, _, name = field.rpartition(".")
    return any(error["field"] == field or (error["field"] == (parent or "body")
                                           and re.search(rf"\b{re.escape(name)}\b", error["reason"]))
               for error in errors)


def with_added(kit: Kit, operation: Operation, body, markers: Markers, strict_parts: bool):
    """A copy of `body` with the extra fields in its strict objects (or its lenient ones), and
    their names as a refusal names them (`config.org_id`)."""
    sent, added = copy.deepcopy(body), set()
    for where, schema, target in list(objects_in(kit, operation.body, sent)):
        if strict(schema) == strict_parts:
            names = extra_fields(kit, operation, schema["properties"])
            target.update({name: markers.value(name) for name in names})
            added |= {where + name for name in names}
    return sent, added


async def test_added_fields_are_refused_or_dropped(sweep):
    kit, owner, other = sweep
    operations = body_operations(kit)
    other_before = await other.state()
    problems, refused, dropped, accepted = [], [], [], {True: 0, False: 0}
    for index, operation in enumerate(operations):
        markers = Markers(owner, other, index)
        path = await owner.path(operation, shared=True)
        body = await owner.body(operation, full=True)
        sent, added = with_added(kit, operation, body, markers, strict_parts=True)
        if added:
            refused.append(operation.name)
            response, answer = await owner.api.request(operation.method, path, sent)
            unnamed = sorted(field for field in added if not named(answer, field))
            if response.status_code != 400 or unnamed:
                problems.append(f"{operation.name}: {response.status_code}, not named: {unnamed[:10]}")
        if with_added(kit, operation, body, markers, strict_parts=False)[1]:
            dropped.append((operation, markers))
            # every property, else only the required ones (an optional one may name what is not there)
            for full in (True, False):
                lenient = await owner.body(operation, full=full)
                sent, _ = with_added(kit, operation, lenient, markers, strict_parts=False)
                response, answer = await owner.api.request(operation.method, path, sent)
                if response.status_code < 400:
                    break
            accepted[response.status_code < 300] += 1
            # a 503 it documents (no model file, say) is an answer; any other 5xx is not
            if response.status_code == 500 or str(response.status_code) not in operation.spec["responses"]:
                problems.append(f"{operation.name}: {response.status_code} {answer}")
    # what the lenient operations stored carries none of the added values
    await owner.settle()
    readable = [await (await owner.api.request("GET", path))[0].get_data(as_text=True)
                for _, path in await owner.reads()]
    for operation, markers in dropped:
        stuck = sorted({marker for text in readable for marker in markers.found_in(text)})
        if stuck:
            problems.append(f"{operation.name}: added values stored: {stuck}")
    changes = state_changes(other_before, await other.state())
    problems += [f"the other organization changed: {change}" for change in changes]
    assert not problems, "\n".join(problems)
    assert len(refused) >= 30 and len(operations) >= 45, (len(refused), len(operations))
    assert accepted[True] >= 10, accepted  # the lenient operations did take the bodies with the added fields

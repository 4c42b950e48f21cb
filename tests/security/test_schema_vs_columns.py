"""What validation lets through fits the column it is stored in (hardening issue, item 3: a
199-character `industry` passed `POST /api/companies` and failed in PostgreSQL, a 500; SQLite
does not enforce a VARCHAR's length, so only PostgreSQL saw it).

Every object of every request schema (bodies, nested models, records in arrays) is matched to
the table it is written to: of the tables of the plugin owning the operation (its tag), the ones
with columns named like most of its properties (snake_case of the JSON name). Each string
property stored in a `CharField(max_length=N)` needs `maxLength <= N` (an enumeration: values of
at most N characters). Then, through the API, one character more than the column takes is a 400
naming the property, on every operation, and nothing is stored.

Generated from /openapi.json and the plugins' tortoise models: a new plugin's schemas and
tables are checked as soon as they are served.
"""

from __future__ import annotations

import copy
import json

import pytest
from tortoise import Tortoise, fields

from core.testing import Api, register_and_login
from tests.security.sweep import Document, Kit, Operation, record_refused, snake, state_changes, sweeping


def tables(plugin: str) -> dict[str, dict[str, int | None]]:
    """Table (model name) -> column -> the CharField's max_length (None: another kind of column)."""
    models = Tortoise.apps[plugin].values() if plugin in Tortoise.apps else []
    return {model.__name__: {name: field.max_length if isinstance(field, fields.CharField) else None
                             for name, field in model._meta.fields_map.items()}
            for model in models}


# Providers' signed callbacks: any changed body fails its signature first (400 INVALID_SIGNATURE,
# nothing stored; tests/plugins/messaging/test_events.py), and the Hub reads
# their fields by name into columns of its own (history text cut to fit), never stores them as sent.
SIGNED_CALLBACKS = {f"POST /api/v1/messages/callbacks/{provider}" for provider in ("sendgrid", "mailgun", "sns")}


def written_to(plugin: str, properties: dict) -> dict[str, dict[str, int | None]]:
    """The tables an object with these properties is written to (most columns in common)."""
    names = {snake(name) for name in properties}
    overlap = {table: len(names & set(columns)) for table, columns in tables(plugin).items()}
    best = max(overlap.values(), default=0)
    return {table: tables(plugin)[table] for table, count in overlap.items() if best and count == best}


def string_limit(document: Document, schema: dict) -> tuple[bool, int | None]:
    """(whether the property takes a string, the longest string it takes)."""
    longest, string = 0, False
    for variant in document.variants(schema):
        if variant.get("type") != "string":
            continue
        string = True
        if "enum" in variant or "const" in variant:
            length = max(len(str(value)) for value in variant.get("enum", [variant.get("const")]))
        else:
            length = variant.get("maxLength")
        if length is None:
            return True, None
        longest = max(longest, length)
    return string, longest if string else None


def stored_strings(document: Document, operation: Operation):
    """(object schema, property, its schema, the column's length, the table) for every string
    property of the operation's body that is stored in a CharField."""
    for schema in document.objects(operation.body):
        for table, columns in written_to(operation.tag, schema["properties"]).items():
            for name, child in schema["properties"].items():
                length = columns.get(snake(name))
                if length is not None and string_limit(document, child)[0]:
                    yield schema, name, child, length, table


async def test_request_schemas_fit_their_columns(hub_app):
    kit = await Kit.of(hub_app)
    document = kit.document
    problems, checked = [], set()
    for operation in kit.document.operations:
        if operation.body is None or operation.name in SIGNED_CALLBACKS:  # read by name, not stored as sent
            continue
        for schema, name, child, length, table in stored_strings(document, operation):
            checked.add((operation.name, name))
            _, longest = string_limit(document, child)
            if longest is None or longest > length:
                problems.append(f"{operation.name} {schema.get('title')}.{name}: maxLength {longest}, "
                                f"column {table}.{snake(name)} is CharField(max_length={length})")
    assert not problems, "\n".join(sorted(set(problems)))
    assert len(checked) >= 60, len(checked)


# -- through the API -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def sweep(hub_app):
    async with sweeping(hub_app, "Columns") as (kit, owner):
        yield kit, owner


def locations(kit: Kit, schema: dict, value, where: tuple = ()):
    """(path in the body, object schema) of the body and every object in it."""
    for variant in kit.document.variants(schema):
        if variant.get("properties") and isinstance(value, dict):
            yield where, variant
            for name, child in variant["properties"].items():
                if name in value:
                    yield from locations(kit, child, value[name], where + (name,))
        elif isinstance(variant.get("items"), dict) and isinstance(value, list) and value:
            yield from locations(kit, variant["items"], value[0], where + (0,))


def too_long(value, length: int) -> str:
    """A value like `value` (a valid one) but one character longer than the column takes."""
    text = value if isinstance(value, str) and value else "x"
    if "@" in text:  # an email: the local part grows
        local, _, domain = text.partition("@")
        return local.ljust(length + 1 - len(domain) - 1, local[-1]) + "@" + domain
    return text.ljust(length + 1, text[-1])


async def test_one_character_more_than_the_column_is_a_400(sweep):
    kit, owner = sweep
    before = await owner.state()
    problems, sent = [], 0
    for operation in kit.document.operations:
        if operation.body is None or operation.name in SIGNED_CALLBACKS:
            continue
        path = await owner.path(operation, shared=True)
        body = await owner.body(operation, full=True)
        stored = {(json.dumps(schema, sort_keys=True), name): length
                  for schema, name, _, length, _ in stored_strings(kit.document, operation)}
        for where, schema in list(locations(kit, operation.body, body)):
            for name in schema["properties"]:
                length = stored.get((json.dumps(schema, sort_keys=True), name))
                if length is None or "enum" in json.dumps(schema["properties"][name]):
                    continue
                sent += 1
                mutated = copy.deepcopy(body)
                target = mutated
                for step in where:
                    target = target[step]
                target[name] = too_long(target.get(name) or owner.values.value(schema["properties"][name]), length)
                response, answer = await owner.api.request(operation.method, path, mutated)
                field = ".".join(map(str, (*where, name)))
                if record_refused(response, answer, name):
                    continue
                named = field in json.dumps(answer) or f"body/{field.replace('.', '/')}" in json.dumps(answer)  # n8n's form
                if response.status_code != 400 or not named:
                    problems.append(f"{operation.name} {field} ({length + 1} characters): {response.status_code} "
                                    f"{answer!r:.300}")
    problems += [f"stored: {change}" for change in state_changes(before, await owner.state())]
    assert not problems, "\n".join(problems)
    assert sent >= 60, sent


# -- the cases of the issue --------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def crm(hub_app):
    client = hub_app.test_client()
    return Api.of(client, await register_and_login(client, organization_name="Long fields"))


@pytest.mark.parametrize("path, body, field", [
    ("/api/companies", {"name": "Acme", "industry": "x" * 199}, "industry"),
    ("/api/companies", {"name": "Acme", "industry": "x" * 101}, "industry"),
    ("/api/companies", {"name": "x" * 201}, "name"),
    ("/api/companies", {"name": "Acme", "size": "x" * 33}, "size"),
    ("/api/companies", {"name": "Acme", "domain": "x" * 254}, "domain"),
    ("/api/contacts", {"name": "Ada", "position": "x" * 199}, "position"),
    ("/api/contacts", {"name": "Ada", "position": "x" * 101}, "position"),
    ("/api/contacts", {"name": "x" * 201}, "name"),
    ("/api/contacts", {"name": "Ada", "company": "x" * 201}, "company"),
    ("/api/contacts", {"name": "Ada", "email": "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 61 + ".com"},
     "email"),
    ("/api/contacts", {"name": "Ada", "phone": "1" * 33}, "phone"),
    ("/api/contacts", {"name": "Ada", "tags": ["x" * 51]}, "tags.0"),
    ("/api/leads", {"name": "Ada", "source": "x" * 33}, "source"),
    ("/api/leads", {"name": "Ada", "phone": "+" + "1" * 32}, "phone"),
])
async def test_over_long_crm_fields_are_400s_not_database_errors(crm, path, body, field):
    listed = await crm.get(path)
    await crm.error("POST", path, body, status=400, code="VALIDATION_ERROR", field=field)
    assert await crm.get(path) == listed

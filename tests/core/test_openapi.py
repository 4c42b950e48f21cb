"""OpenAPI 3 at /openapi.json for every route of the app, with the docs pages."""

from __future__ import annotations

import inspect
import re
import sys
import uuid
from collections import Counter

import pytest
from openapi_spec_validator import validate
from quart_schema.validation import (
    QUART_SCHEMA_QUERYSTRING_ATTRIBUTE,
    QUART_SCHEMA_REQUEST_ATTRIBUTE,
    QUART_SCHEMA_RESPONSE_ATTRIBUTE,
)
from quart_schema.extension import QUART_SCHEMA_HIDDEN_ATTRIBUTE

from core.http.openapi import ERROR_MODEL_ATTRIBUTE, OPENAPI_ENDPOINTS
from core.http.auth import ACCESS_ATTRIBUTE
from core.kernel.plugins import CORE_PLUGIN
from core.testing import create_key

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def openapi_path(rule: str) -> str:
    """Werkzeug's `/x/<int:id>` is OpenAPI's `/x/{id}`."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def app_routes(app):
    """(method, openapi path, view) for every route except the documentation's own."""
    for method, path, view, _ in app_rules(app):
        yield method, path, view


def app_rules(app):
    """(method, openapi path, view, rule) for every route except the documentation's own and web
    pages kept out of the API description with quart-schema's `hide` (the dashboard's)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPENAPI_ENDPOINTS or rule.websocket:
            continue
        if getattr(app.view_functions[rule.endpoint], QUART_SCHEMA_HIDDEN_ATTRIBUTE, False):
            continue
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            yield method, openapi_path(rule.rule), app.view_functions[rule.endpoint], rule


@pytest.fixture
async def spec(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return await response.get_json()


async def test_spec_header(spec):
    from core.kernel.plugins import HUB_VERSION

    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "The Hub"
    assert spec["info"]["version"] == HUB_VERSION


async def test_every_route_is_documented(app, spec):
    missing = [
        f"{method} {path}" for method, path, _ in app_routes(app)
        if method.lower() not in spec["paths"].get(path, {})
    ]
    assert not missing, missing


async def test_nothing_documented_that_does_not_exist(app, spec):
    routes = {(method.lower(), path) for method, path, _ in app_routes(app)}
    documented = {(method, path) for path, item in spec["paths"].items() for method in item if method != "parameters"}
    assert documented <= routes, documented - routes


async def test_doc_pages_are_not_in_the_spec(spec):
    for path in ("/openapi.json", "/docs", "/redocs", "/scalar"):
        assert path not in spec["paths"]


async def test_plugin_routes_are_documented(spec):
    notes = spec["paths"]["/api/example/notes"]
    assert {"get", "post"} <= set(notes)
    assert "get" in spec["paths"]["/api/example/notes/{note_id}"]
    assert "get" in spec["paths"]["/api/example/greeting"]


async def test_core_routes_are_documented(spec):
    for path in ("/health", "/ready", "/healthz", "/api/auth/login", "/api/auth/register", "/api/v1/keys",
                 "/api/v1/keys/{key_id}", "/api/v1/tenant", "/api/v1/tenant/members", "/api/v1/plugins"):
        assert path in spec["paths"], path


async def test_path_parameters_are_declared(spec):
    for path, item in spec["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"}
            assert names <= declared, f"{method.upper()} {path}: {names - declared}"


def _json_body_schema(operation: dict) -> dict:
    return operation["requestBody"]["content"]["application/json"]["schema"]


def _body_schema(operation: dict) -> dict | None:
    """The request body's schema: JSON, multipart/form-data for an upload (POST /api/files), or a
    form (a provider's callback, e.g. Twilio's delivery reports)."""
    content = operation.get("requestBody", {}).get("content", {})
    return (content.get("application/json") or content.get("multipart/form-data")
            or content.get("application/x-www-form-urlencoded") or {}).get("schema")


async def test_validated_bodies_have_schemas(app, spec):
    """Each route that validates a JSON body documents that body's schema."""
    checked = 0
    for method, path, view in app_routes(app):
        expects = getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None)
        if expects is None:
            continue
        operation = spec["paths"][path][method.lower()]
        assert "requestBody" in operation, f"{method} {path}"
        schema = _body_schema(operation)
        free_form = schema.get("additionalProperties") is True and schema.get("description")  # a webhook's body
        array = schema.get("type") == "array" and schema.get("items")  # e.g. SendGrid's Event Webhook posts one
        assert schema.get("properties") or schema.get("$ref") or free_form or array, f"{method} {path}: {schema}"
        checked += 1
    assert checked >= 10


async def test_every_post_route_documents_its_body(app, spec):
    undocumented = [
        f"{method} {path}" for method, path, _ in app_routes(app)
        if method in ("POST", "PUT", "PATCH") and "requestBody" not in spec["paths"][path][method.lower()]
    ]
    # e.g. POST /api/auth/logout reads an optional {"refresh_token"} body by hand
    assert not undocumented, undocumented


async def test_request_body_schemas_are_the_models(spec):
    login = _json_body_schema(spec["paths"]["/api/auth/login"]["post"])
    assert {"email", "password"} <= set(login["properties"])
    assert {"email", "password"} <= set(login.get("required", []))
    note = _json_body_schema(spec["paths"]["/api/example/notes"]["post"])
    assert note["properties"]["text"]["type"] == "string"
    assert note["required"] == ["text"]
    key = _json_body_schema(spec["paths"]["/api/v1/keys"]["post"])
    assert {"name", "scopes"} <= set(key["properties"])


async def test_response_schemas(spec):
    health = spec["paths"]["/health"]["get"]["responses"]
    assert {"200", "503"} <= set(health)
    schema = health["200"]["content"]["application/json"]["schema"]
    assert {"status", "version", "uptime_seconds", "checks"} <= set(schema["properties"])
    created = spec["paths"]["/api/example/notes"]["post"]["responses"]
    assert "201" in created


async def test_security_schemes(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["apiKeyHeader"] == {"type": "apiKey", "name": "X-API-Key", "in": "header"}


async def test_protected_routes_declare_security_and_public_ones_do_not(app, spec):
    for method, path, view in app_routes(app):
        operation = spec["paths"][path][method.lower()]
        kind = getattr(view, ACCESS_ATTRIBUTE)[0]
        security = operation.get("security")
        if kind == "permission" and path.startswith("/n8n/"):  # n8n's own API-key header, as n8n documents it
            assert security == [{"apiKey_X_N8N_API_KEY": []}], f"{method} {path}: {security}"
            assert spec["components"]["securitySchemes"]["apiKey_X_N8N_API_KEY"] == {
                "type": "apiKey", "name": "X-N8N-API-KEY", "in": "header"}
        elif kind == "permission":
            assert security and {name for item in security for name in item} == {"bearerAuth", "apiKeyHeader"}, (
                f"{method} {path}: {security}"
            )
        else:
            assert not security, f"{method} {path} is public but documents {security}"


async def test_operation_ids_are_unique(spec):
    # OpenAPI: "The id MUST be unique among all operations described in the API."
    ids = Counter(
        operation.get("operationId") for item in spec["paths"].values() for operation in item.values()
        if isinstance(operation, dict)
    )
    assert None not in ids
    duplicates = sorted(name for name, count in ids.items() if count > 1)
    assert not duplicates, duplicates  # e.g. /api/auth/login and /api/v1/auth/login share one view


async def test_spec_needs_no_credentials(client):
    response = await client.get("/openapi.json", headers={"Authorization": "Bearer garbage"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redocs", "/scalar"])
async def test_doc_pages(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = await response.get_data(as_text=True)
    assert "openapi.json" in page
    assert "The Hub" in page


# -- every operation documents itself (the "plugin kit" OpenAPI rules) ----------------------------


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _untyped(spec: dict, schema: dict, where: str, seen: frozenset = frozenset()) -> list[str]:
    """Places in a request body schema that say nothing: a list of anything (`items: {}`), a
    field of any type."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return [] if name in seen else _untyped(spec, _resolve(spec, schema), where, seen | {name})
    found = [where + "[]"] if schema.get("type") == "array" and not schema.get("items") else []
    for name, field in schema.get("properties", {}).items():
        found += [f"{where}.{name}"] if not field else _untyped(spec, field, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        found += _untyped(spec, schema["items"], where + "[]", seen)
    for option in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        found += _untyped(spec, option, where, seen)
    return found


def _owner(app, rule) -> str:
    blueprint = rule.endpoint.rpartition(".")[0]
    return app.extensions["hub"].blueprint_owner.get(blueprint, CORE_PLUGIN)


async def test_the_document_is_valid_openapi(spec):
    validate(spec)


async def test_every_operation_documents_itself(app, spec):
    """Each operation: its plugin's tag, a summary and description, its query parameters, the
    schema of the body it takes and of what it answers, and its error responses (the envelope)."""
    problems = []
    tags = {tag["name"]: tag for tag in spec["tags"]}
    for method, path, view, rule in app_rules(app):
        operation = spec["paths"][path][method.lower()]
        where = f"{method} {path}"
        owner = _owner(app, rule)
        if operation.get("tags") != [owner] or not tags.get(owner, {}).get("description"):
            problems.append(f"{where}: tags {operation.get('tags')}, not [{owner!r}] with a description")
        if not operation.get("summary") or not operation.get("description"):
            problems.append(f"{where}: no summary or description (give the view a docstring)")

        query_model = getattr(view, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, None)
        declared = sorted(p["name"] for p in operation["parameters"] if p["in"] == "query")
        expected = query_model.parameter_names() if query_model else []
        if declared != expected:
            problems.append(f"{where}: query parameters {declared}, the view reads {expected}")

        if method in ("POST", "PUT", "PATCH"):
            body = _body_schema(operation)
            resolved = _resolve(spec, body) if body else {}
            # a body of any shape (a webhook's) says so: additionalProperties and a description
            free_form = resolved.get("additionalProperties") is True and resolved.get("description")
            array = resolved.get("type") == "array" and resolved.get("items")  # a JSON array body (a webhook's)
            if not body or not (resolved.get("properties") or free_form or array):
                problems.append(f"{where}: no request body schema")
            elif untyped := _untyped(spec, body, "body"):
                problems.append(f"{where}: untyped request body parts {untyped}")

        successes = {int(status): response for status, response in operation["responses"].items()
                     if 200 <= int(status) < 300}
        if not successes:
            problems.append(f"{where}: no 2xx response")
        for status, response in successes.items():
            if status != 204 and not any(media.get("schema") for media in response.get("content", {}).values()):
                problems.append(f"{where}: {status} without a schema")

        own = set(getattr(view, QUART_SCHEMA_RESPONSE_ATTRIBUTE, {}))  # statuses the view documents itself
        error_model = (getattr(view, ERROR_MODEL_ATTRIBUTE, None)
                       or getattr(app.blueprints.get(rule.endpoint.rpartition(".")[0]), ERROR_MODEL_ATTRIBUTE, None))
        envelope = f"#/components/schemas/{error_model.__name__ if error_model else 'ErrorResponse'}"
        errors = {int(status): response for status, response in operation["responses"].items() if int(status) >= 400}
        for status, response in errors.items():
            if status not in own and response["content"]["application/json"]["schema"] != {"$ref": envelope}:
                problems.append(f"{where}: {status} is not the error envelope {envelope}")
        protected = getattr(view, ACCESS_ATTRIBUTE)[0] == "permission"
        expected_errors = {429} | ({401, 403} if protected else set())
        if query_model or getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None):
            expected_errors.add(400)
        if rule.arguments:
            expected_errors.add(404)
        if not expected_errors <= set(errors):
            problems.append(f"{where}: error responses {sorted(errors)} lack {sorted(expected_errors - set(errors))}")
    assert not problems, "\n".join(problems)


async def test_error_envelope_schema(spec):
    envelope = _resolve(spec, {"$ref": "#/components/schemas/ErrorResponse"})
    error = _resolve(spec, envelope["properties"]["error"])
    assert set(error["properties"]) == {"code", "message", "details", "request_id", "timestamp"}
    assert "VALIDATION_ERROR" in spec["paths"]["/api/leads"]["get"]["responses"]["400"]["description"]
    # The OpenAI-compatible routes answer OpenAI's error shape, and say so.
    openai = spec["paths"]["/v1/chat/completions"]["post"]["responses"]["400"]["content"]["application/json"]
    assert set(_resolve(spec, _resolve(spec, openai["schema"])["properties"]["error"])["properties"]) >= {
        "message", "type", "param", "code"}


def _route_modules(app) -> set[str]:
    return {inspect.unwrap(view).__module__ for _, _, view in app_routes(app)}


async def test_no_route_reads_the_query_string_by_hand(app):
    """What a route reads from `?...` is declared (validate_query), so it is documented and checked."""
    readers = [name for name in _route_modules(app) if name.startswith(("core.builtin", "plugins", "hub_example"))
               and "request.args" in inspect.getsource(sys.modules[name])]
    assert not readers, readers


async def test_unknown_query_parameters_are_refused_naming_the_documented_ones(app, spec, client, admin):
    """Every GET route with query parameters refuses one it does not know with a 400 listing
    exactly the documented ones; the others read no query parameters at all (not even a page's,
    through `paginate()`)."""
    checked = 0
    n8n_key = {"X-N8N-API-KEY": (await create_key(client, admin, ["read"]))["key"]}
    for method, path, view, rule in app_rules(app):
        if method != "GET":
            continue
        documented = sorted(p["name"] for p in spec["paths"][path]["get"]["parameters"] if p["in"] == "query")
        probe = "no_such_parameter=1" if documented else "limit=x&offset=x&skip=x&page=x"
        url = re.sub(r"{[^}]+}", str(uuid.uuid4()), path) + "?" + probe
        response = await client.get(url, headers=n8n_key if path.startswith("/n8n/api/") else admin.headers)
        body = await response.get_json() if response.is_json else None
        if not documented:
            assert response.status_code != 400, (url, body)
            continue
        assert response.status_code == 400, (url, body)
        if path.startswith("/n8n/"):  # n8n's shape, as n8n's own validator words it
            assert body == {"message": "Unknown query parameter 'no_such_parameter'"}, body
            checked += 1
            continue
        if path.startswith("/mautic/"):  # Mautic's error shape, the details as the Hub gives them
            error = body["errors"][0]
            assert error["code"] == 400 and error["details"]["field"] == "no_such_parameter", body
            assert error["details"]["allowed"] == documented, body
            checked += 1
            continue
        error = body["error"]
        if "details" in error:  # the Hub's envelope (the /v1 routes answer OpenAI's shape)
            assert error["details"]["field"] == "no_such_parameter" and error["details"]["allowed"] == documented, body
        else:
            assert error["param"] == "no_such_parameter", body
        checked += 1
    assert checked >= 15


async def test_the_document_is_built_once(app, client):
    """Building it takes ~100 ms; routes do not change after start-up, so it is built once."""
    provider = app.extensions["QUART_SCHEMA"].openapi_provider
    first = await (await client.get("/openapi.json")).get_data()
    again = await (await client.get("/openapi.json")).get_data()
    assert again == first and provider.schema() is provider.schema()

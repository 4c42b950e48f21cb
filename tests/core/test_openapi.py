"""OpenAPI 3 at /openapi.json for every route of the app, with the docs pages."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE

from core.http.openapi import OPENAPI_ENDPOINTS
from core.http.auth import ACCESS_ATTRIBUTE

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def openapi_path(rule: str) -> str:
    """Werkzeug's `/x/<int:id>` is OpenAPI's `/x/{id}`."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def app_routes(app):
    """(method, openapi path, view) for every route except the documentation's own."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPENAPI_ENDPOINTS or rule.websocket:
            continue
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            yield method, openapi_path(rule.rule), app.view_functions[rule.endpoint]


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


async def test_validated_bodies_have_schemas(app, spec):
    """Each route that validates a JSON body documents that body's schema."""
    checked = 0
    for method, path, view in app_routes(app):
        expects = getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None)
        if expects is None:
            continue
        operation = spec["paths"][path][method.lower()]
        assert "requestBody" in operation, f"{method} {path}"
        schema = _json_body_schema(operation)
        assert schema.get("properties") or schema.get("$ref"), f"{method} {path}: {schema}"
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
        if kind == "permission":
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

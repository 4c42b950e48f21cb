"""The API's own description: `/openapi.json`, Swagger UI at `/docs`, ReDoc at `/redocs`,
Scalar at `/scalar`. The three pages load their JavaScript and CSS from the Hub itself
(`/docs/assets/...`, vendored from npm into core/http/static/: see its README), never from a
CDN, so they work on a machine without internet access.

Built from the routes on the first request and kept (routes do not change after start-up).
Each operation gets, besides what quart-schema takes from its decorators (`validate_request`,
`validate_response`, `document_response`, `validate_query`, ...):

- a tag naming the plugin that owns its blueprint (`core` for the core's own routes), the tag
  described by the plugin module's docstring;
- its summary (the docstring's first paragraph) and description (the whole docstring);
- the error responses it can give, all with the one envelope `ErrorResponse`: 400 when it
  validates a body or a query (and 413, 415 for a body), 401 and 403 when it `require`s a
  permission, 404 when its path names a resource or its plugin can be switched off, 429 (rate
  limits may apply to any route), and those declared with `document_errors(409, ...)`.

`document_response(None, 204)` documents a response without a body, `document_response(
Text("text/plain"))` one that is not JSON; list routes (a `PageQuery`) document their
X-Total-Count, X-Page and X-Per-Page headers.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel
from quart import Quart, current_app, render_template_string, send_from_directory
from quart_schema import OpenAPIProvider, QuartSchema
from quart_schema.extension import hide
from quart_schema.validation import QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, QUART_SCHEMA_REQUEST_ATTRIBUTE
from werkzeug.routing import Rule

from core.http.application import HubJSONProvider
from core.http.auth import ACCESS_ATTRIBUTE, KEY_HEADER_SCHEMES
from core.http.pagination import PageQuery
from core.kernel.plugins import CORE_PLUGIN

OPENAPI_ENDPOINTS = {"openapi", "redoc_ui", "scalar_ui", "swagger_ui", "static", "docs_assets"}
STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS = "/docs/assets"
ERRORS_ATTRIBUTE = "_hub_error_statuses"
ERROR_MODEL_ATTRIBUTE = "_hub_error_model"
COMPONENTS = "#/components/schemas/{model}"
PAGE_HEADERS = {
    "X-Total-Count": "Rows in the whole list",
    "X-Page": "The page these rows are on, from 1",
    "X-Per-Page": "Rows per page (the limit applied)",
}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any]
    request_id: str | None
    timestamp: str


class ErrorResponse(BaseModel):
    """Every error: `code` names it (see each response for the codes of its status), `details`
    says more (`field` and `reason` for a validation error)."""

    error: ErrorBody


@dataclass(frozen=True)
class Text:
    """A response body that is not JSON: `document_response(Text("text/plain"))`."""

    media_type: str


def document_errors(*statuses: int, model: type[BaseModel] | None = None) -> Callable:
    """Declare the error statuses a view (or every view of a blueprint) can answer besides those
    the OpenAPI document infers (409 for a conflict, 503, ...), and the error body's model
    when it is not the Hub's envelope (the OpenAI-compatible routes)."""

    def decorator(target: Any) -> Any:
        setattr(target, ERRORS_ATTRIBUTE, getattr(target, ERRORS_ATTRIBUTE, frozenset()) | set(statuses))
        if model is not None:
            setattr(target, ERROR_MODEL_ATTRIBUTE, model)
        return target

    return decorator


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


def _error_description(status: int, codes: list[str]) -> str:
    phrase = HTTPStatus(status).phrase
    return f"{phrase}: {', '.join(codes)}" if codes else phrase


def _plain_parameter(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is sent or not, never null: `anyOf [X, null]` is just X."""
    schema.pop("title", None)
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    options = [option for option in schema.pop("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    return schema


class HubOpenAPIProvider(OpenAPIProvider):
    def __init__(self, app: Quart, extension: QuartSchema) -> None:
        super().__init__(app, extension)
        self._schema: dict[str, Any] | None = None
        self._error_models: set[type[BaseModel]] = set()

    def schema(self) -> dict[str, Any]:
        if self._schema is None:
            schema = super().schema()
            for model in self._error_models:
                definition = model.model_json_schema(ref_template=COMPONENTS)
                schema["components"]["schemas"].update(definition.pop("$defs", {}))
                schema["components"]["schemas"][model.__name__] = definition
            schema["tags"] = self._tags(schema)
            used = {name for item in schema["paths"].values() for operation in item.values()
                    for requirement in operation.get("security", []) for name in requirement}
            for name in sorted(used & set(KEY_HEADER_SCHEMES)):
                schema["components"].setdefault("securitySchemes", {})[name] = {
                    "type": "apiKey", "name": KEY_HEADER_SCHEMES[name], "in": "header"}
            self._schema = schema
        return self._schema

    def _tags(self, schema: dict[str, Any]) -> list[dict[str, str]]:
        used = {tag for item in schema["paths"].values() for operation in item.values() for tag in operation["tags"]}
        return [
            {"name": name, "description": _first_paragraph(info.module.__doc__ or name)}
            for name, info in self._app.extensions["hub"].plugins.items() if name in used
        ]

    def build_paths(self, rule: Rule) -> tuple[dict, dict]:
        paths, components = super().build_paths(rule)
        view = self._app.view_functions[rule.endpoint]
        blueprint_name = rule.endpoint.rpartition(".")[0]
        blueprint = self._app.blueprints.get(blueprint_name)
        plugin = self._app.extensions["hub"].blueprint_owner.get(blueprint_name, CORE_PLUGIN)
        doc = inspect.getdoc(view) or ""
        operations = [operation for item in paths.values() for operation in item.values()]
        for operation in operations:
            operation["tags"] = [plugin]
            operation["summary"] = _first_paragraph(doc)
            operation["description"] = doc
        responses = operations[0]["responses"]  # one dict, shared by the rule's methods
        for status, response in responses.items():
            response["description"] = response.get("description") or HTTPStatus(status).phrase
        query_model = getattr(view, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, None)
        if query_model is not None and issubclass(query_model, PageQuery) and 200 in responses:
            responses[200]["headers"] = {
                name: {"description": text, "schema": {"type": "integer"}} for name, text in PAGE_HEADERS.items()
            }
        for status, response in self._error_responses(rule, view, blueprint, plugin).items():
            responses.setdefault(status, response)  # a body the view documents itself (/health's 503) stays
        return paths, components

    def _error_responses(self, rule: Rule, view: Callable, blueprint: Any, plugin: str) -> dict[int, dict]:
        access = getattr(view, ACCESS_ATTRIBUTE, ("public", None))
        protected = access[0] == "permission"
        statuses = {429} | set(getattr(view, ERRORS_ATTRIBUTE, ())) | set(getattr(blueprint, ERRORS_ATTRIBUTE, ()))
        if protected:
            statuses |= {401, 403}
        if getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None):
            statuses |= {400, 413, 415}  # invalid, too large, not JSON
        if getattr(view, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, None):
            statuses.add(400)
        if rule.arguments or (protected and plugin != CORE_PLUGIN):
            statuses.add(404)  # an unknown id, or a plugin switched off for the organization
        model = getattr(view, ERROR_MODEL_ATTRIBUTE, None) or getattr(blueprint, ERROR_MODEL_ATTRIBUTE, ErrorResponse)
        self._error_models.add(model)
        codes = self._codes_by_status(plugin)
        return {
            status: {
                "description": _error_description(status, codes.get(status, [])),
                "content": {"application/json": {"schema": {"$ref": COMPONENTS.format(model=model.__name__)}}},
            }
            for status in sorted(statuses)
        }

    def _codes_by_status(self, plugin: str) -> dict[int, list[str]]:
        codes: dict[int, list[str]] = {}
        for code, status, owner, _ in self._app.extensions["hub"].error_codes:
            if owner in (CORE_PLUGIN, plugin):
                codes.setdefault(status, []).append(code)
        return codes

    def build_querystring_parameters(self, model: type) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        parameters, components = super().build_querystring_parameters(model)
        for parameter in parameters:
            parameter["schema"] = _plain_parameter(parameter["schema"])
            if parameter["schema"].get("type") == "array":
                parameter["explode"] = False  # ?status=a,b
        return parameters, components

    def build_response_object(self, model: Any, headers_model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if model is None:
            return {"description": "No content"}, {}
        if isinstance(model, Text):
            return {"description": "", "content": {model.media_type: {"schema": {"type": "string"}}}}, {}
        response, components = super().build_response_object(model, headers_model)
        if not isinstance(model, type):  # list[Model]: quart-schema takes list's own docstring
            response["description"] = ""
        return response, components


class HubSchema(QuartSchema):
    """quart-schema serving its document serialized once."""

    openapi_provider_class = HubOpenAPIProvider
    _document: str | None = None

    def init_app(self, app: Quart) -> None:
        # The documentation pages' scripts come from the Hub, not from a CDN (offline machines).
        app.config["QUART_SCHEMA_SWAGGER_JS_URL"] = f"{ASSETS}/swagger-ui/swagger-ui-bundle.js"
        app.config["QUART_SCHEMA_SWAGGER_CSS_URL"] = f"{ASSETS}/swagger-ui/swagger-ui.css"
        app.config["QUART_SCHEMA_REDOC_JS_URL"] = f"{ASSETS}/redoc/redoc.standalone.js"
        app.config["QUART_SCHEMA_SCALAR_JS_URL"] = f"{ASSETS}/scalar/standalone.js"
        super().init_app(app)
        HubJSONProvider.replace(app)  # after quart-schema set its provider: keep its conversions
        app.add_url_rule(f"{ASSETS}/<path:name>", "docs_assets", self.docs_asset)

    @hide
    async def docs_asset(self, name: str):
        response = await send_from_directory(STATIC_DIR, name)
        response.cache_control.public = True
        response.cache_control.max_age = 86400
        return response

    # quart-schema's own pages, but with nothing that reaches the internet: Swagger UI without
    # its online validator badge, Scalar without its web fonts and its CORS proxy.
    # The pages' Content-Security-Policy keeps them on this origin even where a bundle would reach
    # out by itself (ReDoc's footer logo from cdn.redoc.ly): the browser does not send the request.
    @hide
    async def swagger_ui(self):
        return _docs_page(await render_template_string(
            SWAGGER_PAGE, title=self.info.title,
            js=current_app.config["QUART_SCHEMA_SWAGGER_JS_URL"], css=current_app.config["QUART_SCHEMA_SWAGGER_CSS_URL"]))

    @hide
    async def redoc_ui(self):
        return _docs_page(await render_template_string(
            REDOC_PAGE, title=self.info.title, js=current_app.config["QUART_SCHEMA_REDOC_JS_URL"]))

    @hide
    async def scalar_ui(self):
        return _docs_page(await render_template_string(
            SCALAR_PAGE, title=self.info.title, js=current_app.config["QUART_SCHEMA_SCALAR_JS_URL"]))

    @hide
    async def openapi(self):
        if self._document is None:
            self._document = current_app.json.dumps(self.openapi_provider.schema())
        return current_app.response_class(self._document, mimetype="application/json")


DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'")


def _docs_page(body: str):
    response = current_app.response_class(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="{{ css }}"></head>
<body><div id="swagger-ui"></div>
<script src="{{ js }}"></script>
<script>
SwaggerUIBundle({url: "{{ url_for('openapi') }}", dom_id: "#swagger-ui", deepLinking: true, layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis], showExtensions: true, showCommonExtensions: true, validatorUrl: null});
</script></body></html>
"""

REDOC_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title><style>body { margin: 0; }</style></head>
<body><redoc spec-url="{{ url_for('openapi') }}"></redoc>
<script src="{{ js }}"></script><noscript>This page requires JavaScript.</noscript></body></html>
"""

SCALAR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title><style>body { margin: 0; }</style></head>
<body><script id="api-reference" data-url="{{ url_for('openapi') }}"
  data-configuration='{"withDefaultFonts": false, "hideClientButton": true, "telemetry": false}'></script>
<script src="{{ js }}"></script></body></html>
"""


def install(app: Quart, version: str) -> QuartSchema:
    return HubSchema(
        app,
        info={"title": "The Hub", "version": version},
        # Models with an alias generator (camelCase plugins such as crm) answer in their aliases.
        pydantic_dump_options={"by_alias": True},
        security_schemes={
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearer_format": "JWT or API key"},
            "apiKeyHeader": {"type": "apiKey", "name": "X-API-Key", "in_": "header"},
        },
    )

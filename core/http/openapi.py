"""The API's own description: `/openapi.json`, Swagger UI at `/docs`, ReDoc at `/redocs`.

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
from typing import Any, Callable

from pydantic import BaseModel
from quart import Quart, current_app
from quart_schema import OpenAPIProvider, QuartSchema
from quart_schema.extension import hide
from quart_schema.validation import QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, QUART_SCHEMA_REQUEST_ATTRIBUTE
from werkzeug.routing import Rule

from core.http.application import HubJSONProvider
from core.http.auth import ACCESS_ATTRIBUTE, KEY_HEADER_SCHEMES
from core.http.pagination import PageQuery
from core.kernel.plugins import CORE_PLUGIN

OPENAPI_ENDPOINTS = {"openapi", "redoc_ui", "scalar_ui", "swagger_ui", "static"}
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
        super().init_app(app)
        HubJSONProvider.replace(app)  # after quart-schema set its provider: keep its conversions

    @hide
    async def openapi(self):
        if self._document is None:
            self._document = current_app.json.dumps(self.openapi_provider.schema())
        return current_app.response_class(self._document, mimetype="application/json")


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

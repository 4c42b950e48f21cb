"""The API's own description: `/openapi.json`, Swagger UI at `/docs`, ReDoc at `/redocs`."""

from __future__ import annotations

from quart import Quart
from quart_schema import QuartSchema

OPENAPI_ENDPOINTS = {"openapi", "redoc_ui", "scalar_ui", "swagger_ui", "static"}


def install(app: Quart, version: str) -> QuartSchema:
    return QuartSchema(
        app,
        info={"title": "The Hub", "version": version},
        # Models with an alias generator (camelCase plugins such as crm) answer in their aliases.
        pydantic_dump_options={"by_alias": True},
        security_schemes={
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearer_format": "JWT or API key"},
            "apiKeyHeader": {"type": "apiKey", "name": "X-API-Key", "in_": "header"},
        },
    )

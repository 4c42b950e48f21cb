"""Query strings as pydantic models: what a route reads from `?...` is declared once, shows in
/openapi.json and is validated, so an unknown or bad parameter is a 400 naming it instead of
being silently ignored.

    class LeadQuery(OffsetQuery):                          # limit + offset (core/http/pagination.py)
        status: LeadStatus | None = None                   # ?status= (empty) is a 400
        source: Blankable[str] = None                      # ?source= (empty) means "not given"
        company_id: Blankable[str] = Field(None, alias="companyId")

    @bp.get("/api/leads")
    @require("crm.leads.read")
    @validate_query(LeadQuery)
    async def list_leads(query_args: LeadQuery): ...

Unknown parameters and bad values: 400 VALIDATION_ERROR, details {field: the (first) parameter,
reason, errors: [{field, reason}, ...]}, for unknown ones also `allowed`: the parameter names.
"""

from __future__ import annotations

from functools import wraps
from typing import Annotated, Any, Callable, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from quart import request
from quart_schema import document_querystring

from core.kernel.errors import HubError

Q = TypeVar("Q", bound="Query")
T = TypeVar("T")


class Query(BaseModel):
    """The base of query-string models: parameters by their alias (`companyId`), nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def parameter_names(cls) -> list[str]:
        return sorted(field.alias or name for name, field in cls.model_fields.items())


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _split_commas(value: Any) -> Any:
    parts = value if isinstance(value, list) else [value]  # ?tags=a,b or ?tags=a&tags=b
    if not all(isinstance(part, str) for part in parts):
        return value
    return [item.strip() for part in parts for item in part.split(",") if item.strip()]


# A parameter that may be sent empty or blank (`?source=`): as if it were not sent (None).
Blankable = Annotated[T | None, BeforeValidator(_blank_is_none)]
# `?status=running,pending` (or repeated): a list, blanks and empty items dropped.
CommaSeparated = Annotated[list[T], BeforeValidator(_split_commas)]


def parse_query(model: type[Q], *, only_declared: bool = False) -> Q:
    """The request's query string as `model`. `only_declared` reads just the model's parameters
    and leaves others alone (for `paginate()` in a route that declares no query model)."""
    names = set(model.parameter_names())
    unknown = sorted(set(request.args) - names)
    if unknown and not only_declared:
        problems = [{"field": name, "reason": "unknown query parameter"} for name in unknown]
        raise HubError("VALIDATION_ERROR", "Invalid input data", {
            **problems[0], "errors": problems, "allowed": sorted(names),
        })
    values = {name: given[0] if len(given) == 1 else given for name, given in request.args.lists() if name in names}
    try:
        return model.model_validate(values)
    except ValidationError as error:
        problems = [
            {"field": str(item["loc"][0]) if item["loc"] else "query", "reason": item["msg"]}
            for item in error.errors(include_url=False)
        ]
        raise HubError("VALIDATION_ERROR", "Invalid input data", {**problems[0], "errors": problems}) from None


def validate_query(model: type[Query]) -> Callable:
    """Validate the query string against `model` and pass it to the view as `query_args`
    (quart-schema's `validate_querystring` with the Hub's errors); documents the parameters."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await view(*args, query_args=parse_query(model), **kwargs)

        return document_querystring(model)(wrapper)

    return decorator

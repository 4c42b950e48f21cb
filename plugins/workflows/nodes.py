"""The node types this plugin gives every workflow (registered through `hub_workflow_nodes`).

A node's `run(ctx, config, inputs)` gets its config with every `{{ }}` already evaluated and the
data that reached each of its input ports (`inputs["main"]`), and returns data by output port:
a port it leaves out sends nothing down its edges (how decision-logic picks a branch).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core import HubError, call_function, is_unsafe_error, safe_client

MAX_RESPONSE_BYTES = 5 * 1024 * 1024


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- triggers and inputs ----------------------------------------------------------------------------


class TriggerConfig(_Config):
    description: str | None = Field(None, max_length=500)


async def pass_through(ctx, config, inputs: dict) -> dict:
    """The execution's input, as it came (a webhook's payload, a manual run's inputs)."""
    return {"main": inputs.get("main", {})}


class ScheduleConfig(_Config):
    """The workflow starts by itself at these times (plugins/workflows/schedules.py)."""

    cron: str = Field(max_length=100, description="five-field cron expression, e.g. '0 3 * * *'")
    timezone: str = Field("UTC", max_length=64, description="an IANA time zone, e.g. Europe/Paris")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter

        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError("not a five-field cron expression")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone") from None
        return value


class FormField(_Config):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    type: Literal["string", "number", "boolean", "object", "array"] = "string"
    required: bool = False
    default: Any = None


class FormConfig(_Config):
    fields: list[FormField] = Field(default_factory=list, max_length=100)


_JSON_TYPES = {"string": str, "number": (int, float), "boolean": bool, "object": dict, "array": list}


async def form_input(ctx, config: FormConfig, inputs: dict) -> dict:
    """The declared fields of the execution's input, checked and with their defaults."""
    given = inputs.get("main") or {}
    values, problems = {}, []
    for field in config.fields:
        value = given.get(field.name, field.default)
        if value is None:
            if field.required:
                problems.append(f"{field.name} is required")
            values[field.name] = None
            continue
        expected = _JSON_TYPES[field.type]
        if not isinstance(value, expected) or (field.type == "number" and isinstance(value, bool)):
            problems.append(f"{field.name} must be a {field.type}")
        values[field.name] = value
    if problems:
        raise ValueError("; ".join(problems))
    return {"main": values}


# -- logic and data ---------------------------------------------------------------------------


class DecisionConfig(_Config):
    condition: bool = Field(description="usually an expression: '{{ input.score > 50 }}'")


async def decision(ctx, config: DecisionConfig, inputs: dict) -> dict:
    """The input goes out of `true` or `false`: only that branch runs."""
    return {"true" if config.condition else "false": inputs.get("main")}


class TransformConfig(_Config):
    mapping: dict[str, Any] = Field(default_factory=dict, description="output fields; values may be expressions")
    keep_input: bool = Field(False, description="start from the input's fields (an object), then apply mapping")
    remove: list[str] = Field(default_factory=list, max_length=100, description="fields to drop")


async def transform(ctx, config: TransformConfig, inputs: dict) -> dict:
    data = inputs.get("main")
    result = dict(data) if config.keep_input and isinstance(data, dict) else {}
    result.update(config.mapping)
    for name in config.remove:
        result.pop(name, None)
    return {"main": result}


class OutputConfig(_Config):
    format: Literal["json", "text", "csv"] = "json"
    template: str | None = Field(None, max_length=20_000, description="text format: the text (with expressions)")
    fields: list[str] = Field(default_factory=list, max_length=100, description="json/csv: only these fields")


async def output_formatter(ctx, config: OutputConfig, inputs: dict) -> dict:
    """The execution's result, shaped: a JSON object, a text, or CSV from a list of objects."""
    data = inputs.get("main")
    if config.format == "text":
        return {"main": {"text": config.template if config.template is not None else json.dumps(data, default=str)}}
    rows = data if isinstance(data, list) else [data]
    if config.fields:
        rows = [{name: row.get(name) for name in config.fields} if isinstance(row, dict) else row for row in rows]
    if config.format == "csv":
        names = config.fields or sorted({name for row in rows if isinstance(row, dict) for name in row})
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(row for row in rows if isinstance(row, dict))
        return {"main": {"csv": buffer.getvalue()}}
    return {"main": rows if isinstance(data, list) else rows[0]}


# -- the outside world and the Hub ----------------------------------------------------------------


class ApiConfig(_Config):
    url: str = Field(max_length=2000)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    timeout_seconds: float = Field(10, gt=0, le=60)
    max_response_bytes: int = Field(1024 * 1024, ge=1, le=MAX_RESPONSE_BYTES)
    fail_on_error_status: bool = True


async def api_request(ctx, config: ApiConfig, inputs: dict) -> dict:
    """An HTTP call through the SSRF guard (private addresses refused unless allowlisted,
    redirects not followed), with a timeout and a response size limit."""
    allowlist = ctx.hub.settings.webhooks.allowlist
    ctx.add_usage(api_calls=1)
    try:
        async with safe_client(allowlist, timeout=config.timeout_seconds) as client:
            request = client.build_request(config.method, config.url, headers=config.headers, params=config.query,
                                           json=config.body if config.body is not None else None)
            response = await client.send(request, stream=True)
            try:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > config.max_response_bytes:
                        raise ValueError(f"the response is larger than {config.max_response_bytes} bytes")
            finally:
                await response.aclose()
    except ValueError:
        raise
    except Exception as error:
        unsafe = is_unsafe_error(error)
        if unsafe is not None:
            raise ValueError(f"the URL is not allowed: {unsafe}") from None
        raise ConnectionError(f"{config.method} {config.url}: {type(error).__name__}: {error}"[:500]) from None
    text = body.decode(response.encoding or "utf-8", errors="replace")
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    result = {"status": response.status_code, "headers": dict(response.headers), "body": parsed}
    if config.fail_on_error_status and response.status_code >= 400:
        raise ConnectionError(f"{config.method} {config.url} answered {response.status_code}")
    return {"main": result}


class FunctionConfig(_Config):
    function: str = Field(max_length=100, description="a hub function (GET /api/v1/functions)")
    arguments: dict[str, Any] = Field(default_factory=dict)


async def function_call(ctx, config: FunctionConfig, inputs: dict) -> dict:
    """A hub function of any enabled plugin, with the rights of the user who started the run."""
    return {"main": await _call(ctx, config.function, config.arguments)}


async def database_query(ctx, config: FunctionConfig, inputs: dict) -> dict:
    """Reads through a hub function that only reads (its permission is a read permission):
    a definition never carries SQL."""
    function = ctx.hub.functions.get(config.function)
    permission = ctx.hub.permissions.permissions.get(function.permission) if function else None
    if function is not None and (permission is None or permission.level != "read"):
        raise ValueError(f"{config.function} changes data: use a function-call node for it")
    return {"main": await _call(ctx, config.function, config.arguments)}


async def _call(ctx, name: str, arguments: dict) -> Any:
    if ctx.principal is None:
        raise PermissionError("the user who started this execution can no longer act in the organization")
    try:
        result = await call_function(ctx.hub, ctx.principal, name, arguments)
    except HubError as error:
        raise ValueError(f"{name}: {error.message}" + (f" ({error.details})" if error.details else "")) from None
    return result.model_dump(mode="json") if isinstance(result, BaseModel) else result


NODE_TYPES = (
    # name, description, config model, run, inputs, outputs
    ("workflows.webhook-trigger", "Starts a workflow with a webhook's payload", TriggerConfig, pass_through, (), ("main",)),
    ("workflows.schedule-trigger", "Starts a workflow on a cron schedule", ScheduleConfig, pass_through, (), ("main",)),
    ("workflows.form-input", "Starts a workflow with checked form fields", FormConfig, form_input, (), ("main",)),
    ("workflows.decision-logic", "Sends its input down the true or the false branch", DecisionConfig, decision,
     ("main",), ("true", "false")),
    ("workflows.data-transformation", "Builds an object from its input and expressions", TransformConfig, transform,
     ("main",), ("main",)),
    ("workflows.output-formatter", "Shapes the result as JSON, text or CSV", OutputConfig, output_formatter,
     ("main",), ("main",)),
    ("workflows.api-integration", "Calls an HTTP API (SSRF-guarded, bounded)", ApiConfig, api_request,
     ("main",), ("main",)),
    ("workflows.function-call", "Calls a hub function of any enabled plugin", FunctionConfig, function_call,
     ("main",), ("main",)),
    ("workflows.database-query", "Reads data through a read-only hub function", FunctionConfig, database_query,
     ("main",), ("main",)),
)

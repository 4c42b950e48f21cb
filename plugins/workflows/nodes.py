"""The node types this plugin gives every workflow (registered through `hub_workflow_nodes`).

A node's `run(ctx, config, inputs)` gets its config with every `{{ }}` already evaluated and the
data that reached each of its input ports (`inputs["main"]`), and returns data by output port:
a port it leaves out sends nothing down its edges (how decision-logic picks a branch).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core import HubError, call_function, is_unsafe_error, open_file, safe_client

MAX_RESPONSE_BYTES = 5 * 1024 * 1024
MAX_FILE_BYTES = 50 * 1024 * 1024  # the most a file-processor step may read


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


# -- files ----------------------------------------------------------------------------------------


class FileProcessorConfig(_Config):
    file_id: str = Field(max_length=64, description="a stored file (POST /api/files), e.g. '{{ inputs.file_id }}'")
    format: Literal["auto", "csv", "json"] = Field("auto", description="auto: from the file's detected type")
    delimiter: str = Field(",", min_length=1, max_length=1, description="csv: the field separator")
    has_header: bool = Field(True, description="csv: the first row names the fields (else column_1, column_2...)")
    max_rows: int = Field(1000, ge=1, le=100_000, description="rows read at most (row_count says how many came)")
    select: list[str] = Field(default_factory=list, max_length=100, description="only these fields of each row")
    max_bytes: int = Field(10 * 1024 * 1024, ge=1, le=MAX_FILE_BYTES, description="a larger file fails the step")


CSV_TYPES = {"text/csv", "text/plain", "text/tab-separated-values"}


async def file_processor(ctx, config: FileProcessorConfig, inputs: dict) -> dict:
    """Rows of a stored CSV or JSON file of the organization, read as a stream (a CSV is parsed
    as it arrives and reading stops at `max_rows`; a JSON file is at most `max_bytes`)."""
    try:
        reader = await open_file(ctx.org_id, config.file_id, shared=True, hub=ctx.hub)
    except HubError:
        raise LookupError(f"file {config.file_id} not found in this organization") from None
    info = reader.info
    if info.size > config.max_bytes:
        raise ValueError(f"file {info.name} is {info.size} bytes, over this step's max_bytes ({config.max_bytes})")
    kind = config.format
    if kind == "auto":
        kind = "json" if info.content_type == "application/json" else "csv" if info.content_type in CSV_TYPES else None
        if kind is None:
            raise ValueError(f"file {info.name} is {info.content_type}: only CSV and JSON files can be processed")
    elif info.content_type not in CSV_TYPES | {"application/json"}:
        raise ValueError(f"file {info.name} is {info.content_type}, not {kind}")
    rows, truncated = await (_json_rows if kind == "json" else _csv_rows)(reader, config)
    if config.select:
        rows = [{name: row.get(name) for name in config.select} for row in rows]
    return {"main": {"rows": rows, "row_count": len(rows), "truncated": truncated,
                     "file": {"id": str(info.id), "name": info.name, "content_type": info.content_type,
                              "size": info.size, "format": kind}}}


def _complete_records(text: str) -> tuple[list[str], str]:
    """The CSV records that `text` completes and the rest: a newline ends a record unless it
    sits inside quotes (an odd number of quotes before it in the record; "" escapes keep pairs)."""
    records, start, position, quoted = [], 0, 0, False
    while (newline := text.find("\n", position)) >= 0:
        quoted ^= text.count('"', position, newline) % 2 == 1
        position = newline + 1
        if not quoted:
            records.append(text[start:position])
            start = position
    return records, text[start:]


async def _csv_rows(reader, config: FileProcessorConfig) -> tuple[list[dict], bool]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    header: list[str] | None = None
    rows: list[dict] = []
    pending, received = "", 0

    def take(records: list[str]) -> bool:
        """Add the records' rows; True once max_rows is passed (more rows exist)."""
        nonlocal header
        for values in csv.reader(records, delimiter=config.delimiter):
            if not values:
                continue  # a blank line
            if header is None:
                if config.has_header:
                    header = [name.strip() or f"column_{i}" for i, name in enumerate(values, 1)]
                    continue
                header = []
            if len(rows) == config.max_rows:
                return True
            names = header + [f"column_{i}" for i in range(len(header) + 1, len(values) + 1)]
            rows.append({name: (values[i] if i < len(values) else None) for i, name in enumerate(names)})
        return False

    try:
        async for chunk in reader:
            received += len(chunk)
            if received > config.max_bytes:
                raise ValueError(f"file {reader.info.name} is over this step's max_bytes ({config.max_bytes})")
            records, pending = _complete_records(pending + decoder.decode(chunk))
            if take(records):
                return rows, True
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ValueError(f"file {reader.info.name} is not UTF-8 text") from None
    except csv.Error as error:
        raise ValueError(f"file {reader.info.name} is not valid CSV: {error}") from None
    return rows, take([pending]) if pending.strip() else False


async def _json_rows(reader, config: FileProcessorConfig) -> tuple[list[dict], bool]:
    content = bytearray()
    async for chunk in reader:
        content += chunk
        if len(content) > config.max_bytes:
            raise ValueError(f"file {reader.info.name} is over this step's max_bytes ({config.max_bytes})")
    try:
        data = json.loads(content)
    except ValueError as error:
        raise ValueError(f"file {reader.info.name} is not valid JSON: {error}") from None
    items = data if isinstance(data, list) else [data]
    rows = [item if isinstance(item, dict) else {"value": item} for item in items[: config.max_rows]]
    return rows, len(items) > config.max_rows


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
    ("workflows.file-processor", "Reads the rows of a stored CSV or JSON file", FileProcessorConfig, file_processor,
     ("main",), ("main",)),
)

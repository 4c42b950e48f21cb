"""The n8n node types, run by the Hub's workflow engine (registered through `hub_workflow_nodes`).

Every n8n node keeps its n8n `parameters` as its config (the engine has already evaluated the
`{{ }}` expressions in them, translated from n8n's by expressions.py). Data between nodes is one
item's JSON (what n8n's `$json` is), or a list of them where n8n makes several items (Merge's
append, an HTTP response that is a list).

Ports: n8n numbers outputs and inputs (0, 1, ...); here they are `main`, `main_1`, `main_2`, ...
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core import is_unsafe_error, safe_client

MAX_RESPONSE_BYTES = 5 * 1024 * 1024
MAX_WAIT_SECONDS = 3_000  # a node's own timeout is at most an hour; longer waits are refused on save
SWITCH_OUTPUTS = 16
WAIT_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def port(index: int) -> str:
    """n8n's output/input number as a Hub port name."""
    return "main" if index == 0 else f"main_{index}"


class N8nConfig(BaseModel):
    """An n8n node's config: its parameters as n8n exported them (expressions translated), its
    name (what `$('Name')` and the webhook's trigger refer to) and its typeVersion."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    type_version: float = Field(1, ge=0, le=100)
    parameters: dict[str, Any] = Field(default_factory=dict)


def _item(value: Any) -> Any:
    """The first item of a node's data (n8n's `$json` of the first item)."""
    if isinstance(value, list):
        return value[0] if value else {}
    return value if value is not None else {}


# -- triggers ----------------------------------------------------------------------------------------


async def trigger(ctx, config: N8nConfig, inputs: dict) -> dict:
    """A Webhook or Manual Trigger node: an execution started by one trigger (the n8n routes put
    its name in `n8n_trigger`) runs only that trigger's branch; any other run (the Hub's execute
    API) starts every trigger with the execution's input."""
    given = inputs.get("main") or {}
    if isinstance(given, dict) and "n8n_trigger" in given:
        return {"main": given.get("json", {})} if given["n8n_trigger"] == config.name else {}
    return {"main": given}


# -- data and logic ---------------------------------------------------------------------------------


def _set_path(target: dict, path: str, value: Any, dot_notation: bool) -> None:
    parts = path.split(".") if dot_notation else [path]
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[parts[-1]] = value


def _typed(value: Any, kind: str | None, name: str) -> Any:
    if kind in (None, "string"):
        return value if isinstance(value, str) or kind is None else ("" if value is None else
                                                                       json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    if kind == "number":
        if isinstance(value, bool) or value is None:
            raise ValueError(f"'{name}' expects a number but we got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"'{name}' expects a number but we got {value!r}") from None
        return int(number) if number.is_integer() and not isinstance(value, float) else number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        if isinstance(value, (int, float)):
            return bool(value)
        raise ValueError(f"'{name}' expects a boolean but we got {value!r}")
    if kind in ("object", "array"):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError(f"'{name}' expects an {kind} but we got {value!r}"[:200]) from None
        if not isinstance(value, dict if kind == "object" else list):
            raise ValueError(f"'{name}' expects an {kind} but we got {value!r}"[:200])
        return value
    return value


async def set_fields(ctx, config: N8nConfig, inputs: dict) -> dict:
    """Set / Edit Fields: assignments (v3.3+) or the older values.string/number/boolean lists."""
    params = config.parameters
    item = _item(inputs.get("main"))
    options = params.get("options") or {}
    dot_notation = options.get("dotNotation", True) is not False
    mode = params.get("mode", "manual")
    if mode == "raw":
        result = _typed(params.get("jsonOutput", "{}"), "object", "jsonOutput")
    else:
        keep = params.get("includeOtherFields", False) if config.type_version >= 3 else not params.get("keepOnlySet", False)
        result = json.loads(json.dumps(item)) if keep and isinstance(item, dict) else {}
        if "assignments" in params:
            for assignment in (params.get("assignments") or {}).get("assignments", []):
                name = assignment.get("name", "")
                _set_path(result, name, _typed(assignment.get("value"), assignment.get("type", "string"), name), dot_notation)
        else:
            for kind, entries in (params.get("values") or {}).items():
                for entry in entries or []:
                    name = entry.get("name", "")
                    _set_path(result, name, _typed(entry.get("value"), kind if kind != "string" else None, name),
                              dot_notation)
        if mode == "manual" and "fields" in params:  # v3.0-3.2: fields.values [{name, type, stringValue...}]
            for entry in (params.get("fields") or {}).get("values", []):
                kind = entry.get("type", "stringValue").removesuffix("Value")
                name = entry.get("name", "")
                _set_path(result, name, _typed(entry.get(f"{kind}Value"), kind, name), dot_notation)
    return {"main": result}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def condition_holds(condition: dict, loose: bool = False) -> bool:
    """One n8n filter condition (IF v2, Switch v3): {leftValue, rightValue, operator: {type, operation}}."""
    operator = condition.get("operator") or {}
    kind, operation = operator.get("type", "string"), operator.get("operation", "equals")
    left, right = condition.get("leftValue"), condition.get("rightValue")
    if operation in ("exists", "notExists"):
        return (left is not None) == (operation == "exists")
    if operation in ("empty", "notEmpty", "isEmpty", "isNotEmpty"):
        return _empty(left) == (operation in ("empty", "isEmpty"))
    if kind == "boolean":
        truth = left if isinstance(left, bool) else (str(left).lower() == "true" if loose else left)
        if operation in ("true", "false"):
            return truth is (operation == "true")
        right_truth = right if isinstance(right, bool) else (str(right).lower() == "true" if loose else right)
        return (truth == right_truth) == (operation in ("equals", "equal"))
    if kind in ("number", "dateTime"):
        a, b = _number(left), _number(right)
        if a is None or (b is None and operation not in ()):
            if operation in ("equals", "notEquals") and left is None and right is None:
                return operation == "equals"
            return operation == "notEquals"
        return {"equals": a == b, "notEquals": a != b, "gt": a > b, "lt": a < b, "gte": a >= b, "lte": a <= b,
                "after": a > b, "before": a < b, "afterOrEquals": a >= b, "beforeOrEquals": a <= b}.get(operation, False)
    if kind == "array":
        items = left if isinstance(left, list) else []
        if operation in ("contains", "notContains"):
            return (right in items) == (operation == "contains")
        size = _number(right)
        return {"lengthEquals": len(items) == size, "lengthNotEquals": len(items) != size, "lengthGt": size is not None and len(items) > size,
                "lengthLt": size is not None and len(items) < size, "lengthGte": size is not None and len(items) >= size,
                "lengthLte": size is not None and len(items) <= size}.get(operation, False)
    if kind == "object":
        return False
    text = "" if left is None else str(left)
    other = "" if right is None else str(right)
    if operator.get("caseSensitive") is False or condition.get("ignoreCase"):
        text, other = text.lower(), other.lower()
    checks = {
        "equals": lambda: text == other, "notEquals": lambda: text != other,
        "contains": lambda: other in text, "notContains": lambda: other not in text,
        "startsWith": lambda: text.startswith(other), "notStartsWith": lambda: not text.startswith(other),
        "endsWith": lambda: text.endswith(other), "notEndsWith": lambda: not text.endswith(other),
        "regex": lambda: _regex(other, text), "notRegex": lambda: not _regex(other, text),
    }
    check = checks.get(operation)
    return bool(check and check())


def _regex(pattern: str, text: str) -> bool:
    import regex  # bounded by a timeout: a user's pattern must not hang the worker

    match = re.fullmatch(r"/(.*)/([gimsuy]*)", pattern, re.S)
    flags = regex.IGNORECASE if match and "i" in match.group(2) else 0
    try:
        return regex.search(match.group(1) if match else pattern, text, flags=flags, timeout=0.5) is not None
    except (regex.error, TimeoutError):
        return False


def conditions_hold(conditions: Any, combinator: str = "and", loose: bool = False) -> bool:
    """IF v2's `conditions`: {conditions: [...], combinator: and|or, options: {...}}."""
    if isinstance(conditions, dict):
        combinator = conditions.get("combinator", combinator)
        loose = loose or (conditions.get("options") or {}).get("typeValidation") == "loose"
        conditions = conditions.get("conditions", [])
    results = (condition_holds(condition, loose) for condition in conditions or [])
    return any(results) if combinator == "or" else all(results)


def legacy_conditions_hold(params: dict) -> bool:
    """IF v1: conditions.{string,number,boolean}: [{value1, operation, value2}], combineOperation all|any."""
    operations = {"equal": "equals", "notEqual": "notEquals", "larger": "gt", "smaller": "lt",
                  "largerEqual": "gte", "smallerEqual": "lte", "isEmpty": "isEmpty", "isNotEmpty": "isNotEmpty"}
    checks = []
    for kind, entries in (params.get("conditions") or {}).items():
        for entry in entries or []:
            operation = entry.get("operation", "equal")
            checks.append(condition_holds({"leftValue": entry.get("value1"), "rightValue": entry.get("value2"),
                                           "operator": {"type": kind, "operation": operations.get(operation, operation)}}))
    return any(checks) if params.get("combineOperation") == "any" else all(checks)


async def if_node(ctx, config: N8nConfig, inputs: dict) -> dict:
    """IF: the item goes out of output 0 (true) or 1 (false)."""
    params = config.parameters
    holds = (conditions_hold(params.get("conditions"), loose=bool(params.get("looseTypeValidation")))
             if config.type_version >= 2 else legacy_conditions_hold(params))
    return {port(0 if holds else 1): inputs.get("main")}


async def switch(ctx, config: N8nConfig, inputs: dict) -> dict:
    """Switch v3: the first rule that holds picks the output (all of them with allMatchingOutputs);
    mode "expression": the `output` parameter is the output's number."""
    params = config.parameters
    data = inputs.get("main")
    if params.get("mode") == "expression":
        index = _number(params.get("output"))
        if index is None or not 0 <= index < SWITCH_OUTPUTS or not float(index).is_integer():
            raise ValueError(f"The output {params.get('output')!r} is not allowed")
        return {port(int(index)): data}
    options = params.get("options") or {}
    rules = (params.get("rules") or {}).get("values", [])
    chosen = [index for index, rule in enumerate(rules)
              if conditions_hold(rule.get("conditions"), loose=bool(params.get("looseTypeValidation")))]
    if chosen and not options.get("allMatchingOutputs"):
        chosen = chosen[:1]
    if not chosen:
        fallback = options.get("fallbackOutput", "none")
        if fallback == "extra":
            chosen = [len(rules)]
        elif fallback not in ("none", None) and _number(fallback) is not None:
            chosen = [int(_number(fallback))]
    return {port(index): data for index in chosen}


async def merge(ctx, config: N8nConfig, inputs: dict) -> dict:
    """Merge: append (both inputs' items), combine by position or by matching fields, or pass one input."""
    params = config.parameters
    first, second = inputs.get("main"), inputs.get("main_1")
    mode = params.get("mode", "append")
    if mode in ("chooseBranch", "passThrough"):  # v2: output input1|input2|empty; v3: useDataOfInput 1|2
        if params.get("output") == "empty":
            return {"main": {}}
        use = params.get("useDataOfInput") or (2 if params.get("output") == "input2" else 1)
        return {"main": second if str(use) == "2" else first}
    if mode == "append" or (first is None) != (second is None):
        items = [item for side in (first, second) if side is not None
                 for item in (side if isinstance(side, list) else [side])]
        return {"main": items[0] if len(items) == 1 else items}
    if mode == "combine" and params.get("combineBy", params.get("combinationMode")) in (
            "combineByFields", "mergeByFields", None) and ("fieldsToMatchString" in params or "mergeByFields" in params):
        pairs = [(f.strip(), f.strip()) for f in str(params.get("fieldsToMatchString", "")).split(",") if f.strip()]
        for entry in (params.get("mergeByFields") or {}).get("values", []):
            pairs.append((entry.get("field1"), entry.get("field2")))
        a, b = _item(first), _item(second)
        if all(a.get(left) == b.get(right) for left, right in pairs):
            return {"main": {**a, **b}}
        return {}  # no match: nothing goes on (an inner join of one item each)
    return {"main": {**_item(first), **_item(second)}}  # combine by position


async def no_op(ctx, config: N8nConfig, inputs: dict) -> dict:
    """No Operation (and every disabled node): its input, unchanged."""
    return {"main": inputs.get("main")}


async def wait(ctx, config: N8nConfig, inputs: dict) -> dict:
    """Wait (resume: timeInterval): sleeps `amount` `unit`s, then passes its input on."""
    seconds = wait_seconds(config.parameters)
    await asyncio.sleep(seconds)
    return {"main": inputs.get("main")}


def wait_seconds(params: dict) -> float:
    amount = _number(params.get("amount", 1))
    unit = params.get("unit", "hours")
    if amount is None or amount < 0 or unit not in WAIT_UNITS:
        raise ValueError(f"Wait: amount {params.get('amount')!r} {unit!r} is not a time interval")
    return amount * WAIT_UNITS[unit]


# -- HTTP -----------------------------------------------------------------------------------------------


def _pairs(block: Any) -> dict[str, Any]:
    return {entry.get("name"): entry.get("value") for entry in (block or {}).get("parameters", []) if entry.get("name")}


async def http_request(ctx, config: N8nConfig, inputs: dict) -> dict:
    """HTTP Request v3/v4: method, url, query, headers and a JSON or form body, through the Hub's
    SSRF guard; the response's JSON (or {"data": text}); options.response.response.fullResponse
    gives {body, headers, statusCode}; a 4xx/5xx fails the node unless neverError."""
    params = config.parameters
    method = str(params.get("method", params.get("requestMethod", "GET"))).upper()
    url = params.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://", url):
        raise ValueError(f"Invalid URL: {url!r}. URL must start with \"http\" or \"https\".")
    query = _pairs(params.get("queryParameters")) if params.get("sendQuery") else {}
    headers = _pairs(params.get("headerParameters")) if params.get("sendHeaders") else {}
    request: dict[str, Any] = {"params": {k: str(v) for k, v in query.items()},
                               "headers": {k: str(v) for k, v in headers.items()}}
    if params.get("sendBody"):
        content = params.get("contentType", "json")
        if params.get("specifyBody") == "json" or "jsonBody" in params and content == "json":
            body = params.get("jsonBody", "{}")
            request["json"] = json.loads(body) if isinstance(body, str) else body
        elif content in ("form-urlencoded", "multipart-form-data"):
            request["data"] = {k: str(v) for k, v in _pairs(params.get("bodyParameters")).items()}
        elif content == "raw":
            request["content"] = str(params.get("body", ""))
            request["headers"].setdefault("Content-Type", params.get("rawContentType", "text/plain"))
        else:
            request["json"] = _pairs(params.get("bodyParameters"))
    options = params.get("options") or {}
    response_options = ((options.get("response") or {}).get("response") or {})
    timeout = (_number(options.get("timeout")) or 300_000) / 1000
    try:
        async with safe_client(ctx.hub.settings.webhooks.allowlist, timeout=min(timeout, 300)) as client:
            async with client.stream(method, url, **request) as response:
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise ValueError(f"The response is larger than {MAX_RESPONSE_BYTES} bytes")
                    chunks.append(chunk)
    except Exception as error:
        if is_unsafe_error(error):
            raise ValueError(f"The URL is not allowed: {error}") from None
        if isinstance(error, ValueError):
            raise
        raise ValueError(f"The connection to {url} failed: {type(error).__name__}") from None
    raw = b"".join(chunks)
    if response.status_code >= 400 and not response_options.get("neverError"):
        raise ValueError(f"Request failed with status code {response.status_code}")
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    wanted = response_options.get("responseFormat", "autodetect")
    body: Any = text
    if wanted in ("json", "autodetect"):
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            if wanted == "json":
                raise ValueError("The response is not valid JSON") from None
    if response_options.get("fullResponse"):
        return {"main": {"body": body, "headers": dict(response.headers), "statusCode": response.status_code,
                         "statusMessage": response.reason_phrase}}
    if isinstance(body, (dict, list)):
        return {"main": body}
    return {"main": {response_options.get("outputPropertyName", "data"): body}}


# -- Respond to Webhook ---------------------------------------------------------------------------------


async def respond(ctx, config: N8nConfig, inputs: dict) -> dict:
    """Respond to Webhook: what the waiting webhook request answers (read by the webhook route
    from this step's `response` output), and its input passed on."""
    params = config.parameters
    data = inputs.get("main")
    options = params.get("options") or {}
    respond_with = params.get("respondWith", "firstIncomingItem")
    headers = {entry.get("name"): str(entry.get("value", ""))
               for entry in ((options.get("responseHeaders") or {}).get("entries") or []) if entry.get("name")}
    if respond_with == "json":
        body = params.get("responseBody", "")
        if isinstance(body, str):
            try:
                body = json.loads(body) if body.strip() else {}
            except ValueError:
                raise ValueError("Invalid JSON in 'Response Body' field") from None
        payload: dict[str, Any] = {"json": body}
    elif respond_with == "text":
        payload = {"text": str(params.get("responseBody", ""))}
    elif respond_with == "noData":
        payload = {"text": ""}
    elif respond_with == "allIncomingItems":
        payload = {"json": data if isinstance(data, list) else [data]}
    else:  # firstIncomingItem
        payload = {"json": _item(data)}
    code = _number(options.get("responseCode", 200))
    return {"main": data, "response": {**payload, "status": int(code) if code else 200, "headers": headers}}


NODE_TYPES = (
    # hub name, description, run, input ports, output ports
    ("n8n.webhook", "n8n Webhook: starts the workflow when its URL is called", trigger, (), ("main",)),
    ("n8n.manual-trigger", "n8n Manual Trigger: starts the workflow with the execution's input", trigger, (), ("main",)),
    ("n8n.set", "n8n Set (Edit Fields): sets fields on the item", set_fields, ("main",), ("main",)),
    ("n8n.if", "n8n IF: the item goes out of output 0 (true) or 1 (false)", if_node, ("main",), (port(0), port(1))),
    ("n8n.switch", "n8n Switch: routes the item to the output of the first rule that holds", switch, ("main",),
     tuple(port(i) for i in range(SWITCH_OUTPUTS))),
    ("n8n.merge", "n8n Merge: joins its two inputs", merge, (port(0), port(1)), ("main",)),
    ("n8n.http-request", "n8n HTTP Request: calls a URL (SSRF-guarded)", http_request, ("main",), ("main",)),
    ("n8n.no-op", "n8n No Operation: passes its input on", no_op, ("main",), ("main",)),
    ("n8n.wait", "n8n Wait: waits a time interval", wait, ("main",), ("main",)),
    ("n8n.respond-to-webhook", "n8n Respond to Webhook: sets the webhook's response", respond, ("main",),
     ("main", "response")),
)

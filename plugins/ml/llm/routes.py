"""HTTP: the OpenAI-compatible API under /v1 (seed 000 xlam-server) and seed 001's
`POST /api/ai/completions`, both on the local model of runtime.py.

Errors under /v1 are OpenAI-shaped, `{"error": {"message", "type", "param", "code"}}` (plus
`request_id`), so that OpenAI clients understand them; /api/ai keeps the Hub envelope.
Every generation is metered per organization: one `ai_api_calls` and its `ai_tokens`
(checked against the quota before, with an estimate; 429 AI_QUOTA_EXCEEDED when over).
"""

from __future__ import annotations

import json
import time
import uuid
from contextlib import aclosing
from typing import Any

from quart import Blueprint, Response, g, jsonify, stream_with_context
from quart_schema import RequestSchemaValidationError, document_response, validate_request

from core import (
    HubError,
    OffsetQuery,
    available_functions,
    current_hub,
    current_principal,
    document_errors,
    openai_tool,
    pydantic_details,
    require,
    validate_query,
)
from plugins.ml.llm import runtime as llm
from plugins.ml.llm.schemas import (
    AIProcessingRequest,
    AIProcessingResponse,
    ChatCompletion,
    ChatCompletionRequest,
    FunctionList,
    ModelCard,
    ModelList,
    NamedToolChoice,
    OpenAIError,
)

bp = document_errors(model=OpenAIError)(Blueprint("llm_openai", __name__))
ai_bp = Blueprint("llm_ai", __name__)

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "invalid_request_error", 409: "invalid_request_error", 413: "invalid_request_error",
                429: "rate_limit_error", 503: "service_unavailable_error"}


# -- OpenAI-shaped errors ---------------------------------------------------------------------


def openai_error(status: int, code: str, message: str, details: dict | None = None,
                 headers: dict[str, str] | None = None):
    details = details or {}
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    if code in ("QUOTA_EXCEEDED", "AI_QUOTA_EXCEEDED"):
        kind = "insufficient_quota"
    openai_code = "model_not_found" if code == "NOT_FOUND" and details.get("param") == "model" else code.lower()
    body = {"error": {"message": message, "type": kind, "param": details.get("param") or details.get("field"),
                      "code": openai_code, "request_id": getattr(g, "request_id", None)}}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.errorhandler(HubError)
async def _hub_error(error: HubError):
    return openai_error(error.status, error.code, error.message, error.details, error.headers)


@bp.errorhandler(RequestSchemaValidationError)
async def _schema_error(error: RequestSchemaValidationError):
    cause = error.validation_error
    details = pydantic_details(cause) if hasattr(cause, "errors") else {"field": "body", "reason": str(cause)}
    return openai_error(400, "VALIDATION_ERROR", f"Invalid request: {details['field']}: {details['reason']}", details)


@bp.errorhandler(UnicodeDecodeError)
async def _bad_encoding(error: UnicodeDecodeError):
    # the app's handler answers the Hub's envelope; under /v1 it is OpenAI's
    return openai_error(400, "VALIDATION_ERROR", "Request body is not valid UTF-8", {"field": "body"})


# -- helpers ----------------------------------------------------------------------------------


def _estimate_tokens(messages: list[dict], tools: list[dict] | None, max_tokens: int) -> int:
    """A cheap upper-ish estimate for the quota check before generating (4 characters a token)."""
    characters = len(json.dumps(messages, ensure_ascii=False)) + len(json.dumps(tools or [], ensure_ascii=False))
    return characters // 4 + max_tokens


def _usage(completion: llm.Completion) -> dict[str, int]:
    return {"prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
            "total_tokens": completion.total_tokens}


def _tool_calls_json(completion: llm.Completion) -> list[dict] | None:
    if not completion.tool_calls:
        return None
    return [{"id": call.id, "type": "function",
             "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)}}
            for call in completion.tool_calls]


def _chat_request(data: ChatCompletionRequest) -> dict[str, Any]:
    """The runtime's arguments from the validated request."""
    tool_choice = data.tool_choice
    if isinstance(tool_choice, NamedToolChoice):
        tool_choice = tool_choice.model_dump()
    return {
        "messages": [m.model_dump(exclude_none=True) for m in data.messages],
        "tools": [t.model_dump(exclude_none=True) for t in data.tools] if data.tools else None,
        "tool_choice": tool_choice if tool_choice is not None else ("auto" if data.tools else "none"),
        "max_tokens": data.max_completion_tokens or data.max_tokens,
        "temperature": data.temperature if data.temperature is not None else 0.0,
        "model": data.model,
    }


async def _begin(runtime: llm.ModelRuntime, arguments: dict[str, Any]) -> None:
    """Refuse early: unknown model (404), no model file (503), over quota (429)."""
    runtime._check_model(arguments["model"])
    await runtime.ensure_loaded()
    max_tokens = arguments["max_tokens"] or runtime.settings.default_max_tokens
    estimate = _estimate_tokens(arguments["messages"], arguments["tools"], max_tokens)
    await llm.check_quota(current_principal().org_id, estimate)


# -- /v1 --------------------------------------------------------------------------------------


@bp.post("/v1/chat/completions")
@require("llm.chat")
@validate_request(ChatCompletionRequest)
@document_response(ChatCompletion)
@document_errors(503)
async def chat_completions(data: ChatCompletionRequest):
    """OpenAI-compatible chat completion on the local model, with the caller's hub functions as
    tools; `stream: true` answers server-sent events (`chat.completion.chunk`s, then `[DONE]`)."""
    runtime = llm.current_runtime()
    arguments = _chat_request(data)
    await _begin(runtime, arguments)
    org_id = current_principal().org_id
    if data.stream:
        include_usage = bool(data.stream_options and data.stream_options.include_usage)
        return await _stream_response(runtime, arguments, org_id, include_usage)
    completion = await runtime.complete(**arguments)
    await llm.record_tokens(org_id, completion)
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": completion.model,
        "choices": [{"index": 0, "logprobs": None, "finish_reason": completion.finish_reason,
                     "message": {"role": "assistant", "content": completion.content,
                                 "tool_calls": _tool_calls_json(completion)}}],
        "usage": _usage(completion),
    }


async def _stream_response(runtime: llm.ModelRuntime, arguments: dict[str, Any], org_id, include_usage: bool):
    """Server-sent events in OpenAI's chunk format, ending with `data: [DONE]`. The first event is
    awaited before answering, so that a full queue is still a 503 and not a broken stream."""
    events = runtime.stream(**arguments)
    first = await events.__anext__()
    chunk_id, created = "chatcmpl-" + uuid.uuid4().hex, int(time.time())

    def chunk(delta: dict, finish_reason: str | None = None, **extra) -> str:
        body = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": runtime.name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    @stream_with_context
    async def body():
        async with aclosing(events):
            yield chunk({"role": "assistant", "content": ""})
            event = first
            while True:
                if isinstance(event, llm.ContentDelta):
                    yield chunk({"content": event.text})
                elif isinstance(event, llm.ToolCallStart):
                    yield chunk({"tool_calls": [{"index": event.index, "id": event.id, "type": "function",
                                                 "function": {"name": event.name, "arguments": ""}}]})
                elif isinstance(event, llm.ArgumentsDelta):
                    yield chunk({"tool_calls": [{"index": event.index, "function": {"arguments": event.text}}]})
                elif isinstance(event, llm.Finished):
                    completion = event.completion
                    await llm.record_tokens(org_id, completion)
                    yield chunk({}, completion.finish_reason)
                    if include_usage:
                        body = {"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                                "model": runtime.name, "choices": [], "usage": _usage(completion)}
                        yield f"data: {json.dumps(body)}\n\n"
                    break
                event = await events.__anext__()
            yield "data: [DONE]\n\n"

    response = Response(body(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.timeout = None  # generation may take longer than Quart's default response timeout
    return response


@bp.get("/v1/models")
@require("llm.models.read")
@document_response(ModelList)
async def list_models():
    """The local model and its aliases (OpenAI's model list)."""
    runtime = llm.current_runtime()
    cards = [{"id": name, "object": "model", "created": runtime.created, "owned_by": "hub"}
             for name in (runtime.name, *runtime.settings.aliases)]
    return {"object": "list", "data": cards}


@bp.get("/v1/models/<model_id>")
@require("llm.models.read")
@document_response(ModelCard)
async def get_model(model_id: str):
    """One model by name or alias."""
    runtime = llm.current_runtime()
    runtime._check_model(model_id)
    return {"id": model_id, "object": "model", "created": runtime.created, "owned_by": "hub"}


@bp.get("/v1/functions")
@require("llm.models.read")
@validate_query(OffsetQuery)
@document_response(FunctionList)
async def list_functions(query_args: OffsetQuery):
    """The hub functions the caller may use, as OpenAI tool schemas (from their pydantic models)."""
    page = query_args.page(default_limit=100)
    functions = sorted(await available_functions(current_hub(), current_principal()), key=lambda f: f.name)
    return page.respond({"object": "list", "data": [openai_tool(f) for f in page.cut(functions)]}, len(functions))


# -- /api/ai (seed 001, the Hub's error envelope) ---------------------------------------------


@ai_bp.post("/api/ai/completions")
@require("llm.chat")
@validate_request(AIProcessingRequest)
@document_response(AIProcessingResponse)
@document_errors(503)
async def ai_completions(data: AIProcessingRequest):
    """Seed 001's AI processing: a prompt with optional context and functions, one completion."""
    runtime = llm.current_runtime()
    messages = []
    if data.context:
        messages.append({"role": "system", "content": "Context:\n" + "\n".join(data.context)})
    messages.append({"role": "user", "content": data.prompt})
    tools = [{"type": "function", "function": f.model_dump()} for f in data.functions] if data.functions else None
    choice = data.function_call
    if choice is None:
        choice = "auto" if tools else "none"
    elif not isinstance(choice, str):
        choice = {"type": "function", "function": {"name": choice.name}}
    arguments = {"messages": messages, "tools": tools, "tool_choice": choice, "max_tokens": data.max_tokens,
                 "temperature": data.temperature if data.temperature is not None else 0.0, "model": data.model}
    await _begin(runtime, arguments)
    completion = await runtime.complete(**arguments)
    await llm.record_tokens(current_principal().org_id, completion)
    call = completion.tool_calls[0] if completion.tool_calls else None
    message = {"role": "assistant", "content": completion.content,
               "function_call": {"name": call.name, "arguments": json.dumps(call.arguments)} if call else None}
    return {
        "id": "cmpl-" + uuid.uuid4().hex,
        "object": "text_completion",
        "created": int(time.time()),
        "model": completion.model,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": "function_call" if call else completion.finish_reason}],
        "usage": _usage(completion),
        "cost_estimate": round(completion.total_tokens / 1000 * runtime.settings.cost_per_1k_tokens, 6),
    }

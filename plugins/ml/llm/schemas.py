"""Request and response models: the OpenAI chat-completions API (seed 000 xlam-server) and
seed 001's AIProcessingRequest/Response (`/api/ai/completions`).

Requests accept (and ignore) OpenAI parameters we do not implement, so unmodified clients
work; what we do implement is validated strictly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FunctionName = Annotated[str, Field(max_length=64, pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
# An agent stores its model's name in 200 characters: any model usable here can be an agent's.
ModelName = Annotated[str, Field(min_length=1, max_length=200)]
# Text that goes into the prompt: the model's context bounds it again (a longer prompt is a 400).
PromptText = Annotated[str, Field(max_length=200_000)]
# No model has a longer context (plugins.llm context_size's own bound); a request's max_tokens is
# also capped at the max_tokens_limit setting.
MaxTokens = Annotated[int, Field(ge=1, le=1_048_576)]
# A JSON Schema (a function's parameters), or a call's arguments: compiled into the prompt and
# the grammar, so bounded by the model's context as well as by the request body's size.
IN_THE_PROMPT = {"x-bounded-by": "the model's context (plugins.llm context_size): a longer prompt is a 400"}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FunctionDefinition(_Lenient):
    name: FunctionName
    description: str = Field("", max_length=4_000)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}},
                                       json_schema_extra=IN_THE_PROMPT)
    strict: bool | None = None


class Tool(_Lenient):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class NamedFunction(_Lenient):
    name: FunctionName


class NamedToolChoice(_Lenient):
    type: Literal["function"] = "function"
    function: NamedFunction


class ToolCallFunction(_Lenient):
    name: str = Field(max_length=64)
    arguments: PromptText | Annotated[dict[str, Any], Field(json_schema_extra=IN_THE_PROMPT)] = "{}"


class MessageToolCall(_Lenient):
    id: str = Field("", max_length=256)
    type: Literal["function"] = "function"
    function: ToolCallFunction


class ContentPart(_Lenient):
    """A part of a message's content: its text (other kinds of parts, images, are not read)."""

    type: str = Field("text", max_length=32)
    text: PromptText | None = None


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: PromptText | Annotated[list[ContentPart], Field(max_length=1_000)] | None = None
    name: str | None = Field(None, max_length=64)
    tool_calls: list[MessageToolCall] | None = Field(None, max_length=128)
    tool_call_id: str | None = Field(None, max_length=256)


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatCompletionRequest(_Lenient):
    model: ModelName
    messages: list[ChatMessage] = Field(min_length=1, max_length=1_000)
    tools: list[Tool] | None = Field(None, max_length=128)
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: MaxTokens | None = None
    max_completion_tokens: MaxTokens | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1)
    user: str | None = Field(None, max_length=256)  # the end user, for the caller's own records

    @model_validator(mode="after")
    def _tool_names_unique(self) -> "ChatCompletionRequest":
        names = [tool.function.name for tool in self.tools or []]
        if len(names) != len(set(names)):
            raise ValueError("tools: function names must be unique")
        return self


# -- responses (documentation; the routes build plain dicts) ------------------------------------


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ResponseToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ResponseToolCall] | None = None


class Choice(BaseModel):
    index: int
    message: ResponseMessage
    finish_reason: Literal["stop", "length", "tool_calls"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class FunctionList(BaseModel):
    object: Literal["list"] = "list"
    data: list[dict[str, Any]]  # OpenAI tool schemas: {"type": "function", "function": {...}}


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None
    code: str
    request_id: str | None


class OpenAIError(BaseModel):
    """Errors under /v1 are OpenAI-shaped, so that OpenAI clients understand them."""

    error: OpenAIErrorBody


# -- seed 001 "AI Service Integration" -------------------------------------------------------------


class AIFunction(_Lenient):
    name: FunctionName
    description: str = Field("", max_length=4_000)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}},
                                       json_schema_extra=IN_THE_PROMPT)


class AIProcessingRequest(_Lenient):
    model: ModelName
    prompt: str = Field(min_length=1, max_length=200_000)
    max_tokens: MaxTokens | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    functions: list[AIFunction] | None = Field(None, max_length=128)
    function_call: Literal["auto", "none"] | NamedFunction | None = None
    context: list[PromptText] | None = Field(None, max_length=100)


class AIFunctionCall(BaseModel):
    name: str
    arguments: str


class AIMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    function_call: AIFunctionCall | None = None


class AIChoice(BaseModel):
    index: int
    message: AIMessage
    finish_reason: Literal["stop", "length", "function_call"]


class AIProcessingResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[AIChoice]
    usage: CompletionUsage
    cost_estimate: float

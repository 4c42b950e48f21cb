"""Chat formats for function calling: OpenAI-shaped messages and tools in, a prompt string out;
the model's text in, content and tool calls out.

Two formats, chosen per model in settings (`chat_format`):

- "xml" (Hermes / Qwen style, the `<tools>` format of seed 000): the tools go into the system
  message inside `<tools>...</tools>`, one JSON signature per line; a call is
  `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`; tool results go back as a user
  turn `<tool_response>...</tool_response>`. The turns are then rendered with the model's own
  chat template (SmolLM2's is ChatML), so any instruct model can be used.
- "xlam" (Salesforce xLAM): one user turn made of `[BEGIN OF TASK INSTRUCTION]`,
  `[BEGIN OF AVAILABLE TOOLS]`, `[BEGIN OF FORMAT INSTRUCTION]`, (`[BEGIN OF HISTORY STEPS]`) and
  `[BEGIN OF QUERY]` blocks, as in the xLAM model card; the answer is
  `{"tool_calls": [{"name": ..., "arguments": {...}}]}` (an empty list when no call is needed).

We do not use llama-cpp-python's `chatml-function-calling` handler: it hides tool descriptions,
shows tools only with a system message and ignores max_tokens inside arguments.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

from plugins.ml.llm.grammar import CallShape

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

XML_SHAPE = CallShape(prefix="<tool_call>\n", suffix="\n</tool_call>", text_excludes="<")
XLAM_SHAPE = CallShape(prefix='{"tool_calls":[', suffix="]}", text_excludes="{", empty='{"tool_calls":[]}')
SHAPES = {"xml": XML_SHAPE, "xlam": XLAM_SHAPE}

XML_SYSTEM = (
    "You are a function calling AI model. You are provided with function signatures within <tools></tools> "
    "XML tags. You may call one of these functions to assist with the user query. Don't make assumptions "
    "about what values to plug into functions. Here are the available tools:\n<tools>\n{tools}\n</tools>\n"
    "For a function call, return a json object with the function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{{\"name\": <function-name>, \"arguments\": <args-json-object>}}"
    "\n</tool_call>"
)

XLAM_TASK = (
    "You are an expert in composing functions. You are given a question and a set of possible functions. \n"
    "Based on the question, you will need to make one or more function/tool calls to achieve the purpose. \n"
    "If none of the functions can be used, point it out and refuse to answer. \n"
    "If the given question lacks the parameters required by the function, also point it out."
)
XLAM_FORMAT = (
    "The output MUST strictly adhere to the following JSON format, and NO other text MUST be included.\n"
    "The example format is as follows. Please make sure the parameter type is correct. If no function call is "
    "needed, please make tool_calls an empty list '[]'.\n```\n{\n    \"tool_calls\": [\n    {\"name\": \"func_name1\", "
    "\"arguments\": {\"argument1\": \"value1\", \"argument2\": \"value2\"}},\n    ... (more tool calls as required)\n"
    "    ]\n}\n```"
)

# Schema keys that only cost prompt tokens (the grammar still sees the full schema).
_NOISE_KEYS = {"title", "examples"}


@dataclass
class ParsedCall:
    name: str
    arguments: Any
    id: str = field(default_factory=lambda: "call_" + uuid.uuid4().hex[:24])


@dataclass
class ParsedOutput:
    content: str | None
    calls: list[ParsedCall]


def _text(content: Any) -> str:
    """OpenAI content: a string, null, or a list of parts ({"type": "text", "text": ...})."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def _clean_schema(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean_schema(v) for k, v in value.items() if k not in _NOISE_KEYS}
    if isinstance(value, list):
        return [_clean_schema(v) for v in value]
    return value


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _call_json(call: dict) -> str:
    """An assistant message's tool call as the model is taught to write it."""
    function = call.get("function", call)
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            pass
    return _compact({"name": function.get("name"), "arguments": arguments})


class ChatTemplate:
    """A model's Jinja chat template (as in tokenizer_config.json / GGUF metadata)."""

    def __init__(self, template: str | None = None, bos_token: str = "", eos_token: str = "") -> None:
        self.source = template or CHATML_TEMPLATE
        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        environment.filters["tojson"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
        self._template = environment.from_string(self.source)
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(self, turns: list[dict[str, str]]) -> str:
        return self._template.render(
            messages=turns, add_generation_prompt=True, bos_token=self.bos_token, eos_token=self.eos_token,
            raise_exception=_raise,
        )


def _raise(message: str):
    raise ValueError(message)


def tool_signatures(tools: list[dict]) -> list[dict]:
    return [_clean_schema({"type": "function", "function": t["function"]}) for t in tools]


# -- rendering -----------------------------------------------------------------------------------


def render(messages: list[dict], tools: list[dict] | None, tool_choice: Any, chat_format: str,
           template: ChatTemplate) -> str:
    """The prompt for `messages`; `tools` are shown unless tool_choice is "none". The choice itself
    is not written into the prompt (the grammar enforces it), so that the prompt's start - system
    message and tools - stays the same across requests and llama.cpp reuses its evaluation."""
    shown = tools if tools and tool_choice != "none" else None
    if chat_format == "xlam":
        return template.render(_xlam_turns(messages, shown, tool_choice))
    return template.render(_xml_turns(messages, shown, tool_choice))


def _xml_turns(messages: list[dict], tools: list[dict] | None, tool_choice: Any) -> list[dict[str, str]]:
    turns: list[dict[str, str]] = []
    system_parts = [_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")]
    if tools:
        lines = "\n".join(_compact(sig) for sig in tool_signatures(tools))
        system_parts.append(XML_SYSTEM.format(tools=lines))
    if system_parts:
        turns.append({"role": "system", "content": "\n\n".join(p for p in system_parts if p)})
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            continue
        if role == "tool":
            block = f"<tool_response>\n{_text(message.get('content'))}\n</tool_response>"
            if turns and turns[-1]["role"] == "user" and turns[-1]["content"].endswith("</tool_response>"):
                turns[-1]["content"] += "\n" + block  # results of one step go back together
            else:
                turns.append({"role": "user", "content": block})
        elif role == "assistant":
            parts = [_text(message.get("content"))] if message.get("content") else []
            parts += [f"<tool_call>\n{_call_json(call)}\n</tool_call>" for call in message.get("tool_calls") or []]
            turns.append({"role": "assistant", "content": "\n".join(parts)})
        else:
            turns.append({"role": "user", "content": _text(message.get("content"))})
    return turns


def _xlam_tools(tools: list[dict]) -> list[dict]:
    """xLAM's tool shape: name, description, parameters = the properties."""
    result = []
    for tool in tool_signatures(tools):
        function = tool["function"]
        result.append({"name": function["name"], "description": function.get("description", ""),
                       "parameters": (function.get("parameters") or {}).get("properties", {})})
    return result


def _xlam_turns(messages: list[dict], tools: list[dict] | None, tool_choice: Any) -> list[dict[str, str]]:
    system = "\n".join(_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
    conversation = [m for m in messages if m.get("role") not in ("system", "developer")]
    last_user = max((i for i, m in enumerate(conversation) if m.get("role") == "user"), default=None)
    query = _text(conversation[last_user].get("content")) if last_user is not None else ""
    history = []
    for message in conversation[:last_user] + conversation[last_user + 1:] if last_user is not None else conversation:
        role = message.get("role")
        if role == "assistant":
            step = {"thought": _text(message.get("content")),
                    "tool_calls": [json.loads(_call_json(c)) for c in message.get("tool_calls") or []]}
            history.append({"step_id": len(history) + 1, **step})
        elif role == "tool":
            history.append({"step_id": len(history) + 1, "next_observation": _text(message.get("content"))})
        else:
            history.append({"step_id": len(history) + 1, "user_input": _text(message.get("content"))})
    task = XLAM_TASK + (f"\n{system}" if system else "")
    prompt = f"[BEGIN OF TASK INSTRUCTION]\n{task}\n[END OF TASK INSTRUCTION]\n\n"
    if tools:
        prompt += f"[BEGIN OF AVAILABLE TOOLS]\n{json.dumps(_xlam_tools(tools), ensure_ascii=False)}\n[END OF AVAILABLE TOOLS]\n\n"
        prompt += f"[BEGIN OF FORMAT INSTRUCTION]\n{XLAM_FORMAT}\n[END OF FORMAT INSTRUCTION]\n\n"
    if history:
        prompt += f"[BEGIN OF HISTORY STEPS]\n{json.dumps(history, ensure_ascii=False)}\n[END OF HISTORY STEPS]\n\n"
    prompt += f"[BEGIN OF QUERY]\n{query}\n[END OF QUERY]\n\n"
    return [{"role": "user", "content": prompt}]


# -- parsing -------------------------------------------------------------------------------------

_XML_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


def _call_from(data: Any) -> ParsedCall | None:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):  # some models write the arguments as a JSON string
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    return ParsedCall(data["name"], arguments)


def parse(text: str, chat_format: str) -> ParsedOutput:
    """Content and tool calls in a model's answer. Text that does not parse as a call stays content."""
    if chat_format == "xlam":
        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                data = json.loads(stripped)
            except ValueError:
                return ParsedOutput(text, [])
            if isinstance(data, dict) and isinstance(data.get("tool_calls"), list):
                calls = [c for c in map(_call_from, data["tool_calls"]) if c is not None]
                if len(calls) == len(data["tool_calls"]):
                    return ParsedOutput(None, calls)
        return ParsedOutput(text, [])
    calls: list[ParsedCall] = []
    for match in _XML_CALL.finditer(text):
        try:
            call = _call_from(json.loads(match.group(1)))
        except ValueError:
            call = None
        if call is None:
            return ParsedOutput(text, [])
        calls.append(call)
    if not calls:
        return ParsedOutput(text, [])
    rest = _XML_CALL.sub("", text).strip()
    return ParsedOutput(rest or None, calls)

"""n8n expressions (`={{ $json.email }}`) rewritten as the Hub's `{{ }}` expressions.

n8n evaluates JavaScript; the Hub evaluates a small, safe language (plugins/workflows
expressions: names, lookups, comparisons, and/or/not, arithmetic). The common n8n forms map onto
it one to one:

    {{ $json.email }}                       {{ input.email }}
    {{ $json["first name"] }}               {{ input["first name"] }}
    {{ $('Webhook').item.json.body.id }}    {{ steps['Webhook'].output.body.id }}   (by node id)
    {{ $node["Set"].json.total }}           {{ steps['Set'].output.total }}
    {{ $input.first().json.x }}             {{ input.x }}
    {{ $execution.id }}, {{ $workflow.id }} {{ execution.id }}, {{ execution.workflow_id }}
    === !== && || ! true false null         == != and or not True False None

Anything else (JavaScript methods, template literals, `$now`, arrow functions) is refused with a
message naming it, so a workflow never saves with an expression that cannot run.
"""

from __future__ import annotations

import re
from typing import Any, Callable

EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)
_NAME = r"""(?P<q>['"])(?P<name>(?:(?!(?P=q)).)+)(?P=q)"""
# item accessors n8n offers on a node's or the input's output: each means "its (first) item"
_ITEM = r"\s*\.\s*(?:item|first\(\s*\)|last\(\s*\)|all\(\s*\)\s*\[\s*0\s*\])\s*\.\s*json"
NODE_REFERENCES = (
    re.compile(r"\$\(\s*" + _NAME + r"\s*\)" + _ITEM),
    re.compile(r"\$node\s*\[\s*" + _NAME + r"\s*\]\s*\.\s*json"),
)
INPUT_REFERENCE = re.compile(r"\$input" + _ITEM)
SIMPLE_NAMES = {
    "$json": "input",
    "$execution.id": "execution.id",
    "$workflow.id": "execution.workflow_id",
    "$vars": "variables",
}
WORDS = {"true": "True", "false": "False", "null": "None", "undefined": "None"}
STRING = re.compile(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*\"""")


class UntranslatableExpression(ValueError):
    """An n8n expression the Hub cannot run; the message says which part."""


def translate_value(value: Any, node_id: Callable[[str], str | None]) -> Any:
    """A parameter value with every n8n expression rewritten (dicts and lists walked)."""
    if isinstance(value, dict):
        return {key: translate_value(item, node_id) for key, item in value.items()}
    if isinstance(value, list):
        return [translate_value(item, node_id) for item in value]
    if not isinstance(value, str):
        return value
    if not value.startswith("="):
        if "{{" in value:
            raise UntranslatableExpression(f"text {value[:80]!r} holds '{{{{' without being an expression (start it with '=')")
        return value
    template = value[1:]
    return EXPRESSION.sub(lambda match: "{{ " + translate_code(match.group(1), node_id) + " }}", template)


def translate_code(code: str, node_id: Callable[[str], str | None]) -> str:
    """One `{{ }}`'s JavaScript as a Hub expression."""
    if "`" in code or "=>" in code:
        raise UntranslatableExpression(f"{code.strip()[:80]!r}: template literals and functions are not supported")

    def node_output(match: re.Match) -> str:
        name = match.group("name")
        target = node_id(name)
        if target is None:
            raise UntranslatableExpression(f"{code.strip()[:80]!r} refers to node {name!r}, which is not in the workflow")
        return f"steps[{target!r}].output"

    for pattern in NODE_REFERENCES:
        code = pattern.sub(node_output, code)
    code = INPUT_REFERENCE.sub("input", code)
    # the rest is rewritten outside string literals only
    pieces, last = [], 0
    for match in STRING.finditer(code):
        pieces.append(_rewrite_code(code[last:match.start()], code))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(_rewrite_code(code[last:], code))
    return "".join(pieces).strip()


def _rewrite_code(text: str, whole: str) -> str:
    for name, replacement in sorted(SIMPLE_NAMES.items(), key=lambda item: -len(item[0])):
        text = re.sub(re.escape(name) + r"(?![A-Za-z0-9_])", replacement, text)
    leftover = re.search(r"\$[A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_]+)?|\$\(", text)
    if leftover:
        raise UntranslatableExpression(f"{whole.strip()[:80]!r}: {leftover.group(0)!r} is not supported")
    text = text.replace("===", "==").replace("!==", "!=").replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"!(?!=)", " not ", text)
    text = re.sub(r"\b(true|false|null|undefined)\b", lambda m: WORDS[m.group(1)], text)
    text = re.sub(r"\s+", " ", text)
    if re.search(r"\?|\.\s*[A-Za-z_]+\s*\(", text):
        raise UntranslatableExpression(f"{whole.strip()[:80]!r}: the ?: operator and JavaScript methods are not supported")
    return text


def untranslate_value(value: Any, node_name: Callable[[str], str]) -> Any:
    """A Hub config value shown as n8n writes it (best effort, for workflows made in the Hub)."""
    if isinstance(value, dict):
        return {key: untranslate_value(item, node_name) for key, item in value.items()}
    if isinstance(value, list):
        return [untranslate_value(item, node_name) for item in value]
    if not isinstance(value, str) or "{{" not in value:
        return value

    def back(match: re.Match) -> str:
        code = re.sub(r"steps\[(['\"])(.+?)\1\]\.output", lambda m: f"$('{node_name(m.group(2))}').item.json", match.group(1))
        code = re.sub(r"(?<![A-Za-z0-9_.'\"])input(?![A-Za-z0-9_])", "$json", code)
        return "{{" + code + "}}"

    return "=" + EXPRESSION.sub(back, value)

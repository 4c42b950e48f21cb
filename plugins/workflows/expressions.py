"""`{{ }}` expressions in node configs and edge conditions, evaluated by a small interpreter.

    "Hello {{ inputs.name }}"                       -> "Hello Ada"   (text around: a string)
    "{{ steps.score.output.value }}"                 -> 87            (one expression: its value)
    "{{ steps['fetch-1'].output.items[0].id }}"      (ids with dashes: subscript them)
    "{{ input.total > 100 and variables.region in ['eu', 'us'] }}"

Names: `inputs` (the execution's input), `variables` (the workflow's), `steps` (each finished
node: `{"output", "status"}`), `input` (what reached this node), `execution` (`id`).

The text is parsed with Python's `ast` and only a whitelist of node kinds is walked: literals,
names of the scope, `.key` and `[key]` lookups in dicts and lists (never Python attributes),
comparisons, `and`/`or`/`not`, `+ - * / %`, `x if c else y`, list/dict literals and calls of a
few pure functions (FUNCTIONS). Nothing is ever passed to `eval`; sizes are bounded (the text,
the number of nodes, the length of strings and lists an operation may build).
"""

from __future__ import annotations

import ast
import operator
import re
from typing import Any

MAX_EXPRESSION_CHARS = 2_000
MAX_NODES = 200
MAX_RESULT_ITEMS = 100_000  # characters of a built string, items of a built list
TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.S)
WHOLE = re.compile(r"^\s*\{\{(.*?)\}\}\s*$", re.S)


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated; the message says why."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ExpressionError(f"not a number: {value!r}"[:200])
    try:
        return value if isinstance(value, (int, float)) else (int(value) if value.strip().lstrip("-").isdigit() else float(value))
    except ValueError:
        raise ExpressionError(f"not a number: {value!r}"[:200]) from None


def _length(value: Any) -> int:
    if not isinstance(value, (str, list, dict)):
        raise ExpressionError("len() takes a string, a list or an object")
    return len(value)


FUNCTIONS = {
    "len": _length,
    "str": _text,
    "number": _number,
    "int": lambda value: int(_number(value)),
    "float": lambda value: float(_number(value)),
    "bool": bool,
    "round": lambda value, digits=0: round(_number(value), int(digits)),
    "abs": lambda value: abs(_number(value)),
    "min": lambda *values: min(values[0] if len(values) == 1 else values),
    "max": lambda *values: max(values[0] if len(values) == 1 else values),
    "lower": lambda value: _text(value).lower(),
    "upper": lambda value: _text(value).upper(),
    "trim": lambda value: _text(value).strip(),
    "contains": lambda container, item: item in container if isinstance(container, (str, list, dict)) else False,
    "join": lambda items, separator=",": _text(separator).join(_text(item) for item in items),
    "keys": lambda value: list(value) if isinstance(value, dict) else [],
    "default": lambda value, fallback: fallback if value is None or value == "" else value,
}

_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
               ast.Div: operator.truediv, ast.Mod: operator.mod}
_ALLOWED = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Attribute, ast.Subscript, ast.Compare,
            ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.BinOp, ast.IfExp, ast.List,
            ast.Tuple, ast.Dict, ast.Call, *_COMPARE, *_ARITHMETIC)


def parse(text: str) -> ast.Expression:
    """The checked syntax tree of one expression (ExpressionError when it is not allowed)."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"not a valid expression: {error.msg}") from None
    count = 0
    for node in ast.walk(tree):
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"more than {MAX_NODES} parts")
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExpressionError(f"no field starting with '_' ({node.attr})")
        if isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS
                                           or node.keywords):
            raise ExpressionError(f"only these functions may be called: {', '.join(sorted(FUNCTIONS))}")
    return tree


def check_template(value: Any) -> None:
    """Parse every `{{ }}` inside `value` (strings, lists, dicts): ExpressionError on the first bad one."""
    for text in _strings(value):
        for match in TEMPLATE.finditer(text):
            parse(match.group(1))


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def evaluate(text: str, scope: dict[str, Any]) -> Any:
    """The value of one expression (without the braces) in `scope`."""
    return _Evaluator(scope).run(parse(text).body)


def render(value: Any, scope: dict[str, Any]) -> Any:
    """`value` with every `{{ }}` replaced: a string that is one expression becomes its value
    (any type); expressions inside longer text are written as text. Lists and dicts recurse."""
    if isinstance(value, str):
        whole = WHOLE.match(value)
        if whole and "{{" not in whole.group(1):
            return evaluate(whole.group(1), scope)
        if "{{" not in value:
            return value
        rendered = TEMPLATE.sub(lambda match: _text(evaluate(match.group(1), scope)), value)
        if len(rendered) > MAX_RESULT_ITEMS:
            raise ExpressionError(f"the text would be longer than {MAX_RESULT_ITEMS} characters")
        return rendered
    if isinstance(value, dict):
        return {key: render(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, scope) for item in value]
    return value


def truthy(text: str, scope: dict[str, Any]) -> bool:
    """An edge condition: with or without the braces."""
    whole = WHOLE.match(text)
    return bool(evaluate(whole.group(1) if whole else text, scope))


class _Evaluator:
    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope

    def run(self, node: ast.AST) -> Any:
        method = getattr(self, "_" + type(node).__name__)
        return method(node)

    def _Constant(self, node: ast.Constant) -> Any:
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            raise ExpressionError("only strings, numbers, booleans and None are literals")
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        if node.id in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[node.id]
        if node.id not in self.scope:
            raise ExpressionError(f"unknown name {node.id!r} (use one of: {', '.join(sorted(self.scope))})")
        return self.scope[node.id]

    def _Attribute(self, node: ast.Attribute) -> Any:
        return _lookup(self.run(node.value), node.attr)

    def _Subscript(self, node: ast.Subscript) -> Any:
        if isinstance(node.slice, ast.Slice):
            raise ExpressionError("slices are not allowed")
        return _lookup(self.run(node.value), self.run(node.slice))

    def _Compare(self, node: ast.Compare) -> bool:
        left = self.run(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.run(comparator)
            try:
                if not _COMPARE[type(op)](left, right):
                    return False
            except TypeError:
                raise ExpressionError(f"cannot compare {type(left).__name__} with {type(right).__name__}") from None
            left = right
        return True

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for item in node.values:
            value = self.run(item)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.run(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        return -_number(value)

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.run(node.left), self.run(node.right)
        if isinstance(node.op, ast.Mult):
            sequence, times = (left, right) if isinstance(left, (str, list)) else (right, left)
            if isinstance(sequence, (str, list)):
                if not isinstance(times, int) or isinstance(times, bool) or len(sequence) * max(times, 0) > MAX_RESULT_ITEMS:
                    raise ExpressionError(f"a repeated text or list must stay under {MAX_RESULT_ITEMS} items")
        if isinstance(node.op, ast.Add) and isinstance(left, (str, list)) and isinstance(right, type(left)):
            if len(left) + len(right) > MAX_RESULT_ITEMS:
                raise ExpressionError(f"a joined text or list must stay under {MAX_RESULT_ITEMS} items")
        try:
            return _ARITHMETIC[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ExpressionError("division by zero") from None
        except TypeError:
            raise ExpressionError(f"cannot apply {type(node.op).__name__} to {type(left).__name__} "
                                  f"and {type(right).__name__}") from None

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.run(node.body) if self.run(node.test) else self.run(node.orelse)

    def _List(self, node: ast.List) -> list:
        return [self.run(item) for item in node.elts]

    _Tuple = _List

    def _Dict(self, node: ast.Dict) -> dict:
        if any(key is None for key in node.keys):
            raise ExpressionError("** is not allowed in an object")
        return {self.run(key): self.run(value) for key, value in zip(node.keys, node.values)}

    def _Call(self, node: ast.Call) -> Any:
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise ExpressionError("* is not allowed in a call")
        arguments = [self.run(arg) for arg in node.args]
        try:
            return FUNCTIONS[node.func.id](*arguments)
        except ExpressionError:
            raise
        except (TypeError, ValueError) as error:
            raise ExpressionError(f"{node.func.id}(): {error}"[:300]) from None


def _lookup(container: Any, key: Any) -> Any:
    """`container[key]` for dicts (missing: None) and lists (out of range: None): nothing else
    can be looked into, so no Python attribute is ever reachable."""
    if isinstance(container, dict):
        return container.get(key) if isinstance(key, str) else container.get(str(key))
    if isinstance(container, list):
        if isinstance(key, bool) or not isinstance(key, int):
            raise ExpressionError("a list takes a number as index")
        return container[key] if -len(container) <= key < len(container) else None
    if container is None:
        return None
    raise ExpressionError(f"cannot look up {key!r} in a {type(container).__name__}"[:200])

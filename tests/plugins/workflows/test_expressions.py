"""`{{ }}` expressions: what they can read and compute, and what they refuse (the sandbox)."""

from __future__ import annotations

import pytest

from plugins.workflows.expressions import MAX_RESULT_ITEMS, ExpressionError, evaluate, render, truthy

SCOPE = {
    "inputs": {"name": "Ada", "tags": ["vip", "eu"], "amount": "120"},
    "variables": {"threshold": 100},
    "steps": {"fetch-1": {"output": {"items": [{"id": 7}, {"id": 8}]}, "status": "completed"},
              "score": {"output": {"value": 87}, "status": "completed"}},
    "input": {"total": 150, "region": "eu"},
    "execution": {"id": "e1"},
}


@pytest.mark.parametrize("text, value", [
    ("inputs.name", "Ada"),
    ("steps.score.output.value", 87),
    ("steps['fetch-1'].output.items[1].id", 8),
    ("steps['fetch-1'].output.items[5]", None),  # out of range: nothing, not an error
    ("input.total > variables.threshold and input.region in ['eu', 'us']", True),
    ("not (input.total > 200)", True),
    ("number(inputs.amount) + 1", 121),
    ("'vip' in inputs.tags", True),
    ("len(inputs.tags) * 2", 4),
    ("upper(inputs.name) + '!'", "ADA!"),
    ("'big' if input.total >= 150 else 'small'", "big"),
    ("inputs.missing", None),
    ("default(inputs.missing, 'none')", "none"),
    ("{'a': 1, 'b': [true, null]}", {"a": 1, "b": [True, None]}),
    ("-input.total % 7", -150 % 7),
])
def test_expressions_read_the_scope_and_compute(text, value):
    assert evaluate(text, SCOPE) == value


def test_render_keeps_the_type_of_a_whole_expression_and_writes_text_otherwise():
    assert render("{{ steps.score.output.value }}", SCOPE) == 87
    assert render("Dear {{ inputs.name }}, {{ len(inputs.tags) }} tags", SCOPE) == "Dear Ada, 2 tags"
    assert render({"to": ["{{ inputs.name }}"], "n": 3, "flag": "{{ input.total > 1 }}"}, SCOPE) == {
        "to": ["Ada"], "n": 3, "flag": True}
    assert truthy("input.total > 100", SCOPE) and not truthy("{{ input.total > 1000 }}", SCOPE)


@pytest.mark.parametrize("text", [
    "().__class__.__bases__[0].__subclasses__()",   # the classic escape
    "inputs.__class__",                             # a dunder field
    "inputs._private",
    "__import__('os').system('true')",               # a call of something not whitelisted
    "open('/etc/passwd')",
    "eval('1')",
    "[x for x in inputs.tags]",                      # comprehensions
    "lambda: 1",
    "inputs.name.upper()",                           # a method: Python attributes are not reachable
    "len(*inputs.tags)",
    "2 ** 100000",                                   # no power operator
    "inputs.tags[0:1]",                              # no slices
    "x := 1",
    "'a' * 10000000",                                # a text too big to build
    "[0] * (10 ** 9)",
    "1 / 0",
    "unknown_name",
    "len(5)",
    "steps.score.output.value + 'x'",
    "x" * 3000,                                      # too long
    " + ".join(["1"] * 300),                          # too many parts
])
def test_expressions_cannot_escape_the_sandbox_or_run_away(text):
    with pytest.raises(ExpressionError):
        evaluate(text, SCOPE)


def test_a_built_text_is_bounded_even_through_concatenation():
    scope = {"inputs": {"big": "x" * (MAX_RESULT_ITEMS - 10)}}
    with pytest.raises(ExpressionError):
        evaluate("inputs.big + inputs.big", scope)
    assert evaluate("len(inputs.big + 'y')", scope) == MAX_RESULT_ITEMS - 9

"""Every input is bounded in the OpenAPI document (hardening issue, item 1: "bound every
hyperparameter, and every numeric input of every plugin"): in every request body and query
string, each integer and number has a maximum, each string a maxLength, each array maxItems, and
no object takes properties of any shape (`dict[str, Any]`: how `hyperparameters` hid unbounded
integers that fed training loops). A bound enforced elsewhere is named in the schema, in
`x-bounded-by` (`Field(json_schema_extra={"x-bounded-by": "..."})`), with the reason.

Generated from /openapi.json: a new plugin's schemas are checked as soon as they are served.
"""

from __future__ import annotations

from tests.security.sweep import BOUNDED_FORMATS, Document, Kit

BOUND = "x-bounded-by"


def unbounded(document: Document, schema: dict, where: str) -> list[str]:
    """Where a schema takes a value without a bound, and what is missing."""
    found = []
    for place, part in document.leaves(schema, where):
        if part.get(BOUND) or "enum" in part or "const" in part:
            continue
        kind = part.get("type")
        if kind in ("integer", "number") and "maximum" not in part and "exclusiveMaximum" not in part:
            found.append(f"{place}: {kind} without a maximum")
        elif kind == "string" and "maxLength" not in part and part.get("format") not in BOUNDED_FORMATS:
            found.append(f"{place}: string without maxLength")
        elif kind == "array" and "maxItems" not in part:
            found.append(f"{place}: array without maxItems")
        elif kind == "object" or "properties" in part:
            extra = part.get("additionalProperties")  # a model ignoring unknown fields says nothing
            if extra is True or extra == {} or (not part.get("properties") and not extra):
                found.append(f"{place}: object open to properties of any shape")
        elif kind is None and not any(key in part for key in ("properties", "items", "$ref")):
            found.append(f"{place}: a value of any type")
    return found


async def test_every_input_is_bounded(hub_app):
    kit = await Kit.of(hub_app)
    document = kit.document
    offenders, inputs = [], 0
    for operation in document.operations:
        if operation.body is not None:
            inputs += 1
            offenders += unbounded(document, operation.body, f"{operation.name} body")
        for parameter in operation.query:
            inputs += 1
            offenders += unbounded(document, parameter["schema"], f"{operation.name} ?{parameter['name']}")
    assert not offenders, "\n".join(sorted(set(offenders)))
    assert inputs >= 100, inputs


async def test_bounds_elsewhere_say_where(hub_app):
    """`x-bounded-by` is a reason a reader can follow, not a way to silence the check."""
    kit = await Kit.of(hub_app)
    reasons = [(place, part[BOUND]) for operation in kit.document.operations
               for schema in [operation.body, *(p["schema"] for p in operation.query)] if schema
               for place, part in kit.document.leaves(schema, operation.name) if BOUND in part]
    assert reasons
    short = [(place, reason) for place, reason in reasons if not isinstance(reason, str) or len(reason) < 20]
    assert not short, short

"""Workflow templates without HTTP: who sees and changes which, parameters checked and put into
the graph, instantiation, reviews, and the built-in templates (builtin_templates.py)."""

from __future__ import annotations

import re
import uuid

import regex
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from core import Hub, HubError, Page, iso, transaction, utcnow
from plugins.workflows import service
from plugins.workflows.models import TemplateReview, WorkflowTemplate

PARAMETER = re.compile(r"\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
WHOLE_PARAMETER = re.compile(r"^\s*\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")
BUILT_IN_NAMESPACE = uuid.UUID("5b0c9a57-6a2e-4c41-9a55-2f1e0e3f7a10")
_PYTHON_TYPES = {"string": str, "number": (int, float), "boolean": bool}
PATTERN_SECONDS = 0.05


def visible_to(org_id: Any):
    """The templates an organization sees: its own, and every public one (built-ins are public)."""
    return WorkflowTemplate.filter(Q(org_id=org_id) | Q(is_public=True))


async def get_visible(org_id: Any, template_id: Any) -> WorkflowTemplate:
    try:
        wanted = uuid.UUID(str(template_id))
    except ValueError:
        raise HubError("NOT_FOUND", "Template not found", service.TEMPLATE_NOT_FOUND) from None
    template = await visible_to(org_id).filter(id=wanted).first()
    if template is None:
        raise HubError("NOT_FOUND", "Template not found", service.TEMPLATE_NOT_FOUND)
    return template


async def get_owned(org_id: Any, template_id: Any) -> WorkflowTemplate:
    """A template to change: 404 when unseen, 403 when public but someone else's (or built in)."""
    template = await get_visible(org_id, template_id)
    if template.org_id is None or str(template.org_id) != str(org_id):
        raise HubError("FORBIDDEN", "Only the organization that published this template can change it",
                       {"owner": "built-in" if template.org_id is None else "another organization"})
    return template


async def template_json(template: WorkflowTemplate, viewer_org: Any, reviews: list[TemplateReview] | None = None) -> dict:
    """The template as `viewer_org` sees it: the publisher and reviewers of other organizations
    are not named."""
    mine = template.org_id is not None and str(template.org_id) == str(viewer_org)
    if reviews is None:
        reviews = await TemplateReview.filter(template_id=template.id).order_by("-updated_at").limit(50)
    ratings = await TemplateReview.filter(template_id=template.id).values_list("rating", flat=True)
    average = sum(ratings) / len(ratings) if ratings else 0.0
    return {
        "id": str(template.id), "name": template.name, "description": template.description,
        "category": template.category, "tags": template.tags, "version": template.version,
        "is_public": template.is_public, "built_in": template.org_id is None,
        # A public template's publisher stays anonymous to other organizations
        "organization_id": str(template.org_id) if mine else None,
        "created_by": str(template.created_by) if mine and template.created_by else None,
        "created_at": iso(template.created_at), "updated_at": iso(template.updated_at),
        "definition": template.definition, "parameters": template.parameters, "preview_image": template.preview_image,
        "usage_count": template.usage_count, "rating": round(float(average), 2),
        "reviews": [{"user_id": str(r.user_id) if str(r.org_id) == str(viewer_org) else None, "rating": r.rating, "comment": r.comment,
                     "created_at": iso(r.created_at), "updated_at": iso(r.updated_at)} for r in reviews],
    }


async def list_templates(org_id: Any, page: Page, category: str | None, public_only: bool | None,
                         search: str | None) -> tuple[list[dict], int | None]:
    query = WorkflowTemplate.filter(is_public=True) if public_only else visible_to(org_id)
    if category:
        query = query.filter(category=category)
    if search:
        query = query.filter(Q(name__icontains=search) | Q(description__icontains=search))
    rows, total = await page.fetch(query, "-usage_count", "name")
    return [await template_json(row, org_id, reviews=[]) for row in rows], total


async def _checked(hub: Hub, org_id: Any, data: dict) -> dict:
    """The template's graph checked as a workflow's (parameters stand in as expressions), and
    its parameters' defaults against their own rules."""
    names = [p["name"] for p in data["parameters"]]
    if len(set(names)) != len(names):
        raise HubError("VALIDATION_ERROR", "A parameter is declared twice", {"field": "parameters", "reason": "names repeat"})
    used = set(PARAMETER.findall(str(data["definition"])))
    unknown = sorted(used - set(names))
    if unknown:
        raise HubError("VALIDATION_ERROR", "The definition uses undeclared parameters",
                       {"field": "definition", "reason": f"no parameter {', '.join(unknown)}"})
    for parameter in data["parameters"]:
        for rule in parameter.get("validation", []):
            if rule["rule"] == "pattern":
                try:
                    regex.compile(str(rule["value"])[:200])
                except regex.error as error:
                    raise HubError("VALIDATION_ERROR", "A parameter's pattern is not a regular expression",
                                   {"field": f"parameters.{parameter['name']}.validation", "reason": str(error)}) from None
        if parameter["type"] in ("select", "multiselect") and not parameter["options"]:
            raise HubError("VALIDATION_ERROR", "A select parameter needs options",
                           {"field": f"parameters.{parameter['name']}.options", "reason": "empty"})
        if parameter.get("default_value") is not None:
            _parameter_value(parameter, parameter["default_value"])
    return await service.checked_definition(hub, org_id, data["definition"])


async def create_template(hub: Hub, org_id: Any, user_id: Any, data: dict) -> dict:
    definition = await _checked(hub, org_id, data)
    template = await WorkflowTemplate.create(
        org_id=org_id, created_by=user_id, name=data["name"], description=data["description"],
        category=data["category"], tags=data["tags"], is_public=data["is_public"], definition=definition,
        parameters=data["parameters"], preview_image=data.get("preview_image"))
    return await template_json(template, org_id, reviews=[])


async def update_template(hub: Hub, org_id: Any, template_id: Any, data: dict) -> dict:
    template = await get_owned(org_id, template_id)
    definition = await _checked(hub, org_id, data)
    await WorkflowTemplate.filter(id=template.id).update(
        name=data["name"], description=data["description"], category=data["category"], tags=data["tags"],
        is_public=data["is_public"], definition=definition, parameters=data["parameters"],
        preview_image=data.get("preview_image"), version=F("version") + 1, updated_at=utcnow())
    return await template_json(await WorkflowTemplate.get(id=template.id), org_id)


async def delete_template(org_id: Any, template_id: Any) -> None:
    template = await get_owned(org_id, template_id)
    async with transaction():
        await TemplateReview.filter(template_id=template.id).delete()
        await template.delete()


async def review_template(org_id: Any, user_id: Any, template_id: Any, rating: int, comment: str | None) -> tuple[dict, bool]:
    """(the template with its reviews, whether the review is new): one review per user, a
    second one replaces the first."""
    template = await get_visible(org_id, template_id)
    async with transaction():
        updated = await TemplateReview.filter(template_id=template.id, user_id=user_id).update(
            rating=rating, comment=comment, updated_at=utcnow())
        if not updated:
            await TemplateReview.create(template_id=template.id, org_id=org_id, user_id=user_id, rating=rating,
                                        comment=comment)
    return await template_json(template, org_id), not updated


async def instantiate(hub: Hub, org_id: Any, user_id: Any, template_id: Any, name: str | None,
                      given: dict[str, Any]) -> dict:
    """A new workflow from the template: parameters checked against their rules (every problem
    named), put in place of `{{ params.x }}`, the graph checked again; `usage_count` + 1."""
    template = await get_visible(org_id, template_id)
    declared = {p["name"]: p for p in template.parameters}
    problems = [{"field": f"parameters.{key}", "reason": "the template has no such parameter"}
                for key in sorted(set(given) - set(declared))]
    values: dict[str, Any] = {}
    for parameter in template.parameters:
        key = parameter["name"]
        value = given.get(key, parameter.get("default_value"))
        if value is None:
            if parameter.get("required"):
                problems.append({"field": f"parameters.{key}", "reason": "required"})
            values[key] = None
            continue
        try:
            values[key] = _parameter_value(parameter, value)
        except HubError as error:
            problems.append({"field": f"parameters.{key}", "reason": error.details.get("reason", error.message)})
    if problems:
        raise service.refused(f"{len(problems)} parameter(s) refused", problems)
    definition = _substitute(template.definition, values)
    body = {"name": name or template.name, "description": template.description, "category": template.category,
            "is_active": True, **service.graph_parts(definition)}
    workflow = await service.create_workflow(hub, org_id, user_id, body)
    await WorkflowTemplate.filter(id=template.id).update(usage_count=F("usage_count") + 1)
    return workflow


def _parameter_value(parameter: dict, value: Any) -> Any:
    """`value` if the parameter takes it (type, options, rules), else a 400 saying why."""
    key, kind = parameter["name"], parameter["type"]

    def refuse(reason: str) -> HubError:
        return HubError("VALIDATION_ERROR", "Invalid parameter", {"field": f"parameters.{key}", "reason": reason})

    options = [option["value"] for option in parameter.get("options", [])]
    if kind == "select":
        if value not in options:
            raise refuse(f"must be one of {options}")
        return value
    if kind == "multiselect":
        if not isinstance(value, list) or any(item not in options for item in value):
            raise refuse(f"must be a list of {options}")
        return value
    expected = _PYTHON_TYPES[kind]
    if not isinstance(value, expected) or (kind == "number" and isinstance(value, bool)):
        raise refuse(f"must be a {kind}")
    for rule in parameter.get("validation", []):
        name, limit = rule["rule"], rule["value"]
        message = rule.get("message")
        if name == "min" and isinstance(value, (int, float)) and value < limit:
            raise refuse(message or f"must be at least {limit}")
        if name == "max" and isinstance(value, (int, float)) and value > limit:
            raise refuse(message or f"must be at most {limit}")
        if name == "min_length" and isinstance(value, str) and len(value) < int(limit):
            raise refuse(message or f"must have at least {int(limit)} characters")
        if name == "max_length" and isinstance(value, str) and len(value) > int(limit):
            raise refuse(message or f"must have at most {int(limit)} characters")
        if name == "pattern" and isinstance(value, str):
            # A template's author writes the pattern and anyone may send the value: the `regex`
            # module bounds the time a pathological pattern may take (no catastrophic backtracking
            # stalling the event loop).
            pattern = str(limit)[:200]
            try:
                matched = regex.fullmatch(pattern, value[:10_000], timeout=PATTERN_SECONDS)
            except TimeoutError:
                raise refuse("the template's pattern takes too long on this value") from None
            except regex.error:
                raise refuse("the template's pattern is not a valid regular expression") from None
            if not matched:
                raise refuse(message or f"must match {pattern}")
    return value


def _substitute(value: Any, values: dict[str, Any]) -> Any:
    """`{{ params.x }}` replaced: a string that is only that takes the value (any type), inside a
    longer string its text. Other `{{ }}` expressions are left for the run."""
    if isinstance(value, str):
        whole = WHOLE_PARAMETER.match(value)
        if whole:
            return values.get(whole.group(1))
        return PARAMETER.sub(lambda match: "" if values.get(match.group(1)) is None else str(values[match.group(1)]), value)
    if isinstance(value, dict):
        return {key: _substitute(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, values) for item in value]
    return value


async def install_built_ins(hub: Hub) -> None:
    """Create or refresh the built-in templates (fixed ids; their usage counts and reviews stay)."""
    from plugins.workflows.builtin_templates import BUILT_IN_TEMPLATES
    from plugins.workflows.schemas import TemplateCreateRequest

    for raw in BUILT_IN_TEMPLATES:
        data = TemplateCreateRequest.model_validate({**raw, "is_public": True}).model_dump(mode="json")
        template_id = uuid.uuid5(BUILT_IN_NAMESPACE, raw["name"])
        fields = {key: data[key] for key in ("name", "description", "category", "tags", "definition", "parameters")}
        # Several processes start at once (`hub serve --workers N`): whoever inserts first wins,
        # the others refresh the same row.
        if not await WorkflowTemplate.filter(id=template_id).update(**fields, is_public=True):
            try:
                await WorkflowTemplate.create(id=template_id, org_id=None, is_public=True, **fields)
            except IntegrityError:
                await WorkflowTemplate.filter(id=template_id).update(**fields, is_public=True)

"""The analytics service without HTTP: which metrics an organization sees, its projects, and
checked metric queries (unknown metric or dimension, a granularity the metric does not allow,
`from` after `to`: 400 naming the parameter)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from core import HubError, validation_error
from plugins.analytics import engine
from plugins.analytics.reader import reader_of

PROJECT_NAMESPACE = uuid.UUID("6f1c3f0e-2d7a-4f57-9b3c-1a2e5d0c9b41")
DEFAULT_PROJECT = "default"


# -- what an organization sees ---------------------------------------------------------------


async def metrics_for_org(hub: Any, org_id: Any) -> dict[str, Any]:
    """Metrics of the plugins on for the organization (those off for it are not there either)."""
    off = await hub.disabled_for_org(org_id)
    return {metric_id: metric for metric_id, metric in hub.metrics.items()
            if metric.plugin not in off and _parts_on(hub, metric, off)}


def _parts_on(hub: Any, metric: Any, off: Any) -> bool:
    if metric.aggregate != "ratio":
        return True
    return all(hub.metrics[part].plugin not in off for part in (metric.numerator, metric.denominator))


def project_uuid(org_id: Any, name: str = DEFAULT_PROJECT) -> str:
    """Stable per organization and project name; another organization's never matches."""
    return str(uuid.uuid5(PROJECT_NAMESPACE, f"{org_id}/{name.lower()}"))


def projects(hub: Any, org_id: Any) -> list[dict[str, Any]]:
    settings = hub.plugin_settings("analytics")
    found = [{"uuid": project_uuid(org_id), "name": "Default", "key": DEFAULT_PROJECT, "explores": None}]
    for project in settings.projects:
        found.append({"uuid": project_uuid(org_id, project.name), "name": project.name, "key": project.name.lower(),
                      "explores": list(project.explores) or None})
    return found


def project_for(hub: Any, org_id: Any, uuid_text: str) -> dict[str, Any]:
    """The organization's project with this uuid, else 404 (also for another organization's)."""
    for project in projects(hub, org_id):
        if project["uuid"] == str(uuid_text).lower():
            return project
    raise HubError("NOT_FOUND", "Project not found")


def in_project(project: dict[str, Any] | None, metrics: dict[str, Any]) -> dict[str, Any]:
    if project is None or not project["explores"]:
        return metrics
    return {metric_id: metric for metric_id, metric in metrics.items() if metric.plugin in project["explores"]}


def describe(metric: Any) -> dict[str, Any]:
    return metric.describe()


# -- queries -------------------------------------------------------------------------------------


def check_request(metrics: list[Any], granularity: str | None, dimensions: list[str],
                  conditions: list[engine.Condition], start: Any, end: Any, *, field_names: dict[str, str] | None = None
                  ) -> None:
    """Every dimension and filter allowed by every metric asked for; the granularity allowed;
    `from` not after `to`. `field_names` maps our names to the caller's (Lightdash field ids)."""
    names = field_names or {}
    if granularity is not None:
        if granularity not in engine.GRANULARITIES:
            raise validation_error("granularity", f"must be one of {', '.join(engine.GRANULARITIES)}")
        for metric in metrics:
            if granularity not in metric.granularities:
                allowed = ", ".join(metric.granularities) or "none: it is not a time series"
                raise validation_error(names.get("period", "granularity"),
                                       f"metric {metric.id!r} allows granularities {allowed}, not {granularity!r}")
    if len(set(dimensions)) != len(dimensions):
        raise validation_error(names.get("groupBy", "groupBy"), "a dimension is named twice")
    for dimension in dimensions:
        for metric in metrics:
            if dimension not in metric.dimensions:
                raise validation_error(names.get(dimension, "groupBy"),
                                       f"metric {metric.id!r} cannot be grouped by {names.get(dimension, dimension)!r}; "
                                       f"it allows {', '.join(metric.dimensions) or 'no dimension'}")
    for condition in conditions:
        if condition.operator not in engine.OPERATORS:
            raise validation_error("filters", f"unknown operator {condition.operator!r}")
        for metric in metrics:
            if condition.field == engine.PERIOD:
                if metric.time is None:
                    raise validation_error("filters", f"metric {metric.id!r} has no time to filter by")
            elif condition.field not in metric.dimensions:
                raise validation_error("filters", f"metric {metric.id!r} cannot be filtered by "
                                                  f"{names.get(condition.field, condition.field)!r}")
        needed = {"isNull": 0, "notNull": 0, "inBetween": 2, "notInBetween": 2}.get(condition.operator)
        if needed is None and len(condition.values) < 1:
            raise validation_error("filters", f"{condition.operator} needs a value")
        if needed is not None and len(condition.values) != needed:
            raise validation_error("filters", f"{condition.operator} takes {needed} values")
        if condition.operator in ("greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual",
                                  "startsWith", "endsWith", "include") and len(condition.values) != 1:
            raise validation_error("filters", f"{condition.operator} takes one value")
    if start is not None and end is not None and _as_datetime(start) > _as_datetime(end):
        raise validation_error("from", "must not be after 'to'")


def _as_datetime(moment: Any) -> datetime:
    if isinstance(moment, datetime):
        return moment
    return datetime(moment.year, moment.month, moment.day, tzinfo=engine.timezone.utc)


def resolve_metric(available: dict[str, Any], name: str, field: str = "metric") -> Any:
    metric = available.get(name)
    if metric is None:
        raise validation_error(field, f"unknown metric {name!r}")
    return metric


async def query_metric(hub: Any, org_id: Any, metric_name: str, *, start: Any = None, end: Any = None,
                       granularity: str | None = None, group_by: list[str] | None = None,
                       filters: dict[str, Any] | None = None) -> dict[str, Any]:
    """One metric's values: `{"metric", "label", "granularity", "from", "to", "rows": [{"period",
    <dimension>..., "value"}], "truncated"}` (the seed route and the `query_metric` function)."""
    available = await metrics_for_org(hub, org_id)
    metric = resolve_metric(available, metric_name)
    start = engine.parse_time(start, "from") if start not in (None, "") else None
    end = engine.parse_time(end, "to") if end not in (None, "") else None
    dimensions = list(group_by or [])
    conditions = []
    for name, value in (filters or {}).items():
        values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        if any(isinstance(item, (dict, list)) or item is None for item in values):
            raise validation_error("filters", f"filters[{name!r}] must be a value or a list of values")
        conditions.append(engine.Condition(str(name), "equals", values))
    check_request([metric], granularity, dimensions, conditions, start, end)
    settings = hub.plugin_settings("analytics")
    request = engine.Request([metric], granularity, dimensions, conditions, "and", start, end, settings.row_limit)
    result = await engine.run(await reader_of(hub), org_id, request, hub.metrics)
    rows = []
    for row in result.rows:
        out = {"period": row.get(engine.PERIOD)} if granularity else {"period": None}
        out.update({name: row[name] for name in dimensions})
        out["value"] = row[metric.id]
        rows.append(out)
    return {
        "metric": metric.id, "label": metric.label, "aggregate": metric.aggregate, "format": metric.format,
        "granularity": granularity, "groupBy": dimensions,
        "from": start.isoformat() if start is not None else None, "to": end.isoformat() if end is not None else None,
        "rows": rows, "truncated": result.truncated,
    }

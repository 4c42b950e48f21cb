"""Hub functions (LLM tools, and what the dashboard calls): the metric catalogue and one
metric's values, with the caller's organization and rights (`analytics.read`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core import current_hub
from plugins.analytics import service


class ListMetricsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueryMetricArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    metric: str = Field(max_length=200, description="the metric's id, e.g. crm.leads (see list_metrics)")
    start: str | None = Field(None, alias="from", max_length=40, description="ISO date or date-time, inclusive")
    end: str | None = Field(None, alias="to", max_length=40, description="ISO date or date-time, inclusive")
    granularity: str | None = Field(None, description="day, week or month (as the metric allows)")
    group_by: list[str] = Field(default_factory=list, max_length=8, description="dimensions to group by")
    filters: dict[str, Any] = Field(default_factory=dict, description="dimension -> value or list of values")


async def list_metrics(ctx, args: ListMetricsArgs) -> dict[str, Any]:
    available = await service.metrics_for_org(current_hub(), ctx.org_id)
    return {"metrics": [service.describe(metric) for metric in sorted(available.values(), key=lambda m: m.id)]}


async def query_metric(ctx, args: QueryMetricArgs) -> dict[str, Any]:
    result = await service.query_metric(current_hub(), ctx.org_id, args.metric, start=args.start, end=args.end,
                                        granularity=args.granularity, group_by=args.group_by, filters=args.filters)
    return {"metric": result["metric"], "label": result["label"], "format": result["format"],
            "granularity": result["granularity"], "rows": result["rows"], "truncated": result["truncated"]}


FUNCTIONS = [
    ("list_metrics", "The analytics metrics of the organization's plugins: id, label, aggregate, granularities "
                     "and dimensions", ListMetricsArgs, "analytics.read", list_metrics),
    ("query_metric", "One metric's values over time (from, to, granularity day|week|month), grouped by dimensions "
                     "and filtered: rows of {period, <dimension>..., value}", QueryMetricArgs, "analytics.read",
     query_metric),
]

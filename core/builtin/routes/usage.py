"""`GET /api/v1/usage` (seed 003 §5): the organization's usage over a period and its quota.

`metrics` sums the days from `start_date` to `end_date` (inclusive, UTC; default: this month
so far). `quota` is about the current month, the period limits apply to. `limits` holds every
limit of the organization's plan with what it is measured against: the core's monthly quotas,
then the entries of the `hub_usage_limits` hook (the billing plugin's plan catalogue: seats,
open WebSocket connections, requests per hour, ...).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field
from quart import Blueprint
from quart_schema import validate_response

from core.http.auth import current_principal, require
from core.http.query import Blankable, Query, validate_query
from core.kernel.errors import validation_error
from core.kernel.hub import current_hub
from core.ops.metering import API_CALLS, API_LATENCY, current_meter, month_bounds, quota_exempt, utc_today

bp = Blueprint("core_usage", __name__)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day_only(value: Any) -> Any:
    if isinstance(value, str) and not _DATE.match(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


Day = Blankable[Annotated[date, BeforeValidator(_day_only)]]


class UsageQuery(Query):
    start_date: Day = Field(None, description="YYYY-MM-DD, UTC; default: the first day of this month")
    end_date: Day = Field(None, description="YYYY-MM-DD, UTC, inclusive; default: today")


class UsagePeriod(BaseModel):
    start: date
    end: date


class UsageMetrics(BaseModel):
    api_calls: int
    recommendations_served: int
    items_indexed: int
    average_latency_ms: float


class UsageQuota(BaseModel):
    api_calls_limit: int | None  # None: unlimited
    api_calls_used: int  # this month
    percentage_used: float


class UsageLimit(BaseModel):
    limit: int | None  # None: unlimited
    used: int | None  # None: not measured by the Hub
    remaining: int | None  # None: unlimited or not measured
    percentage_used: float | None
    period: str  # what `used` counts over: month (UTC, this one), day (today), hour, current (open now)


class UsageResponse(BaseModel):
    period: UsagePeriod
    metrics: UsageMetrics
    quota: UsageQuota
    plan: str
    limits: dict[str, UsageLimit]


def _percentage(used: int, limit: int) -> float:
    if limit == 0:
        return 100.0 if used else 0.0
    return round(used * 100 / limit, 2)


def usage_limit(limit: int | None, used: int | None, period: str) -> UsageLimit:
    measured = limit is not None and used is not None
    return UsageLimit(limit=limit, used=used, period=period,
                      remaining=max(limit - used, 0) if measured else None,
                      percentage_used=_percentage(used, limit) if measured else None)


async def plan_limits(hub, org_id, meter) -> tuple[str, dict[str, UsageLimit]]:
    """The organization's plan and every limit of it against its current value: the monthly
    quotas, then the `hub_usage_limits` entries of plugins (which replace them by name)."""
    plan = await hub.tenants.plan(org_id)
    limits = {unit: usage_limit(limit, await meter.used(org_id, unit), "month")
              for unit, limit in (await meter.limits_for(org_id)).items()}
    for _plugin, entries in await hub.acall("hub_usage_limits", org_id=org_id, plan=plan):
        for name, entry in (entries or {}).items():
            known = limits.get(name)  # an entry without "limit" keeps the core's (the configured quota)
            limit = entry["limit"] if "limit" in entry else (known.limit if known else None)
            limits[name] = usage_limit(limit, entry.get("used"), entry.get("period", "month"))
    return plan, dict(sorted(limits.items()))


@bp.get("/api/v1/usage")
@require("usage.read")
@quota_exempt
@validate_query(UsageQuery)
@validate_response(UsageResponse)
async def get_usage(query_args: UsageQuery):
    """The organization's usage over a period and its plan's limits.

    `metrics` over `start_date`..`end_date` (default: this month so far), `quota` the month's
    API calls (seed 003), `limits` every limit of the plan against its current value (`used`
    null: not measured)."""
    today = utc_today()
    start = query_args.start_date or month_bounds(today)[0]
    end = query_args.end_date or today
    if end < start:
        raise validation_error("end_date", "must not be before start_date")
    org_id = current_principal().org_id
    meter = current_meter()
    totals = await meter.usage(org_id, start, end)
    calls = totals.get(API_CALLS, 0)
    limit = await meter.limit_for(org_id, API_CALLS)
    used = await meter.used(org_id, API_CALLS)
    percentage = 0.0 if limit is None else _percentage(used, limit)
    plan, limits = await plan_limits(current_hub(), org_id, meter)
    return UsageResponse(
        period=UsagePeriod(start=start, end=end),
        metrics=UsageMetrics(
            api_calls=calls,
            recommendations_served=totals.get("recommendations_served", 0),
            items_indexed=totals.get("items_indexed", 0),
            average_latency_ms=round(totals.get(API_LATENCY, 0) / calls / 1000, 2) if calls else 0.0,
        ),
        quota=UsageQuota(api_calls_limit=limit, api_calls_used=used, percentage_used=percentage),
        plan=plan,
        limits=limits,
    )

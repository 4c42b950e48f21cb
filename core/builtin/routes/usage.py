"""`GET /api/v1/usage` (seed 003 §5): the organization's usage over a period and its quota.

`metrics` sums the days from `start_date` to `end_date` (inclusive, UTC; default: this month
so far). `quota` is about the current month, the period limits apply to.
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


class UsageResponse(BaseModel):
    period: UsagePeriod
    metrics: UsageMetrics
    quota: UsageQuota


@bp.get("/api/v1/usage")
@require("usage.read")
@quota_exempt
@validate_query(UsageQuery)
@validate_response(UsageResponse)
async def get_usage(query_args: UsageQuery):
    """The organization's usage over a period (default: this month so far) and its quota."""
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
    if limit is None:
        percentage = 0.0
    elif limit == 0:
        percentage = 100.0 if used else 0.0
    else:
        percentage = round(used * 100 / limit, 2)
    return UsageResponse(
        period=UsagePeriod(start=start, end=end),
        metrics=UsageMetrics(
            api_calls=calls,
            recommendations_served=totals.get("recommendations_served", 0),
            items_indexed=totals.get("items_indexed", 0),
            average_latency_ms=round(totals.get(API_LATENCY, 0) / calls / 1000, 2) if calls else 0.0,
        ),
        quota=UsageQuota(api_calls_limit=limit, api_calls_used=used, percentage_used=percentage),
    )

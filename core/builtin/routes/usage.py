"""`GET /api/v1/usage` (seed 003 §5): the organization's usage over a period and its quota.

`metrics` sums the days from `start_date` to `end_date` (inclusive, UTC; default: this month
so far). `quota` is about the current month, the period limits apply to.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel
from quart import Blueprint, request
from quart_schema import document_querystring, validate_response

from core.http.auth import current_principal, require
from core.kernel.errors import validation_error
from core.ops.metering import API_CALLS, API_LATENCY, current_meter, month_bounds, quota_exempt, utc_today

bp = Blueprint("core_usage", __name__)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class UsageQuery(BaseModel):
    start_date: date | None = None  # YYYY-MM-DD, default: the first day of this month (UTC)
    end_date: date | None = None  # YYYY-MM-DD, default: today (UTC)


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


def _date_argument(name: str, default: date) -> date:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not _DATE.match(value):
        raise validation_error(name, "must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise validation_error(name, "is not a valid date") from None


@bp.get("/api/v1/usage")
@require("usage.read")
@quota_exempt
@document_querystring(UsageQuery)
@validate_response(UsageResponse)
async def get_usage():
    today = utc_today()
    start = _date_argument("start_date", month_bounds(today)[0])
    end = _date_argument("end_date", today)
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

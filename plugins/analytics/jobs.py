"""Housekeeping: Lightdash queries past `query_ttl_seconds` are deleted (every process looks
every 10 minutes; deleting twice is harmless)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core import utcnow
from plugins.analytics.models import AnalyticsQuery


async def forget_old_queries(hub: Any) -> int:
    ttl = hub.plugin_settings("analytics").query_ttl_seconds
    return await AnalyticsQuery.filter(created_at__lt=utcnow() - timedelta(seconds=ttl)).delete()

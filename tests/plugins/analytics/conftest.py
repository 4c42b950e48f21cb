"""Fixtures of the analytics tests: leads written straight into the CRM's table with the times,
statuses, sources and values a test needs (the CRM's API stamps `created_at` with now)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

# (created_at, status, source, value): organization A's leads in the correctness tests
LEADS = [
    (datetime(2024, 1, 5, 10, 0, tzinfo=timezone.utc), "new", "web", 100.0),
    (datetime(2024, 1, 20, 23, 30, tzinfo=timezone.utc), "converted", "web", 200.0),
    (datetime(2024, 2, 3, 0, 0, tzinfo=timezone.utc), "converted", "referral", 300.0),
    (datetime(2024, 2, 28, 12, 0, tzinfo=timezone.utc), "lost", "referral", 400.0),
    (datetime(2024, 3, 1, 0, 30, tzinfo=timezone.utc), "qualified", "web", 500.0),
    (datetime(2024, 3, 31, 23, 59, 59, tzinfo=timezone.utc), "new", "ads", 600.0),
]
# organization B's: the same months, other numbers (values must never mix)
OTHER_LEADS = [
    (datetime(2024, 1, 10, tzinfo=timezone.utc), "converted", "web", 1000.0),
    (datetime(2024, 1, 11, tzinfo=timezone.utc), "converted", "web", 1000.0),
    (datetime(2024, 2, 12, tzinfo=timezone.utc), "converted", "ads", 1000.0),
]


@pytest.fixture
def insert_leads(app):
    async def insert(org_id: str, leads=LEADS) -> None:
        from plugins.crm.models import Lead

        async with app.app_context():
            await Lead.bulk_create([
                Lead(id=uuid.uuid4(), org_id=uuid.UUID(org_id), name=f"Lead {index}", status=status, source=source,
                     value=value, created_at=created_at, updated_at=created_at)
                for index, (created_at, status, source, value) in enumerate(leads)])

    return insert


def metrics_url(metric: str, **params: str) -> str:
    from urllib.parse import urlencode

    return "/analytics/api/v1/metrics?" + urlencode({"metric": metric, **params})

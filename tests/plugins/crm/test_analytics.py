"""GET /api/analytics/dashboard: every formula of service.dashboard's docstring on a known
data set, including rows exactly on the month boundaries (set through the models)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from plugins.crm.models import Lead
from tests.plugins.crm.support import SEED_DASHBOARD, assert_same_types, utcnow


def month_start(moment: datetime, back: int = 0) -> datetime:
    year, month = moment.year, moment.month - back
    if month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=timezone.utc)


async def place(lead_id: str, created_at: datetime | None = None, converted_at: datetime | None = None) -> None:
    changes = {}
    if created_at is not None:
        changes["created_at"] = created_at
    if converted_at is not None:
        changes["converted_at"] = converted_at
    assert await Lead.filter(id=lead_id).update(**changes) == 1


async def test_empty_organization(api):
    assert await api.get("/api/analytics/dashboard") == {
        "summary": {"totalLeads": 0, "qualifiedLeads": 0, "conversionRate": 0, "totalRevenue": 0, "avgDealSize": 0},
        "trends": {"leadsThisMonth": 0, "leadsGrowth": 0, "revenueThisMonth": 0, "revenueGrowth": 0},
        "sourceBreakdown": {},
    }


async def test_every_formula_on_a_known_data_set(api, other_api):
    now = utcnow()
    this_month, last_month = month_start(now), month_start(now, 1)

    # created this month, through the API
    await api.lead(name="L1", source="website", value=1000)
    l2 = await api.lead(name="L2", source="website", value=2000)
    await api.put(f"/api/leads/{l2['id']}", {"status": "qualified"})
    l3 = await api.lead(name="L3", source="referral", value=3000)
    await api.put(f"/api/leads/{l3['id']}", {"status": "qualified"})
    await api.put(f"/api/leads/{l3['id']}", {"status": "converted"})  # revenue this month: 3000
    l4 = await api.lead(name="L4", source="social", value=500)
    await api.put(f"/api/leads/{l4['id']}", {"status": "lost"})
    l9 = await api.lead(name="L9", source="website", value=100)
    await place(l9["id"], created_at=this_month)  # exactly on the boundary: this month

    # last month
    l5 = await api.lead(name="L5", source="referral", value=4000, status="converted")
    await place(l5["id"], created_at=last_month + timedelta(days=2), converted_at=last_month + timedelta(days=3))
    l6 = await api.lead(name="L6", source="website", value=100)
    await place(l6["id"], created_at=this_month - timedelta(microseconds=1))  # last instant of last month
    l7 = await api.lead(name="L7", source="website", value=100)
    await place(l7["id"], created_at=last_month)  # first instant of last month

    # two months ago, converted on the first instant of this month
    l8 = await api.lead(name="L8", source="ads", value=700, status="converted")
    await place(l8["id"], created_at=last_month - timedelta(seconds=1), converted_at=this_month)

    # noise in another organization must not count
    await other_api.lead(source="website", value=99999, status="converted")

    dashboard = await api.get("/api/analytics/dashboard")
    assert set(dashboard) == set(SEED_DASHBOARD)
    assert_same_types({k: v for k, v in dashboard.items() if k != "sourceBreakdown"},
                      {k: v for k, v in SEED_DASHBOARD.items() if k != "sourceBreakdown"})
    assert all(isinstance(share, (int, float)) for share in dashboard["sourceBreakdown"].values())
    # statuses: new L1 L6 L7 L9; qualified L2; converted L3 L5 L8; lost L4
    assert dashboard == {
        "summary": {
            "totalLeads": 9,
            "qualifiedLeads": 4,                 # qualified (1) + converted (3)
            "conversionRate": 0.3333,            # 3 / 9
            "totalRevenue": 7700.0,              # 3000 + 4000 + 700
            "avgDealSize": 2566.67,              # 7700 / 3
        },
        "trends": {
            "leadsThisMonth": 5,                 # L1 L2 L3 L4 L9
            "leadsGrowth": 0.6667,               # (5 - 3) / 3, last month: L5 L6 L7
            "revenueThisMonth": 3700.0,          # L3 3000 + L8 700 (converted on the 1st, 00:00)
            "revenueGrowth": -0.075,             # (3700 - 4000) / 4000
        },
        "sourceBreakdown": {                     # % of 9 leads, 1 decimal
            "ads": 11.1, "referral": 22.2, "social": 11.1, "website": 55.6,
        },
    }


async def test_growth_is_one_when_only_this_month_has_data_and_zero_when_neither(api):
    await api.lead(source="website", value=10)
    lead = await api.lead(source="website", value=30, status="qualified")
    await api.put(f"/api/leads/{lead['id']}", {"status": "converted"})
    dashboard = await api.get("/api/analytics/dashboard")
    assert dashboard["trends"] == {"leadsThisMonth": 2, "leadsGrowth": 1.0, "revenueThisMonth": 30.0,
                                   "revenueGrowth": 1.0}
    assert dashboard["summary"] == {"totalLeads": 2, "qualifiedLeads": 1, "conversionRate": 0.5,
                                    "totalRevenue": 30.0, "avgDealSize": 30.0}
    assert dashboard["sourceBreakdown"] == {"website": 100.0}


async def test_trends_fall_when_last_month_was_better(api):
    now = utcnow()
    for days in (1, 2):
        lead = await api.lead(value=500, status="converted")
        await place(lead["id"], created_at=month_start(now, 1) + timedelta(days=days),
                    converted_at=month_start(now, 1) + timedelta(days=days))
    dashboard = await api.get("/api/analytics/dashboard")
    assert dashboard["trends"] == {"leadsThisMonth": 0, "leadsGrowth": -1.0, "revenueThisMonth": 0,
                                   "revenueGrowth": -1.0}
    assert dashboard["summary"]["totalRevenue"] == 1000.0 and dashboard["summary"]["conversionRate"] == 1.0

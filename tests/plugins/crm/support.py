"""Helpers of the CRM tests: seed 004's examples and an Api with CRM shortcuts (the rest comes from
the test kit, core/testing.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from core.testing import Api

# -- seed 004 examples, copied verbatim (../shared/seeds/004, "CRM MVP") ---------------------------

SEED_LEAD = {
    "id": "lead_123", "name": "John Smith", "email": "john@example.com", "phone": "+1234567890",
    "company": "Acme Corp", "status": "new", "source": "website", "value": 5000,
    "notes": "Interested in enterprise plan", "createdAt": "2024-01-15T10:30:00Z",
    "updatedAt": "2024-01-15T10:30:00Z",
}
SEED_LEAD_LIST = {"leads": [SEED_LEAD], "total": 150, "pagination": {"limit": 50, "offset": 0, "hasMore": True}}
SEED_CREATE_LEAD = {
    "name": "Jane Doe", "email": "jane@example.com", "phone": "+1987654321", "company": "Tech Startup",
    "source": "referral", "value": 10000, "notes": "High priority prospect",
}
SEED_UPDATE_LEAD = {"status": "qualified", "notes": "Scheduled demo for next week"}

SEED_CONTACT = {
    "id": "contact_123", "name": "Alice Johnson", "email": "alice@company.com", "phone": "+1555123456",
    "company": "Innovation Inc", "position": "CTO", "tags": ["decision-maker", "technical"],
    "lastContactDate": "2024-01-10T14:20:00Z", "status": "active", "notes": "Key technical decision maker",
    "createdAt": "2023-12-01T09:00:00Z",
}
SEED_CONTACT_LIST = {"contacts": [SEED_CONTACT], "total": 85}
SEED_CREATE_CONTACT = {
    "name": "Bob Wilson", "email": "bob@startup.io", "phone": "+1555987654", "company": "AI Startup",
    "position": "CEO", "tags": ["founder", "AI"],
}

SEED_CONVERSATION = {
    "id": "conv_123", "leadId": "lead_123", "leadName": "John Smith",
    "lastMessage": {"content": "Thanks for the demo!", "timestamp": "2024-01-15T16:45:00Z", "sender": "lead"},
    "unreadCount": 2, "status": "active",
}
SEED_MESSAGE = {
    "id": "msg_123", "leadId": "lead_123", "content": "Hi, I'm interested in your product", "sender": "lead",
    "timestamp": "2024-01-15T10:30:00Z", "status": "delivered",
}
SEED_SEND_MESSAGE = {"leadId": "lead_123", "content": "Thanks for the demo! When can we discuss pricing?",
                     "sender": "lead"}

SEED_DASHBOARD = {
    "summary": {"totalLeads": 1250, "qualifiedLeads": 340, "conversionRate": 0.27, "totalRevenue": 125000,
                "avgDealSize": 5000},
    "trends": {"leadsThisMonth": 150, "leadsGrowth": 0.12, "revenueThisMonth": 25000, "revenueGrowth": 0.08},
    "sourceBreakdown": {"website": 45, "referral": 30, "social": 15, "advertising": 10},
}

SEED_ACHIEVEMENTS = {
    "achievements": [{
        "id": "achievement_123", "title": "First Sale", "description": "Closed your first deal",
        "category": "sales", "rarity": "common", "unlockedAt": "2024-01-10T15:00:00Z",
        "progress": {"current": 1, "target": 1, "percentage": 100},
    }],
    "progress": {"totalUnlocked": 12, "totalAvailable": 50, "points": 1250},
}

SEED_EVENTS = {
    "lead.created": {"id": "lead_123", "name": "Jane Doe", "email": "jane@example.com", "source": "website"},
    "message.received": {"id": "msg_123", "leadId": "lead_123", "content": "Hi, I'm interested in your product",
                         "sender": "lead"},
    "metrics.update": {"metric": "leads_today", "value": 25, "change": "+2", "changeType": "increase"},
}

# Fields the Hub adds to the seed's shapes (documented in plugins/crm/schemas.py).
LEAD_KEYS = set(SEED_LEAD) | {"companyId"}
CONTACT_KEYS = set(SEED_CONTACT) | {"companyId"}
COMPANY_KEYS = {"id", "name", "domain", "industry", "size", "notes", "leadCount", "contactCount",
                "createdAt", "updatedAt"}


def parse_time(value: str) -> datetime:
    assert isinstance(value, str) and value.endswith("Z"), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


NULLABLE = frozenset({"unlockedAt", "lastContactDate", "email", "phone", "company", "notes", "position",
                      "lastMessage"})


def assert_same_types(actual: Any, example: Any, path: str = "$") -> None:
    """`actual` has exactly the example's keys (recursively) and JSON types compatible with it
    (null allowed for the optional fields in NULLABLE)."""
    if actual is None and path.rsplit(".", 1)[-1] in NULLABLE:
        return
    if isinstance(example, dict):
        assert isinstance(actual, dict), (path, actual)
        assert set(actual) == set(example), (path, sorted(actual), sorted(example))
        for key, value in example.items():
            assert_same_types(actual[key], value, f"{path}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list), (path, actual)
        for item in actual:
            assert_same_types(item, example[0], f"{path}[]")
    elif isinstance(example, bool):
        assert isinstance(actual, bool), (path, actual)
    elif isinstance(example, (int, float)):
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), (path, actual)
    elif isinstance(example, str):
        assert isinstance(actual, str), (path, actual)
        if example.endswith("Z") and example[:4].isdigit():
            parse_time(actual)


# -- callers -----------------------------------------------------------------------------------


class CrmApi(Api):
    """The test kit's Api with shortcuts that create CRM rows through the API."""

    async def lead(self, **fields) -> dict:
        return await self.post("/api/leads", {"name": f"Lead {uuid.uuid4().hex[:6]}", **fields})

    async def contact(self, **fields) -> dict:
        return await self.post("/api/contacts", {"name": f"Contact {uuid.uuid4().hex[:6]}", **fields})

    async def company(self, **fields) -> dict:
        return await self.post("/api/companies", {"name": f"Company {uuid.uuid4().hex[:6]}", **fields})

    async def message(self, lead_id: str, content: str = "hello", sender: str = "user") -> dict:
        return await self.post("/api/messages", {"leadId": lead_id, "content": content, "sender": sender})


def utcnow() -> datetime:
    return datetime.now(timezone.utc)

"""Achievements: a catalogue, advanced by the CRM's own events (hub_on_event).

Progress is per member: the event's `actorId` is who did it. Reaching the target unlocks
the achievement once, which emits `achievement.unlocked` and `notification.created` for
that member only (their data carries `user_id`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from core import Event, emit, iso, utcnow
from plugins.crm.models import AchievementProgress


@dataclass(frozen=True)
class Achievement:
    code: str
    title: str
    description: str
    category: str
    rarity: str
    target: int
    points: int


CATALOGUE: tuple[Achievement, ...] = (
    Achievement("first_lead", "First Lead", "Created your first lead", "leads", "common", 1, 50),
    Achievement("lead_hunter", "Lead Hunter", "Created 25 leads", "leads", "uncommon", 25, 150),
    Achievement("first_contact", "First Contact", "Sent your first message to a lead", "messages", "common", 1, 50),
    Achievement("conversationalist", "Conversationalist", "Sent 50 messages to leads", "messages", "rare", 50, 200),
    Achievement("qualifier", "Qualifier", "Qualified 10 leads", "sales", "rare", 10, 250),
    Achievement("first_sale", "First Sale", "Closed your first deal", "sales", "common", 1, 100),
    Achievement("closer", "Closer", "Closed 10 deals", "sales", "epic", 10, 500),
)
BY_CODE = {achievement.code: achievement for achievement in CATALOGUE}


def _codes_for(event: Event) -> tuple[str, ...]:
    if event.type == "lead.created":
        return ("first_lead", "lead_hunter")
    if event.type == "message.sent":
        return ("first_contact", "conversationalist")
    if event.type == "lead.updated" and event.data.get("status") != event.data.get("previousStatus"):
        if event.data.get("status") == "qualified":
            return ("qualifier",)
        if event.data.get("status") == "converted":
            return ("first_sale", "closer")
    return ()


async def on_event(event: Event) -> None:
    codes = _codes_for(event)
    actor = event.data.get("actorId")
    if not codes or not actor:
        return
    user_id = uuid.UUID(actor)
    for code in codes:
        await _advance(event.org_id, user_id, BY_CODE[code])


async def _advance(org_id: str, user_id: uuid.UUID, achievement: Achievement) -> None:
    rows = AchievementProgress.for_org(org_id).filter(user_id=user_id, code=achievement.code)
    if not await rows.update(current=F("current") + 1):
        try:
            await AchievementProgress.create(org_id=org_id, user_id=user_id, code=achievement.code, current=1)
        except IntegrityError:  # created concurrently: count on that row
            await rows.update(current=F("current") + 1)
    # Unlock once: only the update that flips unlocked_at from NULL announces it.
    unlocked = await rows.filter(unlocked_at=None, current__gte=achievement.target).update(unlocked_at=utcnow())
    if unlocked:
        data = {"code": achievement.code, "title": achievement.title, "points": achievement.points,
                "user_id": str(user_id)}
        await emit(org_id, "achievement.unlocked", data)
        await emit(org_id, "notification.created", {
            "type": "achievement", "title": f"Achievement unlocked: {achievement.title}",
            "message": achievement.description, "data": {"code": achievement.code}, "user_id": str(user_id),
        })


async def for_member(org_id, user_id) -> dict:
    """Seed 004 `GET /api/achievements`: every achievement with the member's progress."""
    progress = {row.code: row for row in await AchievementProgress.for_org(org_id).filter(user_id=user_id)}
    achievements, points = [], 0
    for achievement in CATALOGUE:
        row = progress.get(achievement.code)
        current = min(row.current, achievement.target) if row else 0
        unlocked_at = row.unlocked_at if row else None
        points += achievement.points if unlocked_at else 0
        achievements.append({
            "id": achievement.code, "title": achievement.title, "description": achievement.description,
            "category": achievement.category, "rarity": achievement.rarity, "unlockedAt": iso(unlocked_at),
            "progress": {"current": current, "target": achievement.target,
                         "percentage": round(100 * current / achievement.target)},
        })
    return {
        "achievements": achievements,
        "progress": {
            "totalUnlocked": sum(1 for a in achievements if a["unlockedAt"]),
            "totalAvailable": len(CATALOGUE),
            "points": points,
        },
    }
